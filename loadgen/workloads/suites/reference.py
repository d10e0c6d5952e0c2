"""Reference answers from DuckDB running the same SQL over the same Parquet files, cached next to the data,
and the comparison of Hyper's answers with them.

A cached answer is keyed by the query text and the data's checksums (cache.data_digest): an answer computed from
other data is never used. The caller checks the files against those checksums before DuckDB reads them.

Equality: integers and text exactly (text without trailing blanks), dates as dates, exact decimals (money) to
the cent, inexact numbers (averages, ratios) to a relative 1e-6 — or to the last decimal place Hyper reports,
when Hyper returns a NUMERIC rounded to fewer digits (AVG of NUMERIC(15,2) has 6).
"""

import datetime as dt
import decimal
import glob
import hashlib
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

RELATIVE = 1e-6
CENT = decimal.Decimal("0.005")


def duckdb_version() -> str:
    import duckdb

    return duckdb.__version__


def reference_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "reference" / f"duckdb-{duckdb_version()}"


def reference_path(data_dir: Path, data_digest: str, query: int, sql: str) -> Path:
    """Where DuckDB's answer to `sql` over the data whose checksums hash to `data_digest` is cached."""
    digest = hashlib.sha256(f"{data_digest}\n{sql}".encode()).hexdigest()[:16]
    return reference_dir(data_dir) / f"q{query:02d}-{digest}.parquet"


def duckdb_connection(suite, data_dir: Path, threads: int | None = None):
    """An in-memory DuckDB with one view per table of the suite over the cached Parquet files."""
    import duckdb

    con = duckdb.connect(":memory:")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    for setting in suite.duckdb_settings():
        con.execute(setting)
    prefix = f"{suite.duckdb_views}." if suite.duckdb_views else ""
    if prefix:
        con.execute(f"CREATE SCHEMA {suite.duckdb_views}")
    for table in suite.tables:
        # DuckDB globs the whole path: the folder's own [, *, ? are escaped (glob.escape: [[], [*], [?])
        pattern = (glob.escape(str(Path(data_dir) / table)) + "/*.parquet").replace("'", "''")
        con.execute(f"CREATE VIEW {prefix}{table} AS SELECT * FROM read_parquet('{pattern}')")
    suite.duckdb_prepare(con)
    return con


def compute(con, data_dir: Path, data_digest: str, query: int, sql: str) -> Path:
    """Run `sql` in DuckDB and store its result (Arrow types kept) unless it is cached already."""
    path = reference_path(data_dir, data_digest, query, sql)
    if path.exists():
        return path
    table = con.sql(sql).to_arrow_table()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, temp)
    os.replace(temp, path)  # atomic: a reader sees the whole file or none
    return path


def load(path: Path) -> tuple[list[str], list[tuple]]:
    table = pq.read_table(path)
    return table.column_names, [tuple(r.values()) for r in table.to_pylist()]


# ------------------------------------------------------------------------------------------ comparison
def plain(value):
    """A Hyper (tableauhyperapi) or DuckDB value as a plain Python value."""
    if value is None or isinstance(value, (int, float, str, decimal.Decimal, dt.date)):
        return value
    if hasattr(value, "to_datetime"):  # tableauhyperapi.Timestamp
        return value.to_datetime()
    if hasattr(value, "to_date"):  # tableauhyperapi.Date
        return value.to_date()
    return value


def _day(value):
    return value.date() if isinstance(value, dt.datetime) else value


def same(got, want) -> bool:
    got, want = plain(got), plain(want)
    if got is None or want is None:
        return got is None and want is None
    if isinstance(want, str) or isinstance(got, str):
        return isinstance(got, str) and isinstance(want, str) and got.rstrip() == want.rstrip()
    if isinstance(want, dt.date) or isinstance(got, dt.date):
        return isinstance(got, dt.date) and isinstance(want, dt.date) and _day(got) == _day(want)
    if isinstance(got, bool) or isinstance(want, bool):
        return got == want
    if isinstance(got, int) and isinstance(want, int):
        return got == want
    if isinstance(got, (int, decimal.Decimal)) and isinstance(want, (int, decimal.Decimal)):
        return abs(decimal.Decimal(got) - decimal.Decimal(want)) <= CENT  # exact arithmetic: money to the cent
    a, b = float(got), float(want)
    tolerance = RELATIVE * max(abs(a), abs(b))
    if isinstance(got, decimal.Decimal):  # Hyper rounded it to its NUMERIC scale
        tolerance = max(tolerance, 0.5 * 10.0 ** got.as_tuple().exponent * 1.000001)
    return abs(a - b) <= tolerance


def _sort_key(row) -> tuple:
    return tuple((v is None, str(type(plain(v)).__name__), str(plain(v))) for v in row)


def difference(columns: list[str], got: list[tuple], want_columns: list[str], want: list[tuple]) -> str:
    """'' when the answers are equal, else where they first differ: row (1-based) and column."""
    if len(columns) != len(want_columns):
        shown, wanted = ", ".join(columns), ", ".join(want_columns)
        return f"{len(columns)} columns ({shown}), expected {len(want_columns)} ({wanted})"
    if len(got) != len(want):
        return f"{len(got)} rows, expected {len(want)}"
    first = _first_difference(columns, got, want)
    if not first:
        return ""
    # rows whose ORDER BY keys tie may come in either order: equal as sorted multisets is equal
    if not _first_difference(columns, sorted(got, key=_sort_key), sorted(want, key=_sort_key)):
        return ""
    return first


def _first_difference(columns, got, want) -> str:
    for i, (g_row, w_row) in enumerate(zip(got, want, strict=True), start=1):
        for name, g, w in zip(columns, g_row, w_row, strict=True):
            if not same(g, w):
                return f"row {i} column {name}: got {plain(g)!r}, expected {plain(w)!r}"
    return ""


def answer_cells(rows: list[tuple]) -> list[list[str]]:
    """An answer's rows as the cells of answers/qNN.csv: plain text, empty for NULL."""
    return [["" if v is None else str(plain(v)) for v in row] for row in rows]


def arrow_rows(table: pa.Table) -> list[tuple]:
    return [tuple(r.values()) for r in table.to_pylist()]
