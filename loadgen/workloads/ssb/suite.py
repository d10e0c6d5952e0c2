"""SSB as a suite of the shared workloads (loadgen/workloads/suites/): its data is TPC-H's (tpchgen-cli, the same
cache as the TPC-H workloads: one generation serves both), loaded into the schema ssb_tpch; the load then builds
SSB's five tables from them in the schema ssb (loadgen/workloads/ssb/build.py), and the 13 queries run with ssb on
the search path. DuckDB builds the same five tables from the same Parquet files for the reference answers."""

from loadgen.workloads.ssb import build, queries
from loadgen.workloads.tpch.suite import TpchSuite

SOURCE_SCHEMA = "ssb_tpch"
SSB_SCHEMA = "ssb"


class SsbSuite(TpchSuite):
    name = "ssb"
    label = "SSB"
    schema = SOURCE_SCHEMA
    derived_schema = SSB_SCHEMA
    query_numbers = tuple(range(1, len(queries.QUERY_NAMES) + 1))  # 1 = Q1.1 … 13 = Q4.3
    random_parameters = False
    metrics_formulas = False
    metrics_note = "SSB defines no composite metric: query run times only; tables derived from TPC-H's data"
    duckdb_views = "tpch"

    @property
    def cache_name(self) -> str:
        return "tpch"  # TPC-H's data and cache

    def query_label(self, query: int) -> str:
        return f"q{queries.QUERY_NAMES[query - 1]}"

    def stream_order(self, stream, wanted):
        return super(TpchSuite, self).stream_order(stream, wanted)  # no permutations in SSB: the base's

    def texts(self, query, stream, seed, scale_factor, random_values):
        text = queries.QUERIES[queries.QUERY_NAMES[query - 1]]
        return text, text

    def derived_tables(self, loaded_rows):
        source = f'"{SOURCE_SCHEMA}".'
        return [
            (
                table,
                build.create_sql(table, source, f'"{SSB_SCHEMA}"."{table}"'),
                build.expected_rows(table, loaded_rows) if loaded_rows else 0,
            )
            for table in build.TABLE_ORDER
        ]

    def duckdb_prepare(self, con) -> None:
        for table in build.TABLE_ORDER:
            con.execute(build.create_sql(table, "tpch."))

    def session_sql(self) -> list[str]:
        return [f"SET search_path = {SSB_SCHEMA}"]


SSB = SsbSuite()
