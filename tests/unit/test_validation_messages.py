"""Validation reports every mistake of a file at once, in plain words: no message carries the validation library's
own words (its error kinds, union branches, Python type names), and misspelt names get a suggestion."""

import copy
import re
import typing

import pydantic_core
import pytest
import yaml
from pydantic import BaseModel, ValidationError

from loadgen.config.yaml_source import Source
from loadgen.errors import ScenarioError
from loadgen.scenario.load import load_scenario
from loadgen.scenario.messages import format_errors, tag_member, union_members, unwrap
from loadgen.scenario.model import scenario_model


def problems_of(tmp_path, text: str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.exit_code == 2
    return [p[len(f"{path}:") :] for p in info.value.problems]  # without the file name


THREE_MISTAKES = """\
name: three
workers: 2
phases:
  - name: users
    workload: mix
    duration_s: 1
    operations: {selct_limit: 1}
  - name: load
    workload: insert
    rows: 1000
    method: arow
thresholds:
  load.rows_per_sec: ">= 5"
"""


def test_three_mistakes_in_different_phases_and_sections_are_reported_together(tmp_path):
    problems = problems_of(tmp_path, THREE_MISTAKES)
    assert len(problems) == 3, problems
    assert problems[0].startswith("7: phases[0].operations.selct_limit: unknown operation 'selct_limit'")
    assert problems[1].startswith("11: phases[1].method: 'arow' is not allowed")
    assert problems[2].startswith("13: thresholds.load.rows_per_sec: ")


def test_a_refused_value_and_a_misspelt_operation_of_one_phase_are_reported_together(tmp_path):
    text = THREE_MISTAKES.replace("    duration_s: 1\n", "    duration_s: 1\n    think_ms: [1, 2, 3]\n")
    problems = problems_of(tmp_path, text)
    assert [p.split(":", 1)[0] for p in problems] == ["7", "8", "12", "14"]
    assert problems[0] == "7: phases[0].think_ms: must be a number or [min, max] (got [1, 2, 3])"


def test_duplicate_keys_and_deprecated_names_are_reported_with_the_other_mistakes(tmp_path):
    text = """\
name: dup
workers: 1
workers: 2
phases:
  - {name: scan, workload: query, warmup: 1, warmup_iterations: 2, shape: fullscan}
  - {name: load, workload: insert, rows: many}
"""
    problems = problems_of(tmp_path, text)
    assert problems == [
        "3: workers: duplicate key (first on line 2)",
        "5: phases[0].warmup: give only warmup_iterations (warmup is its old name)",
        "5: phases[0].shape: 'fullscan' is not allowed (did you mean 'full_scan'?); allowed: full_scan, filtered "
        "or aggregation",
        "6: phases[1].rows: must be a whole number (got 'many')",
    ]


def test_every_unknown_key_of_a_data_column_is_reported_with_its_other_mistakes(tmp_path):
    text = """\
name: cols
phases:
  - {name: load, workload: insert, rows: 10, table: t}
data:
  t:
    columns:
      - {name: a, type: INT, nulable: false, genrator: {kind: sequence}, null_fraction: 2}
"""
    problems = problems_of(tmp_path, text)
    assert problems == [
        "7: data.t.columns[0].null_fraction: must be <= 1 (got 2)",
        "7: data.t.columns[0].nulable: unknown key 'nulable' (did you mean 'nullable'?); allowed: name, type, "
        "nullable, null_fraction, generator",
        "7: data.t.columns[0].genrator: unknown key 'genrator' (did you mean 'generator'?); allowed: name, type, "
        "nullable, null_fraction, generator",
    ]  # and not "data.t has columns without a generator": the misspelt key may be that generator


def test_a_refused_value_gives_no_message_about_its_consequences(tmp_path):
    # workers -1 is refused; the classes' exact count (2) must not be compared with a default of 1 worker
    text = """\
name: classes
workers: -1
phases:
  - name: users
    workload: mix
    duration_s: 1
    classes:
      - {name: a, workers: 2, operations: {select_limt: 1}}
"""
    problems = problems_of(tmp_path, text)
    assert problems == [
        "2: workers: must be >= 1 (got -1)",
        "8: phases[0].classes[0].operations.select_limt: unknown operation 'select_limt' (did you mean "
        "'select_limit'?); allowed: bulk_insert, single_insert, select_limit, aggregate, join, ddl, custom",
    ]


def test_a_misspelt_key_is_read_as_the_key_suggested_and_nothing_else(tmp_path):
    # 'iteration' is close to iterations and to duration_s: only iterations is taken as written (with a value not
    # known), so no "give either iterations or duration_s" follows from it
    text = "name: t\nphases:\n  - {name: scan, workload: query, iteration: 10}\n"
    assert problems_of(tmp_path, text) == [
        "3: phases[0].iteration: unknown key 'iteration' (did you mean 'iterations'?); allowed: name, description, "
        "timeout_s, cache, hot_runs, workload, shape, sql, method, iterations, sessions, duration_s, "
        "warmup_iterations, staging_dir, explain, table",
    ]


def test_a_missing_name_does_not_hide_the_other_mistakes(tmp_path):
    problems = problems_of(tmp_path, "phases:\n  - {name: users, workload: mix, operations: {joinn: 1}}\n")
    assert problems[0] == "1: name: required key is missing"
    assert problems[1].startswith("2: phases[0].operations.joinn: unknown operation 'joinn' (did you mean 'join'?)")


def test_misspelt_threshold_metrics_and_operations_get_a_suggestion(tmp_path):
    text = """\
name: t
phases:
  - {name: users, workload: mix, operations: {select_limit: 1, aggregate: 1}}
thresholds:
  users.p99ms: "< 100"
  users.agregate.p99_ms: "< 100"
  users.select_limit.p99: "< 100"
  user.ops_per_s: "> 1"
  users.rows_per_s: {bounds: [">= 10"], abort: true, delay: 5}
"""
    problems = problems_of(tmp_path, text)
    assert problems[0].startswith("5: thresholds.users.p99ms: 'users.p99ms': unknown metric (did you mean 'p99_ms'?)")
    assert problems[1].startswith(
        "6: thresholds.users.agregate.p99_ms: users has no operation 'agregate' (did you mean 'aggregate'?)"
    )
    assert problems[2].startswith("7: thresholds.users.select_limit.p99: 'users.select_limit.p99': unknown metric "
                                  "(did you mean 'p99_ms'?)")  # fmt: skip
    assert problems[3].startswith("8: thresholds.user.ops_per_s: no phase named 'user' (did you mean 'users'?)")
    assert problems[4].startswith("9: thresholds.users.rows_per_s: unknown key 'delay' (did you mean 'delay_s'?)")


def test_a_misspelt_operation_source_of_a_parameter_gets_a_suggestion(tmp_path):
    text = """\
name: t
phases:
  - name: users
    workload: mix
    operations: {find: 1, read: 1}
    sql_operations:
      find: {sql: "SELECT id FROM {table} LIMIT 1"}
      read: {sql: "SELECT * FROM {table} WHERE id = %s", params: [{from: fnd}]}
"""
    problems = problems_of(tmp_path, text)
    assert problems == [
        "8: phases[0].sql_operations.read: a parameter reads the result of 'fnd' (did you mean 'find'?), which is "
        "not one of sql_operations"
    ]


# ---- no message carries the validation library's words, for bad values of every field of every model ----------

EVERY_MODEL = """\
name: every
workers: 2
rows: 100
server: {hyperd: {version: 0.0.1}}
ray: {}
sampling: {}
timeouts: {}
output: {}
phases:
  - {name: a, workload: insert, source: {path: x.parquet}}
  - {name: b, workload: query}
  - name: c
    workload: mix
    classes: [{name: k, operations: {select_limit: 1}}]
    stages: [{duration_s: 1, sessions: 1}]
    sql_operations:
      one: {sql: "SELECT %s", params: [{type: INT, generator: {kind: sequence}}]}
      two: {transaction: [{sql: "SELECT %s", params: [{from: one}]}]}
  - {name: d, workload: tpch_generate, scale_factor: 1}
  - {name: e, workload: tpch_load}
  - {name: f, workload: tpch_query}
data:
  t:
    columns:
      - {name: c0, type: INT, generator: {kind: sequence}}
      - {name: c1, type: INT, generator: {kind: uniform, low: 1, high: 2}}
      - {name: c2, type: DOUBLE PRECISION, generator: {kind: normal, mean: 1, stddev: 1}}
      - {name: c3, type: DOUBLE PRECISION, generator: {kind: lognormal}}
      - {name: c4, type: INT, generator: {kind: zipf, n: 10}}
      - {name: c5, type: INT, generator: {kind: choice, values: [1, 2], weights: [1, 1]}}
      - {name: c6, type: BOOL, generator: {kind: bool}}
      - {name: c7, type: INT, generator: {kind: constant, value: 1}}
      - {name: c8, type: TEXT, generator: {kind: words}}
      - {name: c9, type: TEXT, generator: {kind: random}}
      - {name: c10, type: TEXT, generator: {kind: pattern, pattern: "A#"}}
"""
BAD_VALUES = ["x", "", -1, 0, 1.5, 1e30, True, None, [1, 2, 3], [], {"k": 1}, {"kind": "nope"}]
# pydantic's own words: its error kinds, its union branch labels, Python type names
LIBRARY_WORDS = re.compile(
    r"Input should|Field required|Value error|validation error|pydantic|union|tuple\[|list\[|dict\[|"
    r"constrained-|function-(before|after|wrap|plain)|\[key\]|<class|NoneType|typing\.|"
    r"\.(int|float|str|bool|list|dict|tuple|none)\b|"
    + "|".join(sorted(t for t in typing.get_args(pydantic_core.core_schema.ErrorType) if "_" in t))
)


def model_fields(model, data, loc=()):
    """(location, field annotation) of every field of every model in `data`, walked along the model's types."""
    model = unwrap(model)
    members = union_members(model)
    if members:
        tagged = [m for m in members if isinstance(data, dict) and tag_member((m,), data.get("kind")) is m]
        model = tagged[0] if tagged else model
    if isinstance(model, type) and issubclass(model, BaseModel) and isinstance(data, dict):
        if "workload" in model.model_fields and "workload" in data:
            model = tag_member(union_members(unwrap(scenario_model().model_fields["phases"].annotation.__args__[0])),
                               data["workload"])  # fmt: skip
        for name, field in model.model_fields.items():
            key = field.alias or name
            yield loc + (key,), field.annotation
            if key in data:
                yield from model_fields(field.annotation, data[key], loc + (key,))
        return
    origin, args = typing.get_origin(model), typing.get_args(model)
    if origin is list and isinstance(data, list):
        for i, item in enumerate(data):
            yield from model_fields(args[0], item, loc + (i,))
    elif origin is dict and isinstance(data, dict):
        for key, item in data.items():
            yield from model_fields(args[1], item, loc + (key,))


def with_value(data, loc, value):
    out = copy.deepcopy(data)
    target = out
    for part in loc[:-1]:
        target = target[part]
    target[loc[-1]] = value
    return out


def dotted_key(loc) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else "." + str(p) for p in loc).lstrip(".")


