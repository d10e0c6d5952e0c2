"""Nothing lost, nothing hung. Each test here failed before its fix.

Real hyperd, real signals, real sockets; the tests wait on observable events (a file, a process state, a listening
socket), never on a fixed sleep.
"""

import contextlib
import csv
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest
from tableauhyperapi import Connection, CreateMode, HyperProcess, Telemetry

from tests.conftest import only_run_dir, wait_for_line, write_scenario
from tests.integration.test_reliability import (
    assert_nothing_left,
    coordinator_child,
    finish,
    read_summary,
    start_run,
)

TINY = """\
name: tiny
workers: 2
rows: 20000
server: {{database_dir: "{folder}", database: {database}{extra}}}
phases:
  - {{name: load, workload: insert, method: arrow}}
"""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_user_database(path: Path) -> None:
    """A database with a table of the user's, written by its own hyperd."""
    with HyperProcess(
        Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, "test", parameters={"log_dir": str(path.parent)}
    ) as hp:
        with Connection(hp.endpoint, str(path), CreateMode.CREATE) as c:
            c.execute_command("CREATE TABLE precious (x INT)")
            c.execute_command("INSERT INTO precious VALUES (1), (2), (3)")


@pytest.mark.parametrize(("database", "name"), [("shared", "loadgen.hyper"), ("per_worker", "loadgen_worker_1.hyper")])
def test_an_existing_database_file_is_never_replaced(cli, tmp_path, database, name):
    folder = tmp_path / "db"
    folder.mkdir()
    user_file = folder / name
    make_user_database(user_file)
    before = digest(user_file)
    path = write_scenario(tmp_path / "s.yaml", TINY.format(folder=folder, database=database, extra=""))
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 2, res.stdout + res.stderr
    assert f"{user_file} already exists" in res.stderr and "server.replace_existing: true" in res.stderr
    assert digest(user_file) == before
    assert not (tmp_path / "results").exists()  # refused before anything was created
    # with the explicit key the run replaces it
    path = write_scenario(
        tmp_path / "r.yaml", TINY.format(folder=folder, database=database, extra=", replace_existing: true")
    )
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 0, res.stdout + res.stderr


def test_an_existing_database_at_an_endpoint_is_never_replaced(cli, tmp_path):
    folder = tmp_path / "remote"
    folder.mkdir()
    with HyperProcess(
        Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
        "test",
        parameters={"log_dir": str(tmp_path), "listen_connection": "tab.tcp://localhost:auto"},
    ) as hp:
        with Connection(hp.endpoint, str(folder / "loadgen.hyper"), CreateMode.CREATE) as c:
            c.execute_command("CREATE TABLE precious (x INT)")
            c.execute_command("INSERT INTO precious VALUES (42)")
        endpoint = hp.endpoint.connection_descriptor
        path = write_scenario(
            tmp_path / "s.yaml",
            f'name: ext\nserver: {{endpoint: "{endpoint}", database_dir: "{folder}"}}\n'
            "phases:\n  - {name: load, workload: insert, rows: 100}\n",
        )
        res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
        assert res.code == 2, res.stdout + res.stderr
        assert "already exists" in res.stderr and "server.replace_existing" in res.stderr
        with Connection(hp.endpoint, str(folder / "loadgen.hyper")) as c:
            assert c.execute_scalar_query("SELECT SUM(x) FROM precious") == 42


@contextlib.contextmanager
def silent_server():
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        listener.close()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_an_endpoint_that_never_answers_ends_within_the_connect_timeout(cli, tmp_path):
    with silent_server() as (port, accepted):
        path = write_scenario(
            tmp_path / "s.yaml",
            f'name: mute\nserver: {{endpoint: "tab.tcp://127.0.0.1:{port}", connect_timeout_s: 2}}\n'
            "phases:\n  - {name: load, workload: insert, rows: 100}\n",
        )
        res = cli("run", path, "--results-dir", tmp_path / "results", timeout=60)
        assert accepted  # it did connect: the server accepted and stayed silent
    assert res.code == 2, res.stdout + res.stderr
    assert "no answer from hyperd within 2 s" in res.stderr and "server.connect_timeout_s" in res.stderr
    assert res.seconds < 20  # a hang would last until the test timeout (60 s)
    assert not (tmp_path / "results").exists()


def test_ctrl_c_is_honoured_while_an_endpoint_does_not_answer(tmp_path):
    with silent_server() as (port, accepted):
        proc, tag = start_run(
            tmp_path,
            f'name: mute\nserver: {{endpoint: "tab.tcp://127.0.0.1:{port}", connect_timeout_s: 120}}\n'
            "phases:\n  - {name: load, workload: insert, rows: 100}\n",
        )
        wait_for(lambda: accepted, 60, "the connection attempt")
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        code, _, err = finish(proc)
    assert code == 130, err
    assert time.monotonic() - sent < 5
    assert "interrupted by SIGINT" in err


