"""Crashes, kills, interrupts and timeouts end the run promptly: exit code, message, files, nothing left running.

Faults are real: LOADGEN_FAULT makes a worker raise, os._exit or SIGKILL itself at a chosen step
(loadgen/faults.py); hyperd and the coordinator are killed or signalled from here.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import pytest
from tableauhyperapi import HyperProcess, Telemetry

from loadgen.transfer import staging
from tests.conftest import only_run_dir, tagged_processes, wait_for_line, write_scenario

LONG = """\
name: long
workers: 2
rows: 100000
phases:
  - {name: load, workload: insert, method: arrow}
  - {name: scan, workload: query, shape: aggregation, method: arrow, duration_s: 60}
"""


def staged_leftovers() -> list[str]:
    """Staged Arrow files in /dev/shm whose worker is gone (a live one belongs to a run still going on)."""
    names = os.listdir("/dev/shm") if os.path.isdir("/dev/shm") else []
    staged = [(n, staging.STAGED_NAME.match(n)) for n in names]
    return [n for n, m in staged if m and not psutil.pid_exists(int(m.group(1)))]


def read_summary(run_dir):
    with open(run_dir / "summary.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("0:load:setup:raise", "worker 0 failed in phase load: InjectedFault: fault injected at setup of phase load"),
        ("0:load:setup:exit", "worker 0 exited with code 7 during phase load"),
        ("1:load:setup:kill", "worker 1 was killed by SIGKILL during phase load"),
        ("1:load:barrier:kill,0:load:setup:sleep2", "worker 1 was killed by SIGKILL during phase load"),
        ("0:scan:run:kill", "worker 0 was killed by SIGKILL during phase scan"),
        ("1:scan:run:exit", "worker 1 exited with code 7 during phase scan"),
        ("1:scan:run:raise", "worker 1 failed in phase scan: InjectedFault: fault injected at run of phase scan"),
    ],
)
def test_a_worker_that_dies_ends_the_run(cli, tmp_path, fault, message):
    path = write_scenario(tmp_path / "long.yaml", LONG)
    res = cli("run", path, "--results-dir", tmp_path / "results", env={"LOADGEN_FAULT": fault}, timeout=60)
    assert res.code == 1, res.stdout + res.stderr
    assert f"error: {message}" in res.stderr
    # the 60 s scan never runs to its end (a bound with room for a loaded machine: ~5 s on a quiet one)
    assert res.seconds < 30
    run_dir = only_run_dir(tmp_path / "results")
    status = json.loads((run_dir / "run.json").read_text())
    assert status["status"] == "failed" and status["error"] == message
    rows = read_summary(run_dir)
    assert rows[-1]["status"] == "failed" and rows[-1]["error"] == message
    if "scan" in fault:
        assert rows[0]["phase"] == "load" and rows[0]["status"] == "ok"  # completed phases are kept
    assert not staged_leftovers()


def test_a_run_that_ends_mid_phase_is_never_recorded_ok(cli, tmp_path):
    # the coordinator raises SystemExit once the scan is released, as a signal handler not ours would (sys.exit)
    path = write_scenario(tmp_path / "long.yaml", LONG)
    env = {"LOADGEN_FAULT": "coordinator:scan:run:sysexit"}
    res = cli("run", path, "--results-dir", tmp_path / "results", env=env, timeout=120)
    assert res.code == 1 and "fault injected at run of phase scan" in res.stderr, res.stdout + res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    status = json.loads((run_dir / "run.json").read_text())
    assert status["status"] == "failed" and status["error"].startswith("the run ended before its phases completed")
    assert [(r["phase"], r["status"]) for r in read_summary(run_dir)] == [("load", "ok"), ("scan", "failed")]
    with open(tmp_path / "results" / "history.csv") as handle:
        assert [r["status"] for r in csv.DictReader(handle)] == ["ok", "failed"]


def coordinator_child(proc: subprocess.Popen, name: str, timeout: float = 30) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(proc.pid).children():
            try:
                if child.name() == name:
                    return child
            except psutil.Error:
                pass
        time.sleep(0.05)
    raise AssertionError(f"no child named {name}")


def start_run(tmp_path, scenario_text, *extra, env=None):
    path = write_scenario(tmp_path / "s.yaml", scenario_text)
    tag = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "run", str(path), "--results-dir", str(tmp_path / "results"), *extra],
        cwd=tmp_path, env={**os.environ, "LOADGEN_TEST_TAG": tag, **(env or {})}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return proc, tag


def wait_until_done(tmp_path, phase: str, timeout: float = 60) -> None:
    """Until summary.csv has a row for `phase`: that phase is over and the next one is running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = list((tmp_path / "results").glob("*/*/summary.csv"))
        if files and any(r["phase"] == phase for r in read_summary(files[0].parent)):
            return
        time.sleep(0.05)
    raise AssertionError(f"phase {phase} never finished")


