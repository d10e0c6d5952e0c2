"""Workloads written in Python on loadgen.api, run against a real hyperd: the examples users copy (an extract refresh
with readers, a user journey of @task sessions, a packaged plugin found through its entry point), and a user's
class that raises, named by class, worker and file:line."""

import csv
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def loadgen(*args, env=None, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "loadgen", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )


def read(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def run_folder(results: Path, name: str) -> Path:
    [folder] = (results / name).iterdir()
    return folder


def test_the_extract_refresh_example_measures_readers_during_the_swaps(tmp_path):
    run = loadgen("run", str(EXAMPLES / "extract_refresh.yaml"), "--results-dir", str(tmp_path), "--quiet",
                  "--set", "refresh.options.duration_s=3", "--set", "refresh.options.pause_ms=50")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "reads during a swap:" in run.stdout
    folder = run_folder(tmp_path, "extract_refresh")
    [summary] = read(folder / "summary.csv")
    assert (summary["workload"], summary["verified"], summary["status"]) == ("python", "ok", "ok")
    operations = {row["operation"] for row in read(folder / "latency.csv")}
    assert {"build", "swap", "read"} <= operations
    effect = {row["reads"]: row for row in read(folder / "swap_effect.csv")}
    assert int(effect["during_swap"]["count"]) > 0 and int(effect["outside_swap"]["count"]) > 0


def test_the_user_journey_example_runs_weighted_tasks_in_sessions(tmp_path):
    run = loadgen("run", str(EXAMPLES / "user_journey.yaml"), "--results-dir", str(tmp_path), "--quiet",
                  "--set", "shop.options.duration_s=2", "--set", "shop.options.sessions=4")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    folder = run_folder(tmp_path, "user_journey")
    [summary] = read(folder / "summary.csv")
    assert (summary["verified"], summary["status"], summary["sessions"]) == ("ok", "ok", "8")
    counts = {row["operation"]: int(row["count"]) for row in read(folder / "latency.csv")}
    assert counts["browse"] > counts["view_and_maybe_buy"] > 0  # weights 5:2
    assert "threshold ok     shop.browse.p99_ms" in run.stdout


USER_FUNCTION = """\
from loadgen import api


class Visitor(api.Users):
    async def user(self, session):
        await session.execute("SELECT 1")
        rows = await session.execute("SELECT generate_series(1, 3)")
        return len(rows)
"""


def test_a_users_class_with_one_user_coroutine_runs_it_as_operation_user(tmp_path):
    (tmp_path / "visitor.py").write_text(USER_FUNCTION, encoding="utf-8")
    (tmp_path / "s.yaml").write_text(
        "name: visit\nworkers: 1\nphases:\n  - {name: v, workload: python, module: visitor.py, class: Visitor,\n"
        "     options: {sessions: 3, iterations: 30}}\n",
        encoding="utf-8",
    )
    run = loadgen("run", str(tmp_path / "s.yaml"), "--results-dir", str(tmp_path / "r"), "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    folder = run_folder(tmp_path / "r", "visit")
    counts = {row["operation"]: int(row["count"]) for row in read(folder / "latency.csv")}
    assert counts.get("user") == 30, counts  # each iteration is one whole user() call
    [summary] = read(folder / "summary.csv")
    assert int(summary["rows"]) == 90  # the rows user() returned


def test_the_packaged_plugin_is_found_through_its_entry_point(tmp_path):
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(EXAMPLES / "plugin")],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}
    listing = loadgen("list", "--workloads", env=env, timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert "table_stats      plugin loadgen-example-plugin (loadgen_example_plugin:TableStats)" in listing.stdout
    assert "options.queries: Queries each worker runs. (default 50)" in listing.stdout
    run = loadgen("run", str(EXAMPLES / "plugin" / "scenario.yaml"), "--results-dir", str(tmp_path / "r"), "--quiet",
                  env=env)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "threshold ok     stats.stats.count == 40" in run.stdout
    without = loadgen("validate", str(EXAMPLES / "plugin" / "scenario.yaml"), timeout=60)
    assert without.returncode == 2 and "unknown workload 'table_stats'" in without.stderr


FAILING = """\
from loadgen import api


class Flaky(api.Workload):
    def run(self, rec):
        with rec.op("step"):
            pass
        if self.ctx.worker == 1:
            raise KeyError("no such customer")
"""


def test_a_workload_that_raises_fails_the_run_naming_class_worker_and_line(tmp_path):
    (tmp_path / "flaky.py").write_text(FAILING, encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: flaky\nworkers: 2\nphases:\n  - {name: p, workload: python, module: flaky.py, class: Flaky}\n",
        encoding="utf-8",
    )
    run = loadgen("run", str(path), "--results-dir", str(tmp_path / "r"), "--quiet")
    assert run.returncode == 1, run.stdout + run.stderr
    where = f"{tmp_path / 'flaky.py'}:9"
    assert f"Flaky.run (worker 1) raised at {where}: KeyError: 'no such customer'" in run.stderr
    [summary] = read(run_folder(tmp_path / "r", "flaky") / "summary.csv")
    assert summary["status"] == "failed"


STUCK = """\
import time

from loadgen import api


class Stuck(api.Workload):
    operations = ("tick",)

    def run(self, rec):
        with rec.op("tick"):
            pass
        while True:  # never returns, and swallows whatever would end it
            try:
                time.sleep(0.05)
            except BaseException:
                pass
"""


def test_a_workload_that_never_returns_and_ignores_the_stop_is_ended_by_the_phase_timeout(tmp_path):
    (tmp_path / "stuck.py").write_text(STUCK, encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: stuck\nworkers: 2\ntimeouts: {worker_stop_s: 1}\n"
        "phases:\n  - {name: p, workload: python, module: stuck.py, class: Stuck, timeout_s: 2}\n",
        encoding="utf-8",
    )
    run = loadgen("run", str(path), "--results-dir", str(tmp_path / "r"), "--quiet", timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "error: phase p: worker(s) [0, 1] did not finish within 2 s" in run.stderr
    [summary] = read(run_folder(tmp_path / "r", "stuck") / "summary.csv")
    assert summary["status"] == "failed"
