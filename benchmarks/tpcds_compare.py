"""TPC-DS on Hyper vs DuckDB: load the 24 tables into a fresh hyperd, run the 99 queries on both over the same
Parquet files, compare the answers with the TPC-H rules, and print a markdown table (docs/tpcds.md has one).

    .venv/bin/python benchmarks/tpcds_compare.py                   # SF 1, generated into ~/.cache/loadgen/tpcds-compare
    .venv/bin/python benchmarks/tpcds_compare.py --queries 1,14,77 --runs 1
    .venv/bin/python benchmarks/tpcds_compare.py --data DIR --write docs/tpcds_table.md --csv out.csv

Each query runs `--runs` times on each engine (the table shows the fastest); Hyper runs its variant
(loadgen/workloads/tpcds/queries/hyper/qNN.sql) where there is one, DuckDB always runs the standard text. Answers are
compared with loadgen.workloads.suites.reference.difference: integers and text exactly, decimals to the cent, inexact
numbers to 1e-6 relative (or Hyper's last digit), rows whose ORDER BY keys tie in any order; DuckDB sorts NULLs
as Hyper does.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_line, publish  # noqa: E402
from benchmarks.suites_common import (  # noqa: E402
    duckdb_query,
    hyper_query,
    in_same_order,
    sql_literal,
    timed,
    tool_version,
    venv_tool,
)
from loadgen.workloads.tpcds import compare, data, queries, schema  # noqa: E402


def ensure_data(data_dir: Path | None, sf: float) -> Path:
    """The Parquet folder: the given one, or a cached one generated once (in a temporary folder, then renamed)."""
    if data_dir:
        return data_dir
    # beside loadgen's TPC-DS cache (~/.cache/loadgen/tpcds), not in it: that one's folders carry a manifest
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "loadgen" / "tpcds-compare"
    target = cache / f"sf{sf:g}-tpcgen-{tool_version('tpcgen-cli')}"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache))
        command = [venv_tool("tpcgen-cli"), "tpcds", "parquet", "-s", f"{sf:g}", "-o", str(temp), "--no-progress", "-q"]
        subprocess.run(command, check=True, timeout=3600)
        os.replace(temp, target)
    return target


def hyper_load(connection, data_dir: Path, sf: float) -> list[dict]:
    """Create the 24 tables, INSERT … SELECT each table's files, and check the row counts."""
    rows = []
    for table in schema.TABLES:
        connection.execute_command(schema.create_sql(table))
        files = data.table_files(data_dir, table)
        expected = sum(pq.read_metadata(f).num_rows for f in files)
        start = time.perf_counter()
        loaded = 0
        for path in files:
            loaded += connection.execute_command(f"INSERT INTO {table} SELECT * FROM external({sql_literal(path)})")
        seconds = time.perf_counter() - start
        counted = connection.execute_scalar_query(f"SELECT COUNT(*) FROM {table}")
        spec = schema.ROWS_SF1.get(table) if sf == 1 else None
        ok = counted == loaded == expected and (spec is None or counted == spec)
        rows.append({"table": table, "rows": counted, "files_rows": expected, "spec_rows": spec, "s": seconds})
        if not ok:
            raise SystemExit(f"{table}: {counted} rows in Hyper, {loaded} inserted, {expected} in files, {spec} spec")
    return rows


def run_queries(args, connection, duck) -> list[dict]:
    out = []
    for number in args.queries:
        variant = queries.has_hyper_variant(number)
        hyper_sql, duck_sql = queries.hyper_text(number), queries.standard_text(number)
        h_s, h_result, h_error = timed(lambda sql=hyper_sql: hyper_query(connection, sql), args.runs)
        d_s, d_result, d_error = timed(lambda sql=duck_sql: duckdb_query(duck, sql), args.runs)
        if h_error or d_error:
            matches, note = "", h_error and f"Hyper: {h_error}" or f"DuckDB: {d_error}"
        else:
            note, tolerated = compare.difference(number, h_result[0], h_result[1], d_result[0], d_result[1])
            matches = "no" if note else "yes"
            if tolerated:
                limits = ", ".join(f"{column} ±{limit}" for column, limit in compare.ROUNDING[number].items())
                note = f"equal within {limits}: a half-way rounding (loadgen/workloads/tpcds/compare.py)"
            elif not note and not in_same_order(h_result[1], d_result[1]):
                note = "same rows, tied ORDER BY keys in another order"
        row = {
            "query": number,
            "hyper_variant": "yes" if variant else "",
            "hyper_s": "" if h_s is None else f"{h_s:.3f}",
            "duckdb_s": "" if d_s is None else f"{d_s:.3f}",
            "runs_on_hyper": "no" if h_error else "yes",
            "rows": "" if h_result is None else len(h_result[1]),
            "matches": matches,
            "note": note,
        }
        out.append(row)
        print(f"q{number:02d} hyper {row['hyper_s']:>7} s  duckdb {row['duckdb_s']:>7} s  {matches or 'ERROR'} {note}",
              file=sys.stderr)  # fmt: skip
    return out


