"""Real files as a source of rows: how they are split among the workers (by Parquet row group when the client
reads them, by file when hyperd does) so that no row is read twice, how they are read in a table's Arrow schema,
and how their columns map onto Hyper types (a new table) or onto a declared `data:` definition."""

import re
from dataclasses import dataclass

import pyarrow as pa

from loadgen.datagen.arrow import arrow_schema
from loadgen.datagen.definitions import TableDefinition, quote
from loadgen.datagen.sqltypes import MAX_NUMERIC_PRECISION, SqlType, parse_sql_type

# pyarrow.parquet and pyarrow.dataset are imported where files are read: pyarrow.dataset loads pandas (~50 MiB),
# which a worker that reads no file does not need.


def parquet_rows(files: list[str]) -> int:
    """Rows of Parquet files, from their footers (nothing else is read)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def file_schema(path: str, fmt: str) -> pa.Schema:
    import pyarrow.dataset as ds

    if fmt != "csv":
        return ds.dataset(path, format="ipc" if fmt == "arrow" else fmt).schema
    block = CSV_BLOCK_BYTES
    while True:
        try:
            return ds.dataset(path, format=csv_format(None, block)).schema
        except (pa.ArrowInvalid, OSError) as exc:  # a CSV whose first row is longer than a block
            if not straddles(exc):
                raise
            block = bigger_block(block, path)


def has_rows(path: str, fmt: str) -> bool:
    """Whether the file holds a row (only its first rows are read)."""
    import pyarrow.dataset as ds

    if fmt == "parquet":
        return parquet_rows([path]) > 0
    block = CSV_BLOCK_BYTES
    while True:
        try:
            file_format = csv_format(None, block) if fmt == "csv" else ds.IpcFileFormat()
            return ds.dataset(path, format=file_format).head(1).num_rows > 0
        except (pa.ArrowInvalid, OSError) as exc:
            if not straddles(exc):
                raise
            block = bigger_block(block, path)


# pyarrow reads a CSV row within one block (1 MiB by default: a longer cell fails with "straddling object … block
# size"); loadgen reads again with a block 8× larger when that happens, up to pyarrow's limit (an int32)
CSV_BLOCK_BYTES = 1 << 20
MAX_CSV_BLOCK_BYTES = 1 << 30


def straddles(exc: Exception) -> bool:
    return "straddling object" in str(exc)


def bigger_block(block: int, path: str) -> int:
    if block >= MAX_CSV_BLOCK_BYTES:
        raise ValueError(
            f"{path}: a CSV row is longer than {MAX_CSV_BLOCK_BYTES >> 20} MiB, the most loadgen reads at once (a row "
            "must fit in one of pyarrow's blocks); write the file as Parquet, or split its long values"
        ) from None
    return min(block * 8, MAX_CSV_BLOCK_BYTES)


def file_units(files: list[str], fmt: str, workers: int, worker: int, by_row_group: bool) -> list:
    """This worker's share: (file, row group) pairs of Parquet files when reading client-side, else whole files;
    unit i goes to worker i % workers, so no row is read twice."""
    units: list = []
    for path in files:
        if fmt == "parquet" and by_row_group:
            import pyarrow.parquet as pq

            units.extend((path, group) for group in range(pq.ParquetFile(path).num_row_groups))
        else:
            units.append((path, None))
    return units[worker::workers]


READ_ROWS = 65_536  # rows per Parquet read at least: smaller reads cost more per row than they save in memory


def read_unit(unit, fmt: str, schema: pa.Schema, batch_rows: int):
    """The unit's record batches in the table's Arrow schema: its columns picked by name (a file's other columns
    are not read) and cast where the file's type differs (hyperd does no casts on Arrow input; a batch that
    already has the schema is passed on as read, not re-encoded). CSV is parsed straight into the table's types.
    Parquet is read memory-mapped, without pyarrow's thread pool (the workers are the parallelism),
    max(batch_rows, READ_ROWS) rows at a time: one row group of make sample_data's files, memory still bounded by
    the batch. A value that does not fit its column raises ValueError naming the file and the column."""
    path, group = unit
    if fmt == "parquet":
        yield from _parquet_batches(path, group, schema, batch_rows)
        return
    import pyarrow.dataset as ds

    block, done = CSV_BLOCK_BYTES, 0  # rows handed out: a read again with a bigger block skips them
    while True:
        file_format = csv_format(schema, block) if fmt == "csv" else ds.IpcFileFormat()
        batches, seen = None, 0
        while True:
            try:  # a CSV value that does not parse as its column's type raises here (the first block: at the start)
                batches = batches or ds.dataset(path, format=file_format).to_batches(
                    columns=schema.names, batch_size=batch_rows
                )
                batch = next(batches, None)
            except (pa.ArrowInvalid, OSError) as exc:
                if fmt == "csv" and straddles(exc):
                    block = bigger_block(block, path)
                    break
                raise ValueError(f"{path}: {csv_problem(str(exc), schema)}") from None
            if batch is None:
                return
            first, seen = seen, seen + batch.num_rows
            if seen <= done:
                continue
            if first < done:
                batch = batch.slice(done - first)
            done = seen
            yield _as_schema(batch, schema, path)


def _parquet_batches(path: str, group, schema: pa.Schema, batch_rows: int):
    import pyarrow.parquet as pq

    what = f"row group {group}" if group is not None else "the file"
    with pq.ParquetFile(path, memory_map=True) as reader:
        groups = [group] if group is not None else None
        batches = reader.iter_batches(batch_size=max(batch_rows, READ_ROWS), row_groups=groups, columns=schema.names,
                                      use_threads=False)  # fmt: skip
        while True:
            try:
                batch = next(batches, None)
            except (OSError, pa.ArrowException) as exc:  # e.g. "Corrupt snappy compressed data.", naming no file
                raise ValueError(
                    f"{path}: cannot read {what} ({exc}); the file is damaged: write it again, or leave it out of "
                    "source.path"
                ) from None
            if batch is None:
                return
            yield _as_schema(batch, schema, path)


# As hyperd (and PostgreSQL) read CSV: an unquoted empty field is NULL, a quoted one an empty string; booleans as
# t/f, true/false, yes/no, on/off, 1/0. pyarrow's defaults differ (empty text is '', 'NA' and 'nan' are NULL,
# only true/false/1/0 are booleans), so the client and hyperd would store different rows from the same file.
_TRUE = ["t", "true", "y", "yes", "on", "1"]
_FALSE = ["f", "false", "n", "no", "off", "0"]


def csv_format(schema: pa.Schema | None, block: int = CSV_BLOCK_BYTES):
    """How pyarrow reads CSV: into the table's types as hyperd does (schema), or inferring the types (None)."""
    import pyarrow.csv as pcsv
    import pyarrow.dataset as ds

    read_options = pcsv.ReadOptions(block_size=block)
    if schema is None:
        return ds.CsvFileFormat(read_options=read_options)
    options = pcsv.ConvertOptions(
        column_types={field.name: field.type for field in schema},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        true_values=_TRUE + [v.upper() for v in _TRUE] + [v.capitalize() for v in _TRUE],
        false_values=_FALSE + [v.upper() for v in _FALSE] + [v.capitalize() for v in _FALSE],
    )
    return ds.CsvFileFormat(convert_options=options, read_options=read_options)


