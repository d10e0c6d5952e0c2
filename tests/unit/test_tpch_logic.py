"""TPC-H pieces that need no server: query texts and parameters, stream orders, answer comparison, metrics,
cache bookkeeping, phase validation."""

import datetime as dt
import decimal
import math
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from loadgen.errors import ScenarioError
from loadgen.results.files import csv_rows_text
from loadgen.scenario.load import load_scenario
from loadgen.workloads.suites import cache, layout, reference
from loadgen.workloads.tpch import metrics, queries, schema
from loadgen.workloads.tpch.suite import TPCH

D = decimal.Decimal


def test_appendix_a_has_41_permutations_of_the_22_queries():
    assert len(queries.STREAM_ORDER) == 41
    for order in queries.STREAM_ORDER:
        assert sorted(order) == list(range(1, 23))
    assert queries.stream_order(0)[:3] == [14, 2, 9]
    assert queries.stream_order(1)[:3] == [21, 3, 18]
    assert queries.stream_order(42) == queries.stream_order(1)
    assert queries.stream_order(2, [1, 6, 14]) == [6, 14, 1]


@pytest.mark.parametrize("mode", ["validation", "random"])
def test_every_query_renders_without_leftover_placeholders(mode):
    rng = random.Random(7)
    for q in queries.QUERY_NUMBERS:
        sql = queries.query_text(q, 0.01, mode, rng)
        assert "{" not in sql and "}" not in sql, (q, sql)


def test_validation_values_are_the_specifications():
    assert "interval '90' day" in queries.query_text(1, 1)
    assert "p_size = 15 and p_type like '%BRASS'" in queries.query_text(2, 1)
    assert "* 0.0001\n" in queries.query_text(11, 1) and "* 0.01\n" in queries.query_text(11, 0.01)
    assert "('13', '31', '23', '29', '30', '18', '17')" in queries.query_text(22, 1)
    assert "with revenue0" in queries.query_text(15, 1)  # the view as a WITH clause


def test_random_parameters_follow_the_substitution_rules_and_the_seed():
    for seed in range(50):
        rng = random.Random(seed)
        p = {q: queries.random_parameters(q, rng) for q in queries.QUERY_NUMBERS}
        assert 60 <= p[1]["DELTA"] <= 120
        assert 1 <= p[2]["SIZE"] <= 50 and p[2]["TYPE"] in queries.TYPE_S3
        assert dt.date(1995, 3, 1) <= dt.date.fromisoformat(p[3]["DATE"]) <= dt.date(1995, 3, 31)
        assert dt.date(1993, 1, 1) <= dt.date.fromisoformat(p[4]["DATE"]) <= dt.date(1997, 10, 1)
        assert p[4]["DATE"].endswith("-01") and p[14]["DATE"].endswith("-01")
        assert p[6]["DISCOUNT"] in {f"0.0{i}" for i in range(2, 10)} and p[6]["QUANTITY"] in (24, 25)
        assert p[7]["NATION1"] != p[7]["NATION2"]
        assert dict(queries.NATIONS)[p[8]["NATION"]] == p[8]["REGION"]
        assert dt.date(1993, 2, 1) <= dt.date.fromisoformat(p[10]["DATE"]) <= dt.date(1995, 1, 1)
        assert p[12]["SHIPMODE1"] != p[12]["SHIPMODE2"]
        assert len({p[16][f"SIZE{i}"] for i in range(1, 9)}) == 8
        assert re.fullmatch(r"Brand#[1-5][1-5]", p[17]["BRAND"])
        assert 312 <= p[18]["QUANTITY"] <= 315
        assert 20 <= p[19]["QUANTITY3"] <= 30
        codes = [p[22][f"I{i}"] for i in range(1, 8)]
        assert len(set(codes)) == 7 and all(10 <= c <= 34 for c in codes)
    a = queries.stream_rng(5, 1)
    b = queries.stream_rng(5, 1)
    assert [queries.random_parameters(9, a) for _ in range(5)] == [queries.random_parameters(9, b) for _ in range(5)]
    assert len(queries.COLORS) == 92


