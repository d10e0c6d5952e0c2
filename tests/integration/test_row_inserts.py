"""Method `rows` (tableauhyperapi's Inserter) against a real hyperd: workers inserting into one shared table at the
same time, and what an interrupted rows phase reports against what the table holds."""

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from tableauhyperapi import Connection, CreateMode, HyperProcess, Inserter, TableName, Telemetry

from loadgen.metrics import Recorder
from loadgen.scenario import load_scenario
from loadgen.worker import StopFlag, WorkerContext
from loadgen.workloads.insert import InsertWorkload
from tests.conftest import only_run_dir, write_scenario

WIDE = """\
name: shared_rows
workers: 2
seed: 3
data:
  orders:
    name: orders
    columns:
      - {{name: id, type: BIGINT, nullable: false, generator: {{kind: sequence, start: 1}}}}
      - {{name: pad, type: TEXT, generator: {{kind: random, min_length: 900, max_length: 1000}}}}
phases:
  - {{name: load, workload: insert, table: orders, method: rows, rows: {rows}}}
"""
STREAMS = "SELECT COUNT(*) FROM pg_catalog.pg_class WHERE relname LIKE '__Insert_Stream__%' AND relkind = 'x'"


@pytest.fixture(scope="module")
def hyper():
    with tempfile.TemporaryDirectory() as folder:
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": folder}) as process:
            yield process, f"{folder}/shared.hyper", Path(folder)


def worker_context(hyper, connection, worker, workers, run_dir):
    process, database, _ = hyper
    never = SimpleNamespace(value=0)
    return WorkerContext(
        worker=worker, workers=workers, connection=connection, table=TableName("unused"),
        endpoint=process.endpoint.connection_descriptor, database=database, stop=StopFlag(never),
        finish=StopFlag(never, 2), owns_database=worker == 0, run_dir=str(run_dir),
    )  # fmt: skip


def hyperd_logged(log_dir: Path, kind: str, wanted, still_waiting, timeout_s: float = 60) -> bool:
    """Until hyperd's log has a `kind` entry (query-begin: a statement started; query-end: it ended) of a
    statement for which wanted(text) holds (True), or still_waiting() says there is nothing to wait for any more
    (False). hyperd writes each entry as it happens."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for path in log_dir.glob("*.log"):
            for line in path.read_text(errors="replace").splitlines():
                entry = json.loads(line) if line.startswith("{") else {}
                if entry.get("k") == kind and wanted(entry["v"].get("query", entry["v"].get("query-trunc", ""))):
                    return True
        if not still_waiting():
            return False
        time.sleep(0.05)
    raise AssertionError(f"hyperd's log has no such {kind} after {timeout_s} s")


def test_rows_into_a_shared_table_while_another_inserter_streams_into_it(hyper, tmp_path):
    """The Inserter sends up to 16 MiB at execute() in one COPY; past that it creates an external stream named
    after the table (`__Insert_Stream__orders__`), and a second Inserter into the same table that needs one failed
    (the library's fallback sends invalid SQL). Here the overlap is made, not waited for: another session holds
    its stream open (checked in the catalog) while worker 1 inserts ~20 MiB. hyperd lets one writer into a table
    at a time, so worker 1's first COPY waits (seen in hyperd's log) until the other session commits."""
    process, database, log_dir = hyper
    phase = load_scenario(write_scenario(tmp_path / "s.yaml", WIDE.format(rows=40_000))).phases[0]
    with Connection(process.endpoint, database, CreateMode.CREATE_AND_REPLACE) as first:
        InsertWorkload(phase, worker_context(hyper, first, 0, 2, tmp_path)).setup()  # worker 0 creates the table
        with Connection(process.endpoint, database) as other, Connection(process.endpoint, database) as second:
            holder = Inserter(other, TableName("orders"))
            holder.add_rows((-1 - i, "x" * 1000) for i in range(20_000))  # past 16 MiB: its stream exists now
            assert first.execute_scalar_query(STREAMS) == 1
            worker = InsertWorkload(phase, worker_context(hyper, second, 1, 2, tmp_path))
            worker.setup()
            recorder = Recorder()
            failure = []
            thread = threading.Thread(target=lambda: failure.extend(run_catching(worker, recorder)), daemon=True)
            thread.start()
            copy_of_worker_1 = lambda q: '"orders" ("id", "pad") FROM STDIN' in q  # noqa: E731
            copying = hyperd_logged(log_dir, "query-begin", copy_of_worker_1, thread.is_alive)
            assert not failure, failure[0]
            assert copying and first.execute_scalar_query(STREAMS) == 1  # worker 1 is at its COPY: still overlapping
            holder.execute()
            thread.join(60)
            assert not thread.is_alive() and not failure
            assert first.execute_scalar_query(STREAMS) == 0
            assert first.execute_scalar_query('SELECT COUNT(*) FROM "orders"') == 20_000 + 20_000
            assert first.execute_scalar_query('SELECT COUNT(*) FROM "orders" WHERE id > 0') == 20_000
            assert recorder.rows == 20_000  # worker 1's half, committed


def run_catching(worker, recorder) -> list:
    try:
        worker.run(recorder)
    except Exception as exc:  # noqa: BLE001 - handed to the test's thread
        return [exc]
    return []


INTERRUPTED = """\
name: rows_stopped
workers: 2
rows: 40000000
server: {{database_dir: "{db}", keep_database: true}}
phases:
  - {{name: load, workload: insert, method: rows}}
"""


def test_an_interrupted_rows_phase_reports_the_rows_the_table_holds(tmp_path):
    """A rows phase stopped after its first commit: the rows summary.csv and workers.csv report are those the
    tables hold (committed), not those handed to an Inserter that was then discarded."""
    db = tmp_path / "db"
    db.mkdir()
    path = write_scenario(tmp_path / "s.yaml", INTERRUPTED.format(db=db))
    tag = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "run", str(path), "--results-dir", str(tmp_path / "results"), "--quiet"],
        cwd=tmp_path, env={**os.environ, "LOADGEN_TEST_TAG": tag}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    proc_alive = lambda: proc.poll() is None  # noqa: E731
    try:
        deadline = time.monotonic() + 120
        while not (logs := list(tmp_path.glob("results/*/*/hyperd"))) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert logs, "the run never started its hyperd"
        # a worker's first rows reached the table (an Inserter's COPY ended): then stop the run
        copied = hyperd_logged(logs[0], "query-end", lambda q: "FROM STDIN WITH (FORMAT HYPERBINARY" in q, proc_alive)
        assert copied, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    run_dir = only_run_dir(tmp_path / "results")
    with open(run_dir / "summary.csv", newline="") as handle:
        (summary,) = list(csv.DictReader(handle))
    with open(run_dir / "workers.csv", newline="") as handle:
        workers = {int(w["worker"]): int(w["rows"]) for w in csv.DictReader(handle)}
    with tempfile.TemporaryDirectory() as logs:
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": logs}) as hyper:
            with Connection(hyper.endpoint, str(db / "loadgen.hyper")) as connection:
                held = {w: connection.execute_scalar_query(f'SELECT COUNT(*) FROM "measurements_{w}"') for w in (0, 1)}
    assert summary["status"] == "interrupted"
    assert workers == held and int(summary["rows"]) == sum(held.values())
    assert 0 < sum(held.values()) < 40_000_000
