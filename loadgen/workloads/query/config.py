"""Options of `workload: query`: a shape of the canonical table, your own SQL, or every row of a `data:` table,
fetched by one of the client paths, for a number of iterations or a duration, over one or more sessions."""

from typing import ClassVar, Literal

from pydantic import Field, PrivateAttr

from loadgen.config.fields import WEEK_S, Count, Number, check_placeholders, folder_problem
from loadgen.config.phase import PhaseOptions
from loadgen.datagen import canonical
from loadgen.workloads.contract import WARMUP_SUFFIX

SHAPES = {
    "full_scan": "SELECT id, sensor_id, value, timestamp FROM {table}",
    "filtered": "SELECT id, value FROM {table} WHERE sensor_id = 5",
    "aggregation": "SELECT sensor_id, COUNT(*), SUM(value) FROM {table} GROUP BY sensor_id",
}
# nominal result bytes per row, for MiB/s: the column widths each shape returns
SHAPE_ROW_BYTES = {"full_scan": 24, "filtered": 12, "aggregation": 20}
FILTER_SENSOR = 5
KEEP_ROWS = 100  # a result this small is kept whole in the digest (aggregation: 10 rows)
WARMUP_OP = "query" + WARMUP_SUFFIX
MAX_QUERY_SESSIONS = 1000  # a thread each: query sessions read whole results, so a few per core make sense


class QueryPhase(PhaseOptions):
    workload: Literal["query"]
    table_columns: ClassVar[tuple[str, ...]] = (
        "wall_s",
        "seed_wall_s",
        "rows_per_s",
        "mib_per_s",
        "parallelism",
        "ops_per_s",
        "p50_ms",
        "p99_ms",
    )
    table_labels: ClassVar[dict[str, str]] = {"ops_per_s": "Queries/s"}
    renamed_keys: ClassVar[dict[str, str]] = {"warmup": "warmup_iterations"}
    shape: Literal["full_scan", "filtered", "aggregation"] | None = Field(
        default=None, description="A query of the canonical table (default full_scan, unless sql or table)."
    )
    sql: str | None = Field(default=None, min_length=1, description="Your own query; {table} is the worker's table.")
    method: Literal["rows", "arrow", "arrow_stream"] = Field(
        default="arrow",
        description="rows: execute_query, row by row; arrow: COPY (q) TO a file, memory-mapped; arrow_stream: COPY "
        "(q) TO STDOUT.",
    )
    iterations: Count | None = Field(default=None, ge=1, description="Queries per worker (default 1).")
    sessions: Count = Field(
        default=1, ge=1, le=MAX_QUERY_SESSIONS, description="Concurrent sessions per worker, each its own connection."
    )
    duration_s: Number | None = Field(default=None, gt=0, le=WEEK_S, description="Run queries for this long instead.")
    warmup_iterations: Count = Field(
        default=0, ge=0, description="Queries per worker before measuring; reported separately."
    )
    staging_dir: str | None = Field(default=None, description="Folder for COPY TO files (arrow; default /dev/shm).")
    table: str | None = Field(
        default=None,
        description="Instead of shape or sql: read every row of this data: definition's table (row count checked).",
    )
    _tables: dict = PrivateAttr(default_factory=dict)  # data: key -> table name template, filled by resolved()
    _row_bytes: int = PrivateAttr(default=0)  # the nominal row of `table`, for MiB/s
    _first_column: str = PrivateAttr(default="")  # of `table`: what its reads are checksummed on
    _first_is_char: bool = PrivateAttr(default=False)

    def method_name(self) -> str:
        return self.method

    def ends_early(self) -> bool:
        return True

    def sessions_per_worker(self) -> int | None:
        return self.sessions

    def operation_names(self) -> list[str]:
        return ["query"]

    def staging_folder(self) -> str | None:
        return self.staging_dir

    def cross_check(self, scenario):
        if self.shape and self.sql:
            yield ("sql",), "give either shape or sql, not both"
        definitions = getattr(scenario, "data", {})
        if self.sql:
            try:
                check_placeholders(self.sql, ("table", *definitions))
            except ValueError as exc:
                yield ("sql",), str(exc)
        if self.table is not None:
            if self.table not in definitions:
                yield (
                    ("table",),
                    f"no table definition named {self.table!r} in data: (defined: {', '.join(definitions) or 'none'})",
                )
            if self.shape or self.sql:
                yield ("table",), "give one of shape, sql or table"
        if self.iterations is not None and self.duration_s is not None:
            yield ("duration_s",), "give either iterations or duration_s, not both"
        if self.staging_dir and folder_problem(self.staging_dir):
            yield ("staging_dir",), folder_problem(self.staging_dir)

    def shadowed(self, key: str) -> str:
        if key == "staging_dir" and self.method != "arrow":
            return f"staging_dir applies to method arrow only, and {self.name} uses {self.method}"
        return ""

    def resolved(self, scenario):
        update = {}
        if not self.sql and not self.shape and self.table is None:
            update["shape"] = "full_scan"
        if self.iterations is None and self.duration_s is None:
            update["iterations"] = 1
        phase = self.model_copy(update=update)
        definitions = getattr(scenario, "data", {})
        phase._tables = {key: d.name or key + "_{worker}" for key, d in definitions.items()}
        if self.table in definitions:
            phase._row_bytes = definitions[self.table].row_bytes()
            phase._first_column = definitions[self.table].columns[0].name
            phase._first_is_char = definitions[self.table].columns[0].sql_type.base == "CHAR"
        return phase

    def nominal_row_bytes(self) -> int:
        if self.table is not None and self._row_bytes:
            return self._row_bytes
        return SHAPE_ROW_BYTES.get(self.shape or "", canonical.BYTES_PER_ROW)

    def query_text(self, table_sql: str, tables: dict[str, str]) -> str:
        """The query, given the worker's own table and each data: definition's table (quoted SQL names)."""
        if self.table is not None:
            return f"SELECT * FROM {tables[self.table]}"
        return (self.sql or SHAPES[self.shape]).format(table=table_sql, **tables)

    def definition_tables(self, worker: int) -> dict[str, str]:
        """Each data: definition's table name of this worker (unquoted)."""
        return {key: template.format(worker=worker) for key, template in self._tables.items()}
