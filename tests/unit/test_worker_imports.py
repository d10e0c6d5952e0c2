"""A worker imports only what the workloads it runs need: one that runs SQL sessions (a mix phase of SQL operations
without generated parameters, one operation, a fixed think time) loads no library that generates or reads data,
so that many such workers fit in little memory."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pyarrow", "numpy", "pandas", "duckdb", "plotly", "matplotlib", "ray")
PROBE = f"""
import sys
from loadgen.engine import worker  # what every worker process imports, then the runtime of each phase it runs
from loadgen.workloads import registry
from loadgen.workloads.mix.binder import Binder
from loadgen.workloads.mix.operations import SqlOperation
from loadgen.workloads.mix.plan import OperationPlan

registry.load_runtime(registry.runtime_paths()["mix"])
plan = OperationPlan(7, 0, "users", {{"one": 1.0}}, 0, (1000, 10000), session=3)
assert [plan.next_operation() for _ in range(1000)] == ["one"] * 1000 and plan.think_s() == 0
binder = Binder({{"one": SqlOperation(sql="SELECT %s", params=[{{"from": "one"}}])}}, 7, 3, 8)
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
print("LOADED:" + ",".join(loaded))
"""


def test_a_worker_of_sql_sessions_loads_no_data_library():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.splitlines()[-1:] == ["LOADED:"], out.stdout[-500:] + out.stderr[-2000:]


def test_a_plan_that_draws_loads_numpy_only_then():
    probe = (
        "import sys\nfrom loadgen.workloads.mix.plan import OperationPlan\n"
        "plan = OperationPlan(7, 0, 'p', {'a': 1.0, 'b': 2.0}, 0, (1, 10))\n"
        "print('numpy' in sys.modules, plan.next_operation() in ('a', 'b'), 'numpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "True", "True"], out.stderr[-2000:]