def test_no_message_carries_the_validation_library_words_for_bad_values_of_every_field():
    base = yaml.safe_load(EVERY_MODEL)
    fields = list(model_fields(scenario_model(), base))
    assert len(fields) > 120  # every model of a scenario, every generator kind
    source = Source("s.yaml", None)
    unreported = []
    for loc, _ in fields:
        named = False
        for bad in BAD_VALUES:
            try:
                scenario_model().model_validate(with_value(base, loc, bad))
                continue
            except ValidationError as exc:
                messages = format_errors(exc.errors(), source)
            for message in messages:
                assert not LIBRARY_WORDS.search(message), (loc, bad, message)
                named = named or f" {dotted_key(loc)}:" in message
        if not named:
            unreported.append(dotted_key(loc))
    # every field refuses some bad value with a message that names it (a generator's kind: the message names the
    # generator, with the kinds allowed)
    assert [key for key in unreported if not key.endswith("generator.kind")] == [], unreported


def test_the_union_of_a_number_and_a_range_is_said_in_words(tmp_path):
    text = "name: t\nphases:\n  - {name: u, workload: mix, think_ms: [1, 2, 3], bulk_rows: 5}\n"
    assert problems_of(tmp_path, text) == [
        "3: phases[0].think_ms: must be a number or [min, max] (got [1, 2, 3])",
        "3: phases[0].bulk_rows: must be [min, max] (got 5)",
    ]


