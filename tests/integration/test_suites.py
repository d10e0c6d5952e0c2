"""TPC-DS, SSB and the TPC-H refresh sets end to end at SF 0.01, with a real hyperd, real generators
(tpcgen-cli, tpchgen-cli) and a real DuckDB, through the comparison scripts in benchmarks/: the 24 TPC-DS tables
load with the schema's types and a sample of the queries matches DuckDB; SSB's tables built in Hyper and in DuckDB
agree and its 13 queries match; RF1/RF2 keep the tables consistent.
"""

import csv
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks import ssb_compare, tpcds_compare, tpch_refresh
from benchmarks.suites_common import venv_tool
from loadgen.workloads.ssb import build
from loadgen.workloads.tpcds import data, schema
from loadgen.workloads.tpch import refresh
from tests.conftest import ROOT

SF = 0.01
# window functions, ROLLUP and GROUPING, INTERSECT / EXCEPT, the UNION ALL variant, CTEs, q78's ratio
TPCDS_SAMPLE = "2,5,14,23,27,36,38,64,70,78,87"


@pytest.fixture(scope="module")
def tpcds_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tpcds") / "sf0.01"
    command = [venv_tool("tpcgen-cli"), "tpcds", "parquet", "-s", "0.01", "-o", str(folder), "--no-progress", "-q"]
    subprocess.run(command, check=True, timeout=300)
    return folder


@pytest.fixture(scope="module")
def tpch_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tpch") / "sf0.01"
    command = [venv_tool("tpchgen-cli"), "parquet", "-s", "0.01", "--output-dir", str(folder)]
    subprocess.run(command, check=True, timeout=300, capture_output=True)
    return folder


def test_tpcds_files_have_the_columns_and_nullability_of_the_schema(tpcds_data):
    for table in schema.TABLES:
        (path,) = data.table_files(tpcds_data, table)
        found = pq.read_schema(path)
        found = pa.schema([f.with_type(pa.string()) if pa.types.is_string_view(f.type) else f for f in found])
        assert found.remove_metadata() == schema.arrow_schema(table), table


def test_tpcds_loads_and_a_sample_of_queries_matches_duckdb(tpcds_data, tmp_path, capsys):
    table = tmp_path / "tpcds.csv"
    code = tpcds_compare.main(
        ["--data", str(tpcds_data), "--sf", "0.01", "--queries", TPCDS_SAMPLE, "--runs", "1", "--csv", str(table)]
    )
    rows = list(csv.DictReader(table.open()))
    assert [int(r["query"]) for r in rows] == [int(q) for q in TPCDS_SAMPLE.split(",")]
    assert all(r["runs_on_hyper"] == "yes" and r["matches"] == "yes" for r in rows), rows
    assert code == 0
    assert "every count as expected" in capsys.readouterr().out


def test_ssb_built_in_hyper_and_duckdb_agrees_and_its_13_queries_match(tpch_data, capsys):
    assert ssb_compare.main(["--tpch-data", str(tpch_data), "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("| yes |") == 5 + 13, out  # five tables, thirteen queries
    assert "| lineorder | 60,175 |" in out


def test_refresh_keys_continue_tpchgens_and_rf1_rf2_keep_the_tables_consistent(tpch_data, capsys):
    base = pq.read_table(tpch_data / "orders.parquet", columns=["o_orderkey"])["o_orderkey"].to_numpy()
    assert np.array_equal(base, refresh.sparse_key(np.arange(1, len(base) + 1), 0))
    assert tpch_refresh.main(["--tpch-data", str(tpch_data), "--sf", "0.01", "--sets", "2"]) == 0
    out = capsys.readouterr().out
    assert "all counts as expected, no duplicate keys" in out
    assert "after 2 pair(s): 15,000 orders" in out


def test_an_unknown_query_number_is_refused_with_exit_2(tmp_path):
    script = ROOT / "benchmarks" / "tpcds_compare.py"
    proc = subprocess.run([sys.executable, str(script), "--queries", "100"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and "no TPC-DS query [100]: 1 … 99" in proc.stderr


def test_ssb_tables_have_the_domains_the_ssb_specification_gives(tpch_data):
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("CREATE SCHEMA tpch")
    for table in ("customer", "supplier", "part", "nation", "region", "lineitem", "orders", "partsupp"):
        con.execute(f"CREATE VIEW tpch.{table} AS SELECT * FROM '{tpch_data / table}.parquet'")
    for table in build.TABLE_ORDER:
        con.execute(build.create_sql(table, "tpch."))

    def one(sql):
        return con.execute(sql).fetchone()

    assert one("SELECT COUNT(*), MIN(d_datekey), MAX(d_datekey) FROM dwdate") == (2557, 19920101, 19981231)
    # ssb-dbgen's week number: day of year ÷ 7 + 1
    assert one("SELECT d_weeknuminyear, d_dayofweek, d_yearmonth FROM dwdate WHERE d_datekey = 19940206") == (
        6, "Sunday", "Feb1994",
    )  # fmt: skip
    assert one("SELECT SUM(d_lastdayinmonthfl), SUM(d_holidayfl) FROM dwdate") == (84, 70)
    assert one("SELECT COUNT(DISTINCT p_mfgr), COUNT(DISTINCT p_category), MIN(p_brand1) FROM part") == (
        5, 25, "MFGR#111",
    )  # fmt: skip
    assert one("SELECT COUNT(*) FROM part WHERE NOT starts_with(p_brand1, p_category)") == (0,)
    brand_number = "CAST(substr(p_brand1, 8) AS INT)"  # 40 brands per category
    assert one(f"SELECT MIN({brand_number}), MAX({brand_number}), COUNT(DISTINCT {brand_number}) FROM part") == (
        1, 40, 40,
    )  # fmt: skip
    assert one("SELECT COUNT(*) FROM customer WHERE c_city = 'UNITED KI1'")[0] > 0
    assert one("SELECT COUNT(*) FROM customer WHERE length(c_city) <> 10") == (0,)
    assert one("SELECT MIN(lo_discount), MAX(lo_discount), MIN(lo_tax), MAX(lo_tax) FROM lineorder") == (0, 10, 0, 8)
    assert one(
        "SELECT COUNT(*) FROM lineorder WHERE lo_revenue * 100 <> lo_extendedprice * (100 - lo_discount)"
        " OR lo_orderdate NOT IN (SELECT d_datekey FROM dwdate) OR lo_commitdate NOT IN (SELECT d_datekey FROM dwdate)"
    ) == (0,)