def render(args, load: list[dict], results: list[dict], data_dir: Path, started: str) -> str:
    import duckdb
    import tableauhyperapi

    ran = sum(r["runs_on_hyper"] == "yes" for r in results)
    matched = sum(r["matches"] == "yes" for r in results)
    hyper_total = sum(float(r["hyper_s"]) for r in results if r["hyper_s"])
    duck_total = sum(float(r["duckdb_s"]) for r in results if r["duckdb_s"])
    lines = [
        f"# TPC-DS SF {args.sf:g}: Hyper vs DuckDB",
        "",
        started,
        f"tableauhyperapi {tableauhyperapi.__version__}, duckdb {duckdb.__version__}, tpcgen-cli data in {data_dir};"
        f" best of {args.runs} run(s) per query.",
        "",
        f"Load (INSERT … SELECT FROM external): {sum(r['s'] for r in load):.1f} s for "
        f"{sum(r['rows'] for r in load):,} rows in 24 tables, every count as expected.",
        "",
        f"**{ran} of {len(results)} run on Hyper, {matched} of {len(results)} match DuckDB's answers.** "
        f"Σ Hyper {hyper_total:.1f} s, Σ DuckDB {duck_total:.1f} s (queries that ran on both).",
        "",
        "| query | Hyper s | DuckDB s | rows | runs on Hyper | matches | Hyper variant | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        note = r["note"].replace("|", "\\|")
        lines.append(
            f"| q{r['query']:02d} | {r['hyper_s']} | {r['duckdb_s']} | {r['rows']} | {r['runs_on_hyper']} | "
            f"{r['matches']} | {r['hyper_variant']} | {note} |"
        )
    return "\n".join(lines) + "\n"


def parse_queries(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        out.extend(range(int(low), int(high or low) + 1))
    bad = [n for n in out if n not in queries.QUERY_NUMBERS]
    if bad:
        raise argparse.ArgumentTypeError(f"no TPC-DS query {bad}: 1 … 99")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sf", type=float, default=1.0)
    parser.add_argument("--data", type=Path, help="tpcgen-cli's Parquet folder (default: generate and cache)")
    parser.add_argument("--queries", type=parse_queries, default=list(queries.QUERY_NUMBERS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--duckdb-null-order",
        default=data.DUCKDB_NULL_ORDER,
        help=f"DuckDB's default_null_order (default {data.DUCKDB_NULL_ORDER}, Hyper's; DuckDB's own: nulls_last)",
    )
    parser.add_argument("--write", help="also write the markdown table to this file")
    parser.add_argument("--csv", type=Path, help="write the table as CSV too")
    args = parser.parse_args(argv)
    from tableauhyperapi import Connection, CreateMode, HyperProcess, Telemetry

    data_dir = ensure_data(args.data, args.sf)
    started = machine_line()
    with tempfile.TemporaryDirectory(prefix="tpcds-compare-") as folder:
        parameters = {"log_dir": folder}
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters=parameters) as hyperd:
            database = Path(folder) / "tpcds.hyper"
            with Connection(hyperd.endpoint, str(database), CreateMode.CREATE_AND_REPLACE) as connection:
                load = hyper_load(connection, data_dir, args.sf)
                duck = data.duckdb_connection(data_dir, null_order=args.duckdb_null_order)
                try:
                    results = run_queries(args, connection, duck)
                finally:
                    duck.close()
    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(results[0]))
            writer.writeheader()
            writer.writerows(results)
    publish(render(args, load, results, data_dir, started), args.write)
    return 0 if all(r["matches"] == "yes" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
