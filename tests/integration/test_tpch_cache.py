"""The TPC-H Parquet cache with real tpchgen-cli, hyperd and DuckDB at SF 0.01: loadgen never deletes a folder or
file it did not create, names and regenerates damaged files (found by their checksums), compares the manifest
with what the run asks for, and never uses a DuckDB answer computed from other data.

One generated cache is shared by the module (the `cache` fixture); every test damages a copy of it in its own
temporary folder.
"""

import csv
import json
import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from loadgen.workloads.suites import cache as tpch_cache
from loadgen.workloads.suites import layout
from loadgen.workloads.tpch.suite import TPCH
from tests.conftest import only_run_dir, write_scenario

GENERATE = "  - {{name: generate, workload: tpch_generate, scale_factor: {sf}, data_dir: '{data}'}}\n"
HEAD = "name: {name}\nworkers: 2\ntimeouts: {{barrier_s: 300}}\nphases:\n"
LOAD = "  - {name: load, workload: tpch_load, method: external}\n"
Q1 = "  - {name: power, workload: tpch_query, queries: [1]}\n"


def scenario(tmp_path, name: str, data, phases: str = "", sf: float = 0.01):
    return write_scenario(
        tmp_path / f"{name}.yaml", HEAD.format(name=name) + GENERATE.format(sf=sf, data=data) + phases
    )


