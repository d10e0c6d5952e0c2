"""The suites as the shared workloads see them, without a server: how each shares out its generation, which
cache files a unit makes, stream orders, query labels, and the options each suite refuses."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from loadgen.workloads.ssb.config import SsbQueryPhase
from loadgen.workloads.ssb.suite import SSB
from loadgen.workloads.suites import layout
from loadgen.workloads.tpcds import schema as tpcds_schema
from loadgen.workloads.tpcds.config import TpcdsQueryPhase
from loadgen.workloads.tpcds.suite import TPCDS
from loadgen.workloads.tpch.suite import TPCH


def test_tpcds_generation_gives_each_worker_whole_tables_with_sales_and_returns_together():
    units = TPCDS.units(1)
    assert "store_returns" not in units and "store_sales" in units and len(units) == 21
    shares = [TPCDS.share(units, w, 2) for w in range(2)]
    assert sorted(shares[0] + shares[1]) == sorted(units) and not set(shares[0]) & set(shares[1])
    weights = [sum(TPCDS.weight(u) for u in share) for share in shares]
    assert max(weights) / min(weights) < 1.5  # by size, not by count: neither worker gets most of the work
    assert {"store_sales", "inventory"} & set(shares[0]) and {"store_sales", "inventory"} & set(shares[1])
    (command, made), *rest = TPCDS.commands("tpcgen-cli", 1.0, 1, ["store_sales", "item"], Path("/x"), 1)
    tables = command[command.index("--tables") + 1].split(",")
    assert not rest and made == ["store_sales", "item"] and sorted(tables) == ["item", "store_returns", "store_sales"]
    assert TPCDS.unit_of("store_returns/store_returns.1.parquet") == "store_sales"
    assert TPCDS.spec_rows("reason", 1) == 75 and TPCDS.spec_rows("reason", 0.01) is None


def test_tpch_generation_is_by_parts_one_command_per_part():
    assert TPCH.units(3) == ["1", "2", "3"] and TPCH.unit_of("lineitem/lineitem.3.parquet") == "3"
    commands = TPCH.commands("tpchgen-cli", 0.5, 3, ["1", "3"], Path("/x"), 1)
    assert [made for _cmd, made in commands] == [["1"], ["3"]]
    assert TPCH.expected_paths("nation", 3) == ["nation/nation.1.parquet"]


def test_each_suite_has_its_own_cache_folder_but_ssb_shares_tpchs():
    assert layout.default_data_dir(TPCDS).name == "tpcds" and layout.default_data_dir(TPCH).name == "tpch"
    assert layout.default_data_dir(SSB) == layout.default_data_dir(TPCH) and SSB.marker == TPCH.marker
    assert layout.cache_dir(TPCDS, Path("/d"), 1.0, "4.0.0") == Path("/d/sf1-tpcgen-4.0.0")


def test_streams_orders_and_labels():
    assert TPCDS.stream_order(0, list(range(1, 100))) == list(range(1, 100))
    one, two = TPCDS.stream_order(1, list(range(1, 100))), TPCDS.stream_order(2, list(range(1, 100)))
    assert sorted(one) == list(range(1, 100)) and one != two and one == TPCDS.stream_order(1, list(range(1, 100)))
    assert TPCH.stream_order(0, [3, 1, 2]) == [1, 2, 3] and TPCH.stream_order(2, [1, 6, 14]) == [6, 14, 1]
    assert [SSB.query_label(q) for q in (1, 13)] == ["q1.1", "q4.3"] and TPCDS.query_label(7) == "q07"


def test_tpcds_hyper_and_duckdb_run_the_same_qualification_text():
    hyper, duck = TPCDS.texts(14, 0, 1, 1.0, False)
    assert hyper == duck and "d_year BETWEEN 1999 AND 1999 + 2" in hyper
    assert len(tpcds_schema.TABLES) == len(TPCDS.tables) == 24


@pytest.mark.parametrize(
    "model, options, message",
    [
        (TpcdsQueryPhase, {"queries": [0]}, "unknown TPC-DS query number(s) [0]; allowed: 1..99"),
        (SsbQueryPhase, {"queries": [14]}, "unknown SSB query number(s) [14]; allowed: 1..13"),
        (TpcdsQueryPhase, {"overrides": {100: "select 1"}}, "allowed: 1..99"),
    ],
)
def test_query_numbers_outside_the_suite_are_refused(model, options, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        model(name="q", workload=model.suite.workloads[2], **options)
