"""A benchmark suite as the shared generate / load / query workloads see it (loadgen/workloads/suites/): its
tables, its generator and how the generation is shared out, the row counts and sums the load checks, its queries
and the substitution values, how answers compare with DuckDB's, and its metrics. TPC-H (loadgen/workloads/tpch/
suite.py) and TPC-DS (loadgen/workloads/tpcds/suite.py) are Suite subclasses; everything else is one code path.

Light by construction (validation imports it): a subclass imports pyarrow or DuckDB only inside its methods.

Cache layout, whatever the suite: DATA_DIR/sf<SF>-<tag>-<generator version>/<table>/<table>.<part>.parquet, with
the manifest (loadgen/workloads/suites/cache.py). A generation *unit* is what one generator command makes: a part
number of every table (TPC-H), or a group of whole tables (TPC-DS, whose generator does not split its big tables
at small scale factors).
"""

import random
from pathlib import Path

STREAM_SEED = 20_260_418


class Suite:
    name = ""  # the workloads' prefix: NAME_generate, NAME_load, NAME_query
    label = ""  # what people read: "TPC-H"
    generator = ""  # the generator's console script (a dependency in setup.cfg)
    folder_tag = ""  # the cache folder's name: sf<SF>-<tag>-<version>
    min_scale_factor = 0.0  # below it the generator makes no sensible data: refused at validation
    tables: tuple[str, ...] = ()  # the tables generated and loaded
    schema = "public"  # where the load puts them
    derived_schema = "public"  # where the load builds its derived tables (derived_tables)
    query_numbers: tuple[int, ...] = ()
    units_are_parts = False  # a unit is a part number of every table (else a group of whole tables)
    random_parameters = False  # whether `parameters: random` is offered
    metrics_formulas = False  # whether the suite's metrics (Power@Size, …: loadgen/workloads/tpch/metrics.py) apply
    metrics_note = ""  # how the reported metrics differ from an audited run's
    # query → why its answer is not compared or may legitimately differ (listed in the run's report and docs)
    known_differences: dict[int, str] = {}

    @property
    def workloads(self) -> tuple[str, str, str]:
        return (f"{self.name}_generate", f"{self.name}_load", f"{self.name}_query")

    @property
    def cache_name(self) -> str:
        """The cache's folder under ~/.cache/loadgen, and its marker's name: a suite built from another suite's
        data (SSB from TPC-H) shares that suite's cache."""
        return self.name

    @property
    def marker(self) -> str:
        return f".loadgen-{self.cache_name}-cache"

    # ------------------------------------------------------------------------------------------ generation
    def units(self, parts: int) -> list[str]:
        """Every generation unit of a complete cache with `parts` parts per table."""
        raise NotImplementedError

    def unit_of(self, path: str) -> str:
        """The unit that makes the cache file `path` (relative): what a repair regenerates."""
        raise NotImplementedError

    def default_parts(self, scale_factor: float, workers: int) -> int:
        return 1

    def share(self, units: list[str], worker: int, workers: int) -> list[str]:
        """This worker's units of `units` (the same answer on every worker)."""
        return [u for i, u in enumerate(sorted(units, key=self.unit_order)) if i % workers == worker]

    def unit_order(self, unit: str):
        return unit

    def commands(self, binary: str, scale_factor: float, parts: int, units: list[str], out: Path, threads: int):
        """[(command, the units it makes)] for this worker's `units`."""
        raise NotImplementedError

    def files_of(self, folder: Path, units: list[str]) -> list[Path]:
        """The files in `folder` that `units` make."""
        return sorted(p for p in Path(folder).glob("*/*.parquet") if self.unit_of(_relative(folder, p)) in units)

    def expected_paths(self, table: str, parts: int) -> list[str]:
        return sorted(f"{table}/{table}.{k}.parquet" for k in range(1, parts + 1))

    # ------------------------------------------------------------------------------------------ data checks
    def spec_rows(self, table: str, scale_factor: float) -> int | None:
        """The specification's row count of `table` at `scale_factor`, None where it gives none."""
        return None

    def checksum_columns(self, table: str) -> tuple[str, str | None]:
        """(a NOT NULL integer column, an exact money column or None): the load compares their sums with the files'."""
        raise NotImplementedError

    def create_sql(self, table: str, table_sql: str) -> str:
        raise NotImplementedError

    def arrow_schema(self, table: str, file_schema):
        """The Arrow schema an Arrow COPY into the table takes, for a file with `file_schema`."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------ queries
    def query_label(self, query: int) -> str:
        return f"q{query:02d}"

    def stream_order(self, stream: int, queries: list[int]) -> list[int]:
        """The power stream (0) runs the queries in number order; throughput stream s a fixed permutation seeded
        by s (a suite whose specification lists permutations overrides this)."""
        order = [q for q in self.query_numbers if q in set(queries)]
        if stream:
            random.Random(STREAM_SEED + stream).shuffle(order)
        return order

    def texts(self, query: int, stream: int, seed: int, scale_factor: float, random_values: bool) -> tuple[str, str]:
        """(what Hyper runs, what DuckDB runs) for `query` in `stream`."""
        raise NotImplementedError

    def duckdb_settings(self) -> list[str]:
        """SET statements for the reference DuckDB (e.g. NULL ordering)."""
        return []

    duckdb_views = ""  # the DuckDB schema of the views over the Parquet files ("": the default one)

    def duckdb_prepare(self, con) -> None:
        """After the views: what else the reference DuckDB needs (SSB builds its tables from TPC-H's)."""

    def derived_tables(self, loaded_rows: dict[str, int]) -> list[tuple[str, str, int]]:
        """[(table, SQL that creates it from the loaded tables, the rows it must have)]: tables the load builds in
        Hyper once every worker has loaded (SSB's from TPC-H's). None for most suites."""
        return []

    def session_sql(self) -> list[str]:
        """Statements every query connection runs first (SSB: its schema on the search path; the worker's own
        connection gets `RESET search_path` when the phase closes, not RESET ALL: that would also reset the
        settings tableauhyperapi made when it connected, and its results would then be decoded wrongly)."""
        return []

    def difference(self, query: int, columns, rows, want_columns, want_rows) -> tuple[str, str]:
        """('' or where the answers first differ, a note when they are equal only under a known tolerance)."""
        from loadgen.workloads.suites.reference import difference

        return difference(columns, rows, want_columns, want_rows), ""


def _relative(folder: Path, path: Path) -> str:
    return Path(path).relative_to(folder).as_posix()
