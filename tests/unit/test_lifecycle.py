"""Lifecycle pieces without a hyperd: exit descriptions, bounded calls, sweeping, progress counters."""

import configparser
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from loadgen.config.sections import ServerConfig
from loadgen.engine import server, worker
from loadgen.engine.backends.base import Backend
from loadgen.errors import ServerError
from loadgen.results.recorder import Recorder
from loadgen.transfer import staging

ROOT = Path(__file__).resolve().parents[2]


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not psutil.pid_exists(proc.pid)
    return proc.pid


def test_a_hyperd_reaped_elsewhere_is_gone_not_killed_by_sighup(tmp_path):
    hyperd = server.Server(ServerConfig(), 1, str(tmp_path), 1)
    hyperd.pid = dead_pid()
    assert hyperd.death() == "hyperd is gone (its exit code was collected elsewhere)"


def test_a_killed_hyperd_is_described_by_its_signal(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    hyperd = server.Server(ServerConfig(), 1, str(tmp_path), 1)
    hyperd.pid = proc.pid
    assert hyperd.death() == ""
    proc.kill()
    assert hyperd.death(wait_s=5) == "hyperd was killed by SIGKILL"
    proc.wait()


def test_bounded_returns_raises_and_times_out():
    assert server.bounded(lambda: 7, 1, "x") == 7
    with pytest.raises(ZeroDivisionError):
        server.bounded(lambda: 1 / 0, 1, "x")
    never = threading.Event()
    with pytest.raises(ServerError, match="probing: no answer from hyperd within 0.2 s"):
        server.bounded(never.wait, 0.2, "probing")
    never.set()


def test_sweep_removes_staged_files_of_dead_workers_only(tmp_path):
    dead, alive = dead_pid(), os.getpid()
    (tmp_path / f"loadgen-staged-{dead}-0.arrows").write_bytes(b"x")
    (tmp_path / f"loadgen-staged-{alive}-0.arrows").write_bytes(b"x")
    (tmp_path / "loadgen-notes.txt").write_bytes(b"x")
    (tmp_path / f"loadgen-{dead}-11.csv").write_bytes(b"x")  # a user's file that looks a little like ours
    removed = staging.sweep_dead([str(tmp_path)])
    assert removed == [str(tmp_path / f"loadgen-staged-{dead}-0.arrows")]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"loadgen-staged-{alive}-0.arrows", "loadgen-notes.txt", f"loadgen-{dead}-11.csv"]
    )


def test_sweep_removes_a_dead_runs_folder_and_the_socket_folder_it_noted(tmp_path):
    dead = dead_pid()
    own = tmp_path / f"{server.DB_DIR_PREFIX}{dead}-abc"
    own.mkdir()
    socket_dir = tmp_path / ("ab" * 16)
    socket_dir.mkdir()  # what a killed hyperd leaves: an empty socket folder
    (own / server.SOCKET_NOTE).write_text(str(socket_dir))
    other_socket_dir = tmp_path / ("cd" * 16)
    other_socket_dir.mkdir()  # not noted by any run of ours: left alone
    removed = server.sweep_stale(str(tmp_path), staging_dirs=[str(tmp_path)])
    assert str(own) in removed
    assert not own.exists() and not socket_dir.exists() and other_socket_dir.exists()


class FakePool(Backend):
    """A backend's bookkeeping without processes: every worker is 'ready' at once, and takes every message."""

    def __init__(self, workers: int):
        import multiprocessing as mp

        super().__init__([None] * workers, barrier_s=1, stop_s=1)
        self.progress = mp.get_context("spawn").RawArray("q", worker.PROGRESS_SLOTS * workers)

    def _receive(self, *args):
        return {}

    def _send(self, number: int, message) -> bool:
        return True


def test_a_new_phase_starts_its_progress_at_zero():
    pool = FakePool(2)
    pool.progress[:] = [1_000_000, 5, 1, 0, 64, 200_000, 3, 0, 0, 32]  # the previous phase's counters
    pool.release("next")
    assert pool.progress_totals() == (0, 0, 0, [0, 0], 0)


