"""TPC-H refresh sets without a server: dbgen's sparse keys for RF1 and RF2, and the value rules of the
specification (clause 4.2.3) in the generated rows."""

import datetime as dt
import decimal

import numpy as np
import pyarrow as pa
import pytest

from loadgen.workloads.tpch import refresh
from loadgen.workloads.tpch.schema import TABLES

SF = 0.01
BASE_ORDERS = int(1_500_000 * SF)
ARROW = {"BIGINT": pa.int64(), "INT": pa.int32(), "NUMERIC(15,2)": pa.decimal128(15, 2), "DATE": pa.date32(),
         "TEXT": pa.string()}  # fmt: skip


def schema(table: str) -> pa.Schema:
    return pa.schema([pa.field(name, ARROW[kind], nullable=False) for name, kind in TABLES[table]])


def generated(set_number: int = 1, sf: float = SF):
    comments = (pa.chunked_array([["an order comment", "another"]]), pa.chunked_array([["a line comment"]]))
    return refresh.generate(sf, set_number, comments, (schema("orders"), schema("lineitem")))


def test_sparse_keys_use_8_of_every_32_keys_as_dbgen_does():
    assert refresh.sparse_key(np.arange(1, 10), 0).tolist() == [1, 2, 3, 4, 5, 6, 7, 32, 33]
    assert refresh.sparse_key(np.arange(1, 10), 1).tolist() == [9, 10, 11, 12, 13, 14, 15, 40, 41]


def test_rf1_keys_are_new_and_rf2_keys_are_the_oldest_base_orders():
    base = set(refresh.sparse_key(np.arange(1, BASE_ORDERS + 1), 0).tolist())
    seen = set()
    for u in (1, 2, 3):
        inserted, deleted = set(refresh.insert_keys(SF, u).tolist()), refresh.delete_keys(SF, u).tolist()
        assert len(inserted) == len(deleted) == 15  # SF × 1,500
        assert not inserted & base and not inserted & seen
        assert set(deleted) <= base
        assert deleted == sorted(base)[(u - 1) * 15 : u * 15]
        seen |= inserted


def test_set_1000_moves_to_the_next_key_slot():
    assert refresh.insert_keys(SF, 999)[0] & 24 == 8  # slot 1: keys 8–15 of each 32
    assert refresh.insert_keys(SF, 1000)[0] & 24 == 16
    assert refresh.delete_keys(SF, 1000)[0] & 24 == 8  # by then set 1's inserts are the old orders


@pytest.mark.parametrize("set_number", [0, 3000])
def test_set_numbers_outside_the_sparse_key_space_are_refused(set_number):
    with pytest.raises(ValueError, match=r"refresh set numbers are 1 … 2999"):
        refresh.insert_keys(SF, set_number)
    assert refresh.insert_keys(SF, 2999)[0] & 24 == 24  # the last slot: keys 24–31 of each 32


def test_generated_rows_follow_the_value_rules_of_the_specification():
    orders, lineitem, delete = generated()
    assert orders.num_rows == delete.num_rows == 15
    assert orders.schema == schema("orders") and lineitem.schema == schema("lineitem")
    o = {name: orders[name].to_pylist() for name in orders.column_names}
    li = {name: lineitem[name].to_pylist() for name in lineitem.column_names}
    assert o["o_orderkey"] == refresh.insert_keys(SF, 1).tolist()
    assert all(1 <= c <= 1_500 and c % 3 for c in o["o_custkey"])
    assert all(dt.date(1992, 1, 1) <= d <= dt.date(1998, 8, 2) for d in o["o_orderdate"])
    assert all(c.startswith("Clerk#") and len(c) == 15 for c in o["o_clerk"])
    suppliers = 100
    by_order: dict[int, list[int]] = {}
    for row in range(lineitem.num_rows):
        key, part, supp = li["l_orderkey"][row], li["l_partkey"][row], li["l_suppkey"][row]
        by_order.setdefault(key, []).append(row)
        # one of the part's four PARTSUPP rows: (P + i × (S/4 + (P − 1)/S)) mod S + 1, integer division
        assert supp in [(part + i * (suppliers // 4 + (part - 1) // suppliers)) % suppliers + 1 for i in range(4)]
        retail = decimal.Decimal(90_000 + (part // 10) % 20_001 + 100 * (part % 1_000)) / 100
        assert li["l_extendedprice"][row] == li["l_quantity"][row] * retail
        order_date = o["o_orderdate"][o["o_orderkey"].index(key)]
        assert 1 <= (li["l_shipdate"][row] - order_date).days <= 121
        assert 30 <= (li["l_commitdate"][row] - order_date).days <= 90
        assert 1 <= (li["l_receiptdate"][row] - li["l_shipdate"][row]).days <= 30
        late = li["l_receiptdate"][row] > dt.date(1995, 6, 17)
        assert (li["l_returnflag"][row] == "N") == late and li["l_returnflag"][row] in "RAN"
        assert li["l_linestatus"][row] == ("O" if li["l_shipdate"][row] > dt.date(1995, 6, 17) else "F")
        assert decimal.Decimal("0") <= li["l_discount"][row] <= decimal.Decimal("0.10")
        assert decimal.Decimal("0") <= li["l_tax"][row] <= decimal.Decimal("0.08")
    assert sorted(by_order) == sorted(o["o_orderkey"])
    for i, key in enumerate(o["o_orderkey"]):
        rows = by_order[key]
        assert 1 <= len(rows) <= 7 and [li["l_linenumber"][r] for r in rows] == list(range(1, len(rows) + 1))
        cents = 0  # dbgen: integer cents, truncated at each step
        for r in rows:
            price = int(li["l_extendedprice"][r] * 100)
            disc, tax = int(li["l_discount"][r] * 100), int(li["l_tax"][r] * 100)
            cents += (price * (100 - disc) // 100) * (100 + tax) // 100
        assert o["o_totalprice"][i] == decimal.Decimal(cents) / 100
        statuses = {li["l_linestatus"][r] for r in rows}
        assert o["o_orderstatus"][i] == (statuses.pop() if len(statuses) == 1 else "P")


def test_a_set_is_the_same_every_time_and_sets_differ():
    first, again, second = generated(1), generated(1), generated(2)
    assert all(a.equals(b) for a, b in zip(first, again, strict=True))
    assert not first[0].equals(second[0])


def test_a_scale_factor_without_refresh_rows_is_refused():
    with pytest.raises(ValueError, match="no refresh rows"):
        generated(sf=0.0005)