FROZEN = """\
name: frozen
workers: 2
rows: 100000
timeouts: {phase_s: 3, hyperd_stop_s: 2, worker_stop_s: 1}
phases:
  - {name: load, workload: insert, method: arrow}
  - {name: scan, workload: query, shape: aggregation, method: rows, duration_s: 60}
"""


def wait_for_phase(tmp_path, phase: str, timeout: float = 60) -> None:
    def done():
        files = list((tmp_path / "results").glob("*/*/summary.csv"))
        return files and any(r["phase"] == phase for r in read_summary(files[0].parent))

    wait_for(done, timeout, f"phase {phase}")


def test_a_frozen_hyperd_ends_the_run_after_the_phase_timeout(tmp_path):
    proc, tag = start_run(tmp_path, FROZEN)
    hyperd = coordinator_child(proc, "hyperdMain")
    wait_for_phase(tmp_path, "load")
    hyperd.suspend()  # SIGSTOP: hyperd keeps its sockets open and never answers
    frozen = time.monotonic()
    try:
        code, _, err = finish(proc, timeout=60)
    finally:
        with contextlib.suppress(psutil.Error):
            hyperd.resume()
    took = time.monotonic() - frozen
    assert code == 1, err
    assert "did not finish within 3 s" in err
    assert took < 3 + 1 + 2 + 2 + 5  # phase timeout + probe + hyperd stop + worker stop + margin
    run_dir = only_run_dir(tmp_path / "results")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
    assert_nothing_left(tag, hyperd.pid)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_is_honoured_while_hyperd_is_frozen(tmp_path, sig):
    text = FROZEN.replace("phase_s: 3", "phase_s: 600")
    proc, tag = start_run(tmp_path, text)
    hyperd = coordinator_child(proc, "hyperdMain")
    wait_for_phase(tmp_path, "load")
    hyperd.suspend()
    try:
        # the workers block inside hyperd's client library; the coordinator must still listen
        wait_for(lambda: psutil.Process(proc.pid).status() != psutil.STATUS_RUNNING, 10, "coordinator waiting")
        proc.send_signal(sig)
        sent = time.monotonic()
        code, _, err = finish(proc, timeout=60)
    finally:
        with contextlib.suppress(psutil.Error):
            hyperd.resume()
    assert code == 130, err
    assert time.monotonic() - sent < 2 + 2 + 1 + 5  # hyperd stop + worker stop + probe + margin
    run_dir = only_run_dir(tmp_path / "results")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    assert_nothing_left(tag, hyperd.pid)


QUICK = """\
name: quick
workers: 2
rows: 50000
phases:
  - {name: load, workload: insert, method: arrow}
"""


def own_folders(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"loadgen-db-{pid}-*"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_cleanup_lets_the_cleanup_finish(tmp_path, sig):
    # the coordinator sleeps 3 s at the start of its cleanup (fault injection) and says so: the signal lands there
    proc, tag = start_run(tmp_path, QUICK, env={"LOADGEN_FAULT": "coordinator:run:cleanup:sleep3"})
    wait_for_line(proc, "at cleanup of phase run")
    proc.send_signal(sig)
    code, out, err = finish(proc, timeout=60)
    assert code == 0, out + err
    assert f"{sig.name} arrived while the run was finishing" in out
    run_dir = only_run_dir(tmp_path / "results")
    status = json.loads((run_dir / "run.json").read_text())
    assert status["status"] == "ok" and status["exit_code"] == 0
    with open(run_dir / "samples.csv") as handle:
        assert any(r["process"] == "hyperd" for r in csv.DictReader(handle))
    assert not own_folders(proc.pid)
    assert_nothing_left(tag)


STAGING = """\
name: staging
workers: 2
rows: 40000000
phases:
  - {name: load, workload: insert, method: arrow, rows_per_copy: 2000000}
"""


def test_a_second_signal_still_removes_staged_files_and_marks_the_run(tmp_path):
    proc, tag = start_run(tmp_path, STAGING, env={"LOADGEN_FAULT": "coordinator:run:cleanup:sleep5"})
    hyperd = coordinator_child(proc, "hyperdMain")

    def spawned():  # the two worker processes (multiprocessing's spawn entry point)
        found = {p.pid for p in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(p.cmdline())}
        return found if len(found) == 2 else None

    workers = wait_for(spawned, 30, "two workers")

    def ours():  # staged files of this run's workers (the pid is in the name)
        return [
            n for n in os.listdir("/dev/shm") if n.startswith("loadgen-staged-") and int(n.split("-")[2]) in workers
        ]

    wait_for(ours, 60, "a staged Arrow file")
    proc.send_signal(signal.SIGINT)  # ends the phase; the cleanup then sleeps (fault) and says so
    wait_for_line(proc, "at cleanup of phase run")
    proc.send_signal(signal.SIGTERM)  # cuts the cleanup short
    code, _, err = finish(proc, timeout=60)
    assert code == 130, err
    assert_nothing_left(tag, hyperd.pid)
    assert not ours()
    status = json.loads(next((tmp_path / "results").glob("*/*/run.json")).read_text())
    assert status["status"] == "interrupted" and "second signal (SIGTERM)" in status["error"]
    assert not own_folders(proc.pid)


def test_full_results_disk_is_one_line_exit_1_and_no_temp_files(cli, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)]).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        # leave room for the run folder's first files, not for the samples of a few seconds
        (disk / "filler").write_bytes(b"x" * (256 - 24) * 1024)
        path = write_scenario(tmp_path / "s.yaml", QUICK.replace("rows: 50000", "rows: 2000000"))
        res = cli("run", path, "--results-dir", disk / "results", timeout=120)
        assert res.code == 1, res.stdout + res.stderr
        errors = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith("error: cannot write results to"), res.stderr
        assert "Traceback" not in res.stderr
        run_dir = only_run_dir(disk / "results")
        leftovers = [p.name for p in run_dir.iterdir() if p.name.startswith(".") or p.stat().st_size == 0]
        assert not leftovers
        status = json.loads((run_dir / "run.json").read_text())
        assert status["status"] == "failed" and "cannot write results" in status["error"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)
        shutil.rmtree(disk, ignore_errors=True)


