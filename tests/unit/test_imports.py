"""Imports flow one way: the commands that only read files never load tableauhyperapi (nor start anything)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import sys
from loadgen.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tableauhyperapi", "psycopg"))
print("LOADED:" + ",".join(loaded))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "scenarios/parallel_insert.yaml", "scenarios/stress_mixed.yaml", "scenarios/tpch_power.yaml"],
        ["list"],
        ["schema"],
        ["compare", "no_such_run", "no_such_run_either"],
        ["report", "no_such_run"],
    ],
)
def test_reading_commands_do_not_load_the_hyper_client(argv):
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
    ).stdout
    assert out.splitlines()[-1] == "LOADED:", out[-500:]


RUNTIME_LIBRARIES = ("tableauhyperapi", "psycopg", "numpy", "pyarrow", "duckdb", "hdrh", "plotly", "matplotlib", "ray")
VALIDATE_PROBE = f"""
import sys
from loadgen.cli import main
assert main(["validate", *sys.argv[1:]]) == 0
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({RUNTIME_LIBRARIES!r}))
print("LOADED:" + ",".join(loaded))
"""


def test_validation_loads_no_runtime_library():
    """Checking a scenario (without file sources, whose metadata pyarrow reads) imports pydantic and PyYAML, not the
    libraries that generate, send or draw data: the options models import none of them."""
    scenarios = [p for p in sorted((ROOT / "scenarios").glob("*.yaml")) if "source:" not in p.read_text()]
    out = subprocess.run(
        [sys.executable, "-c", VALIDATE_PROBE, *map(str, scenarios)], cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert out.stdout.splitlines()[-1] == "LOADED:", out.stdout[-500:] + out.stderr[-2000:]


# Written into a folder put on the run's PYTHONPATH: every process of the run imports it at start-up; a worker
# (a spawned child that imported loadgen's worker) writes the top-level modules it holds as it exits normally.
MODULES_HOOK = """
import atexit, multiprocessing, os, sys


def _write_modules():
    if multiprocessing.parent_process() is not None and "loadgen.engine.worker" in sys.modules:
        with open(os.path.join(os.environ["LOADGEN_TEST_MODULES"], f"{os.getpid()}.txt"), "w") as handle:
            handle.write("\\n".join(sorted({m.split(".")[0] for m in sys.modules})))


if os.environ.get("LOADGEN_TEST_MODULES"):
    atexit.register(_write_modules)
"""
SESSIONS_ONLY = """
name: sessions_only
workers: 2
phases:
  - name: sessions
    workload: mix
    sessions: 4
    iterations: 40
    think_ms: 0
    operations: {one: 1}
    sql_operations: {one: {sql: "SELECT 1"}}
  - name: rows
    workload: query
    sql: "SELECT g.i, CAST(g.i AS TEXT) FROM generate_series(1, 5000) AS g(i)"
    method: rows
    iterations: 3
"""
DATA_LIBRARIES = ("pyarrow", "numpy", "pandas", "duckdb", "plotly", "matplotlib", "ray")


def test_a_run_of_sql_sessions_and_row_fetches_loads_no_data_library_in_its_workers(tmp_path):
    """A real run: the workers of a mix phase of SQL operations and of a query phase fetching rows (a query of
    its own) connect, run, verify and exit without importing pyarrow, numpy, pandas or any other data library."""
    hook, modules = tmp_path / "hook", tmp_path / "modules"
    hook.mkdir()
    modules.mkdir()
    (hook / "sitecustomize.py").write_text(MODULES_HOOK)
    scenario = tmp_path / "sessions_only.yaml"
    scenario.write_text(SESSIONS_ONLY)
    path = os.pathsep.join(filter(None, [str(hook), str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "LOADGEN_TEST_MODULES": str(modules), "PYTHONPATH": path}
    command = [sys.executable, "-m", "loadgen", "run", str(scenario), "--quiet", "--results-dir", str(tmp_path / "r")]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    found = {path.name: set(path.read_text().split()) for path in modules.glob("*.txt")}
    assert len(found) == 2, f"expected both workers' modules, got {sorted(found)}: {run.stderr[-2000:]}"
    loaded = {name: sorted(set(DATA_LIBRARIES) & names) for name, names in found.items()}
    assert all(not libraries for libraries in loaded.values()), loaded