def test_rows_sent_in_a_running_statement_show_in_progress():
    pool = FakePool(1)
    recorder = Recorder(worker.ProgressSlot(pool.progress, 0))
    recorder.sending(16_384)
    recorder.sending(16_384)
    assert pool.progress_totals()[0] == 32_768
    recorder.record("copy", 1_000_000, 40_000)  # the COPY ends: its rows are counted, in-flight cleared
    assert pool.progress_totals()[:2] == (40_000, 1)


def test_psycopg_requirement_has_cancel_safe():
    import psycopg

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    requirement = next(r for r in cfg["options"]["install_requires"].splitlines() if r.startswith("psycopg"))
    assert requirement.endswith(">=3.2")
    assert hasattr(psycopg.Connection, "cancel_safe")


def test_make_test_says_before_it_installs_chromium():
    out = subprocess.run(["make", "-n", "-C", str(ROOT), "browser"], capture_output=True, text=True, check=True).stdout
    assert "make test: installing Debian's chromium with apt-get" in out
    assert out.index("installing Debian's chromium") < out.index("apt-get update")


def test_make_test_installs_libreoffice_calc_when_soffice_is_missing():
    out = subprocess.run(["make", "-n", "-C", str(ROOT), "test"], capture_output=True, text=True, check=True).stdout
    recipe = out[out.index("command -v soffice") :]  # make test depends on the libreoffice target
    assert "make test: installing Debian's libreoffice-calc-nogui with apt-get" in recipe
    assert recipe.index("installing Debian's libreoffice") < recipe.index("apt-get update")
    assert "apt-get install -y -qq --no-install-recommends" in recipe and "libreoffice-calc-nogui >/dev/null" in recipe


def test_sweep_keeps_a_folder_whose_databases_the_user_kept(tmp_path):
    kept = tmp_path / f"{server.DB_DIR_PREFIX}{dead_pid()}-kept"
    kept.mkdir()
    (kept / "loadgen.hyper").write_bytes(b"data")
    (kept / server.KEEP_NOTE).write_text("server.keep_database: true\n")
    assert str(kept) not in server.sweep_stale(str(tmp_path))
    assert (kept / "loadgen.hyper").exists()


def test_timestamps_are_a_form_spreadsheets_read_as_date_times():
    import re

    from loadgen.results import files as results

    text = results.iso_utc(1_795_000_000.25)
    # a T, no zone suffix: LibreOffice's default import reads it as a date-time (tests/integration/test_spreadsheets)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", text), text
    assert results.parse_utc(text) == 1_795_000_000.25
    # what earlier versions wrote still reads back
    assert results.parse_utc("2026-11-27T21:30:17.250Z") == results.parse_utc("2026-11-27 21:30:17.250")
    assert results.parse_utc("2026-11-27 21:30:17.250") == results.parse_utc("2026-11-27T21:30:17.250")


def test_a_ragged_start_is_not_flagged_on_a_phase_of_a_few_milliseconds():
    from loadgen.results.judge import suspect_results

    row = {"phase": "generate", "wall_s": 0.002, "start_skew_ms": 2.0}
    assert suspect_results([row]) == []
    assert suspect_results([dict(row, wall_s=1.0, start_skew_ms=100.0)]) == [
        "generate: workers started 100.0 ms apart, 10% of the wall time"
    ]


def test_a_signal_while_a_finished_phase_is_written_waits_for_the_end_of_the_write():
    from loadgen.engine.signals import Signals
    from loadgen.errors import Interrupted

    signals = Signals()
    signals.install()
    written = []
    try:
        with pytest.raises(Interrupted, match="SIGINT"):
            with signals.held():
                os.kill(os.getpid(), signal.SIGINT)  # delivered at once, to this (the main) thread
                written.append("summary")
                written.append("latency")
        assert written == ["summary", "latency"]  # the block was not cut in two
    finally:
        signals.restore()