LOGGY = """\
name: loggy
workers: 2
server: {parameters: {log_file_size_limit: 1M, log_file_max_count: "4"}}
phases:
  - {name: chatter, workload: mix, iterations: 1000, preload_rows: 1000, operations: {select_limit: 1}}
"""


def test_hyperd_log_is_bounded_and_read_while_it_rotates(cli, tmp_path):
    path = write_scenario(tmp_path / "s.yaml", LOGGY)
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 0, res.stdout + res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    logs = list((run_dir / "hyperd").glob("hyperd*.log"))
    # it rotated while the run went on (a second file; a `_N` suffix only tells two files begun in one second
    # apart, which a slow machine may never have), and hyperd keeps log_file_max_count files
    assert 2 <= len(logs) <= 4, logs
    with open(run_dir / "latency.csv") as handle:
        ops = sum(int(r["count"]) for r in csv.DictReader(handle) if r["operation"] == "select_limit")
    with open(run_dir / "query_stats.csv") as handle:
        selects = sum(
            int(r["count"]) for r in csv.DictReader(handle) if r["phase"] == "chatter" and r["statement"] == "SELECT"
        )
    # hyperd rotated away most of what it wrote, but every statement was read while it ran
    assert ops == 2000 and selects >= ops


def test_workers_csv_has_method_setup_and_close_and_summary_a_seed_wall(cli, tmp_path):
    path = write_scenario(tmp_path / "s.yaml", QUICK)
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 0, res.stdout + res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    with open(run_dir / "workers.csv") as handle:
        workers = list(csv.DictReader(handle))
    assert {w["method"] for w in workers} == {"arrow"}
    assert all(float(w["setup_s"]) > 0 and float(w["close_s"]) > 0 for w in workers)
    summary = read_summary(run_dir)[0]
    slowest = max(float(w["setup_s"]) + float(w["start_offset_ms"]) / 1000 + float(w["busy_s"]) + float(w["close_s"])
                  for w in workers)  # fmt: skip
    assert float(summary["seed_wall_s"]) == pytest.approx(slowest, rel=1e-3)
    assert float(summary["seed_wall_s"]) > float(summary["wall_s"])
    assert "Seed wall (s)" in res.stdout


def test_a_matrix_in_a_database_dir_gives_each_point_its_own_files_and_replaces_only_its_own(cli, tmp_path):
    folder = tmp_path / "db"
    folder.mkdir()
    path = write_scenario(
        tmp_path / "m.yaml",
        f'name: sweep\nrows: 2000\nrepeat: 2\nserver: {{database_dir: "{folder}"}}\n'
        "matrix:\n  load.method: [arrow, rows]\nphases:\n  - {name: load, workload: insert}\n",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=180)
    assert res.code == 0, res.stdout + res.stderr  # repetition 2 re-creates the files repetition 1 created
    # a .hyper file is opened by one hyperd at a time: each point (on its own hyperd) has files of its own
    assert sorted(p.name for p in folder.iterdir()) == ["loadgen_point_0.hyper", "loadgen_point_1.hyper"]
    again = cli("run", path, "--results-dir", tmp_path / "results", timeout=180)
    assert again.code == 2 and "already exists" in again.stderr  # a new run did not create them
