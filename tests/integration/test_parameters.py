"""Bound parameters of sql_operations against a real hyperd: every SQL type a generated parameter can have arrives
with the value that was drawn (the value bound equals the same value written as a typed literal on the server),
and a mix phase compares NUMERIC parameters with literals without rounding or overflow."""

import csv
import datetime as dt
import decimal
import tempfile

import pytest
import yaml
from tableauhyperapi import HyperProcess, Telemetry

from loadgen import server
from loadgen.operations import Binder, Param, SqlOperation
from tests.conftest import only_run_dir, write_scenario

TYPES = [
    ("SMALLINT", {"kind": "uniform", "low": -30000, "high": 30000}),
    ("INT", {"kind": "zipf", "n": 100000, "s": 1.1}),
    ("BIGINT", {"kind": "sequence", "start": 9000000000000, "step": 7}),
    ("DOUBLE PRECISION", {"kind": "normal", "mean": 0, "stddev": 1000}),
    ("NUMERIC(12,2)", {"kind": "lognormal", "mean": 3, "sigma": 2, "low": 0.5, "high": 9999999}),
    ("NUMERIC(18,6)", {"kind": "uniform", "low": -999999, "high": 999999}),
    ("NUMERIC(4,0)", {"kind": "choice", "values": [1, 9, 10, 9999]}),
    ("BOOL", {"kind": "bool", "p": 0.5}),
    ("TEXT", {"kind": "choice", "values": ["plain", "it's", "%s", "ünïcode", ""]}),
    ("VARCHAR(9)", {"kind": "pattern", "pattern": "AB-###-??"}),
    ("CHAR(3)", {"kind": "choice", "values": ["x", "yz", "abc"]}),
    ("DATE", {"kind": "uniform", "low": "1900-01-01", "high": "2100-12-31"}),
    ("TIMESTAMP", {"kind": "sequence", "start": "2024-01-01 00:00:00", "step": 1.000001}),
    ("TIMESTAMPTZ", {"kind": "uniform", "low": "2024-01-01T00:00:00Z", "high": "2024-02-01T00:00:00Z"}),
    ("INTERVAL", {"kind": "uniform", "low": "1 second", "high": "400 days"}),
]
DRAWS = 40


@pytest.fixture(scope="module")
def pg():
    with tempfile.TemporaryDirectory() as folder:
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": folder}) as hyper:
            connection = server.pg_connect(hyper.endpoint.connection_descriptor, None)
            yield connection
            connection.close()


def literal(value) -> str:
    """The value written as SQL text, independently of how psycopg binds it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"
    return str(value) if not isinstance(value, float) else repr(value)


@pytest.mark.parametrize(("sql_type", "generator"), TYPES, ids=[t for t, _ in TYPES])
def test_a_generated_parameter_arrives_as_the_value_drawn(pg, sql_type, generator):
    param = Param(type=sql_type, generator=generator)
    operation = SqlOperation(sql="SELECT %s IS NOT DISTINCT FROM {expected}", params=[param])
    (statement,) = operation.statements()
    binder = Binder({"op": operation}, seed=11, stream=0, streams=1)
    sql = statement.server_sql()
    drawn = [binder.values("op", 0, statement) for _ in range(DRAWS)]
    with pg.cursor() as cursor:
        for (value,) in drawn:
            text = literal(value).replace("'", "''").replace("%", "%%")  # %% : psycopg's literal percent sign
            typed = "NULL" if value is None else f"CAST('{text}' AS {sql_type})"
            cursor.execute(sql.format(expected=typed), (value,))
            assert cursor.fetchone() == (True,), f"{value!r} bound as {sql_type} is not {typed} on the server"


def test_numeric_parameters_compare_with_literals_in_a_mix_phase(cli, tmp_path):
    """The comparisons of `SELECT CASE WHEN %s = 1.5 …` divide by zero unless the value arrives exactly."""
    numeric = "NUMERIC(12,2)"
    text = yaml.safe_dump({
        "name": "numeric_params", "workers": 1,
        "phases": [{
            "name": "compare", "workload": "mix", "iterations": 60, "preload_rows": 0,
            "operations": {"half": 1, "cents": 1},
            "sql_operations": {
                "half": {"sql": "SELECT CASE WHEN %s = 1.5 THEN 1 ELSE 1/0 END",
                         "params": [{"type": numeric, "generator": {"kind": "constant", "value": 1.5}}]},
                "cents": {"sql": "SELECT CASE WHEN %s IN (9.99, 12.25, 99999.99) THEN 1 ELSE 1/0 END", "prepare": True,
                          "params": [{"type": numeric,
                                      "generator": {"kind": "choice", "values": [9.99, 12.25, 99999.99]}}]},
            },
        }],
    }, sort_keys=False)  # fmt: skip
    res = cli("run", write_scenario(tmp_path / "n.yaml", text), "--results-dir", tmp_path / "r", "--quiet")
    with open(only_run_dir(tmp_path / "r") / "latency.csv", newline="") as handle:
        rows = {r["operation"]: r for r in csv.DictReader(handle)}
    assert int(rows["half"]["count"]) + int(rows["cents"]["count"]) == 60, rows
    assert rows["half"]["errors"] == rows["cents"]["errors"] == "0", rows
    assert res.code == 0, res.stderr


def test_a_numeric_value_from_an_earlier_result_arrives_exactly(pg):
    """A `from:` parameter passes on a NUMERIC result value (a Decimal) with the type the statement gives it."""
    source = SqlOperation(sql="SELECT CAST(12.25 AS NUMERIC(12,2))")
    use = SqlOperation(
        sql="SELECT %s = CAST('12.25' AS NUMERIC(12,2)), CAST(%s AS NUMERIC(12,2))",
        params=[Param.model_validate({"from": "source"}), Param.model_validate({"from": "source"})],
    )
    binder = Binder({"source": source, "use": use}, seed=1, stream=0, streams=1)
    binder.pick = lambda n: 0
    with pg.cursor() as cursor:
        cursor.execute(source.sql)
        binder.saw("source", cursor.fetchall())
        (statement,) = use.statements()
        cursor.execute(statement.server_sql(), binder.values("use", 0, statement))
        assert cursor.fetchone() == (True, decimal.Decimal("12.25"))
