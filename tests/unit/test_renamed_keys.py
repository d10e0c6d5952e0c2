"""Keys renamed for one vocabulary across workloads (warmup → warmup_iterations; TPC-H's streams → sessions,
repetitions → iterations) still work under their old names for a release: a warning, once, names FILE:LINE and
the new key; a mistake in such a key is reported under the name it was written with."""

import pytest

from loadgen.cli import main
from loadgen.errors import ScenarioError
from loadgen.scenario.load import load_plan, load_scenario

OLD = """\
name: old_names
rows: 1000
matrix:
  workers: [1, 2]
phases:
  - {name: load, workload: insert}
  - {name: scan, workload: query, iterations: 2, warmup: 1}
  - {name: power, workload: tpch_query, scale_factor: 0.01, mode: throughput, streams: 3, repetitions: 2,
     warmup: 1}
"""


def write(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_old_keys_take_their_new_names_with_one_warning_each(tmp_path):
    path = write(tmp_path, OLD)
    notices: list[str] = []
    base, plan = load_plan(path, [], notices)
    for _, point in [({}, base), *plan]:  # every matrix point sees the same values
        scan, power = point.phases[1], point.phases[2]
        assert scan.warmup_iterations == 1 and (power.sessions, power.iterations, power.warmup_iterations) == (3, 2, 1)
    assert notices == [
        f"{path}:7: phases[1].warmup: deprecated key, use warmup_iterations (warmup is accepted until the next "
        "release)",
        f"{path}:8: phases[2].streams: deprecated key, use sessions (streams is accepted until the next release)",
        f"{path}:8: phases[2].repetitions: deprecated key, use iterations (repetitions is accepted until the next "
        "release)",
        f"{path}:9: phases[2].warmup: deprecated key, use warmup_iterations (warmup is accepted until the next "
        "release)",
    ]


def test_the_resolved_scenario_has_the_new_names(tmp_path):
    dumped = load_scenario(write(tmp_path, OLD)).phases[2].model_dump()
    assert "sessions" in dumped and "streams" not in dumped and "repetitions" not in dumped


def test_a_mistake_in_an_old_key_names_the_key_as_written(tmp_path):
    path = write(tmp_path, OLD.replace("streams: 3", "streams: 0"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.problems == [f"{path}:8: phases[2].streams: must be >= 1 (got 0)"]
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, OLD), ["power.streams=0"])
    assert info.value.problems == [f"{path}: --set power.streams=0: phases[2].streams: must be >= 1 (got 0)"]


def test_an_old_and_a_new_key_together_are_an_error(tmp_path):
    path = write(tmp_path, OLD)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, ["scan.warmup_iterations=3"])
    assert info.value.problems == [f"{path}:7: phases[1].warmup: give only warmup_iterations (warmup is its old name)"]


def test_validate_prints_the_warning_on_stderr(tmp_path, capsys):
    assert main(["validate", str(write(tmp_path, OLD))]) == 0
    err = capsys.readouterr().err
    assert err.count("deprecated key") == 4 and "use warmup_iterations" in err
