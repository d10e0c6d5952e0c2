"""Options of `workload: insert`: the canonical rows, a `data:` definition's generated rows (`table: KEY`), or
files (`source:`), written by one of the client paths. Validation only (pydantic): a file source's metadata is
read here, through loadgen/transfer/files.py, only when the scenario has one."""

import glob
import os
from typing import Annotated, ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator

from loadgen.config.fields import (
    BOUND_MEANINGS,
    MAX_ROWS,
    Count,
    Number,
    StrictModel,
    check_placeholders,
    excerpt,
    folder_problem,
    name_problem,
    placeholders,
)
from loadgen.config.phase import PhaseOptions
from loadgen.datagen import canonical
from loadgen.datagen.kinds import Sequence

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


class InsertPhase(PhaseOptions):
    workload: Literal["insert"]
    table_labels: ClassVar[dict[str, str]] = {"p99_ms": "p99 op (ms)"}
    takes_scenario_rows: ClassVar[bool] = True
    set_replaces: ClassVar[dict[str, tuple[str, ...]]] = {"rows": ("rows_scale",)}
    method: Literal["rows", "arrow", "arrow_stream"] = Field(
        default="arrow",
        description="arrow: staged Arrow files + COPY FROM 'file' (hyperd on this host); arrow_stream: Arrow over "
        "COPY FROM STDIN; rows: the row API (Inserter).",
    )
    rows: Count | None = Field(
        default=None, ge=1, le=MAX_ROWS, description="Total rows over all workers (default: scenario rows)."
    )
    rows_scale: Number | None = Field(
        default=None,
        gt=0,
        le=1000,
        description="Without rows: this phase writes the scenario's rows × rows_scale (e.g. 0.1 for the row API).",
    )
    batch_rows: Count = Field(default=16_384, ge=1, le=10_000_000, description="Rows per record batch / add_rows call.")
    rows_per_copy: Count = Field(default=1_000_000, ge=1, description="Rows per COPY statement (arrow methods).")
    staging_dir: str | None = Field(default=None, description="Folder for staged Arrow files (default /dev/shm).")
    generator_threads: Count | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Threads a worker makes a data: table's rows on (default: the CPUs shared out among the workers, "
        "at most 4).",
    )
    table: str | None = Field(
        default=None, description="A table definition of the scenario's data: section (default: the canonical table)."
    )
    source: FileSource | None = Field(
        default=None, description="Load files (Parquet, CSV, Arrow IPC) instead of generated rows."
    )
    # filled by resolved(): the definition travels with the phase to the workers
    _definition: object = PrivateAttr(default=None)
    _shared: bool = PrivateAttr(default=False)
    _files: list = PrivateAttr(default_factory=list)
    _format: str = PrivateAttr(default="")
    _file_rows: int = PrivateAttr(default=0)  # of a source's Parquet files (its rows: stays unset, all are read)

    def total_rows(self, scenario) -> int | None:
        """Own rows, else the scenario's rows (× rows_scale, rounded down)."""
        if self.rows is not None or scenario.rows is None:
            return self.rows
        return int(scenario.rows * (self.rows_scale or 1))

    def cross_check(self, scenario):
        if self.table is not None:
            yield from self._check_definition(scenario)
        if self.source is not None:
            yield from self._check_source(scenario)
            return
        if self.rows is not None and self.rows_scale is not None:
            yield ("rows_scale",), "give either rows or rows_scale, not both (rows_scale scales the scenario's rows)"
            return
        rows = self.total_rows(scenario)
        key = ("rows_scale",) if self.rows_scale is not None else ("rows",)
        if rows is None:
            yield ("rows",), "required key is missing (set it here or as the scenario's top-level rows)"
        elif rows < scenario.workers:
            yield key, f"{rows} rows cannot be split over {scenario.workers} workers; need rows >= workers"
        elif rows > MAX_ROWS:
            yield key, f"{rows} rows: at most {MAX_ROWS} ({BOUND_MEANINGS[MAX_ROWS]})"
        if self.staging_dir and folder_problem(self.staging_dir):
            yield ("staging_dir",), folder_problem(self.staging_dir)
        definition = getattr(scenario, "data", {}).get(self.table)
        if definition is not None and rows is not None:
            for column in definition.columns:
                gen = column.generator
                problem = gen.end_problem(column.sql_type, rows) if isinstance(gen, Sequence) else ""
                if problem:
                    yield ("table",), f"data.{self.table}.{column.name}: {problem}"
        if definition is not None and definition.without_generator():
            missing = ", ".join(definition.without_generator())
            yield (
                ("table",),
                (
                    f"data.{self.table} has columns without a generator ({missing}): give each a generator, "
                    "or load the table from files (source:)"
                ),
            )

    def _check_definition(self, scenario):
        definitions = getattr(scenario, "data", {})
        if self.table not in definitions:
            known = ", ".join(definitions) or "none"
            yield ("table",), f"no table definition named {self.table!r} in data: (defined: {known})"
        elif self.method != "rows" and (self.source is None or self.source.read_by == "client"):
            # hyperd's arrowstream COPY takes Utf8 only into TEXT (found by test; no implicit casts)
            for column in definitions[self.table].columns:
                if column.sql_type.base in ("VARCHAR", "CHAR"):
                    yield (
                        ("method",),
                        (
                            f"data.{self.table}.{column.name} is {column.sql_type.sql}: hyperd takes Arrow text "
                            f"only into TEXT columns; use TEXT or method rows (allowed: rows)"
                            + (", or let hyperd read the files (source.read_by: hyperd)" if self.source else "")
                        ),
                    )
                    break

    def _check_source(self, scenario):
        """Files exist, have a format, one schema, and every column maps onto a Hyper type (read from metadata) or
        onto the declared definition's column of the same name (`table: KEY`)."""
        definitions = getattr(scenario, "data", {})
        definition = definitions.get(self.table) if self.table is not None else None
        if self.table is not None and "table" in self.source.model_fields_set:
            yield (
                ("source", "table"),
                (
                    f"the table's name comes from data.{self.table} (its name:); remove source.table, or remove table "
                    "to create the table from the files' schema"
                ),
            )
        if self.rows is not None or self.rows_scale is not None:
            yield ("rows" if self.rows is not None else "rows_scale",), "a source loads all rows of its files"
        if self.table is None and (problem := name_problem(self.source.table, scenario.workers)):
            yield ("source", "table"), problem
        files = self.source.files()
        if self.source.missing():
            shown = ", ".join(excerpt(f) for f in self.source.missing()[:3])
            yield ("source", "path"), f"no such file: {shown}" + (" …" if len(self.source.missing()) > 3 else "")
            return
        if not files:
            yield ("source", "path"), f"no file matches {excerpt(self.source.path)}"
            return
        fmt = self.source.file_format(files)
        if fmt is None:
            yield ("source", "format"), f"cannot tell the format of {excerpt(files[0])} (allowed: parquet, csv, arrow)"
            return
        if self.source.read_by == "hyperd" and fmt == "arrow":
            yield ("source", "read_by"), "hyperd reads parquet and csv files itself, not Arrow IPC (allowed: client)"
        if self.table is not None and definition is None:
            return  # reported by _check_definition
        from loadgen.transfer import files as file_reading  # pyarrow reads the files' metadata: only for a source

        try:
            file_reading.check_files(files, fmt, definition, self.table, self.source.read_by)
        except (OSError, ValueError) as exc:
            yield ("source", "path"), str(exc)

    def shadowed(self, key: str) -> str:
        if key == "rows_scale" and self.rows is not None:
            return f"{self.name} sets its own rows ({self.name}.rows); rows_scale applies only without it"
        if key in ("rows_per_copy", "staging_dir") and self.method == "rows":
            return f"{key} applies to the arrow methods, and {self.name} uses method rows"
        if key == "staging_dir" and self.method != "arrow":
            return f"staging_dir applies to method arrow only, and {self.name} uses {self.method}"
        if key == "generator_threads" and (self.table is None or self.source is not None):
            return f"generator_threads applies to generated data: tables, and {self.name} writes none"
        return ""

    def sets_own_rows(self) -> bool:
        return self.rows is not None

    def progress_total(self) -> int:
        return self.rows or self._file_rows

    def nominal_row_bytes(self) -> int:
        return self._definition.row_bytes() if self._definition is not None else canonical.BYTES_PER_ROW

    @property
    def definition(self):
        return self._definition

    @property
    def shared(self) -> bool:
        return self._shared

    def method_name(self) -> str:
        return "external" if self.source is not None and self.source.read_by == "hyperd" else self.method

    def staging_folder(self) -> str | None:
        return self.staging_dir

    def resolved(self, scenario):
        # rows_scale is spent: scenario.yaml records the rows that ran, and stays valid to load again
        if self.source is not None:
            from loadgen.transfer import files as file_reading  # pyarrow reads the files' metadata: only for a source

            files = [os.path.abspath(f) for f in self.source.files()]  # hyperd has another cwd
            fmt = self.source.file_format(files)
            # scenario.yaml records the files read, by name: loaded again, it reads the same ones (no glob)
            source = self.source.model_copy(update={"path": files})
            phase = self.model_copy(update={"rows_scale": None, "source": source})
            phase._files, phase._format = files, fmt
            # for progress; csv: unknown until read
            phase._file_rows = file_reading.parquet_rows(files) if fmt == "parquet" else 0
            if self.table is not None:  # a declared table: the files' columns are mapped onto it by name
                phase._definition = scenario.data[self.table]
                phase._shared = phase._definition.shared(self.table) and scenario.server.database == "shared"
                return phase
            phase._definition = file_reading.file_table(
                file_reading.file_schema(phase._files[0], phase._format), phase._files[0]
            )
            phase._shared = "worker" not in placeholders(self.source.table) and scenario.server.database == "shared"
            return phase
        phase = self.model_copy(update={"rows": self.total_rows(scenario), "rows_scale": None})
        if self.table is not None:
            definition = scenario.data[self.table]
            phase._definition = definition
            phase._shared = definition.shared(self.table) and scenario.server.database == "shared"
        return phase
