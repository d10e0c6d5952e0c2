import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent


class CliResult:
    def __init__(self, proc: subprocess.CompletedProcess, seconds: float, tag: str):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.seconds = seconds
        self.tag = tag


def tagged_processes(tag: str) -> list[psutil.Process]:
    """Every process that inherited LOADGEN_TEST_TAG=tag (the coordinator's workers, whatever their parent)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("LOADGEN_TEST_TAG") == tag:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def hyperd_pids() -> set[int]:
    return {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in ("hyperd", "hyperdMain")}


@pytest.fixture
def cli(tmp_path):
    """Run `python -m loadgen …` as a user would; afterwards assert nothing it started is still running."""
    before_hyperd = hyperd_pids()
    tags = []

    def run(*args, timeout=240, env=None):
        tag = uuid.uuid4().hex
        tags.append(tag)
        full_env = {**os.environ, "LOADGEN_TEST_TAG": tag, **(env or {})}
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "loadgen", *map(str, args)],
            cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        return CliResult(proc, time.monotonic() - start, tag)

    yield run
    deadline = time.monotonic() + 5
    leftovers = []
    while time.monotonic() < deadline:
        leftovers = [p for tag in tags for p in tagged_processes(tag)] + list(hyperd_pids() - before_hyperd)
        if not leftovers:
            break
        time.sleep(0.1)
    assert not leftovers, f"processes left behind: {leftovers}"


def write_scenario(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def only_run_dir(results: Path) -> Path:
    runs = [p for p in results.glob("*/*") if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]
