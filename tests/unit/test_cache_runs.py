"""The cold protocol's page-cache eviction, and what a run says when it could not evict."""

import shutil
import subprocess
from types import SimpleNamespace

import pytest

from loadgen.engine.server import evict_page_cache, memory_backed
from loadgen.workloads import cache_runs


def resident_bytes(path) -> int:
    out = subprocess.run(["fincore", "-b", "-n", "-o", "RES", str(path)], capture_output=True, text=True, timeout=30)
    return int(out.stdout.split()[0])


@pytest.mark.skipif(shutil.which("fincore") is None, reason="needs util-linux fincore to look at the page cache")
def test_eviction_empties_the_files_pages_without_privilege(tmp_path):
    if memory_backed(str(tmp_path)):
        pytest.skip(f"{tmp_path} is in memory: nothing to evict (the next test covers that case)")
    path = tmp_path / "db.hyper"
    path.write_bytes(b"x" * (8 << 20))
    path.read_bytes()  # now in the page cache (written and read back)
    assert resident_bytes(path) > 0
    assert evict_page_cache([str(path)]) == ""
    assert resident_bytes(path) == 0


def test_a_file_that_cannot_be_evicted_says_why(tmp_path):
    missing = tmp_path / "gone.hyper"
    why = evict_page_cache([str(missing)])
    assert str(missing) in why and "No such file" in why


def test_results_say_cold_page_cache_not_dropped():
    phase = SimpleNamespace(name="power", cache="both", restarts=lambda: True, cache_runs=lambda: 3)
    why = "posix_fadvise is not available on this system"
    statement = {"statement": "q01", "labels": ["cold", "hot", "hot"], "seconds": [0.5, 0.2, 0.1],
                 "hyperd_pid": 42, "page_cache": why, "restart_s": 0.3}  # fmt: skip
    report = {"cache": "both", "statements": [statement]}
    entry = cache_runs.clickbench_entry(phase, {"repetition": 1, "point": 0}, [report])
    assert entry["page_cache"] == f"cold: page cache not dropped ({why})"
    assert entry["result"] == [[0.5, 0.2, 0.1]] and entry["labels"] == ["cold", "hot", "hot"]
    lines = cache_runs.time_lines(phase, [statement], entry["page_cache"])
    assert entry["page_cache"] in lines
    assert cache_runs.summary_values(phase, [report]) == {"cache": "both", "cold_s": 0.5, "hot_s": 0.1}


@pytest.mark.skipif(memory_backed("/dev/shm") != "tmpfs", reason="needs a tmpfs at /dev/shm")
def test_a_file_in_memory_is_not_claimed_evicted():
    assert evict_page_cache(["/dev/shm/loadgen-any.hyper"]) == "/dev/shm/loadgen-any.hyper is on tmpfs (in memory)"
