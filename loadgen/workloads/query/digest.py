"""What every fetch method sees of a result (a Digest), and the checks of a digest against the closed forms of the
canonical rows or against the server's own count and checksum."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from loadgen.datagen import canonical
from loadgen.datagen.definitions import quote
from loadgen.workloads.query.config import FILTER_SENSOR, KEEP_ROWS

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported by the Arrow fetch methods only: a worker that fetches rows never loads it (nor numpy)

SUM_EVERY = 64  # first-column chunks summed in one pyarrow call: per-batch calls cost ~20% of a fast scan


@dataclass
class Digest:
    """What every fetch method sees of a result: its row count, a checksum of its first column (Σ for numbers,
    Σ of character lengths for text, none for other types) and, for small results, the rows themselves."""

    rows: int = 0
    first_sum: float = 0  # the checksum (ints stay exact in Python and in pyarrow's int64 sum)
    first_kind: str | None = None  # number | text | None (not summed), from the result's type
    trim: bool = False  # a CHAR(n) first column: its values arrive padded to n, LENGTH does not count the padding
    kept: list = field(default_factory=list)  # the rows, while there are at most KEEP_ROWS of them
    pending: list = field(default_factory=list)  # first-column chunks not summed yet (at most SUM_EVERY)

    def add_python_row(self, row) -> None:
        if self.rows == 0 and self.first_kind is None:
            self.first_kind = python_kind(row[0])
        self.rows += 1
        if self.first_kind == "number":
            self.first_sum += row[0] or 0
        elif self.first_kind == "text":
            self.first_sum += len((row[0] or "").rstrip(" ") if self.trim else (row[0] or ""))
        if self.rows <= KEEP_ROWS:
            self.kept.append(tuple(row))

    def add_batch(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self.first_kind is None and self.rows == 0:
            self.first_kind = arrow_kind(batch.column(0).type)
        if self.first_kind is not None:
            self.pending.append(batch.column(0))
        if len(self.pending) >= SUM_EVERY:
            self.finish()
        if self.rows + batch.num_rows <= KEEP_ROWS:
            self.kept.extend(tuple(r.values()) for r in batch.to_pylist())
        self.rows += batch.num_rows

    def finish(self) -> Digest:
        """Sum what add_batch has collected; call once the result is read."""
        if self.pending:
            import pyarrow as pa
            import pyarrow.compute as pc

            chunks = pa.chunked_array(self.pending)
            if self.first_kind == "text":
                chunks = pc.utf8_length(pc.utf8_rtrim(chunks, characters=" ") if self.trim else chunks)
            self.first_sum += pc.sum(chunks).as_py() or 0
            self.pending = []
        return self


def python_kind(value) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return "number"
    return "text" if isinstance(value, str) else None


def hyper_kind(type_tag_name: str) -> str | None:
    """number | text | None for a tableauhyperapi column type (TypeTag name): the rows path's kind, from the
    result's schema, so a NULL in the first row does not switch the checksum off."""
    if type_tag_name in ("BIG_INT", "INT", "SMALL_INT", "NUMERIC", "DOUBLE", "FLOAT"):
        return "number"
    return "text" if type_tag_name in ("TEXT", "VARCHAR", "CHAR") else None


def arrow_kind(arrow_type: pa.DataType) -> str | None:
    import pyarrow as pa

    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    return "text" if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) else None


def expected_digest_problems(shape: str, rows: canonical.RowRange, digest: Digest) -> str:
    """'' when the digest matches what this shape must return from a table holding `rows`, else why not."""
    want = canonical.expected(rows)
    if shape == "full_scan":
        if digest.rows != want.count or digest.first_sum != want.sum_id:
            return f"full_scan: {digest.rows} rows, Σid {digest.first_sum}; expected {want.count}, {want.sum_id}"
    elif shape == "filtered":
        count = want.per_sensor[FILTER_SENSOR]
        total = canonical.sum_with_remainder(rows.start, rows.stop, FILTER_SENSOR)
        if digest.rows != count or digest.first_sum != total:
            return f"filtered: {digest.rows} rows, Σid {digest.first_sum}; expected {count}, {total}"
    elif shape == "aggregation":
        groups = {int(r[0]): (int(r[1]), float(r[2] or 0)) for r in digest.kept}
        for sensor in range(canonical.SENSORS):
            count, total = groups.get(sensor, (0, 0.0))
            if count != want.per_sensor[sensor] or not math.isclose(
                total, want.sum_value_per_sensor[sensor], rel_tol=1e-9, abs_tol=1e-6
            ):
                return (
                    f"aggregation: sensor {sensor} has COUNT {count}, SUM(value) {total}; expected "
                    f"{want.per_sensor[sensor]}, {want.sum_value_per_sensor[sensor]}"
                )
        if digest.rows != (canonical.SENSORS if rows.count >= canonical.SENSORS else len(groups)):
            return f"aggregation: {digest.rows} groups, expected {canonical.SENSORS}"
    return ""


def same_number(a, b) -> bool:
    """Exact for integers and decimals; floats within 1e-9 (summed in another order), NaN equal to NaN."""
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def read_vs_server(connection, table_sql: str, first_column: str, read: Digest) -> str:
    """'' when what a read of the whole table returned equals the server's COUNT(*) and checksum of the table's
    first column (Σ for numbers, Σ LENGTH for text), else what differs. Run after the phase: untimed."""
    column = quote(first_column)
    checksum = {"number": f"SUM({column})", "text": f"SUM(LENGTH({column}))"}.get(read.first_kind, "0")
    count, server_sum = connection.execute_list_query(f"SELECT COUNT(*), {checksum} FROM {table_sql}")[0]
    server_sum = server_sum or 0
    if count == read.rows and (read.first_kind is None or same_number(read.first_sum, server_sum)):
        return ""
    what = {"number": f"Σ {first_column}", "text": f"Σ LENGTH({first_column})"}.get(read.first_kind, "checksum")
    return f"{table_sql}: read {read.rows} rows ({what} {read.first_sum}), the server has {count} ({server_sum})"
