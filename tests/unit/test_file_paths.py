"""Which files a source reads: an existing file is read as named even when its name looks like a glob, a list
names files exactly, the resolved scenario records the files read, and DuckDB (TPC-H references) reads the folder
it is given even when that folder's name has glob characters."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loadgen.errors import ScenarioError
from loadgen.scenario.load import dump_resolved, load_scenario
from loadgen.workloads.insert.config import FileSource

SCENARIO = """\
name: files
phases:
  - name: load
    workload: insert
    source: {{path: {path}}}
"""


def write_parquet(path, rows: int) -> None:
    pq.write_table(pa.table({"id": pa.array(range(rows), pa.int64())}), path)


def test_an_existing_file_with_glob_characters_is_read_as_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_parquet("x[1].parquet", 1000)
    write_parquet("x1.parquet", 5)
    assert FileSource(path="x[1].parquet").files() == ["x[1].parquet"]  # not x1.parquet, which the glob matches
    assert FileSource(path="x*.parquet").files() == ["x1.parquet", "x[1].parquet"]
    assert FileSource(path="x[0-9].parquet").files() == ["x1.parquet"]  # no such file: a glob
    assert FileSource(path=["x1.parquet", "x[1].parquet"]).files() == ["x1.parquet", "x[1].parquet"]


def test_the_resolved_scenario_records_the_files_read_and_reads_them_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    for name, rows in (("a[1].parquet", 3), ("b.parquet", 4)):
        write_parquet(tmp_path / "data" / name, rows)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.format(path="'data/*.parquet'"), encoding="utf-8")
    phase = load_scenario(scenario).phases[0]
    files = [str(tmp_path / "data" / "a[1].parquet"), str(tmp_path / "data" / "b.parquet")]
    assert phase.source.path == files and phase.progress_total() == 7
    recorded = tmp_path / "resolved.yaml"
    recorded.write_text(dump_resolved(load_scenario(scenario)), encoding="utf-8")
    write_parquet(tmp_path / "data" / "c.parquet", 5)  # a file that came later
    assert load_scenario(scenario).phases[0].progress_total() == 12  # the glob sees it
    again = load_scenario(recorded).phases[0]
    assert again.source.path == files and again.progress_total() == 7  # the recorded run reads the files it read


def test_a_listed_file_that_does_not_exist_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_parquet("a.parquet", 2)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.format(path="[a.parquet, 'gone[1].parquet']"), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario)
    assert caught.value.problems == [f"{scenario}:5: phases[0].source.path: no such file: 'gone[1].parquet'"]


def test_duckdb_reads_the_folder_it_is_given_even_with_glob_characters(tmp_path):
    from loadgen.workloads.suites.reference import duckdb_connection
    from loadgen.workloads.tpch.schema import TABLES
    from loadgen.workloads.tpch.suite import TPCH

    for folder, rows in (("cache[1]", 3), ("cache1", 5)):  # cache[1] as a glob would match cache1
        for table in TABLES:
            (tmp_path / folder / table).mkdir(parents=True)
            write_parquet(tmp_path / folder / table / "part-1.parquet", rows)
    con = duckdb_connection(TPCH, tmp_path / "cache[1]", threads=1)
    assert con.sql("SELECT COUNT(*) FROM region").fetchall() == [(3,)]