def csv_problem(message: str, schema: pa.Schema) -> str:
    """pyarrow's CSV error with the column's name instead of its number ('In CSV column #2: Row #5: …')."""
    found = re.search(r"In CSV column #(\d+): (.*)", message, re.S)
    if found is None:
        return message
    number, rest = int(found.group(1)), found.group(2).strip()
    name = schema.names[number] if number < len(schema) else f"#{number}"
    return f"column {name!r} ({schema.field(name).type if number < len(schema) else '?'}): {rest}"


def _as_schema(batch: pa.RecordBatch, schema: pa.Schema, path: str) -> pa.RecordBatch:
    if batch.schema.equals(schema, check_metadata=False):
        return batch
    if batch.schema.names != schema.names:
        batch = pa.RecordBatch.from_arrays([batch.column(name) for name in schema.names], names=schema.names)
    try:
        return batch.cast(schema)
    except (pa.ArrowInvalid, ValueError) as exc:  # safe casts: overflow, lost precision, nulls into NOT NULL
        for field, array in zip(schema, batch.columns, strict=True):
            try:
                array.cast(field.type)
            except pa.ArrowInvalid as column_exc:
                raise ValueError(f"{path}: column {field.name!r} ({array.type} → {field.type}): {column_exc}") from None
            if not field.nullable and array.null_count:
                raise ValueError(f"{path}: column {field.name!r} has NULLs, but its table column is NOT NULL") from None
        raise ValueError(f"{path}: {exc}") from None


# ------------------------------------------------------------------------------------------------ new tables
@dataclass(frozen=True)
class FileColumn:
    """A column of a file source: what verification needs (name, SQL type), without a generator."""

    name: str
    type: str
    nullable: bool = True

    @property
    def sql_type(self) -> SqlType:
        return parse_sql_type(self.type)