def test_answers_compare_money_to_the_cent_and_averages_relatively():
    assert reference.same(D("100.00"), D("100.004"))
    assert not reference.same(D("100.00"), D("100.01"))
    assert reference.same(D("25.575155"), 25.575154611454693)  # Hyper's NUMERIC average vs DuckDB's double
    assert reference.same(D("0.050081"), 0.05008133906964238)
    assert not reference.same(D("0.050091"), 0.05008133906964238)
    assert reference.same(1e9, 1e9 * (1 + 5e-7)) and not reference.same(1e9, 1e9 * (1 + 5e-6))
    assert reference.same("Supplier#1 ", "Supplier#1") and not reference.same("a", "b")
    assert reference.same(dt.datetime(1995, 3, 1), dt.date(1995, 3, 1))
    assert reference.same(None, None) and not reference.same(None, 0)
    assert reference.same(64, D("64")) and not reference.same(64, 65)


def test_difference_names_row_and_column_and_tolerates_tied_order():
    cols = ["k", "v"]
    assert reference.difference(cols, [(1, D("1.00"))], cols, [(1, D("1.00"))]) == ""
    problem = reference.difference(cols, [(1, D("1.00")), (2, D("3.00"))], cols, [(1, D("1.00")), (2, D("2.00"))])
    assert problem == "row 2 column v: got Decimal('3.00'), expected Decimal('2.00')"
    assert "rows, expected" in reference.difference(cols, [], cols, [(1, 2)])
    assert "columns" in reference.difference(["k"], [(1,)], cols, [(1, 2)])
    assert reference.difference(cols, [(2, 5), (1, 5)], cols, [(1, 5), (2, 5)]) == ""  # ties on ORDER BY v


def test_answer_csv_has_a_header_and_plain_values():
    cells = reference.answer_cells([(D("1.50"), None), ("x,y", dt.date(1995, 1, 2))])
    text = csv_rows_text(["a", "b"], cells)  # as the run folder writes answers/qNN.csv
    assert text == 'a,b\n1.50,\n"x,y",1995-01-02\n'


def test_metrics_follow_the_specification():
    assert metrics.power_at_size([1.0] * 22, 1) == pytest.approx(3600)
    assert metrics.power_at_size([2.0] * 22, 10) == pytest.approx(18000)
    tiny = metrics.power_at_size([1e-9] + [1.0] * 21, 1)  # clamped to max / 100,000
    assert tiny == pytest.approx(3600 / math.exp(math.log(1e-5) / 22))
    assert metrics.throughput_at_size(2, 22, 3600, 1) == pytest.approx(44)
    assert metrics.qphh_at_size(100, 400) == pytest.approx(200)
    assert metrics.qphh_at_size(0, 400) == 0


def test_spec_row_counts_and_schema():
    assert schema.spec_rows("orders", 1) == 1_500_000 and schema.spec_rows("supplier", 0.01) == 100
    assert schema.spec_rows("nation", 100) == 25 and schema.spec_rows("lineitem", 1) == 6_001_215
    assert schema.spec_rows("lineitem", 10) is None
    assert "l_extendedprice NUMERIC(15,2) NOT NULL" in schema.create_sql("lineitem", '"lineitem"')
    assert set(schema.TABLES) == set(schema.CHECKSUM_COLUMNS)


def test_files_are_spread_by_size_and_parts_by_worker():
    files = [("lineitem", f"l{i}", 100, 1) for i in range(4)] + [("nation", "n", 1, 1), ("region", "r", 1, 1)]
    shares = layout.assign_files(files, 2, by_table=False)
    assert sorted(len(s) for s in shares) == [3, 3]
    assert [sum(f[2] for f in s) for s in shares] == [201, 201]
    by_table = layout.assign_files(files, 2)  # a table's files stay with one worker
    assert [[f[1] for f in s] for s in by_table] == [["l0", "l1", "l2", "l3"], ["n", "r"]]
    assert TPCH.share(["1", "2", "3", "4", "5"], 1, 2) == ["2", "4"]
    assert TPCH.share(["3", "7"], 0, 2) == ["3"]
    assert TPCH.default_parts(0.01, 2) == 2 and TPCH.default_parts(10, 2) == 10


def test_cache_folder_checks(tmp_path):
    assert layout.writable_problem(tmp_path / "new" / "deeper") == ""
    assert not list(tmp_path.iterdir())  # the probe leaves nothing behind
    (tmp_path / "f").write_text("")
    assert "is not a folder" in layout.writable_problem(tmp_path / "f" / "x")
    assert "does not exist" in cache.cache_problem(TPCH, tmp_path / "none", 0.01)
    (tmp_path / "empty").mkdir()
    assert "manifest.json is missing" in cache.cache_problem(TPCH, tmp_path / "empty", 0.01)
    assert layout.sf_text(1.0) == "1" and layout.sf_text(0.01) == "0.01"


