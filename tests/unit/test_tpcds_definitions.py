"""TPC-DS definitions without a server: the schema's types, NOT NULL columns and keys, the query texts kept
byte for byte as SOURCE lists them, and the comparison's tolerance for q78's half-way rounding."""

import decimal
import hashlib

import pytest

from loadgen.workloads.tpcds import compare, queries, schema


def test_the_schema_has_the_24_tables_and_425_columns_of_the_specification():
    assert len(schema.TABLES) == 24
    assert sum(len(columns) for columns in schema.TABLES.values()) == 425
    assert set(schema.TABLES) == set(schema.NOT_NULL) == set(schema.PRIMARY_KEYS) == set(schema.ROWS_SF1)


def test_every_key_column_is_a_not_null_column_of_its_table():
    # Hyper accepts an ASSUMED PRIMARY KEY only on NOT NULL columns
    for table, keys in schema.PRIMARY_KEYS.items():
        names = [name for name, _ in schema.TABLES[table]]
        assert set(keys) <= set(schema.NOT_NULL[table]) <= set(names), table


def test_create_sql_maps_the_specification_types_to_hyper_types():
    sql = schema.create_sql("store_returns")
    assert "sr_item_sk INT NOT NULL" in sql
    assert "sr_ticket_number BIGINT NOT NULL" in sql  # 64-bit: tpcgen-cli writes int64
    assert "sr_return_amt NUMERIC(7,2)," in sql
    assert "sr_returned_date_sk INT," in sql
    assert sql.endswith("ASSUMED PRIMARY KEY (sr_item_sk, sr_ticket_number))")
    assert "cc_call_center_id TEXT NOT NULL" in schema.create_sql("call_center")
    assert "d_date DATE" in schema.create_sql("date_dim", assumed_keys=False)
    assert "ASSUMED" not in schema.create_sql("date_dim", assumed_keys=False)
    assert "p_cost NUMERIC(15,2)" in schema.create_sql("promotion")


def test_an_unknown_specification_type_is_refused():
    with pytest.raises(ValueError, match="no Hyper type for 'FLOAT'"):
        schema.hyper_type("FLOAT")


def test_the_99_query_texts_are_the_ones_source_lists():
    listed = {}
    for line in (queries.FOLDER / "SOURCE").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].endswith(".sql") and len(parts[0]) == 64:
            listed[parts[1]] = parts[0]
    assert sorted(listed) == [f"q{n:02d}.sql" for n in queries.QUERY_NUMBERS]
    for name, digest in listed.items():
        assert hashlib.sha256((queries.FOLDER / name).read_bytes()).hexdigest() == digest, name


def test_hyper_runs_the_standard_text_where_no_variant_exists():
    assert not queries.has_hyper_variant(1)
    assert queries.hyper_text(1) == queries.standard_text(1)
    assert "customer_total_return" in queries.standard_text(1)


COLUMNS = ["ss_item_sk", "ratio", "store_qty"]


def test_q78_ratio_may_differ_by_one_half_way_rounding_step():
    got = [(6133, decimal.Decimal("0.580000000000000000"), 23)]
    want = [(6133, 0.57, 23)]
    assert compare.difference(78, COLUMNS, got, COLUMNS, want) == ("", True)


@pytest.mark.parametrize(
    "number, got, want",
    [
        (77, (6133, decimal.Decimal("0.58"), 23), (6133, 0.57, 23)),  # no tolerance outside q78
        (78, (6133, decimal.Decimal("0.59"), 23), (6133, 0.57, 23)),  # more than one step
        (78, (6133, decimal.Decimal("0.58"), 24), (6133, 0.57, 23)),  # another column differs too
    ],
)
def test_other_differences_are_still_differences(number, got, want):
    note, tolerated = compare.difference(number, COLUMNS, [got], COLUMNS, [want])
    assert note and not tolerated