@dataclass(frozen=True)
class FileTable:
    """The table a file source is loaded into, derived from the files' Arrow schema."""

    columns: tuple

    def create_sql(self, table_sql: str) -> str:
        return f"CREATE TABLE {table_sql} ({', '.join(f'{quote(c.name)} {c.type}' for c in self.columns)})"

    def row_bytes(self) -> int:
        return sum({"SMALLINT": 2, "INT": 4, "DATE": 4, "BOOL": 1, "NUMERIC": 16}.get(c.sql_type.base, 8)
                   for c in self.columns)  # fmt: skip


ARROW_TO_SQL = (
    "int16, int32, int64, float64, decimal128(p<=18), bool, string, date32, timestamp (any unit, tz UTC or none), "
    "month_day_nano_interval"
)


def sql_for_arrow(arrow_type: pa.DataType) -> str | None:
    """The Hyper type a file column is loaded as (None: not supported). Timestamps become µs, as hyperd reads them."""
    simple = {pa.int16(): "SMALLINT", pa.int32(): "INT", pa.int64(): "BIGINT", pa.float64(): "DOUBLE PRECISION",
              pa.bool_(): "BOOL", pa.string(): "TEXT", pa.large_string(): "TEXT", pa.date32(): "DATE"}  # fmt: skip
    if arrow_type in simple:
        return simple[arrow_type]
    if arrow_type == pa.month_day_nano_interval():
        return "INTERVAL"
    if pa.types.is_decimal128(arrow_type) and arrow_type.precision <= MAX_NUMERIC_PRECISION:
        return f"NUMERIC({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        if arrow_type.tz is None:
            return "TIMESTAMP"
        if arrow_type.tz in ("UTC", "+00:00", "Z"):
            return "TIMESTAMPTZ"
    return None


def file_table(schema: pa.Schema, path: str) -> FileTable:
    """Raises ValueError naming the file, the column and its type when a column maps onto no Hyper type."""
    columns = []
    for field in schema:
        sql = sql_for_arrow(field.type)
        if pa.types.is_null(field.type):
            raise ValueError(f"{path}: column {field.name!r} has no value that tells its type (Arrow type null: "
                             f"empty in the rows read); declare the table in data: (column names and types) and load "
                             f"the files into it with table: KEY")  # fmt: skip
        if sql is None:
            raise ValueError(f"{path}: column {field.name!r} has Arrow type {field.type}, which loadgen cannot load "
                             f"(allowed: {ARROW_TO_SQL})")  # fmt: skip
        columns.append(FileColumn(field.name, sql))
    return FileTable(tuple(columns))


# ------------------------------------------------------------------------------------------------ files → a definition
# Which Arrow types of a file column load into which SQL domain of a declared column. The client casts with
# pyarrow's safe cast (a value that does not fit raises, naming the column) and hyperd casts itself when it reads
# the file; floats are not accepted for NUMERIC because the two round differently (verification would differ).
_FILE_FITS = {
    "int": ("integer",),
    "float": ("integer", "floating"),
    "numeric": ("integer", "decimal"),
    "bool": ("boolean",),
    "text": ("string",),
    "date": ("date",),
    "timestamp": ("timestamp", "date"),
    "interval": ("interval",),
}
_FILE_KIND_NAMES = {
    "integer": "int8 … int64, uint8 … uint64",
    "floating": "float16/32/64",
    "decimal": "decimal128/256",
    "boolean": "bool",
    "string": "string, large_string, string_view, dictionary of strings",
    "date": "date32, date64",
    "timestamp": "timestamp (any unit)",
    "interval": "month_day_nano_interval",
}


def _file_kind(arrow_type: pa.DataType) -> str | None:
    t = pa.types
    if t.is_dictionary(arrow_type):
        return "string" if _file_kind(arrow_type.value_type) == "string" else None
    checks = (
        ("integer", t.is_integer), ("floating", t.is_floating), ("decimal", t.is_decimal), ("boolean", t.is_boolean),
        ("string", lambda x: t.is_string(x) or t.is_large_string(x) or x == pa.string_view()),
        ("date", t.is_date), ("timestamp", t.is_timestamp),
        ("interval", lambda x: x == pa.month_day_nano_interval()),
    )  # fmt: skip
    return next((kind for kind, check in checks if check(arrow_type)), None)


