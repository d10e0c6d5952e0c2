"""`workload: python` at validation: the user's class is imported in the coordinator and every problem with it —
a module that is not there or does not import, a class that is missing or no workload, options its own model
refuses, an API version it was not written for — is an error naming FILE:LINE of the key."""

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from loadgen.errors import ScenarioError
from loadgen.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
from pydantic import Field
from loadgen import api

class Opts(api.Options):
    rows: int = Field(default=10, ge=1)

class Plain(api.Workload):
    Options = Opts
    operations = ("step",)
    def run(self, rec):
        pass

class Shop(api.Users):
    @api.task(3)
    async def browse(self, session):
        return 1
    @api.task
    async def buy(self, session):
        return 1

class NoTasks(api.Users):
    pass

class Future(api.Workload):
    api_version = "2.0"

class NotOne:
    pass
"""


def scenario(tmp_path, phase: str, extra: str = "", module: str = GOOD, name: str = "mine.py"):
    (tmp_path / name).write_text(module, encoding="utf-8")
    path = tmp_path / "s.yaml"
    text = "name: s\nworkers: 2\nphases:\n  - name: p\n    workload: python\n" + textwrap.indent(phase, "    ") + extra
    path.write_text(text, encoding="utf-8")
    return path


def problems(path) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return caught.value.problems


def test_a_module_file_relative_to_the_scenario_is_loaded_with_its_options(tmp_path, monkeypatch):
    monkeypatch.chdir("/")  # relative to the scenario's folder, not to where loadgen runs
    path = scenario(tmp_path, "module: mine.py\nclass: Plain\noptions: {rows: 5}\n")
    [phase] = load_scenario(path).phases
    assert phase.module == str(tmp_path / "mine.py")
    assert phase.validated_options().rows == 5
    assert phase.operation_names() == ["step"]
    assert not phase.ends_early() and phase.sessions_per_worker() is None


def test_a_users_class_declares_its_tasks_sessions_and_error_budget(tmp_path):
    path = scenario(
        tmp_path, "module: mine.py\nclass: Shop\noptions: {sessions: 8, duration_s: 1, max_error_rate: 0.1}\n"
    )
    [phase] = load_scenario(path).phases
    assert sorted(phase.operation_names()) == ["browse", "buy"]
    assert phase.ends_early() and phase.sessions_per_worker() == 8 and phase.error_budget() == 0.1


def test_bad_options_are_named_by_their_line(tmp_path):
    path = scenario(tmp_path, "module: mine.py\nclass: Plain\noptions:\n  rows: 0\n  colour: red\n")
    assert problems(path) == [
        f"{path}:9: phases[0].options.rows: must be >= 1 (got 0)",
        f"{path}:10: phases[0].options.colour: unknown option 'colour'; Opts takes: rows",
    ]


def test_a_missing_module_file_is_named(tmp_path):
    path = scenario(tmp_path, "module: gone.py\nclass: Plain\n")
    assert problems(path) == [f"{path}:6: phases[0].module: {tmp_path / 'gone.py'}: no such file"]


def test_a_missing_dotted_module_is_named(tmp_path):
    path = scenario(tmp_path, "module: no_such_package.workloads\nclass: Plain\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:6: phases[0].module: no module named 'no_such_package.workloads' on sys.path")


def test_a_module_that_raises_on_import_is_named_with_its_own_file_and_line(tmp_path):
    path = scenario(
        tmp_path, "module: mine.py\nclass: Plain\n", module="import os\n\nraise RuntimeError('no config')\n"
    )
    mine = tmp_path / "mine.py"
    assert problems(path) == [f"{path}:6: phases[0].module: {mine} does not import: {mine}:3: RuntimeError: no config"]


def test_a_module_with_a_syntax_error_is_named_with_its_line(tmp_path):
    path = scenario(tmp_path, "module: broken.py\nclass: Plain\n", module="x = 1\ndef (:\n", name="broken.py")
    [problem] = problems(path)
    assert f"does not import: {tmp_path / 'broken.py'}:2: SyntaxError" in problem


@pytest.mark.parametrize(
    ("klass", "message"),
    [
        ("Missing", "has no class 'Missing'; its workload classes: Future, NoTasks, Plain, Shop"),
        ("NotOne", ":NotOne is not a workload: subclass loadgen.api.Workload"),
        ("Future", ":Future: written for loadgen.api 2.0, this loadgen has 1.0: update one of them"),
        (
            "NoTasks",
            "has no @task coroutine: mark at least one with @api.task(weight), or define one "
            "`async def user(self, session)`",
        ),
    ],
)
def test_a_class_that_cannot_run_is_named(tmp_path, klass, message):
    path = scenario(tmp_path, f"module: mine.py\nclass: {klass}\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:7: phases[0].class: ") and problem.endswith(message)


def test_session_options_are_checked_by_the_users_model(tmp_path):
    path = scenario(tmp_path, "module: mine.py\nclass: Shop\noptions: {sessions: 2}\n")
    assert problems(path) == [f"{path}:8: phases[0].options: give either duration_s or iterations"]


def test_thresholds_may_name_the_operations_the_class_declares_and_no_others(tmp_path):
    ok = scenario(tmp_path, "module: mine.py\nclass: Plain\n", extra='thresholds:\n  p.step.p99_ms: "< 10"\n')
    assert load_scenario(ok).thresholds
    bad = scenario(tmp_path, "module: mine.py\nclass: Plain\n", extra='thresholds:\n  p.jump.p99_ms: "< 10"\n')
    [problem] = problems(bad)
    assert problem.endswith("p has no operation 'jump'; its operations: step")


SHIPPED = """\
from loadgen import api

MARK = "shipped"


class Plain(api.Workload):
    operations = (MARK,)
"""


def test_a_file_module_travels_with_the_phase_to_a_worker_that_cannot_read_it(tmp_path):
    """What a worker on another host gets: the pickled phase, without the file; it runs the validated text."""
    path = scenario(tmp_path, "module: mine.py\nclass: Plain\n", module=SHIPPED)
    [phase] = load_scenario(path).phases
    (tmp_path / "mine.py").unlink()
    pickled = tmp_path / "phase.pickle"
    pickled.write_bytes(pickle.dumps(phase))
    code = f"import pickle; p = pickle.load(open({str(pickled)!r}, 'rb')); print(p.user_class().operations)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "('shipped',)"
