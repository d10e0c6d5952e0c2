"""Table definitions: SQL types, their Arrow types, and the checks done at validation."""

import pyarrow as pa
import pytest
from pydantic import ValidationError

from loadgen.datagen.arrow import arrow_type
from loadgen.datagen.definitions import TableDefinition
from loadgen.datagen.sqltypes import parse_sql_type, to_domain


@pytest.mark.parametrize(
    ("text", "sql", "arrow"),
    [
        ("smallint", "SMALLINT", pa.int16()),
        ("integer", "INT", pa.int32()),
        ("BIGINT", "BIGINT", pa.int64()),
        ("double  precision", "DOUBLE PRECISION", pa.float64()),
        ("numeric(18, 4)", "NUMERIC(18,4)", pa.decimal128(18, 4)),
        ("boolean", "BOOL", pa.bool_()),
        ("text", "TEXT", pa.string()),
        ("varchar(20)", "VARCHAR(20)", pa.string()),
        ("char(3)", "CHAR(3)", pa.string()),
        ("date", "DATE", pa.date32()),
        ("timestamp", "TIMESTAMP", pa.timestamp("us")),
        ("timestamp with time zone", "TIMESTAMPTZ", pa.timestamp("us", tz="UTC")),
        ("interval", "INTERVAL", pa.month_day_nano_interval()),
    ],
)
def test_types(text, sql, arrow):
    parsed = parse_sql_type(text)
    assert parsed.sql == sql and arrow_type(parsed) == arrow


@pytest.mark.parametrize("text", ["MONEY", "INTERVAL DAY", "NUMERIC(40,2)", "NUMERIC(4,6)", "VARCHAR(0)", "INT(3)"])
def test_refused_types(text):
    with pytest.raises(ValueError):
        parse_sql_type(text)


def test_domain_values():
    assert to_domain("1970-01-02", parse_sql_type("DATE")) == 1
    assert to_domain("1970-01-01 00:00:01.5", parse_sql_type("TIMESTAMP")) == 1_500_000
    assert to_domain("1970-01-01T01:00:00+01:00", parse_sql_type("TIMESTAMPTZ")) == 0
    assert to_domain(12.345, parse_sql_type("NUMERIC(6,2)")) == 1234  # half to even, as Decimal rounds
    with pytest.raises(ValueError, match="does not fit SMALLINT"):
        to_domain(40_000, parse_sql_type("SMALLINT"))
    with pytest.raises(ValueError, match="does not fit NUMERIC"):
        to_domain(12345.6, parse_sql_type("NUMERIC(6,2)"))


def definition(**column):
    return TableDefinition.model_validate({"columns": [{"name": "c", **column}]})


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"type": "INT", "generator": {"kind": "words"}}, "generator words does not fit INT"),
        ({"type": "TEXT", "generator": {"kind": "uniform", "low": 1, "high": 2}}, "generator uniform does not fit"),
        ({"type": "INT", "generator": {"kind": "sequence", "step": 0}}, "step must not be 0"),
        ({"type": "INT", "generator": {"kind": "uniform", "low": 1, "high": 2**40}}, "does not fit INT"),
        ({"type": "VARCHAR(3)", "generator": {"kind": "choice", "values": ["abcd"]}}, "longer than VARCHAR"),
        ({"type": "TEXT", "generator": {"kind": "choice", "values": [1]}}, "is not text"),
        ({"type": "DATE", "generator": {"kind": "constant", "value": "yesterday"}}, "is not a DATE"),
        ({"type": "INT", "generator": {"kind": "sequence", "stepp": 2}}, "stepp"),  # its message: scenario layer
        ({"type": "INT", "generator": {"start": 2}}, "generator needs a kind"),
        ({"type": "INT", "nullable": False, "null_fraction": 0.5, "generator": {"kind": "sequence"}}, "NOT NULL"),
        (
            {"type": "INTERVAL", "generator": {"kind": "uniform", "low": "1 month", "high": "2 months"}},
            "not months or years",
        ),
        ({"type": "INTERVAL", "generator": {"kind": "uniform", "low": "2 h", "high": "1 h"}}, "low '2 h' > high"),
        ({"type": "INTERVAL", "generator": {"kind": "words"}}, "does not fit INTERVAL"),
        ({"type": "INTERVAL", "generator": {"kind": "constant", "value": "101 years"}}, "not an INTERVAL"),
        ({"type": "INTERVAL", "generator": {"kind": "constant", "value": 200 * 366 * 86400}}, "longer than 100"),
    ],
)
def test_refused_columns(column, message):
    with pytest.raises(ValidationError, match=message):
        definition(**column)


def test_a_misspelt_generator_key_gets_a_suggestion_in_the_scenario(tmp_path):
    from loadgen.errors import ScenarioError
    from loadgen.scenario.load import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\nphases: [{name: load, workload: insert, rows: 10, table: t}]\n"
        "data: {t: {columns: [{name: c, type: INT, generator: {kind: sequence, stepp: 2}}]}}\n"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.problems == [
        f"{path}:3: data.t.columns[0].generator.stepp: unknown key 'stepp' (did you mean 'step'?); allowed: kind, "
        "start, step"
    ]


def test_names_and_sharing():
    per_worker = definition(type="INT", generator={"kind": "sequence"})
    assert per_worker.table_name("orders", 3) == "orders_3" and not per_worker.shared("orders")
    shared = TableDefinition.model_validate({"name": "all_orders", "columns": per_worker.model_dump()["columns"]})
    assert shared.table_name("orders", 3) == "all_orders" and shared.shared("orders")
    assert per_worker.create_sql('"t"') == 'CREATE TABLE "t" ("c" INT)'
    with pytest.raises(ValidationError, match="duplicate column"):
        TableDefinition.model_validate({"columns": [per_worker.model_dump()["columns"][0]] * 2})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90), (1.5, 1.5), ("90 minutes", 5400), ("1 day 02:30:00", 95_400), ("1.5 h", 5400), ("250 ms", 0.25),
     ("-00:30", -1800), ("2 hours 30 min", 9000), ("00:00:01.25", 1.25), ("1 week", 604_800), ("7 us", 7e-6),
     ("90", 90), ("1 day -01:00", 82_800), ("25:30", 91_800)],
)  # fmt: skip
def test_interval_values(text, seconds):
    sql = parse_sql_type("INTERVAL")
    assert to_domain(text, sql) == round(seconds * 1_000_000)


@pytest.mark.parametrize(
    "text", ["", "3 months", "1 year", "soon", "1 day x", "1:2", "10 parsecs", "25:99", "1 ds", True, float("inf")]
)
def test_refused_interval_values(text):
    with pytest.raises(ValueError, match="is not an? INTERVAL"):
        to_domain(text, parse_sql_type("INTERVAL"))
