"""Imports flow one way: the commands that only read files never load tableauhyperapi (nor start anything)."""

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
