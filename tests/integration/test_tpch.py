"""TPC-H end to end at SF 0.01 with a real hyperd, real tpchgen-cli and real DuckDB: generate (cached), load
with 2 workers, a power run and a 2-stream throughput run whose 22 answers equal DuckDB's; a wrong answer is
caught; the cache is reused and a truncated cache file is detected and regenerated; bad input exits 2.

One generated SF 0.01 dataset is shared by the module (the `cache` fixture); tests that damage a cache copy it.
"""

import csv
import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import only_run_dir, write_scenario

SF = 0.01
GENERATE = "  - {{name: generate, workload: tpch_generate, scale_factor: 0.01, data_dir: '{data}'}}\n"
HEAD = "name: {name}\nworkers: 2\ntimeouts: {{barrier_s: 300}}\nphases:\n"


def scenario(tmp_path, name: str, data, phases: str = ""):
    return write_scenario(tmp_path / f"{name}.yaml", HEAD.format(name=name) + GENERATE.format(data=data) + phases)


def read_csv(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """The module's SF 0.01 Parquet cache, generated once by a loadgen run (2 workers, 2 parts)."""
    folder = tmp_path_factory.mktemp("tpch")
    data = folder / "cache"
    path = scenario(folder, "generate_only", data)
    proc = subprocess.run(
        [sys.executable, "-m", "loadgen", "run", str(path), "--results-dir", str(folder / "results"), "--quiet"],
        cwd=folder, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "TPC-H SF 0.01: generated" in proc.stdout
    (version_dir,) = data.glob("sf0.01-tpchgen-*")
    return data, version_dir


def test_power_and_throughput_answers_equal_duckdbs(cli, tmp_path, cache):
    data, version_dir = cache
    path = scenario(
        tmp_path,
        "tpch_full",
        data,
        "  - {name: load, workload: tpch_load, method: arrow}\n"
        "  - {name: power, workload: tpch_query, mode: power}\n"
        "  - {name: throughput, workload: tpch_query, mode: throughput, streams: 2}\n",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=180)
    assert res.code == 0, res.stdout + res.stderr
    assert "cached data reused" in res.stdout
    run_dir = only_run_dir(tmp_path / "results")
    summary = {r["phase"]: r for r in read_csv(run_dir / "summary.csv")}
    assert all(r["verified"] == "ok" and r["status"] == "ok" for r in summary.values()), summary
    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert int(summary["load"]["rows"]) == sum(t["rows"] for t in manifest["tables"].values())
    assert manifest["tables"]["orders"]["rows"] == 15_000 and manifest["tables"]["nation"]["rows"] == 25
    workers = [r for r in read_csv(run_dir / "workers.csv") if r["phase"] == "power"]
    checked = {r["worker"]: r for r in workers}
    assert checked["0"]["counted_rows"] == "22"  # every answer of the power stream compared with DuckDB's
    # every query's first result, with a header row
    answers = sorted(p.name for p in (run_dir / "answers").glob("*.csv"))
    assert answers == [f"q{q:02d}.csv" for q in range(1, 23)]
    q1 = read_csv(run_dir / "answers" / "q01.csv")
    assert [r["l_returnflag"] + r["l_linestatus"] for r in q1] == ["AF", "NF", "NO", "RF"]
    # one latency row per query and phase
    ops = {(r["phase"], r["operation"]) for r in read_csv(run_dir / "latency.csv")}
    for phase in ("power", "throughput"):
        assert {(phase, f"q{q:02d}") for q in range(1, 23)} <= ops
    latency = {(r["phase"], r["operation"]): r for r in read_csv(run_dir / "latency.csv")}
    assert latency[("throughput", "q01")]["count"] == "2" and latency[("power", "q22")]["count"] == "1"
    assert {("load", t) for t in ("lineitem", "orders", "region")} <= ops
    tpch = {r["phase"]: r for r in read_csv(run_dir / "tpch.csv")}
    assert float(tpch["power"]["power_at_size"]) > 0 and float(tpch["power"]["power_run_s"]) > 0
    assert float(tpch["throughput"]["throughput_at_size"]) > 0 and float(tpch["throughput"]["qphh_at_size"]) > 0
    assert tpch["throughput"]["streams"] == "2" and tpch["power"]["audited"] == "no"
    # the per-query time table per stream is printed under the final tables
    assert "stream 1  stream 2" in res.stdout and "QphH@Size" in res.stdout
    # DuckDB's reference answers are cached next to the data
    assert len(list((version_dir / "reference").glob("duckdb-*/q*.parquet"))) >= 22


def test_a_wrong_answer_fails_the_run_naming_query_row_and_column(cli, tmp_path, cache):
    data, _ = cache
    wrong = (
        "select sum(l_extendedprice * l_discount) + 0.01 as revenue from lineitem where l_shipdate >= date "
        "'1994-01-01' and l_shipdate < date '1995-01-01' and l_discount between 0.05 and 0.07 and l_quantity < 24"
    )
    path = scenario(
        tmp_path,
        "tpch_wrong",
        data,
        "  - {name: load, workload: tpch_load, method: external}\n"
        f'  - {{name: power, workload: tpch_query, queries: [1, 6], overrides: {{6: "{wrong}"}}}}\n',
    )
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 1, res.stdout + res.stderr
    assert "q06 (power stream) differs from DuckDB's answer: row 1 column revenue" in res.stderr
    assert "q01" not in res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"


def test_the_cache_is_reused_and_a_truncated_file_is_regenerated(cli, tmp_path, cache):
    data, version_dir = cache
    copy = tmp_path / "cache"
    shutil.copytree(data, copy)
    victim = copy / version_dir.name / "lineitem" / "lineitem.1.parquet"
    manifest_bytes = victim.stat().st_size
    with open(victim, "r+b") as handle:
        handle.truncate(manifest_bytes // 2)
    # a load right after the regeneration: workers other than 0 wait for the swapped folder, not the stale one
    path = scenario(tmp_path, "tpch_regen", copy, "  - {name: load, workload: tpch_load, method: external}\n")
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 0, res.stdout + res.stderr
    assert "the cached copy was not used" in res.stdout and "truncated" in res.stdout
    assert victim.stat().st_size == manifest_bytes
    assert not [p for p in copy.iterdir() if p.name.startswith(".")]  # no temp folder left
    res = cli("run", path, "--results-dir", tmp_path / "results2", timeout=120)
    assert res.code == 0, res.stdout + res.stderr
    assert "cached data reused" in res.stdout
    summary = read_csv(only_run_dir(tmp_path / "results2") / "summary.csv")
    assert summary[0]["ops"] == "0"  # nothing generated
    assert summary[1]["verified"] == "ok"


def test_every_load_method_verifies(cli, tmp_path, cache):
    data, _ = cache
    path = scenario(
        tmp_path,
        "tpch_methods",
        data,
        "  - {name: stream, workload: tpch_load, method: arrow_stream, rows_per_copy: 20000}\n"
        "  - {name: rows, workload: tpch_load, method: rows, split_tables: true}\n"
        "  - {name: external, workload: tpch_load, method: external}\n"
        "  - {name: random, workload: tpch_query, mode: throughput, streams: 3, queries: [1, 3, 13],"
        " parameters: random, repetitions: 2}\n",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=180)
    assert res.code == 0, res.stdout + res.stderr
    summary = {r["phase"]: r for r in read_csv(only_run_dir(tmp_path / "results") / "summary.csv")}
    for phase in ("stream", "rows", "external"):
        assert summary[phase]["verified"] == "ok", summary[phase]
    assert summary["random"]["verified"] == "unchecked" and summary["random"]["ops"] == str(3 * 3 * 2)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("generate.scale_factor=0", "phases[0].scale_factor: must be > 0"),
        ("power.queries=[1,23]", "phases[1].queries: unknown TPC-H query number(s) [23]; allowed: 1..22"),
        ("power.streams=0", "phases[1].streams: must be >= 1"),
        ("generate.generator=/nonexistent/tpchgen-cli", "not found; install it with: "),
    ],
)
def test_bad_input_exits_2_before_anything_starts(cli, tmp_path, override, message):
    path = scenario(tmp_path, "tpch_bad", tmp_path / "cache", "  - {name: power, workload: tpch_query}\n")
    res = cli("run", path, "--set", override, "--results-dir", tmp_path / "results", timeout=60)
    assert res.code == 2, res.stdout + res.stderr
    assert message in res.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()


def test_a_cache_folder_that_cannot_be_written_exits_2(cli, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    path = scenario(tmp_path, "tpch_bad", blocker / "cache")
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=60)
    assert res.code == 2, res.stdout + res.stderr
    assert "the TPC-H cache folder cannot be written" in res.stderr and "is not a folder" in res.stderr


def test_a_table_loadgen_did_not_create_is_never_dropped(tmp_path, cache):
    """The load's setup against a real hyperd whose database already holds a `lineitem` table."""
    from types import SimpleNamespace

    from tableauhyperapi import Connection, CreateMode, HyperProcess, TableName, Telemetry

    from loadgen.engine.context import WorkerContext
    from loadgen.engine.worker import StopFlag
    from loadgen.scenario.load import load_scenario
    from loadgen.workloads.suites.load import LoadWorkload as TpchLoadWorkload

    data, _ = cache
    path = scenario(tmp_path, "tpch_existing", data, "  - {name: load, workload: tpch_load}\n")
    load = load_scenario(path).phases[1]
    params = {"log_dir": str(tmp_path)}
    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, "test", parameters=params) as hyper:
        database = str(tmp_path / "user.hyper")
        with Connection(hyper.endpoint, database, CreateMode.CREATE) as conn:
            conn.execute_command("CREATE TABLE lineitem (precious INT)")
            conn.execute_command("INSERT INTO lineitem VALUES (42)")
            ctx = WorkerContext(
                worker=0, workers=1, connection=conn, table=TableName("unused"),
                endpoint=hyper.endpoint.connection_descriptor, database=database,
                stop=StopFlag(SimpleNamespace(value=0)), finish=StopFlag(SimpleNamespace(value=0), 2),
                run_dir=str(tmp_path),
            )  # fmt: skip
            with pytest.raises(RuntimeError, match=r"table\(s\) lineitem exist already .* replace_existing: true"):
                TpchLoadWorkload(load, ctx).setup()
            assert conn.execute_scalar_query("SELECT precious FROM lineitem") == 42
            TpchLoadWorkload(load.model_copy(update={"replace_existing": True}), ctx).setup()
            assert conn.execute_scalar_query("SELECT COUNT(*) FROM lineitem") == 0
            assert conn.catalog.has_table(TableName("public", "region"))


def test_a_repeated_scenario_reloads_the_tables_it_created(cli, tmp_path, cache):
    """Repetitions run in fresh worker processes against the same database: the tables of repetition 1 are
    this run's, so repetition 2 may drop and reload them."""
    data, _ = cache
    text = HEAD.format(name="tpch_repeat").replace("phases:", "repeat: 2\nphases:") + GENERATE.format(data=data)
    path = write_scenario(
        tmp_path / "r.yaml",
        text + "  - {name: load, workload: tpch_load, method: external}\n"
        "  - {name: power, workload: tpch_query, queries: [1, 6]}\n",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 0, res.stdout + res.stderr
    tpch = read_csv(only_run_dir(tmp_path / "results") / "tpch.csv")
    assert [(r["phase"], r["repetition"]) for r in tpch] == [("power", "1"), ("power", "2")]
