"""Validation: bounds, sizes, types, --set messages, shadowed overrides, rate vs think, class weights."""

import json
import re
import shlex
import time
from pathlib import Path

import pytest

from loadgen.cli import main
from loadgen.config.yaml_source import MAX_FILE_BYTES
from loadgen.errors import ScenarioError
from loadgen.scenario.load import dump_resolved, load_plan, load_scenario
from loadgen.workloads.mix.config import WorkerClass, assign_workers

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path, overrides=()):
    with pytest.raises(ScenarioError) as info:
        load_plan(path, list(overrides))
    assert info.value.exit_code == 2
    return info.value.problems


INSERTS = """\
name: inserts
workers: 2
rows: 1000
phases:
  - {name: insert_arrow, workload: insert, rows: 800}
  - {name: insert_rows, workload: insert, method: rows, rows: 200}
"""

MIX = """\
name: mixed
workers: 4
phases:
  - name: stress
    workload: mix
    think_ms: [10, 200]
    classes:
      - {name: writers, weight: 1, operations: {bulk_insert: 1}}
      - {name: readers, weight: 2, operations: {select_limit: 1}}
      - {name: mixed, weight: 1, operations: {aggregate: 1}}
"""


# ------------------------------------------------------------------ every duration has an upper bound
@pytest.mark.parametrize(
    "override, message",
    [
        ("timeouts.hyperd_stop_s=1e12", "timeouts.hyperd_stop_s: must be <= 3600 (one hour) (got '1e12')"),
        ("timeouts.worker_stop_s=7200", "timeouts.worker_stop_s: must be <= 3600 (one hour) (got 7200)"),
        ("timeouts.barrier_s=1e308", "timeouts.barrier_s: must be <= 604800 (one week) (got '1e308')"),
        ("timeouts.phase_s=.inf", "timeouts.phase_s: must be <= 604800 (one week) (got inf)"),
        ("timeouts.phase_s=.nan", "timeouts.phase_s: must be <= 604800 (one week) (got nan)"),
        ("stress.timeout_s=1e7", "phases[0].timeout_s: must be <= 604800 (one week) (got '1e7')"),
        ("stress.duration_s=1e7", "phases[0].duration_s: must be <= 604800 (one week) (got '1e7')"),
        ("stress.warmup_s=1e7", "phases[0].warmup_s: must be <= 604800 (one week) (got '1e7')"),
        (
            "sampling.timeseries_interval_s=1e5",
            "sampling.timeseries_interval_s: must be <= 3600 (one hour) (got '1e5')",
        ),
        ("stress.think_ms=1e12", "phases[0].think_ms: think time must be between 0 and 3600000 ms (one hour)"),
        ("stress.think_ms=[0, 1e12]", "phases[0].think_ms: think time must be between 0 and 3600000 ms (one hour)"),
        ("stress.rate_per_s=1e-300", "phases[0].rate_per_s: must be >= 0.001 (got '1e-300')"),
    ],
)
def test_durations_have_upper_bounds(tmp_path, override, message):
    path = write(tmp_path, MIX.replace("think_ms: [10, 200]", "think_ms: 0"))
    assert problems(path, [override]) == [f"{path}: --set {override}: {message}"]


def test_class_think_time_is_bounded_too(tmp_path):
    path = write(tmp_path, MIX.replace("{name: writers, weight: 1,", "{name: writers, weight: 1, think_ms: 1.0e+10,"))
    assert problems(path) == [
        f"{path}:8: phases[0].classes[0].think_ms: think time must be between 0 and 3600000 ms (one hour)"
    ]


# ------------------------------------------------------------------ ids must fit the INT column
def test_rows_past_the_int_range_are_refused_with_the_reason(tmp_path):
    path = write(tmp_path, INSERTS)
    reason = "must be <= 2147483648 (the ids 0 … rows-1 must fit in the table's INT id column)"
    assert problems(path, ["insert_arrow.rows=3000000000"]) == [
        f"{path}: --set insert_arrow.rows=3000000000: phases[0].rows: {reason} (got 3000000000)"
    ]
    assert problems(path, ["rows=3000000000"]) == [f"{path}: --set rows=3000000000: rows: {reason} (got 3000000000)"]
    assert load_scenario(path, ["insert_arrow.rows=2147483648"]).phases[0].rows == 2**31  # ids up to 2^31 - 1