PHASES = """\
name: t
workers: 2
phases:
  - {{name: generate, workload: tpch_generate, scale_factor: 0.5, data_dir: '{data}'}}
  - {{name: load, workload: tpch_load}}
  - {{name: power, workload: tpch_query}}
  - {{name: tp, workload: tpch_query, mode: throughput, parameters: random}}
"""


def test_later_phases_inherit_scale_factor_and_data_dir(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(PHASES.format(data=tmp_path / "c"))
    scenario = load_scenario(path)
    load, power, tp = scenario.phases[1:]
    assert load.scale_factor == power.scale_factor == 0.5 and load.data_dir == str(tmp_path / "c")
    assert scenario.phases[0].parts == 2
    assert power.sessions == 1 and power.check_answers is True and power.stream_ids() == [0]
    assert tp.sessions == 2 and tp.check_answers is False and tp.stream_ids() == [1, 2]
    assert [q for q, *_ in power.plan(0, 1)] == list(range(1, 23))
    assert [q for q, *_ in tp.plan(1, 1)] == list(queries.STREAM_ORDER[1])
    assert tp.plan(1, 1) == tp.plan(1, 1) and tp.plan(1, 1) != tp.plan(2, 1)


def test_a_phase_without_any_scale_factor_is_an_error(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: t\nphases:\n  - {name: power, workload: tpch_query}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "phases[0].scale_factor: required key is missing" in str(err.value)


def test_a_scale_factor_no_generate_phase_makes_is_an_error(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(PHASES.format(data=tmp_path / "c"))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, ["load.scale_factor=0.1"])
    assert "no tpch_generate phase makes SF 0.1 (they make 0.5)" in str(err.value)


def _load_workload(tmp_path, patch=setattr, **settings):
    """A tpch_load workload over one 10-row lineitem-like Parquet file, without a hyperd (setup's data lookup
    replaced through `patch`), for the client-side part: the reader import."""
    import threading
    import types

    import pyarrow as pa
    import pyarrow.parquet as pq

    from loadgen.workloads.suites import load as tpch_load
    from loadgen.workloads.tpch.config import TpchLoadPhase

    (tmp_path / "lineitem").mkdir()
    pq.write_table(pa.table({"l_orderkey": pa.array(range(10), pa.int64())}), tmp_path / "lineitem" / "l.parquet")
    manifest = {"tables": {"lineitem": {"files": [{"path": "lineitem/l.parquet", "bytes": 1, "rows": 10}]}}}
    phase = TpchLoadPhase(name="load", workload="tpch_load", scale_factor=0.01, **settings)
    ctx = types.SimpleNamespace(
        worker=0, workers=1, endpoint="x", database="d", owns_database=False, run_dir=tmp_path,
        stop=threading.Event(), state={},
    )  # fmt: skip
    workload = tpch_load.LoadWorkload(phase, ctx)
    patch(tpch_load, "require_data", lambda ctx, phase: (tmp_path, manifest))
    return workload


def test_the_load_setup_imports_the_parquet_reader_before_the_timed_run(tmp_path):
    """pyarrow.dataset costs ~0.8 s of CPU to import: setup (untimed) does it, not the first decode in run."""
    script = (
        "import sys, pathlib\n"
        "sys.path.insert(0, 'tests/unit')\n"
        "import test_tpch_logic as t\n"
        "workload = t._load_workload(pathlib.Path(sys.argv[1]))\n"
        "assert 'pyarrow.dataset' not in sys.modules, 'imported too early to tell'\n"
        "workload.setup()\n"
        "assert 'pyarrow.dataset' in sys.modules\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------------------------------ the cache's files
def test_a_folder_made_meanwhile_under_the_cache_name_is_not_replaced(tmp_path):
    """Between the check before the run and the swap, a folder loadgen did not make appeared under the final
    name: the swap refuses, and the folder keeps its files."""
    temp, final = tmp_path / ".temp", tmp_path / "final"
    temp.mkdir()
    (temp / ".loadgen-tpch-cache").write_text("")
    final.mkdir()
    (final / "mine.txt").write_text("the user's file")
    with pytest.raises(OSError, match="loadgen did not create it"):
        cache.finalize(TPCH, temp, final, {"scale_factor": 0.01, "tables": {}})
    assert (final / "mine.txt").read_text() == "the user's file"


def test_only_folders_with_loadgens_marker_or_manifest_are_removed(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "manifest.json").write_text('{"generator": "something else", "tables": {}}')
    cache.remove_folder(TPCH, theirs)
    assert (theirs / "manifest.json").exists()
    ours = tmp_path / "ours"
    cache.make_folder(TPCH, ours)
    (ours / "part.parquet").write_text("")
    cache.remove_folder(TPCH, ours)
    assert not ours.exists()
    assert (
        "loadgen did not create it" in layout.not_ours(TPCH, theirs) and layout.not_ours(TPCH, tmp_path / "none") == ""
    )


def _manifest(sf=0.01, parts=2, version="4.0.0", **changes) -> dict:
    """A manifest as build_manifest writes it, of files that need not exist."""
    entries = []
    for table in schema.TABLES:
        paths = TPCH.expected_paths(table, parts)
        total = schema.spec_rows(table, sf) or 1000
        for i, path in enumerate(paths):
            rows = total // len(paths) + (total % len(paths) if i == 0 else 0)
            money = schema.CHECKSUM_COLUMNS[table][1]
            entries.append(
                {"path": path, "table": table, "bytes": 10, "rows": rows, "xxh3_128": f"{i:032x}", "sum_key": 1,
                 "sum_money": "1.00" if money else None}
            )  # fmt: skip
    manifest = cache.build_manifest(TPCH, Path("."), entries, sf, version, parts)
    manifest.update(changes)
    return manifest


def test_the_manifest_is_compared_with_what_the_run_asks_for(tmp_path):
    folder = tmp_path / "sf0.01-tpchgen-4.0.0"
    assert cache.manifest_problem(TPCH, folder, _manifest(), 0.01) == ""
    assert cache.manifest_problem(TPCH, folder, _manifest(), 0.01, parts=2) == ""
    assert "says scale factor 0.1, the run asks for 0.01" in cache.manifest_problem(TPCH, folder, _manifest(0.1), 0.01)
    assert "which belongs in sf0.01-tpchgen-9.9.9" in cache.manifest_problem(
        TPCH, folder, _manifest(version="9.9.9"), 0.01
    )
    assert "has 2 parts per table, the phase asks for 3" in cache.manifest_problem(
        TPCH, folder, _manifest(), 0.01, parts=3
    )
    other = _manifest(generator="something 1")
    assert "is not a manifest of loadgen's" in cache.manifest_problem(TPCH, folder, other, 0.01)
    escaping = _manifest()
    escaping["tables"]["orders"]["files"][0]["path"] = "../../elsewhere/orders.1.parquet"
    assert "orders's files are not its 2 parts" in cache.manifest_problem(TPCH, folder, escaping, 0.01)
    old = _manifest()
    del old["tables"]["region"]["files"][0]["xxh3_128"]
    assert "no sizes, rows and xxh3_128 checksums" in cache.manifest_problem(TPCH, folder, old, 0.01)
    short = _manifest()
    short["tables"]["nation"]["rows"] = 24
    assert "nation's files hold 25 rows, its total says 24" in cache.manifest_problem(TPCH, folder, short, 0.01)
    summed = _manifest()
    summed["tables"]["orders"]["sum_money"] = "3.00"
    assert "orders's sums are not those of its files" in cache.manifest_problem(TPCH, folder, summed, 0.01)
    assert "missing or unreadable" in cache.manifest_problem(TPCH, folder, None, 0.01)


def test_a_reference_answer_is_keyed_by_the_datas_checksums(tmp_path):
    manifest = _manifest()
    changed = _manifest()
    changed["tables"]["lineitem"]["files"][1]["xxh3_128"] = "f" * 32
    sql = queries.query_text(1, 0.01)
    one = reference.reference_path(tmp_path, cache.data_digest(manifest), 1, sql)
    assert one == reference.reference_path(tmp_path, cache.data_digest(_manifest()), 1, sql)
    assert one != reference.reference_path(tmp_path, cache.data_digest(changed), 1, sql)
