from pathlib import Path

import pytest

from loadgen.errors import ScenarioError
from loadgen.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "bad_scenarios"


def expected_messages() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (BAD / "EXPECTED.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name = line.split(":", 1)[0]
        out.setdefault(name, []).append(line)
    return out


EXPECTED = expected_messages()


def test_every_bad_file_has_expectations():
    assert sorted(EXPECTED) == sorted(p.name for p in BAD.glob("*.yaml"))
    assert len(EXPECTED) >= 25


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_scenario_messages(name, monkeypatch):
    monkeypatch.chdir(BAD)
    with pytest.raises(ScenarioError) as info:
        load_scenario(name)
    assert info.value.problems == EXPECTED[name]
    assert info.value.exit_code == 2


def test_all_mistakes_of_a_file_are_reported_together():
    assert len(EXPECTED["many_mistakes.yaml"]) == 4


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_are_valid(path):
    scenario = load_scenario(path)
    assert scenario.phases
    for phase in scenario.phases:
        if phase.workload == "insert":
            assert phase.progress_total() >= scenario.workers  # a source: its files' rows


def write(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


SIMPLE = """\
name: simple
workers: 2
rows: 1000
phases:
  - {name: load, workload: insert}
  - {name: scan, workload: query, shape: filtered, method: rows}
"""


def test_defaults_are_resolved(tmp_path):
    scenario = load_scenario(write(tmp_path, SIMPLE))
    load, scan = scenario.phases
    assert load.rows == 1000 and load.method == "arrow" and load.rows_per_copy == 1_000_000
    assert scan.iterations == 1 and scan.duration_s is None
    assert scenario.table_name(1) == "measurements_1"
    assert scenario.server.transport == "domain" and scenario.server.database == "shared"


def test_overrides_change_values_and_are_validated(tmp_path):
    path = write(tmp_path, SIMPLE)
    scenario = load_scenario(path, ["workers=4", "load.rows=5000", "scan.method=arrow_stream", "server.transport=tcp"])
    assert scenario.workers == 4
    assert scenario.phases[0].rows == 5000
    assert scenario.phases[1].method == "arrow_stream"
    assert scenario.server.transport == "tcp"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, ["load.rows=zero", "workers"])
    assert info.value.problems == [  # both at once: the --set that cannot apply and the refused value
        f"{path}: --set workers: expected KEY=VALUE, e.g. workers=4 or insert_arrow.rows=1000",
        f"{path}: --set load.rows=zero: phases[0].rows: must be a whole number (got 'zero')",
    ]
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, ["load.rows=zero"])
    assert info.value.problems == [f"{path}: --set load.rows=zero: phases[0].rows: must be a whole number (got 'zero')"]


def test_top_level_rows_override_reaches_phases_without_their_own(tmp_path):
    scenario = load_scenario(write(tmp_path, SIMPLE), ["rows=42"])
    assert scenario.phases[0].rows == 42


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "nope.yaml")
    assert info.value.problems == [f"{tmp_path / 'nope.yaml'}: no such scenario file"]


def test_scenario_is_frozen(tmp_path):
    scenario = load_scenario(write(tmp_path, SIMPLE))
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises its own ValidationError subclass
        scenario.workers = 3


MATRIX = """\
name: sweep
rows: 1000
matrix:
  workers: [1, 2]
  load.method: [arrow, rows]
phases:
  - {name: load, workload: insert}
"""


def test_matrix_expands_to_validated_points(tmp_path):
    from loadgen.scenario.load import load_plan

    base, plan = load_plan(write(tmp_path, MATRIX))
    assert base.matrix == {"workers": [1, 2], "load.method": ["arrow", "rows"]}
    assert [params for params, _ in plan] == [
        {"workers": 1, "load.method": "arrow"}, {"workers": 1, "load.method": "rows"},
        {"workers": 2, "load.method": "arrow"}, {"workers": 2, "load.method": "rows"},
    ]  # fmt: skip
    assert [(s.workers, s.phases[0].method) for _, s in plan] == [(1, "arrow"), (1, "rows"), (2, "arrow"), (2, "rows")]
    assert {s.seed for _, s in plan} == {base.seed}  # one seed for the whole sweep


def test_a_bad_matrix_point_is_reported_with_its_values(tmp_path):
    from loadgen.scenario.load import load_plan

    path = write(
        tmp_path, MATRIX.replace("workers: [1, 2]", "workers: [1, 0]").replace("[arrow, rows]", "[arrow, csv]")
    )
    with pytest.raises(ScenarioError) as info:
        load_plan(path)
    assert info.value.problems == [
        f'{path}: matrix point load.method="csv": phases[0].method: '
        "'csv' is not allowed; allowed: rows, arrow or arrow_stream",
        f"{path}: matrix point workers=0: workers: must be >= 1 (got 0)",
    ]