def summary(results) -> dict[str, dict]:
    with open(only_run_dir(results) / "summary.csv", newline="") as handle:
        return {r["phase"]: r for r in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """The module's SF 0.01 cache (2 workers, 2 parts), generated once by a loadgen run: (data_dir, folder name)."""
    folder = tmp_path_factory.mktemp("tpch_cache")
    data = folder / "cache"
    path = scenario(folder, "generate_only", data)
    proc = subprocess.run(
        [sys.executable, "-m", "loadgen", "run", str(path), "--results-dir", str(folder / "results"), "--quiet"],
        cwd=folder, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (version_dir,) = data.glob("sf0.01-tpchgen-*")
    return data, version_dir.name


@pytest.fixture
def copy(tmp_path, cache):
    """A copy of the module's cache in this test's folder: (data_dir, cache folder)."""
    data, name = cache
    shutil.copytree(data, tmp_path / "cache")
    return tmp_path / "cache", tmp_path / "cache" / name


def flip_bytes(path) -> None:
    """Damage a page of l_partkey in place (same size, footer intact): reading it fails."""
    chunk = pq.read_metadata(path).row_group(0).column(1)
    assert chunk.path_in_schema == "l_partkey"
    with open(path, "r+b") as handle:
        handle.seek(chunk.data_page_offset + 40)
        block = handle.read(8)
        handle.seek(chunk.data_page_offset + 40)
        handle.write(bytes(b ^ 0xFF for b in block))


def change_dictionary_value(path) -> None:
    """Turn the return flag 'A' into 'X' in l_returnflag's dictionary page: same size, the file still loads, and
    Q1 (grouped by return flag) answers differently."""
    chunk = pq.read_metadata(path).row_group(0).column(8)
    assert chunk.path_in_schema == "l_returnflag"
    raw = bytearray(path.read_bytes())
    at = raw.find(b"\x01\x00\x00\x00A", chunk.dictionary_page_offset, chunk.data_page_offset)
    assert at > 0
    raw[at + 4] = ord("X")
    path.write_bytes(bytes(raw))
    assert "X" in pq.read_table(path, columns=["l_returnflag"]).column(0).to_pylist()


# ------------------------------------------------------------------------------- never delete what is not ours
def test_a_folder_named_like_the_cache_that_loadgen_did_not_create_exits_2_untouched(cli, tmp_path):
    version = layout.generator_version(layout.find_generator(TPCH))
    theirs = tmp_path / "cache" / f"sf0.01-tpchgen-{version}"
    (theirs / "lineitem").mkdir(parents=True)
    (theirs / "lineitem" / "mine.txt").write_text("the user's file")
    path = scenario(tmp_path, "foreign", tmp_path / "cache", LOAD)
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 2, res.stdout + res.stderr
    assert f"{theirs} exists and loadgen did not create it" in res.stderr
    assert "move that folder elsewhere, or set data_dir to another folder" in res.stderr
    assert (theirs / "lineitem" / "mine.txt").read_text() == "the user's file"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [theirs.name]
    assert not (tmp_path / "results").exists()


def test_files_loadgen_did_not_write_survive_the_regeneration_of_their_folder(cli, tmp_path, copy):
    data, folder = copy
    (folder / "notes.txt").write_text("the user's notes")
    (folder / "lineitem" / "README").write_text("the user's readme")
    with open(folder / "lineitem" / "lineitem.1.parquet", "r+b") as handle:
        handle.truncate(1000)
    res = cli("run", scenario(tmp_path, "regen", data), "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 0, res.stdout + res.stderr
    assert "regenerated" in res.stdout
    assert (folder / "notes.txt").read_text() == "the user's notes"
    assert (folder / "lineitem" / "README").read_text() == "the user's readme"
    assert not [p for p in data.iterdir() if p.name.startswith(".")]  # no temporary or replaced folder left


# -------------------------------------------------------------------------------------------- checksums
def test_flipped_bytes_are_named_after_a_failed_load_and_regenerated_by_the_next_run(cli, tmp_path, copy):
    data, folder = copy
    victim = folder / "lineitem" / "lineitem.1.parquet"
    flip_bytes(victim)
    path = scenario(tmp_path, "flipped", data, "  - {name: load, workload: tpch_load, method: arrow}\n")
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 1, res.stdout + res.stderr
    assert "lineitem/lineitem.1.parquet has another xxh3_128 checksum than the manifest's" in res.stderr
    assert "the next tpch_generate phase regenerates it" in res.stderr
    res = cli("run", path, "--results-dir", tmp_path / "results2", timeout=120)
    assert res.code == 0, res.stdout + res.stderr
    assert "lineitem/lineitem.1.parquet is missing): regenerated part 1 of 2" in res.stdout
    assert summary(tmp_path / "results2")["load"]["verified"] == "ok"


def test_verify_cache_regenerates_only_the_damaged_part_before_the_load(cli, tmp_path, copy):
    data, folder = copy
    manifest = json.loads((folder / "manifest.json").read_text())
    kept = folder / "lineitem" / "lineitem.1.parquet"
    kept_inode = kept.stat().st_ino
    flip_bytes(folder / "lineitem" / "lineitem.2.parquet")
    path = scenario(tmp_path, "verify", data, LOAD)
    res = cli("run", path, "--set", "generate.verify_cache=true", "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 0, res.stdout + res.stderr
    assert "lineitem/lineitem.2.parquet has another xxh3_128 checksum" in res.stdout
    assert "regenerated part 2 of 2" in res.stdout
    assert kept.stat().st_ino == kept_inode  # part 1 was kept (linked into the new folder), not regenerated
    # tpchgen-cli is deterministic: the regenerated part has the checksum the manifest recorded
    repaired = json.loads((folder / "manifest.json").read_text())
    assert tpch_cache.data_digest(repaired) == tpch_cache.data_digest(manifest)
    assert summary(tmp_path / "results")["load"]["verified"] == "ok"
    res = cli("run", path, "--set", "generate.verify_cache=true", "--results-dir", tmp_path / "results2")
    assert res.code == 0, res.stdout + res.stderr
    rows = sum(t["rows"] for t in repaired["tables"].values())
    assert f"cached data reused, {rows:,} rows, sizes and checksums checked" in res.stdout


def test_a_changed_dictionary_value_is_blamed_on_the_data_and_not_on_hyper(cli, tmp_path, copy):
    data, folder = copy
    path = scenario(tmp_path, "dictionary", data, LOAD + Q1)
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 0, res.stdout + res.stderr  # DuckDB's answer to Q1 is now cached, from the good data
    change_dictionary_value(folder / "lineitem" / "lineitem.1.parquet")
    res = cli("run", path, "--results-dir", tmp_path / "results2", timeout=120)
    assert res.code == 1, res.stdout + res.stderr
    assert f"the TPC-H data in {folder} is damaged: lineitem/lineitem.1.parquet has another" in res.stderr
    assert "q01 (power stream) differs from DuckDB's answer" in res.stderr
    assert not (folder / "lineitem" / "lineitem.1.parquet").exists()  # the next run regenerates it


def test_duckdb_answers_are_computed_only_from_data_that_matches_its_checksums(cli, tmp_path, copy):
    data, folder = copy
    change_dictionary_value(folder / "lineitem" / "lineitem.1.parquet")
    res = cli("run", scenario(tmp_path, "fresh", data, LOAD + Q1), "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 1, res.stdout + res.stderr
    assert "cannot compute DuckDB's reference answers: the TPC-H data in" in res.stderr
    assert "lineitem/lineitem.1.parquet has another xxh3_128 checksum" in res.stderr
    assert not list(folder.glob("reference/*/*.parquet"))


def test_a_cache_copied_under_another_scale_factor_is_regenerated(cli, tmp_path, copy):
    data, folder = copy
    moved = folder.with_name(folder.name.replace("sf0.01-", "sf0.005-"))
    folder.rename(moved)
    res = cli("run", scenario(tmp_path, "moved", data, LOAD, sf=0.005), "--results-dir", tmp_path / "results")
    assert res.code == 0, res.stdout + res.stderr
    assert "manifest.json says scale factor 0.01, the run asks for 0.005" in res.stdout and "regenerated" in res.stdout
    assert json.loads((moved / "manifest.json").read_text())["scale_factor"] == 0.005
    assert summary(tmp_path / "results")["load"]["verified"] == "ok"


def test_a_cache_with_other_parts_than_the_phase_sets_is_regenerated(cli, tmp_path, copy):
    data, folder = copy
    path = scenario(tmp_path, "parts", data)
    res = cli("run", path, "--set", "generate.parts=3", "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 0, res.stdout + res.stderr
    assert "it has 2 parts per table, the phase asks for 3): regenerated" in res.stdout
    assert json.loads((folder / "manifest.json").read_text())["parts"] == 3
    assert (folder / "lineitem" / "lineitem.3.parquet").exists()
