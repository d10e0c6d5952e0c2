"""Edges of matrix runs, history, compare's noise band and kept databases; each test failed before its fix."""

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from loadgen import columns
from loadgen.config.sections import ServerConfig
from loadgen.engine import server
from loadgen.errors import ScenarioError
from loadgen.report import terminal
from loadgen.results import history as results
from loadgen.results.judge import judge_change
from loadgen.scenario.load import load_plan


def test_a_matrix_cannot_vary_what_the_whole_run_shares(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: mx\nrows: 100\nmatrix:\n  repeat: [1, 3]\nphases:\n  - {name: load, workload: insert}\n")
    with pytest.raises(ScenarioError) as info:
        load_plan(path)
    assert info.value.problems == [
        f"{path}:4: matrix.repeat: the whole run shares it, a point cannot vary it "
        "(not allowed in a matrix: name, repeat, fresh_server, seed, output, matrix)"
    ]


def test_matrix_parameters_show_in_the_terminal_table():
    row = {
        "workload": "insert", "phase": "load", "method": "rows", "parameters": "workers=2 load.method=rows",
        "workers": 2, "status": "ok", "verified": "ok",
    }  # fmt: skip
    out = io.StringIO()
    Console(file=out, width=300).print(terminal.phase_tables([row])[0])
    assert "load (rows) [workers=2 load.method=rows]" in out.getvalue()


def test_a_held_history_lock_is_a_warning_not_a_hang(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "HISTORY_LOCK_S", 0.2)
    holder = subprocess.Popen(  # another process that took the lock and then stopped moving
        [sys.executable, "-c", HOLD, str(tmp_path / results.HISTORY_LOCK)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        warning = results.append_history(str(tmp_path), [{"run_id": "r", "phase": "p"}])
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert "not updated: another process held its lock for 0.2 s" in warning


HOLD = """
import fcntl, sys, time
handle = open(sys.argv[1], "a")
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


def test_a_tiny_change_with_a_tight_spread_is_within_noise():
    base = [10.000, 10.001, 10.000, 10.001, 10.000]
    wall = columns.by_name()["wall_s"]
    assert judge_change(wall, base, [v * 1.001 for v in base]).verdict == "within noise"  # 0.1%
    assert judge_change(wall, base, [v * 1.05 for v in base]).verdict == "worse"  # 5% slower


def test_kept_databases_are_marked_from_the_start(tmp_path):
    hyperd = server.Server(ServerConfig(keep_database=True, endpoint="tab.tcp://127.0.0.1:1"), 1, str(tmp_path), 1)
    with pytest.raises(Exception):  # noqa: B017 - nothing listens there; the folder exists before connecting
        hyperd.start()
    try:
        assert (Path(hyperd._own_dir) / server.KEEP_NOTE).exists()
    finally:
        shutil.rmtree(hyperd._own_dir)