def finish(proc, timeout=30):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, out, err


def assert_nothing_left(tag: str, hyperd_pid: int | None = None, within: float = 15.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        left = tagged_processes(tag)
        if hyperd_pid and psutil.pid_exists(hyperd_pid):
            try:
                if psutil.Process(hyperd_pid).status() != psutil.STATUS_ZOMBIE:
                    left.append(psutil.Process(hyperd_pid))
            except psutil.Error:
                pass
        if not left:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"still running after {within} s: {left}")


def in_scan(proc) -> None:
    """Until worker 0 says (a zero-length fault, LOADGEN_FAULT=0:scan:run:sleep0) that it runs phase scan."""

    wait_for_line(proc, "at run of phase scan")


def test_hyperd_dying_mid_run_is_reported(tmp_path):
    proc, tag = start_run(tmp_path, LONG, env={"LOADGEN_FAULT": "0:scan:run:sleep0"})
    hyperd = coordinator_child(proc, "hyperdMain")
    in_scan(proc)
    hyperd.kill()
    killed = time.monotonic()
    code, _, err = finish(proc)
    detected_s = time.monotonic() - killed
    assert code == 1, err
    assert "error: hyperd was killed by SIGKILL" in err
    assert detected_s < 5
    run_dir = only_run_dir(tmp_path / "results")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
    assert [r["status"] for r in read_summary(run_dir)] == ["ok", "failed"]
    assert_nothing_left(tag)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_interrupt_stops_gracefully_and_keeps_what_was_measured(tmp_path, sig):
    proc, tag = start_run(tmp_path, LONG, env={"LOADGEN_FAULT": "0:scan:run:sleep0"})
    hyperd = coordinator_child(proc, "hyperdMain")
    in_scan(proc)
    time.sleep(0.5)  # the phase runs a while, so that it has samples to keep (a duration, not a synchronisation)
    proc.send_signal(sig)
    sent = time.monotonic()
    code, _, err = finish(proc)
    assert time.monotonic() - sent < 5
    assert code == 130, err
    assert f"interrupted by {sig.name}" in err
    run_dir = only_run_dir(tmp_path / "results")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    rows = read_summary(run_dir)
    assert [(r["phase"], r["status"]) for r in rows] == [("load", "ok"), ("scan", "interrupted")]
    with open(run_dir / "samples.csv") as handle:
        assert any(r["phase"] == "scan" for r in csv.DictReader(handle))
    # what the stopped phase measured until the signal: each worker's queries so far, marked and unverified
    assert int(rows[1]["ops"]) > 0 and rows[1]["verified"] == "unchecked"
    with open(run_dir / "workers.csv") as handle:
        scan = [r for r in csv.DictReader(handle) if r["phase"] == "scan"]
    assert sorted((r["worker"], r["status"]) for r in scan) == [("0", "interrupted"), ("1", "interrupted")]
    assert_nothing_left(tag, hyperd.pid)
    assert not staged_leftovers()


def test_second_ctrl_c_forces_the_exit_and_still_kills_children(tmp_path):
    proc, tag = start_run(tmp_path, LONG, env={"LOADGEN_FAULT": "0:scan:run:sleep0,coordinator:run:cleanup:sleep5"})
    hyperd = coordinator_child(proc, "hyperdMain")
    in_scan(proc)
    proc.send_signal(signal.SIGINT)

    wait_for_line(proc, "at cleanup of phase run")  # the first signal's cleanup is under way
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130, err
    assert_nothing_left(tag, hyperd.pid)


