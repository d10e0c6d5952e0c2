"""SSB built from TPC-H, Hyper vs DuckDB: load TPC-H into Hyper, build SSB's five tables there
(loadgen/workloads/ssb/build.py) and in DuckDB from the same Parquet files, check the tables agree, run the 13
queries on both and compare the answers with the TPC-H rules. Prints a markdown table (docs/ssb.md has one).

    .venv/bin/python benchmarks/ssb_compare.py                     # SF 1, TPC-H generated into a temporary folder
    .venv/bin/python benchmarks/ssb_compare.py --tpch-data DIR --runs 5 --write out.md

DIR is tpchgen-cli's output (DIR/<table>.parquet), or loadgen's TPC-H cache folder (DIR/<table>/*.parquet).
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_line, publish  # noqa: E402
from benchmarks.suites_common import duckdb_query, hyper_query, sql_literal, timed, venv_tool, verdict  # noqa: E402
from loadgen.workloads.ssb import build, queries  # noqa: E402
from loadgen.workloads.tpch import schema as tpch_schema  # noqa: E402

# per SSB table: aggregates whose values both engines must agree on (beyond the row count)
CHECKSUMS = {
    "dwdate": "SUM(d_datekey), SUM(d_weeknuminyear), SUM(d_lastdayinmonthfl), SUM(d_holidayfl), "
    "COUNT(DISTINCT d_yearmonth), COUNT(DISTINCT d_sellingseason)",
    "customer": "SUM(c_custkey), COUNT(DISTINCT c_city), COUNT(DISTINCT c_nation)",
    "supplier": "SUM(s_suppkey), COUNT(DISTINCT s_city), COUNT(DISTINCT s_region)",
    "part": "SUM(p_partkey), COUNT(DISTINCT p_brand1), COUNT(DISTINCT p_category), COUNT(DISTINCT p_color)",
    "lineorder": "SUM(lo_orderkey), SUM(lo_revenue), SUM(lo_supplycost), SUM(lo_discount), SUM(lo_tax), "
    "SUM(lo_orderdate), SUM(lo_commitdate), SUM(lo_quantity)",
}


def table_files(data_dir: Path, table: str) -> list[Path]:
    single = data_dir / f"{table}.parquet"
    files = [single] if single.exists() else sorted((data_dir / table).glob("*.parquet"))
    if not files:
        raise SystemExit(f"{data_dir}: no Parquet file for TPC-H table {table}")
    return files


def hyper_tpch(connection, data_dir: Path) -> dict[str, int]:
    rows = {}
    for table in tpch_schema.TABLES:
        connection.execute_command(tpch_schema.create_sql(table, table))
        for path in table_files(data_dir, table):
            connection.execute_command(f"INSERT INTO {table} SELECT * FROM external({sql_literal(path)})")
        rows[table] = connection.execute_scalar_query(f"SELECT COUNT(*) FROM {table}")
    return rows


def build_tables(execute, scalar, prefix: str, target: str, tpch_rows: dict) -> dict[str, tuple[float, tuple]]:
    """Create the SSB tables (named `target` + table) with `execute`; per table (seconds, (rows, checksums…))."""
    out = {}
    for table in build.TABLE_ORDER:
        start = time.perf_counter()
        execute(build.create_sql(table, prefix, target + table))
        seconds = time.perf_counter() - start
        sums = scalar(f"SELECT COUNT(*), {CHECKSUMS[table]} FROM {target}{table}")
        if sums[0] != build.expected_rows(table, tpch_rows):
            raise SystemExit(f"{table}: {sums[0]} rows, expected {build.expected_rows(table, tpch_rows)}")
        out[table] = (seconds, sums)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sf", type=float, default=1.0, help="scale factor when generating TPC-H data")
    parser.add_argument("--tpch-data", type=Path, help="TPC-H Parquet folder (default: generate one)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", help="also write the markdown table to this file")
    args = parser.parse_args(argv)
    import duckdb
    import tableauhyperapi
    from tableauhyperapi import Connection, CreateMode, HyperProcess, Telemetry

    started = machine_line()
    with tempfile.TemporaryDirectory(prefix="ssb-compare-") as folder:
        data_dir = args.tpch_data
        if data_dir is None:
            data_dir = Path(folder) / "tpch"
            command = [venv_tool("tpchgen-cli"), "parquet", "-s", f"{args.sf:g}", "--output-dir", str(data_dir)]
            subprocess.run(command, check=True, timeout=3600, capture_output=True)
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": folder}) as hyperd:
            database = Path(folder) / "tpch.hyper"
            with Connection(hyperd.endpoint, str(database), CreateMode.CREATE_AND_REPLACE) as connection:
                tpch_rows = hyper_tpch(connection, data_dir)
                # SSB's customer/supplier/part would clash with TPC-H's: SSB lives in its own schema of the same
                # database (simpler than a second, attached database, and no slower: docs/ssb.md)
                connection.execute_command("CREATE SCHEMA ssb")
                hyper_build = build_tables(
                    connection.execute_command,
                    lambda sql, c=connection: tuple(c.execute_list_query(sql)[0]),
                    '"public".',
                    '"ssb".',
                    tpch_rows,
                )
                connection.execute_command("SET search_path = ssb")  # the queries' plain names are SSB's
                duck = duckdb.connect(":memory:")
                duck.execute("CREATE SCHEMA tpch")
                for table in tpch_schema.TABLES:
                    paths = ", ".join(sql_literal(p) for p in table_files(data_dir, table))
                    duck.execute(f"CREATE VIEW tpch.{table} AS SELECT * FROM read_parquet([{paths}])")
                duck_build = build_tables(
                    duck.execute, lambda sql: duck.execute(sql).fetchone(), "tpch.", "", tpch_rows
                )
                results = []
                for name in queries.QUERY_NAMES:
                    sql = queries.QUERIES[name]
                    h_s, h_result, h_error = timed(lambda sql=sql: hyper_query(connection, sql), args.runs)
                    d_s, d_result, d_error = timed(lambda sql=sql: duckdb_query(duck, sql), args.runs)
                    if h_error or d_error:
                        matches, note = "", h_error and f"Hyper: {h_error}" or f"DuckDB: {d_error}"
                    else:
                        matches, note = verdict(h_result, d_result)
                    results.append((name, h_s, d_s, h_result and len(h_result[1]), matches, note))
                    print(f"Q{name} {h_s} {d_s} {matches} {note}", file=sys.stderr)
                duck.close()

    same_tables = {t: verdict(([""] * len(hyper_build[t][1]), [hyper_build[t][1]]),
                              ([""] * len(duck_build[t][1]), [duck_build[t][1]]))[0]
                   for t in build.TABLE_ORDER}  # fmt: skip
    lines = [
        f"# SSB from TPC-H SF {args.sf:g}: Hyper vs DuckDB",
        "",
        started,
        f"tableauhyperapi {tableauhyperapi.__version__}, duckdb {duckdb.__version__}; best of {args.runs} run(s).",
        "",
        "| table | rows | Hyper build s | DuckDB build s | same rows and checksums |",
        "|---|---|---|---|---|",
    ]
    for table in build.TABLE_ORDER:
        h_s, sums = hyper_build[table]
        lines.append(f"| {table} | {sums[0]:,} | {h_s:.2f} | {duck_build[table][0]:.2f} | {same_tables[table]} |")
    lines += ["", "| query | Hyper s | DuckDB s | rows | matches | note |", "|---|---|---|---|---|---|"]
    for name, h_s, d_s, rows, matches, note in results:
        lines.append(f"| Q{name} | {h_s or 0:.3f} | {d_s or 0:.3f} | {rows} | {matches} | {note} |")
    publish("\n".join(lines) + "\n", args.write)
    return 0 if all(r[4] == "yes" for r in results) and set(same_tables.values()) == {"yes"} else 1


if __name__ == "__main__":
    sys.exit(main())
