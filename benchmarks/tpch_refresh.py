"""TPC-H refresh functions on Hyper: generate refresh sets (loadgen/workloads/tpch/refresh.py), load ORDERS and LINEITEM
from tpchgen-cli's Parquet files, then run RF1 (insert the new orders and lineitems) and RF2 (delete the old
ones) per set, each as one transaction, and check what the tables hold after each step.

    .venv/bin/python benchmarks/tpch_refresh.py --tpch-data DIR --sf 1 --sets 2

DIR is tpchgen-cli's output (DIR/<table>.parquet) or loadgen's TPC-H cache folder (DIR/<table>/*.parquet).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_line, publish  # noqa: E402
from benchmarks.suites_common import sql_literal  # noqa: E402
from loadgen.workloads.tpch import refresh  # noqa: E402
from loadgen.workloads.tpch import schema as tpch_schema  # noqa: E402


def count(connection, table: str) -> int:
    return connection.execute_scalar_query(f"SELECT COUNT(*) FROM {table}")


def rf1(connection, paths: dict) -> None:
    connection.execute_command("BEGIN TRANSACTION")
    for table in ("orders", "lineitem"):
        connection.execute_command(f"INSERT INTO {table} SELECT * FROM external({sql_literal(paths[table])})")
    connection.execute_command("COMMIT")


def rf2(connection, paths: dict) -> None:
    keys = f"(SELECT o_orderkey FROM external({sql_literal(paths['delete'])}))"
    connection.execute_command("BEGIN TRANSACTION")
    connection.execute_command(f"DELETE FROM lineitem WHERE l_orderkey IN {keys}")
    connection.execute_command(f"DELETE FROM orders WHERE o_orderkey IN {keys}")
    connection.execute_command("COMMIT")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tpch-data", type=Path, required=True)
    parser.add_argument("--sf", type=float, required=True, help="the scale factor of --tpch-data")
    parser.add_argument("--sets", type=int, default=1, help="RF1/RF2 pairs to run, sets 1 … N")
    parser.add_argument("--write", help="also write the markdown table to this file")
    args = parser.parse_args(argv)
    from tableauhyperapi import Connection, CreateMode, HyperProcess, Telemetry

    started = machine_line()
    problems, rows = [], []
    with tempfile.TemporaryDirectory(prefix="tpch-refresh-") as folder:
        sets = {}
        start = time.perf_counter()
        base_data = refresh.read_base(args.tpch_data)
        read_s = time.perf_counter() - start
        for u in range(1, args.sets + 1):
            start = time.perf_counter()
            sets[u] = refresh.write_set(args.tpch_data, args.sf, u, Path(folder) / "refresh", base_data)
            sets[u]["generate_s"] = time.perf_counter() - start
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": folder}) as hyperd:
            with Connection(hyperd.endpoint, str(Path(folder) / "tpch.hyper"), CreateMode.CREATE) as connection:
                for table in ("orders", "lineitem"):
                    connection.execute_command(tpch_schema.create_sql(table, table))
                    for path in refresh.base_files(args.tpch_data, table):
                        connection.execute_command(f"INSERT INTO {table} SELECT * FROM external({sql_literal(path)})")
                base = {t: count(connection, t) for t in ("orders", "lineitem")}
                for u, paths in sets.items():
                    new_orders = pq.read_metadata(paths["orders"]).num_rows
                    new_lines = pq.read_metadata(paths["lineitem"]).num_rows
                    gone = refresh.delete_keys(args.sf, u)
                    gone_lines = connection.execute_scalar_query(
                        f"SELECT COUNT(*) FROM lineitem WHERE l_orderkey IN ({', '.join(map(str, gone))})"
                    )
                    before = {t: count(connection, t) for t in ("orders", "lineitem")}
                    start = time.perf_counter()
                    rf1(connection, paths)
                    rf1_s = time.perf_counter() - start
                    after1 = {t: count(connection, t) for t in ("orders", "lineitem")}
                    start = time.perf_counter()
                    rf2(connection, paths)
                    rf2_s = time.perf_counter() - start
                    after2 = {t: count(connection, t) for t in ("orders", "lineitem")}
                    duplicates = connection.execute_scalar_query(
                        "SELECT COUNT(*) - COUNT(DISTINCT o_orderkey) FROM orders"
                    )
                    if after1 != {"orders": before["orders"] + new_orders, "lineitem": before["lineitem"] + new_lines}:
                        problems.append(f"set {u}: after RF1 {after1}, before {before}")
                    if after2 != {"orders": after1["orders"] - len(gone), "lineitem": after1["lineitem"] - gone_lines}:
                        problems.append(f"set {u}: after RF2 {after2}, after RF1 {after1}")
                    if duplicates:
                        problems.append(f"set {u}: {duplicates} duplicate order keys")
                    rows.append((u, paths["generate_s"], new_orders, new_lines, rf1_s, len(gone), gone_lines, rf2_s))
                final = {t: count(connection, t) for t in ("orders", "lineitem")}
    lines = [
        f"# TPC-H refresh functions on Hyper, SF {args.sf:g}",
        "",
        started,
        "",
        f"Base: {base['orders']:,} orders, {base['lineitem']:,} lineitems; after {args.sets} pair(s): "
        f"{final['orders']:,} orders, {final['lineitem']:,} lineitems. Reading the base comments and schemas "
        f"(once): {read_s:.2f} s.",
        "",
        "| set | generate s | RF1 orders | RF1 lineitems | RF1 s | RF2 orders | RF2 lineitems | RF2 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for u, gen_s, orders, items, rf1_s, gone, gone_lines, rf2_s in rows:
        lines.append(
            f"| {u} | {gen_s:.2f} | {orders:,} | {items:,} | {rf1_s:.3f} | {gone:,} | {gone_lines:,} | {rf2_s:.3f} |"
        )
    lines += ["", "Checks: " + ("; ".join(problems) if problems else "all counts as expected, no duplicate keys.")]
    publish("\n".join(lines) + "\n", args.write)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
