"""backend: ray at validation: clear exit-2 errors, and Ray never imported by reading commands."""

import subprocess
import sys

from tests.conftest import ROOT, write_scenario

# run the CLI with `ray` made unimportable, as on a machine without the extra
WITHOUT_RAY = """
import importlib.abc, sys
class NoRay(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ModuleNotFoundError("No module named 'ray'")
        return None
sys.meta_path.insert(0, NoRay())
from loadgen.cli import main
sys.exit(main(sys.argv[1:]))
"""
PROBE = """
import sys
from loadgen.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    print("EXIT:", exc.code)
print("RAY LOADED:", "ray" in sys.modules)
"""


def run_python(code: str, *args):
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_backend_ray_without_ray_is_an_exit_2_naming_the_install_command(tmp_path):
    res = run_python(
        WITHOUT_RAY, "run", "scenarios/parallel_insert.yaml", "--set", "backend=ray", "--results-dir", tmp_path
    )
    assert res.returncode == 2, res.stderr
    assert "--set backend=ray: backend: ray needs Ray, which is not installed: pip install -e '.[ray]'" in (res.stderr)
    assert not (tmp_path / "parallel_insert").exists()


def test_validation_of_a_ray_scenario_does_not_import_ray():
    res = run_python(PROBE, "validate", "scenarios/parallel_insert.yaml", "--set", "backend=ray")
    assert "EXIT: 0" in res.stdout or "ok:" in res.stdout, res.stdout + res.stderr
    assert "RAY LOADED: False" in res.stdout


def test_a_cluster_elsewhere_needs_a_tcp_endpoint_and_no_staged_arrow(tmp_path):
    path = write_scenario(
        tmp_path / "s.yaml",
        """\
name: remote
workers: 2
backend: ray
ray: {address: "10.1.2.3:6379"}
phases:
  - {name: load, workload: insert, rows: 100, method: arrow}
  - {name: scan, workload: query, shape: full_scan, method: arrow_stream}
""",
    )
    res = run_python(PROBE, "validate", path)
    assert res.stderr.splitlines() == [
        f"error: {path}:1: server.endpoint: workers on the Ray cluster at 10.1.2.3:6379 may run on other hosts: "
        "they need a hyperd they can reach over TCP, server.endpoint: tab.tcp://HOST:PORT (a private hyperd "
        "listens on this machine only)",
        f"error: {path}:6: phases[0].method: method arrow stages files that hyperd reads from its own disk, which "
        "workers on other hosts of the Ray cluster at 10.1.2.3:6379 cannot write; use arrow_stream (or rows)",
    ], res.stderr
    loopback = run_python(PROBE, "validate", path, "--set", "server.endpoint=tab.tcp://127.0.0.1:7483")
    assert "tab.tcp://127.0.0.1:7483 is a loopback address" in loopback.stderr
    fine = run_python(
        PROBE, "validate", path, "--set", "server.endpoint=tab.tcp://db.example:7483", "--set", "load.method=rows"
    )
    assert fine.stderr == "" and "RAY LOADED: False" in fine.stdout
