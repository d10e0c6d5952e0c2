"""What the TPC-DS, SSB and refresh scripts share: running a query on Hyper or DuckDB with a time limit, timing
repeated runs, and comparing answers with the TPC-H rules (loadgen.workloads.suites.reference)."""

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from loadgen.workloads.suites.reference import difference, same

QUERY_TIMEOUT_S = 300.0


def sql_literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def venv_tool(name: str) -> str:
    """A console script next to the running Python (the venv's), else on PATH."""
    here = Path(sys.executable).with_name(name)
    return str(here) if here.exists() else (shutil.which(name) or name)


def tool_version(name: str) -> str:
    out = subprocess.run([venv_tool(name), "--version"], capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.split()[-1]


def timed(run, runs: int):
    """(best seconds, last result, error text) of `runs` calls of run()."""
    best, result = None, None
    for _ in range(runs):
        start = time.perf_counter()
        try:
            result = run()
        except Exception as error:  # noqa: BLE001 - any engine error is a result to report
            return best, None, " ".join(str(error).split())[:300]
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    return best, result, ""


def hyper_query(connection, sql: str):
    """(column names, rows) from a tableauhyperapi Connection; cancelled after QUERY_TIMEOUT_S."""
    cancel = threading.Timer(QUERY_TIMEOUT_S, connection.cancel)
    cancel.start()
    try:
        with connection.execute_query(sql) as result:
            columns = [c.name.unescaped for c in result.schema.columns]
            return columns, [tuple(row) for row in result]
    finally:
        cancel.cancel()


def duckdb_query(con, sql: str):
    cancel = threading.Timer(QUERY_TIMEOUT_S, con.interrupt)
    cancel.start()
    try:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()
    finally:
        cancel.cancel()


def in_same_order(got: list[tuple], want: list[tuple]) -> bool:
    return all(same(g, w) for g_row, w_row in zip(got, want, strict=True) for g, w in zip(g_row, w_row, strict=True))


def verdict(hyper_result, duck_result) -> tuple[str, str]:
    """("yes" | "no", note): the TPC-H comparison, and whether equal rows came in another order (ties)."""
    note = difference(hyper_result[0], hyper_result[1], duck_result[0], duck_result[1])
    if note:
        return "no", note
    if not in_same_order(hyper_result[1], duck_result[1]):
        return "yes", "same rows, tied ORDER BY keys in another order"
    return "yes", ""
