import os
import subprocess
import sys
import threading
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


@pytest.fixture
def cli(tmp_path):
    """Run `python -m loadgen …` as a user would; afterwards assert nothing it started is still running."""
    tags = []

    def run(*args, timeout=240, env=None, preexec_fn=None):
        tag = uuid.uuid4().hex
        tags.append(tag)
        full_env = {**os.environ, "LOADGEN_TEST_TAG": tag, **(env or {})}
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "loadgen", *map(str, args)],
            cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=timeout, preexec_fn=preexec_fn,
        )  # fmt: skip
        return CliResult(proc, time.monotonic() - start, tag)

    yield run
    deadline = time.monotonic() + 5
    leftovers = []
    while time.monotonic() < deadline:
        # hyperd inherits the tag too; other hyperds on the machine (a parallel session) are not ours
        leftovers = [p for tag in tags for p in tagged_processes(tag)]
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


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 60) -> None:
    """Read a run's stderr until a line containing text — e.g. a fault's announcement `fault: sleeping 0 s at run of
    phase scan` — an observable event to act on, not a guessed sleep. A timer ends a silent wait."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        for line in proc.stderr:
            if text in line:
                return
    finally:
        timer.cancel()
    raise AssertionError(f"the run never said {text!r}")
