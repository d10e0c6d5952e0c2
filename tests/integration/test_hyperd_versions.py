"""`server.hyperd`: a run on another hyperd than the installed wheel's, loadgen's cache of wheels' hyperds, what a run
records of its hyperd, and every way of choosing one that must be refused before anything starts.

Real wheels from the package index pip is configured for, fetched once per test session into a session cache
(`XDG_CACHE_HOME`): 0.0.24457 (84 MB, next to the installed 0.0.26963) and, for the refusals, 0.0.9746 (51 MB,
the oldest release, which today's tableauhyperapi cannot start). "No network" is pip pointed at a closed local port.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from tableauhyperapi import Connection, HyperProcess, Telemetry

from tests.conftest import ROOT, only_run_dir, tagged_processes, write_scenario
from tests.integration.test_reliability import read_summary

VERSION = "0.0.24457"
ANCIENT = "0.0.9746"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def installed_hyperd() -> Path:
    import tableauhyperapi

    return Path(tableauhyperapi.__file__).parent / "bin" / "hyper" / "hyperd"


class Cache:
    def __init__(self, home: Path):
        self.home = home
        self.folder = home / "loadgen" / "hyperd"
        self.env = {"XDG_CACHE_HOME": str(home)}
        self.fills: list[tuple[int, str, str]] = []


def offline(cache_home: Path, tmp: Path) -> dict:
    """pip with no reachable index: no config files, the index on a closed local port, no retries."""
    links = tmp / "no-links"
    links.mkdir(exist_ok=True)
    return {
        "XDG_CACHE_HOME": str(cache_home), "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_FIND_LINKS": str(links), "PIP_RETRIES": "0",
    }  # fmt: skip


def loadgen(*args, env: dict, tag: str = "") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "loadgen", *map(str, args)],
        env={**os.environ, **env, "LOADGEN_TEST_TAG": tag or uuid.uuid4().hex},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip


def read_until(proc: subprocess.Popen, text: str, timeout: float = 120) -> None:
    """Read a process's stdout until a line containing text (an observable event); a timer ends a silent wait."""
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if text in line:
            return
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise AssertionError(f"never said {text!r}")


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Cache:
    """A session's cache, filled with VERSION by two `loadgen hyperd fetch` at once: the second starts while the
    first downloads (it has said so, holding the lock). The concurrent-fill test reads their outputs."""
    filled = Cache(tmp_path_factory.mktemp("cache"))
    first = loadgen("hyperd", "fetch", VERSION, env=filled.env)
    read_until(first, "downloading")
    second = loadgen("hyperd", "fetch", VERSION, env=filled.env)
    for proc, said in ((first, "downloading\n"), (second, "")):
        out, err = proc.communicate(timeout=600)
        filled.fills.append((proc.returncode, said + out, err))
    return filled


@pytest.fixture(scope="session")
def ancient(cache) -> Path:
    """ANCIENT in the session's cache (the folder holding its hyperd)."""
    proc = loadgen("hyperd", "fetch", ANCIENT, env=cache.env)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out + err
    return cache.folder / ANCIENT / "hyper"


def test_two_fetches_at_once_fill_the_cache_once_and_whole(cache):
    (first_code, first, first_err), (second_code, second, second_err) = cache.fills
    assert first_code == 0 and second_code == 0, first + first_err + second + second_err
    assert "downloading" in first and "downloading" not in second  # one download; the other waited for it
    assert f"{cache.folder / VERSION / 'hyper'}" in second
    manifest = json.loads((cache.folder / VERSION / "manifest.json").read_text())
    hyperd = cache.folder / VERSION / "hyper" / "hyperd"
    assert manifest["version"] == VERSION and manifest["wheel"].startswith(f"tableauhyperapi-{VERSION}-")
    assert manifest["hyperd_sha256"] == sha256(hyperd) and len(manifest["wheel_sha256"]) == 64
    assert [f["path"] for f in manifest["files"]] == ["hyper/hyperd"]  # what this wheel's hyper/ folder holds
    assert manifest["files"][0]["size"] == hyperd.stat().st_size and os.access(hyperd, os.X_OK)
    assert not [p for p in cache.folder.iterdir() if p.name.startswith(".fill-")]  # nothing partial left
    listing = loadgen("hyperd", "list", env=cache.env).communicate(timeout=60)[0]
    line = next(line for line in listing.splitlines() if line.startswith(VERSION))
    assert f"{hyperd.stat().st_size / 2**20:.0f} MiB" in line and line.endswith(str(hyperd.parent))


