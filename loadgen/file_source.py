"""Real files as an insert phase's source: which files, in which format, and how they are split among the
workers (by Parquet row group when the client reads them, by file when hyperd does) so that no row is read twice."""

import os
from typing import Annotated, Literal

import pyarrow as pa
from pydantic import Field, field_validator

from loadgen.workloads.base import StrictModel, check_placeholders

FORMATS = {".parquet": "parquet", ".csv": "csv", ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow"}


MAX_FILES = 100_000


class FileSource(StrictModel):
    path: str | list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1,
        max_length=MAX_FILES,
        description="A file or a glob (e.g. data/*.parquet), relative to where you run; an existing file is read as "
        "named, even with glob characters ([1], *, ?) in its name. A list names files exactly (no glob): the run "
        "folder's scenario.yaml records the files read that way.",
    )
    format: Literal["parquet", "csv", "arrow"] | None = Field(
        default=None, description="Default: from the files' suffix (.parquet, .csv, .arrow/.feather/.ipc)."
    )
    read_by: Literal["client", "hyperd"] = Field(
        default="client",
        description="client: pyarrow reads the files and `method` sends them; hyperd: hyperd reads them itself "
        "(COPY FROM 'file', method `external` in the results; parquet and csv).",
    )
    table: str = Field(
        default="loaded_files",
        min_length=1,
        max_length=120,
        description="Target table; with {worker} one per worker, else one shared table (default).",
    )

    @field_validator("table")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        check_placeholders(value, ("worker",))
        return value

    def files(self) -> list[str]:
        """The files to read, as written (messages show them): a list as given, an existing file, else the glob's
        matches. An existing file wins over the glob its name would also be: `x[1].parquet` is that file, not
        x1.parquet."""
        import glob

        if isinstance(self.path, list):
            return list(self.path)
        if os.path.isfile(self.path):
            return [self.path]
        return sorted(f for f in glob.glob(self.path) if os.path.isfile(f))

    def missing(self) -> list[str]:
        """Files of a list that do not exist (a glob that matches nothing is told by files() being empty)."""
        return [f for f in self.path if not os.path.isfile(f)] if isinstance(self.path, list) else []

    def file_format(self, files: list[str]) -> str | None:
        return self.format or FORMATS.get(os.path.splitext(files[0])[1].lower()) if files else self.format


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
    import re

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