def test_killed_coordinator_leaves_completed_phases_and_no_processes(tmp_path):
    proc, tag = start_run(tmp_path, LONG)
    hyperd = coordinator_child(proc, "hyperdMain")
    wait_until_done(tmp_path, "load")
    proc.kill()
    finish(proc)
    gone_s = assert_nothing_left(tag, hyperd.pid, within=15)
    assert gone_s < 15  # workers notice within 0.5 s; hyperd follows its parent through its callback connection
    run_dir = only_run_dir(tmp_path / "results")
    rows = read_summary(run_dir)
    assert rows[0]["phase"] == "load" and rows[0]["status"] == "ok" and int(rows[0]["rows"]) == 100000
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"  # it never got to say more
    # what only the dead coordinator could have removed is swept by the next run
    stale = list(Path(tempfile.gettempdir()).glob(f"loadgen-db-{proc.pid}-*"))
    assert stale
    tiny = write_scenario(tmp_path / "tiny.yaml", "name: tiny\nphases:\n  - {name: load, workload: insert, rows: 10}\n")
    subprocess.run([sys.executable, "-m", "loadgen", "run", str(tiny), "--results-dir", str(tmp_path / "r2")],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    assert not any(path.exists() for path in stale)


def test_phase_timeout_cancels_a_stuck_statement(cli, tmp_path):
    path = write_scenario(
        tmp_path / "stuck.yaml",
        """\
name: stuck
workers: 1
phases:
  - name: forever
    workload: query
    method: rows
    sql: "SELECT SUM(i % 7) FROM generate_series(1, 100000000000) g(i)"
    timeout_s: 2
""",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=60)
    assert res.code == 1
    assert "error: phase forever: worker(s) [0] did not finish within 2 s" in res.stderr
    assert res.seconds < 30  # the statement would run for many minutes if it were not cancelled
    log = "".join(p.read_text() for p in (only_run_dir(tmp_path / "results") / "hyperd").glob("hyperd*.log"))
    assert "cancel" in log.lower()


def test_table_names_with_quotes_and_semicolons_are_quoted(cli, tmp_path):
    path = write_scenario(
        tmp_path / "evil.yaml",
        """\
name: evil
workers: 2
rows: 2000
table: 'm"; DROP TABLE x; --{worker}'
phases:
  - {name: load, workload: insert, method: arrow}
  - {name: load_rows, workload: insert, method: rows}
  - {name: scan, workload: query, shape: filtered, method: arrow_stream}
""",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results")
    assert res.code == 0, res.stderr
    assert all(r["verified"] == "ok" for r in read_summary(only_run_dir(tmp_path / "results")))


def test_external_endpoint_credentials_never_reach_the_results(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("HYPER_PW", raising=False)
    secret = "pw-" + uuid.uuid4().hex
    with HyperProcess(
        Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
        parameters={"listen_connection": "tab.tcp://localhost:auto", "log_dir": str(tmp_path)},
    ) as hyper:
        path = write_scenario(
            tmp_path / "ext.yaml",
            f"""\
name: external
workers: 2
rows: 1000
server: {{endpoint: "{hyper.endpoint.connection_descriptor}", user: tableau_internal_user, password_env: HYPER_PW}}
phases:
  - {{name: load, workload: insert, method: arrow_stream}}
  - {{name: scan, workload: query, shape: full_scan, method: rows}}
""",
        )
        res = cli("run", path, "--results-dir", tmp_path / "results", env={"HYPER_PW": secret})
        assert res.code == 0, res.stderr
        missing = cli("run", path, "--results-dir", tmp_path / "results2")
    run_dir = only_run_dir(tmp_path / "results")
    for file in run_dir.rglob("*"):
        if file.is_file():
            assert secret not in file.read_text(errors="replace"), file
    assert secret not in res.stdout + res.stderr
    assert "password_env: HYPER_PW" in (run_dir / "scenario.yaml").read_text()
    assert missing.code == 2
    assert missing.stderr.strip() == "error: server.password_env: environment variable HYPER_PW is not set"
    assert not (tmp_path / "results2").exists()
