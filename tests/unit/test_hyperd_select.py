"""The pieces of `server.hyperd` that need no download: the order of the versions an index offers, each matrix
point's own database files, and the facts about a binary kept by path, mtime and size."""

import hashlib
import json
import os
import shutil
import types

from loadgen.engine import hyperd_cache, hyperd_select, server


def test_the_versions_an_index_offers_are_listed_nearest_first():
    offered = ["0.0.26963", "0.0.25080", "0.0.24457", "0.0.24081", "0.0.9746", "1.0.0"]
    assert hyperd_cache.nearest("0.0.24458", offered) == [
        "0.0.24457", "0.0.24081", "0.0.25080", "0.0.26963", "0.0.9746", "1.0.0",
    ]  # fmt: skip
    assert hyperd_cache.nearest("1.0.1", offered)[0] == "1.0.0"


def test_each_matrix_point_has_database_files_of_its_own():
    shared = types.SimpleNamespace(database="shared")
    per_worker = types.SimpleNamespace(database="per_worker")
    assert server.database_paths(shared, 2, "/d") == ["/d/loadgen.hyper"] * 2  # without a matrix: as before
    assert server.database_paths(shared, 2, "/d", 1) == ["/d/loadgen_point_1.hyper"] * 2
    assert server.database_paths(per_worker, 2, "/d", 0) == [
        "/d/loadgen_point_0_worker_0.hyper", "/d/loadgen_point_0_worker_1.hyper",
    ]  # fmt: skip


def test_a_binary_is_hashed_once_until_its_mtime_or_size_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    binary = tmp_path / "build" / "hyperd"
    binary.parent.mkdir()
    shutil.copy2(os.path.join(hyperd_select.installed_folder(), "hyperd"), binary)  # a real hyperd, a path of its own
    real = hashlib.sha256(binary.read_bytes()).hexdigest()
    first = hyperd_select.facts(str(binary))
    assert first["sha256"] == real and first["reported"].startswith("Hyper version ")
    assert first["max_database_version"] >= 2
    stored = hyperd_select.facts_file(str(binary))
    # what is stored is what a later run reads: change it, and the same binary gives the stored sha256 back
    stored.write_text(json.dumps({**first, "sha256": "0" * 64}))
    assert hyperd_select.facts(str(binary))["sha256"] == "0" * 64
    os.utime(binary, ns=(first["mtime_ns"] + 10**9, first["mtime_ns"] + 10**9))  # rebuilt in place: hashed again
    assert hyperd_select.facts(str(binary))["sha256"] == real


def test_a_pip_without_raw_progress_gets_progress_off_instead_of_a_refused_download():
    # pip before 24.1 refuses `--progress-bar raw` ("invalid choice"), which failed every download from a venv whose
    # pip was never upgraded
    assert hyperd_cache.progress_bar_mode("23.2.1") == "off"
    assert hyperd_cache.progress_bar_mode("24.0") == "off"
    assert hyperd_cache.progress_bar_mode("24.1") == "raw"
    assert hyperd_cache.progress_bar_mode("25.3") == "raw"
    assert hyperd_cache.progress_bar_mode("26.0.dev0") == "raw"
