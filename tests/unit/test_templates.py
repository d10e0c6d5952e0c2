"""Templates (table names with {worker}, SQL with {table} and {KEY}) are formatted at validation, with the values
they will get: an unknown placeholder, a format spec that does not format, a width that would build a huge string
and a name longer than a table name may be are reported with FILE:LINE and the key, before anything starts."""

import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loadgen.errors import ScenarioError
from loadgen.scenario import load_scenario

HEAD = "name: t\nworkers: 3\nrows: 30\n"
ORDERS = "data:\n  orders:\n    name: {name}\n    columns: [{{name: id, type: INT, generator: {{kind: sequence}}}}]\n"


def problems(tmp_path, text) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert time.monotonic() - started < 10  # nothing huge was built on the way
    return [p.replace(f"{path}:", "LINE ") for p in info.value.problems]


@pytest.fixture
def parquet(tmp_path):
    pq.write_table(pa.table({"id": pa.array([1, 2, 3], pa.int64())}), tmp_path / "a.parquet")
    return tmp_path / "a.parquet"


def test_an_unknown_placeholder_in_a_source_table_is_refused(tmp_path, parquet):
    text = HEAD + f"phases:\n  - {{name: load, workload: insert, source: {{path: '{parquet}', table: 'x_{{nope}}'}}}}\n"
    assert problems(tmp_path, text) == [
        "LINE 5: phases[0].source.table: unknown placeholder {nope} (allowed: {worker}) (got 'x_{nope}')"
    ]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('table: "t_{worker:>300000000}"\nphases:\n  - {name: load, workload: insert}\n', "table"),
        (ORDERS.format(name='"o_{worker:>300000000}"') + "phases:\n  - {name: load, workload: insert, table: orders}\n",
         "data.orders.name"),
        ("phases:\n  - {name: scan, workload: query, sql: 'SELECT * FROM {table:>999999999}'}\n", "phases[0].sql"),
    ],
)  # fmt: skip
def test_a_huge_width_is_refused_before_anything_is_built(tmp_path, text, key):
    (problem,) = problems(tmp_path, HEAD + text)
    assert f": {key}: " in problem and "characters wide; at most 120" in problem, problem


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('table: "t_{worker:s}"\nphases:\n  - {name: load, workload: insert}\n', "table",
         "{worker:s} cannot be formatted: Unknown format code 's' for object of type 'int'"),
        ('table: "t_{worker!z}"\nphases:\n  - {name: load, workload: insert}\n', "table",
         "{worker!z} cannot be formatted: Unknown conversion specifier z"),
        ("phases:\n  - {name: scan, workload: query, sql: 'SELECT * FROM {table:d}'}\n", "phases[0].sql",
         "{table:d} cannot be formatted: Unknown format code 'd' for object of type 'str'"),
        ("phases:\n  - {name: mix, workload: mix, iterations: 1, operations: {q: 1},"
         " sql_operations: {q: {sql: 'SELECT 1 FROM {table:{worker}}'}}}\n", "phases[0].sql_operations.q",
         "{table:{worker}}: a placeholder inside a format spec is not allowed"),
    ],
)  # fmt: skip
def test_a_format_spec_that_does_not_format_is_refused(tmp_path, text, key, message):
    (problem,) = problems(tmp_path, HEAD + text)
    assert f": {key}: " in problem and message in problem, problem


def test_a_name_longer_than_a_table_name_may_be_is_refused(tmp_path, parquet):
    text = (
        HEAD
        + ORDERS.format(name='"' + "n" * 100 + '_{worker:0>20}"')  # 121 characters
        + 'table: "'
        + "m" * 100
        + '{worker:_<20}"\n'  # 120: fits
        + f"phases:\n  - {{name: load, workload: insert, source: {{path: '{parquet}', table: '{'s' * 100}_"
        + "{worker:x>20}'}}\n"
    )
    found = problems(tmp_path, text)
    assert [p.split(": ")[:2] for p in found] == [["LINE 6", "data.orders.name"], ["LINE 10", "phases[0].source.table"]]
    assert found[0].endswith(f"worker 0's table would be named {'n' * 60}…, 121 characters; at most 120"), found
    assert found[1].endswith(f"worker 0's table would be named {'s' * 60}…, 121 characters; at most 120"), found


def test_a_worker_placeholder_with_a_format_spec_names_one_table_per_worker(tmp_path, parquet):
    from loadgen.tables import TableDefinition

    text = (
        "name: t\nworkers: 2\nrows: 20\ntable: 'm_{worker:02d}'\n"
        + ORDERS.format(name="'o_{worker:03d}'")
        + f"phases:\n  - {{name: load, workload: insert, source: {{path: '{parquet}', table: 'f_{{worker:x>4}}'}}}}\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    scenario = load_scenario(path)
    assert [scenario.table_name(w) for w in (0, 1)] == ["m_00", "m_01"]
    assert not scenario.data["orders"].shared("orders")
    assert TableDefinition.model_validate({"name": "shared", "columns": [{"name": "i", "type": "INT"}]}).shared("k")
    assert not scenario.phases[0].shared