def test_rows_scale_cannot_reach_past_the_int_range(tmp_path):
    path = write(tmp_path, INSERTS.replace("rows: 200}", "rows_scale: 4}"))
    assert problems(path, ["rows=1000000000"]) == [
        f"{path}:6: phases[1].rows_scale: 4000000000 rows: at most 2147483648 "
        "(the ids 0 … rows-1 must fit in the table's INT id column)"
    ]


def test_mix_preload_must_stay_below_the_ids_the_mix_inserts(tmp_path):
    path = write(tmp_path, MIX.replace("think_ms: [10, 200]", "preload_rows: 268435456"))
    assert load_scenario(path).phases[0].preload_rows == 2**28  # 4 × 2^28 = 2^30: just fits
    assert problems(path, ["workers=5"]) == [
        f"{path}:6: phases[0].preload_rows: 268435456 rows × 5 workers: the preloaded ids must stay below "
        "1073741824, where the ids of rows the mix inserts start; at most 214748364 per worker"
    ]


# ------------------------------------------------------------------ size, aliases, echoed values
def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = write(tmp_path, "name: big\n" + "#" * MAX_FILE_BYTES)
    assert problems(path) == [f"{path}: the file is larger than 1048576 bytes (1 MiB), the limit"]


def test_an_alias_bomb_is_refused_at_once_with_the_alias_line(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = write(tmp_path, "name: bomb\n" + "\n".join(lines) + "\nphases: *a8\n")
    assert len(path.read_bytes()) < 600
    start = time.monotonic()
    assert problems(path) == [
        f"{path}:6: *a3: aliases expand to more than 10000 values; a scenario does not need that many"
    ]
    assert time.monotonic() - start < 10  # not minutes


def test_deep_nesting_is_an_error_not_a_traceback(tmp_path):
    path = write(tmp_path, "name: deep\nphases: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems(path) == [f"{path}: values are nested too deeply to be a scenario"]


def test_ordinary_anchors_and_merges_still_work(tmp_path):
    path = write(
        tmp_path,
        "name: anchors\nrows: 100\ndefaults: &d {workload: insert, method: rows}\n"
        "phases:\n  - {<<: *d, name: one}\n  - {<<: *d, name: two}\n",
    )
    assert problems(path) == [f"{path}:3: defaults: unknown key 'defaults'; allowed: " + ", ".join(
        ["name", "description", "workers", "rows", "table", "server", "sampling", "timeouts", "output", "phases",
         "seed", "repeat", "fresh_server", "matrix", "thresholds", "data", "backend", "ray"]
    )]  # fmt: skip
    path = write(
        tmp_path,
        "name: anchors\nrows: 100\nphases:\n  - &d {workload: insert, method: rows, name: one}\n"
        "  - {<<: *d, name: two}\n",
    )
    assert [(p.name, p.method) for p in load_scenario(path).phases] == [("one", "rows"), ("two", "rows")]


def test_echoed_values_are_cut_to_an_excerpt(tmp_path):
    big = "x" * 500_000
    path = write(tmp_path, f"name: {big} !\nworkers: [{', '.join(['1'] * 50_000)}]\nphases: []\n")
    found = problems(path)
    assert len(found) == 3 and all(len(p) < 300 for p in found), [len(p) for p in found]
    assert f"(got '{'x' * 59}…)" in found[0]
    with pytest.raises(ScenarioError) as info:
        load_plan(write(tmp_path, INSERTS), [f"insert_arrow.method={big}"])
    assert all(len(p) < 500 for p in info.value.problems)


# ------------------------------------------------------------------ types and --set messages
def test_booleans_are_not_counts(tmp_path):
    path = write(tmp_path, INSERTS)
    assert problems(path, ["workers=true"]) == [
        f"{path}: --set workers=true: workers: must be a whole number, not true/false (got True)"
    ]
    assert problems(path, ["timeouts.phase_s=yes"]) == [
        f"{path}: --set timeouts.phase_s=yes: timeouts.phase_s: must be a number, not true/false (got True)"
    ]


@pytest.mark.parametrize("value", ["1e6", "1.0e+6", "1000000.0", "1_000_000"])
def test_whole_numbers_written_as_floats_are_counts(tmp_path, value):
    assert load_scenario(write(tmp_path, INSERTS), [f"insert_arrow.rows={value}"]).phases[0].rows == 1_000_000


def test_a_fraction_is_not_a_count(tmp_path):
    path = write(tmp_path, INSERTS)
    assert problems(path, ["insert_arrow.rows=.inf"]) == [
        f"{path}: --set insert_arrow.rows=.inf: phases[0].rows: must be a finite number (got inf)"
    ]
    assert problems(path, ["insert_arrow.rows=1.5"]) == [
        f"{path}: --set insert_arrow.rows=1.5: phases[0].rows: must be a whole number (got 1.5)"
    ]
    assert problems(path, ["insert_arrow.rows=1.5e0"]) == [
        f"{path}: --set insert_arrow.rows=1.5e0: phases[0].rows: must be a whole number (got 1.5)"
    ]


def test_errors_in_keys_a_set_created_name_the_set_not_line_1(tmp_path):
    path = write(tmp_path, INSERTS)
    assert problems(path, ["a.b.c.d=1"]) == [
        f"{path}: --set a.b.c.d=1: 'a' is neither a phase nor a key; phases: insert_arrow, insert_rows"
    ]
    assert problems(path, ["server.a.b=1"])[0].startswith(f"{path}: --set server.a.b=1: server.a: unknown key 'a'")
    assert problems(path, ["insert_arrow.options.x=1"])[0].startswith(
        f"{path}: --set insert_arrow.options.x=1: phases[0].options: unknown key 'options'"
    )


def test_a_misspelt_phase_in_a_set_gets_a_suggestion(tmp_path):
    path = write(tmp_path, INSERTS)
    assert problems(path, ["insert_arow.rows=5"]) == [
        f"{path}: --set insert_arow.rows=5: 'insert_arow' is neither a phase nor a key (did you mean insert_arrow?); "
        "phases: insert_arrow, insert_rows"
    ]


def test_a_staging_dir_that_does_not_exist_fails_validation(tmp_path):
    path = write(tmp_path, INSERTS)
    missing = tmp_path / "nope"
    assert problems(path, [f"insert_arrow.staging_dir={missing}"]) == [
        f"{path}: --set insert_arrow.staging_dir={missing}: phases[0].staging_dir: "
        f"'{missing}' is not an existing folder"
    ]
    assert load_scenario(path, [f"insert_arrow.staging_dir={tmp_path}"]).phases[0].staging_dir == str(tmp_path)


def test_a_staging_dir_without_write_permission_fails_validation(tmp_path, monkeypatch):
    import loadgen.config.fields as base

    monkeypatch.setattr(base.os, "access", lambda path, mode: False)
    path = write(tmp_path, INSERTS)
    assert problems(path, [f"insert_arrow.staging_dir={tmp_path}"]) == [
        f"{path}: --set insert_arrow.staging_dir={tmp_path}: phases[0].staging_dir: "
        f"no permission to write in '{tmp_path}'"
    ]


# ------------------------------------------------------------------ a --set that changes nothing
def test_a_set_shadowed_by_every_phase_is_an_error_naming_them(tmp_path):
    path = write(tmp_path, INSERTS)
    assert problems(path, ["rows=3000000"]) == [
        f"{path}: --set rows=3000000: every insert phase sets its own rows (insert_arrow.rows, insert_rows.rows); "
        "set those instead"
    ]
    timed = write(
        tmp_path, INSERTS.replace("rows: 800}", "rows: 800, timeout_s: 5}").replace("200}", "200, timeout_s: 5}")
    )
    assert problems(timed, ["timeouts.phase_s=60"]) == [
        f"{timed}: --set timeouts.phase_s=60: every phase sets its own timeout_s "
        "(insert_arrow.timeout_s, insert_rows.timeout_s); set those instead"
    ]


def test_rows_without_insert_phases_is_an_error(tmp_path):
    path = write(tmp_path, MIX)
    assert problems(path, ["rows=10"]) == [
        f"{path}: --set rows=10: no phase uses rows: it is the default of insert phases, and this scenario has none"
    ]


def test_phase_keys_that_classes_override_are_errors(tmp_path):
    path = write(tmp_path, MIX)
    assert problems(path, ["stress.operations.join=1"]) == [
        f"{path}: --set stress.operations.join=1: every class of stress sets its own operations "
        "(writers, readers, mixed)"
    ]


def test_keys_that_do_not_apply_to_the_method_are_errors(tmp_path):
    path = write(tmp_path, INSERTS)
    assert problems(path, ["insert_rows.rows_per_copy=10", f"insert_rows.staging_dir={tmp_path}"]) == [
        f"{path}: --set insert_rows.rows_per_copy=10: rows_per_copy applies to the arrow methods, and insert_rows "
        "uses method rows",
        f"{path}: --set insert_rows.staging_dir={tmp_path}: staging_dir applies to the arrow methods, and "
        "insert_rows uses method rows",
    ]
    mix = write(tmp_path, MIX, "mix.yaml")
    assert problems(mix, ["stress.arrivals=uniform"]) == [
        f"{mix}: --set stress.arrivals=uniform: arrivals applies only to a rate, and stress sets no rate_per_s"
    ]


def test_rows_scale_follows_the_scenario_rows_and_a_phase_rows_set_replaces_it(tmp_path):
    path = write(tmp_path, INSERTS.replace("rows: 800}", "}").replace("rows: 200}", "rows_scale: 0.1}"))
    assert [p.rows for p in load_scenario(path).phases] == [1000, 100]
    assert [p.rows for p in load_scenario(path, ["rows=30000"]).phases] == [30000, 3000]
    assert [p.rows for p in load_scenario(path, ["insert_rows.rows=7"]).phases] == [1000, 7]
    assert problems(path, ["insert_rows.rows_scale=0"])[0].endswith("phases[1].rows_scale: must be > 0 (got 0)")
    both = write(tmp_path, INSERTS.replace("rows: 200}", "rows: 200, rows_scale: 0.5}"), "both.yaml")
    assert problems(both) == [
        f"{both}:6: phases[1].rows_scale: give either rows or rows_scale, not both (rows_scale scales the "
        "scenario's rows)"
    ]
    resolved = load_scenario(path)
    assert load_scenario(write(tmp_path, dump_resolved(resolved), "again.yaml")).phases[1].rows == 100


@pytest.mark.parametrize("name, phases", [("parallel_insert", 2), ("seed_benchmark", 3)])
def test_shipped_insert_scenarios_scale_with_set_rows(name, phases):
    def insert_rows(rows):
        scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml", [f"rows={rows}"])
        return [p.rows for p in scenario.phases if p.workload == "insert"]

    small, large = insert_rows(1_000_000), insert_rows(3_000_000)
    assert len(small) == phases and small[0] == 1_000_000
    assert [3 * r for r in small] == large  # every insert phase, the row-API one too


# ------------------------------------------------------------------ rate vs think time
def test_a_rate_with_a_think_time_is_an_error(tmp_path):
    path = write(tmp_path, MIX)
    assert problems(path, ["stress.rate_per_s=200"]) == [
        f"{path}: --set stress.rate_per_s=200: phases[0].rate_per_s: a rate (200/s, open loop) and a think time "
        "(think_ms: 10–200 ms, closed loop) exclude each other: set think_ms to 0 or remove rate_per_s"
    ]
    klass = write(tmp_path, MIX.replace("{name: readers, weight: 2,", "{name: readers, weight: 2, rate_per_s: 5,"))
    assert problems(klass) == [
        f"{klass}:9: phases[0].classes[1].rate_per_s: a rate (5/s, open loop) and a think time (think_ms: 10–200 ms, "
        "closed loop) exclude each other: set think_ms to 0 or remove rate_per_s"
    ]
    fine = write(
        tmp_path, MIX.replace("{name: readers, weight: 2,", "{name: readers, weight: 2, think_ms: 0, rate_per_s: 5,")
    )
    assert load_scenario(fine).phases[0].classes[1].rate_per_s == 5


def test_describe_rate(tmp_path):
    path = write(tmp_path, MIX)
    assert load_scenario(path, ["stress.think_ms=0", "stress.rate_per_s=200", "stress.rate_scope=total"]).phases[
        0
    ].describe_rate(4) == (
        "writers (1 worker): open loop: 50 operations/s in total (50/s per worker, poisson arrivals); "
        "readers (2 workers): open loop: 100 operations/s in total (50/s per worker, poisson arrivals); "
        "mixed (1 worker): open loop: 50 operations/s in total (50/s per worker, poisson arrivals)"
    )
    assert load_scenario(path).phases[0].describe_rate(4) == (
        "writers (1 worker): closed loop, think 10–200 ms; readers (2 workers): closed loop, think 10–200 ms; "
        "mixed (1 worker): closed loop, think 10–200 ms"
    )
    plain = write(tmp_path, "name: p\nworkers: 4\nphases:\n  - {name: m, workload: mix, rate_per_s: 200}\n", "p.yaml")
    assert load_scenario(plain).phases[0].describe_rate(4) == (  # a rate is the phase's total unless told
        "open loop: 200 operations/s in total (50/s per worker, poisson arrivals)"
    )
    assert load_scenario(plain, ["m.rate_scope=worker"]).phases[0].describe_rate(4) == (
        "open loop: 800 operations/s in total (200/s per worker, poisson arrivals)"
    )
    assert load_scenario(plain, ["m.rate_per_s=null", "m.think_ms=5"]).phases[0].describe_rate(4) == (
        "closed loop, think 5 ms"
    )


def test_the_documented_open_loop_example_is_valid():
    page = (ROOT / "docs" / "workloads.md").read_text(encoding="utf-8")
    args = re.search(r'make scenario NAME=stress_mixed ARGS="([^"]*rate_per_s[^"]*)"', page).group(1)
    overrides = [a for a in shlex.split(args) if a != "--set"]
    phase = load_scenario(ROOT / "scenarios" / "stress_mixed.yaml", overrides).phases[0]
    assert phase.rate_per_s and phase.think_ms == 0 and "open loop" in phase.describe_rate(4)


# ------------------------------------------------------------------ classes by weight
def classes(*specs):
    return [WorkerClass(name=f"c{i}", operations={"select_limit": 1}, **spec) for i, spec in enumerate(specs)]


@pytest.mark.parametrize(
    "specs, workers, counts",
    [
        (({"weight": 1}, {"weight": 2}, {"weight": 1}), 4, [1, 2, 1]),
        (({"weight": 1}, {"weight": 2}, {"weight": 1}), 8, [2, 4, 2]),
        (({"weight": 1}, {"weight": 2}, {"weight": 1}), 5, [1, 3, 1]),
        (({"weight": 1}, {"weight": 2}, {"weight": 1}), 2, [1, 1, 0]),  # fewer workers than classes
        (({"weight": 1}, {"weight": 100}), 3, [1, 2]),  # at least one each when there are enough workers
        (({"workers": 3}, {"weight": 1}, {"weight": 1}), 6, [3, 2, 1]),  # exact first; ties go to the earlier
        (({"workers": 1}, {}, {"weight": 0}), 5, [1, 4, 0]),  # no weight means 1; weight 0 gets none
    ],
)
def test_assign_workers(specs, workers, counts):
    assert assign_workers(classes(*specs), workers) == counts
    assert assign_workers(classes(*specs), workers) == counts  # deterministic


def test_stress_mixed_takes_any_worker_count():
    for workers, counts in ((4, [1, 2, 1]), (8, [2, 4, 2]), (3, [1, 1, 1])):
        phase = load_scenario(ROOT / "scenarios" / "stress_mixed.yaml", [f"workers={workers}"]).phases[0]
        assert [c.workers for c in phase.classes] == counts
        assert [phase.worker_class(w).name for w in range(workers)] == [
            c.name for c, n in zip(phase.classes, counts, strict=True) for _ in range(n)
        ]


def test_class_counts_that_cannot_add_up_are_errors(tmp_path):
    exact = write(tmp_path, MIX.replace("weight: 1", "workers: 1").replace("weight: 2", "workers: 1"))
    assert problems(exact) == [f"{exact}:7: phases[0].classes: the classes have 3 workers, the scenario has 4"]
    zero = write(tmp_path, MIX.replace("weight: 2", "weight: 0").replace("weight: 1", "weight: 0"))
    assert problems(zero) == [
        f"{zero}:7: phases[0].classes: 4 workers are left for classes of weight 0; give one a weight > 0"
    ]


def test_resolved_classes_replay_the_assignment(tmp_path):
    resolved = load_scenario(write(tmp_path, MIX), ["workers=8"])
    again = load_scenario(write(tmp_path, dump_resolved(resolved), "again.yaml"))
    assert [(c.workers, c.weight) for c in again.phases[0].classes] == [(2, None), (4, None), (2, None)]


# ------------------------------------------------------------------ loadgen schema
def test_schema_lists_the_new_keys(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    text = json.dumps(schema)
    assert '"rows_scale"' in text and '"weight"' in text and '"maximum": 604800' in text