def map_file_schema(definition: TableDefinition, key: str, schema: pa.Schema, path: str, read_by: str) -> None:
    """Every declared column is in the file (by name) with a type that loads into it; raises ValueError naming
    the file, the column and both types. The file's other columns are not loaded (as hyperd's COPY does)."""
    by_name = {field.name: field for field in schema}
    for column in definition.columns:
        field = by_name.get(column.name)
        if field is None:
            alike = [name for name in schema.names if name.lower() == column.name.lower()]
            hint = f"; names are matched exactly, and {alike[0]!r} differs only in case" if alike else ""
            raise ValueError(
                f"{path}: no column {column.name!r} for data.{key}.{column.name} "
                f"(the file has: {', '.join(schema.names)}{hint})"
            )
        if read_by == "hyperd" and field.type == pa.uint64():
            raise ValueError(f"{path}: column {column.name!r} is Arrow uint64, which hyperd does not read from "
                             f"Parquet (read_by: client casts it, failing on values beyond BIGINT)")  # fmt: skip
        sql = column.sql_type
        kind = _file_kind(field.type)
        zoned = bool(getattr(field.type, "tz", None))  # an instant: only TIMESTAMPTZ holds it unchanged
        if kind not in _FILE_FITS[sql.domain] or (sql.domain == "timestamp" and (sql.base == "TIMESTAMPTZ") != zoned):
            if sql.base in ("TIMESTAMP", "TIMESTAMPTZ") and kind == "timestamp":
                fits = "timestamp with a time zone" if sql.base == "TIMESTAMPTZ" else "timestamp without a time zone"
            else:
                fits = "; ".join(_FILE_KIND_NAMES[k] for k in _FILE_FITS[sql.domain])
            raise ValueError(
                f"{path}: column {column.name!r} is Arrow {field.type}, which does not load into "
                f"data.{key}.{column.name} {sql.sql} (loads from: {fits})"
            )


# ------------------------------------------------------------------------------------------------ validation
def check_files(files: list[str], fmt: str, definition, key: str | None, read_by: str) -> None:
    """At validation: the files have one schema, and every column maps onto a Hyper type (read from metadata) or
    onto the declared definition's column of the same name. Raises ValueError naming the file and the column."""
    try:
        _check_files(files, fmt, definition, key, read_by)
    except pa.ArrowException as exc:
        raise ValueError(str(exc)) from None


def _check_files(files, fmt, definition, key, read_by) -> None:
    if definition is not None:
        for path in files:
            _check_declared(definition, key, path, fmt, read_by)
        return
    first = file_schema(files[0], fmt)
    if any(pa.types.is_null(field.type) for field in first) and not has_rows(files[0], fmt):
        raise ValueError(
            f"{files[0]} has no rows, so the types of its columns cannot be inferred: declare the table in "
            "data: (column names and types) and load the file into it with table: KEY, or give the file rows"
        )
    file_table(first, files[0])
    for other in files[1:]:
        schema = file_schema(other, fmt)
        for want, got in zip(first, schema, strict=False):
            if want.name != got.name or want.type != got.type:
                raise ValueError(
                    f"{other}: column {got.name!r} is {got.type} here, "
                    f"but column {want.name!r} is {want.type} in {files[0]}"
                )
        if len(schema) != len(first):
            raise ValueError(f"{other}: {len(schema)} columns, but {len(first)} in {files[0]}")


def _check_declared(definition, key: str, path: str, fmt: str, read_by: str) -> None:
    """A file's columns against the declared table. CSV columns are parsed into the declared types, so their
    names count and the first block must parse; hyperd reads CSV columns by position, Parquet by name."""
    schema = file_schema(path, fmt)
    if fmt != "csv":
        map_file_schema(definition, key, schema, path, read_by)
        return
    names = [c.name for c in definition.columns]
    missing = [name for name in names if name not in schema.names]
    if missing:
        raise ValueError(f"{path}: no column {missing[0]!r} for data.{key}.{missing[0]} "
                         f"(the file's header has: {', '.join(schema.names)})")  # fmt: skip
    for column in definition.columns:
        if column.sql_type.domain == "interval":
            raise ValueError(f"{path}: data.{key}.{column.name} is INTERVAL, which loadgen does not read "
                             f"from CSV (allowed for INTERVAL: Arrow IPC files)")  # fmt: skip
    if read_by == "hyperd" and schema.names != names:
        raise ValueError(
            f"{path}: hyperd reads CSV columns by position, and the header ({', '.join(schema.names)}) is not "
            f"data.{key}'s columns in order ({', '.join(names)}); reorder them, or use read_by: client"
        )
    next(read_unit((path, None), fmt, arrow_schema(definition), 1024), None)  # the first values parse
