"""TPC-DS as a suite of the shared workloads (loadgen/workloads/suites/).

Generation by tables: tpcgen-cli, like dsdgen, does not split tables it counts as small, and at SF 1 that
includes store_sales, so `--parts` per worker leaves one worker with ~95 % of the work (docs/tpcds.md). Each
worker instead runs one tpcgen-cli over a share of whole tables, shared out by an estimate of their size (rows
at SF 1 × columns, longest first onto the least loaded worker). A sales table and its returns table are one unit:
dsdgen makes the returns while it makes the sales. The files land as <table>/<table>.1.parquet (`--parts 1
--part 1`), the layout of every suite's cache.
"""

from pathlib import Path

from loadgen.workloads.suites.suite import Suite
from loadgen.workloads.tpcds import queries, schema
from loadgen.workloads.tpcds.data import DUCKDB_NULL_ORDER

# the returns table is generated with its sales table
GROUPS = {"store_returns": "store_sales", "catalog_returns": "catalog_sales", "web_returns": "web_sales"}


class TpcdsSuite(Suite):
    name = "tpcds"
    label = "TPC-DS"
    generator = "tpcgen-cli"
    folder_tag = "tpcgen"
    min_scale_factor = 0.01  # tpcgen-cli's smallest: below it dsdgen's dimensions are not scaled down further
    tables = tuple(schema.TABLES)
    query_numbers = queries.QUERY_NUMBERS
    known_differences = {
        12: "at small scale factors (0.01) an item class can have zero web revenue in the window: Hyper raises "
        "'division by zero' in revenueratio, DuckDB returns NULL (at SF 1 it runs and matches)",
    }
    metrics_note = (
        "query run times only: QphDS@SF needs the load test, two throughput runs and data maintenance; "
        "throughput stream orders are loadgen's, not dsqgen's"
    )

    def units(self, parts: int) -> list[str]:
        return sorted({GROUPS.get(t, t) for t in self.tables})

    def unit_of(self, path: str) -> str:
        table = path.split("/", 1)[0]
        return GROUPS.get(table, table)

    def weight(self, unit: str) -> int:
        return sum(schema.ROWS_SF1[t] * len(schema.TABLES[t]) for t in self.tables if GROUPS.get(t, t) == unit)

    def share(self, units, worker, workers):
        loads, out = [0] * workers, [[] for _ in range(workers)]
        for unit in sorted(units, key=lambda u: (-self.weight(u), u)):
            w = min(range(workers), key=lambda i: (loads[i], i))
            out[w].append(unit)
            loads[w] += self.weight(unit)
        return sorted(out[worker])

    def commands(self, binary, scale_factor, parts, units, out, threads):
        if not units:
            return []
        tables = [t for t in self.tables if GROUPS.get(t, t) in units]
        command = [
            binary, "tpcds", "parquet", "--scale-factor", f"{scale_factor:g}", "--parts", "1", "--part", "1",
            "--tables", ",".join(tables), "--output-dir", str(out), "--num-threads", str(threads), "--quiet",
            "--no-progress",
        ]  # fmt: skip
        return [(command, list(units))]

    def files_of(self, folder: Path, units: list[str]) -> list[Path]:
        tables = [t for t in self.tables if GROUPS.get(t, t) in units]
        return sorted(p for t in tables for p in (Path(folder) / t).glob(f"{t}.*.parquet"))

    def spec_rows(self, table, scale_factor):
        return schema.ROWS_SF1[table] if scale_factor == 1 else None

    def checksum_columns(self, table):
        return schema.PRIMARY_KEYS[table][0], None

    def create_sql(self, table, table_sql):
        return schema.create_sql(table, table_sql)

    def arrow_schema(self, table, file_schema):
        return schema.arrow_schema(table)

    def texts(self, query, stream, seed, scale_factor, random_values):
        return queries.hyper_text(query), queries.standard_text(query)

    def duckdb_settings(self):
        return [f"SET default_null_order = '{DUCKDB_NULL_ORDER}'"]

    def difference(self, query, columns, rows, want_columns, want_rows):
        from loadgen.workloads.tpcds import compare  # pyarrow, through the comparison rules: not at validation

        text, tolerated = compare.difference(query, columns, rows, want_columns, want_rows)
        if tolerated:
            limits = ", ".join(f"{column} ±{limit}" for column, limit in compare.ROUNDING[query].items())
            return "", f"equal within {limits} (a half-way rounding DuckDB does in binary floating point)"
        return text, ""


TPCDS = TpcdsSuite()
