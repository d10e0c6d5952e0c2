"""TPC-H as a suite of the shared workloads (loadgen/workloads/suites/): tpchgen-cli writes every table in parts,
one generator command per part; the 22 queries with validation or random substitution values, Appendix A's
stream orders."""

import math
from pathlib import Path

from loadgen.workloads.suites.suite import Suite
from loadgen.workloads.tpch import queries, schema

SINGLE_PART_TABLES = ("nation", "region")  # tpchgen-cli writes these whole into part 1


class TpchSuite(Suite):
    name = "tpch"
    label = "TPC-H"
    generator = "tpchgen-cli"
    folder_tag = "tpchgen"
    min_scale_factor = 0.0  # tpchgen-cli takes any positive scale factor
    tables = tuple(schema.TABLES)
    query_numbers = queries.QUERY_NUMBERS
    units_are_parts = True
    random_parameters = True
    metrics_formulas = True
    metrics_note = "unrounded intervals"

    def units(self, parts: int) -> list[str]:
        return [str(k) for k in range(1, parts + 1)]

    def unit_of(self, path: str) -> str:
        return path.rsplit(".", 2)[1]  # lineitem/lineitem.3.parquet → 3

    def unit_order(self, unit: str):
        return int(unit)

    def default_parts(self, scale_factor: float, workers: int) -> int:
        """At least one per worker, and about one per unit of scale factor (≤ ~1 GB files)."""
        return max(workers, math.ceil(scale_factor))

    def commands(self, binary, scale_factor, parts, units, out, threads):
        return [
            (
                [
                    binary, "parquet", "--scale-factor", f"{scale_factor:g}", "--parts", str(parts), "--part", unit,
                    "--output-dir", str(out), "--num-threads", str(threads), "--quiet",
                ],
                [unit],
            )
            for unit in units
        ]  # fmt: skip

    def files_of(self, folder: Path, units: list[str]) -> list[Path]:
        return sorted(p for u in units for p in Path(folder).glob(f"*/*.{u}.parquet"))

    def expected_paths(self, table: str, parts: int) -> list[str]:
        return super().expected_paths(table, 1 if table in SINGLE_PART_TABLES else parts)

    def spec_rows(self, table, scale_factor):
        return schema.spec_rows(table, scale_factor)

    def checksum_columns(self, table):
        return schema.CHECKSUM_COLUMNS[table]

    def create_sql(self, table, table_sql):
        return schema.create_sql(table, table_sql)

    def arrow_schema(self, table, file_schema):
        return schema.hyper_arrow_schema(file_schema)

    def stream_order(self, stream, wanted):
        if stream == 0:
            return [q for q in queries.QUERY_NUMBERS if q in set(wanted)]  # the power stream: Q1…Q22 in order
        return queries.stream_order(stream, wanted)

    def texts(self, query, stream, seed, scale_factor, random_values):
        if random_values:  # drawn for all 22 in number order: a subset keeps its values
            rng = queries.stream_rng(seed, stream)
            values = {q: queries.random_parameters(q, rng) for q in queries.QUERY_NUMBERS}[query]
        else:
            values = queries.VALIDATION[query]
        text = queries.render(query, values, scale_factor)
        return text, text

    def refresh_pairs(self, data_dir, scale_factor, connection, pairs: int, out_dir, schema: str):
        """RF1/RF2 pairs of the sets that follow those the database has seen (loadgen/workloads/tpch/refresh.py)."""
        from loadgen.workloads.tpch import refresh

        tables = {t: f'"{schema}"."{t}"' for t in ("orders", "lineitem")}
        first = refresh.next_set(connection, tables["orders"], scale_factor)
        return first, refresh.RefreshPairs(data_dir, scale_factor, first, pairs, out_dir, tables)


TPCH = TpchSuite()