def test_a_matrix_runs_each_point_on_its_chosen_hyperd_with_its_own_files_offline(cache, cli, tmp_path):
    folder = tmp_path / "db"
    cached = cache.folder / VERSION / "hyper"
    path = write_scenario(
        tmp_path / "versions.yaml",
        f"name: versions\nrows: 20000\nserver: {{database_dir: '{folder}', keep_database: true}}\n"
        f"matrix:\n  server.hyperd: [{{}}, {{version: '{VERSION}'}}, {{path: '{cached}'}}]\n"
        "phases:\n  - {name: load, workload: insert, method: arrow}\n",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results", env=offline(cache.home, tmp_path), timeout=300)
    assert res.code == 0, res.stdout + res.stderr
    assert "downloading" not in res.stdout  # the cache, offline: pip is never asked
    run_dir = only_run_dir(tmp_path / "results")
    versions = {int(r["point"]): r["hyperd_version"] for r in read_summary(run_dir)}
    assert "0.0.26963" in versions[0] and VERSION in versions[1] and VERSION in versions[2], versions
    environment = json.loads((run_dir / "environment.json").read_text())
    points = {e["point"]: e for e in environment["hyperd"]}
    assert [points[p]["chosen"] for p in (0, 1, 2)] == ["installed", f"version {VERSION}", f"path {cached}"]
    assert points[0]["path"] == str(installed_hyperd()) and points[0]["sha256"] == sha256(installed_hyperd())
    manifest = json.loads((cache.folder / VERSION / "manifest.json").read_text())
    assert points[1]["path"] == points[2]["path"] == str(cached / "hyperd")
    assert points[1]["sha256"] == points[2]["sha256"] == manifest["hyperd_sha256"]
    assert all(points[p]["version"] == versions[p] and points[p]["database_version"] == "2" for p in points)
    history = (tmp_path / "results" / "history.csv").read_text().splitlines()
    assert "hyperd_version" in history[0].split(",") and VERSION in history[2]
    # each point wrote its own files, in the pinned format, and each version reads the other's
    files = [folder / f"loadgen_point_{p}.hyper" for p in (0, 1, 2)]
    assert all(f.read_bytes()[:11] == files[0].read_bytes()[:11] for f in files)  # same header: format 2
    for hyper_path, database in ((cached, files[0]), (None, files[1])):
        params = {"log_dir": str(tmp_path), "default_database_version": "2"}
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, hyper_path=hyper_path, parameters=params) as hp:
            with Connection(hp.endpoint, str(database)) as connection:
                assert connection.execute_scalar_query('SELECT COUNT(*) FROM "measurements_0"') == 20000


def test_an_interrupted_fetch_leaves_nothing_in_the_cache(cache, tmp_path):
    home = tmp_path / "cache"
    tag = uuid.uuid4().hex
    # pip's own cache from the session: the download is quick, the interrupt lands in it or in the extraction
    env = {"XDG_CACHE_HOME": str(home), "PIP_CACHE_DIR": str(cache.home / "pip")}
    proc = loadgen("hyperd", "fetch", VERSION, env=env, tag=tag)
    read_until(proc, "downloading")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "nothing partial was kept" in err
    assert [p.name for p in (home / "loadgen" / "hyperd").iterdir()] == [f".lock-{VERSION}"]
    assert not tagged_processes(tag)  # pip is gone too


def refused(res, results: Path, *texts: str) -> None:
    """Exit 2, the message says what to do, and nothing was written."""
    assert res.code == 2, res.stdout + res.stderr
    for text in texts:
        assert text in res.stderr, res.stderr
    assert not results.exists()


def one_phase(tmp_path: Path, server: str) -> Path:
    return write_scenario(
        tmp_path / "s.yaml", f"name: s\nrows: 2000\nserver: {server}\nphases:\n  - {{name: load, workload: insert}}\n"
    )


def test_a_version_the_index_does_not_have_is_refused_with_the_nearest_it_offers(cache, cli, tmp_path):
    res = cli("run", one_phase(tmp_path, "{hyperd: {version: '0.0.24458'}}"), env=cache.env)
    nearest = "(nearest first): 0.0.24457, 0.0.24081, 0.0.25080"
    refused(res, tmp_path / "results", "no tableauhyperapi 0.0.24458", nearest)
    assert not (cache.folder / "0.0.24458").exists()


def test_no_network_and_nothing_cached_says_how_to_fill_the_cache(cli, tmp_path):
    scenario = one_phase(tmp_path, f"{{hyperd: {{version: '{VERSION}'}}}}")
    res = cli("run", scenario, env=offline(tmp_path / "empty_cache", tmp_path))
    refused(res, tmp_path / "results", "pip cannot reach the package index", f"loadgen hyperd fetch {VERSION}")


@pytest.mark.parametrize(
    ("server", "messages"),
    [
        (
            f"{{hyperd: {{version: '{ANCIENT}'}}, parameters: {{default_database_version: '0'}}}}",
            ["is older than the installed tableauhyperapi", "Pick a newer hyperd"],
        ),
        (
            f"{{hyperd: {{version: '{ANCIENT}'}}}}",
            ["reads and writes database versions up to 0; this run pins it to 2", "default_database_version: '0'"],
        ),
    ],
    ids=["older than the library", "cannot write the pinned format"],
)
def test_a_hyperd_too_old_for_the_run_is_refused_before_it_starts(ancient, cache, cli, tmp_path, server, messages):
    res = cli("run", one_phase(tmp_path, server), env=cache.env)
    refused(res, tmp_path / "results", *messages)


def test_a_database_format_the_installed_hyperd_cannot_write_is_refused(cli, tmp_path):
    res = cli("run", one_phase(tmp_path, "{parameters: {default_database_version: '5'}}"))
    refused(res, tmp_path / "results", "this run sets server.parameters.default_database_version to 5")


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("{hyperd: {path: '.'}}", "server.hyperd.path: . holds no hyperd"),
        ("{endpoint: 'tab.tcp://localhost:1', hyperd: {path: '.'}}", "with server.endpoint loadgen starts none"),
        (f"{{hyperd: {{version: '{VERSION}', path: '.'}}}}", "give version"),
    ],
    ids=["a path without hyperd", "with an endpoint", "both version and path"],
)
def test_a_hyperd_choice_that_cannot_be_is_refused_at_validation(cli, tmp_path, server, message):
    res = cli("run", one_phase(tmp_path, server))
    refused(res, tmp_path / "results", "s.yaml:3: ", message)