def test_a_value_of_the_right_type_breaking_one_branch_s_bound_gets_that_bound(tmp_path):
    text = "name: t\nphases:\n  - {name: a, workload: insert, source: {path: ''}}\n"
    assert problems_of(tmp_path, text) == ["3: phases[0].source.path: must not be empty (got '')"]


def test_a_set_that_cannot_apply_and_a_bad_set_value_are_reported_together(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\nworkers: 2\nphases:\n  - {name: scan, workload: query, shape: full_scan, iterations: 2}\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, ["scna.iterations=3", "workers=two"])
    problems = caught.value.problems
    assert any("--set scna.iterations=3" in p and "did you mean scan?" in p for p in problems), problems
    assert any("--set workers=two" in p and "must be a whole number" in p for p in problems), problems


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("name: t\nphases:\n  - name: a\n    workload: insert\n      method: arrow\n", 5, "indented deeper"),
        ("name: t\nphases:\n\t- name: a\n", 3, "YAML indents with spaces only"),
        ("name: t\nphases:\n  - name: a\n   workload: insert\n", 4, "line up the keys of one mapping"),
    ],
)
def test_a_yaml_syntax_error_is_said_in_plain_words_at_its_line(tmp_path, text, line, words):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:{line}: YAML syntax error: ") and words in problem, problem
