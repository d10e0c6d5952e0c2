"""What the TPC-H workloads share on the worker side: the tables' names, where the data is, and the notes the
workers leave for each other and for the coordinator in RUN_DIR/.tpch/ (their part of the manifest, their stream
timings, which tables the run created)."""

import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from tableauhyperapi import TableName

from loadgen.workloads.tpch import cache
from loadgen.workloads.tpch import data as tdata


def table_name(table: str) -> TableName:
    return TableName("public", table)


def table_sql(table: str) -> str:
    """public.<table>, quoted by tableauhyperapi."""
    return str(TableName("public", table))


NOTES = ".tpch"
POLL_S = 0.05
WAIT_S = 3600.0  # longest wait for the other workers' share of a rendezvous (they run the same phase)


# ------------------------------------------------------------------------------------------------ helpers
def notes_dir(run_dir) -> Path:
    return Path(run_dir or tempfile.gettempdir()) / NOTES


def write_note(run_dir, phase: str, label: str, payload: dict) -> None:
    folder = notes_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{phase}.{label}.json"
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(temp, path)  # a reader never sees half a note


def take_notes(run_dir, phase: str) -> list[dict]:
    """The notes the workers left for this phase; removed once read."""
    out = []
    folder = notes_dir(run_dir)
    for path in sorted(folder.glob(f"{phase}.*.json")):
        with contextlib.suppress(OSError, ValueError):
            out.append(json.loads(path.read_text(encoding="utf-8")))
        with contextlib.suppress(OSError):
            path.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()
    return out


def wait_until(done, stop, what: str, timeout_s: float = WAIT_S) -> bool:
    """Poll `done()` until it is true (True), the run stops (False) or time runs out (an error naming `what`)."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if stop.is_set():
            return False
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up after {timeout_s:g} s waiting for {what}")
        time.sleep(POLL_S)
    return True


def token(*parts) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:12]


def load_parquet_reader():
    """pyarrow.dataset, the client-side Parquet reader. Imported on first use, not at the top (it imports pandas,
    which no other workload needs): the load's setup calls this, so the import is not part of the timed load."""
    import pyarrow.dataset as pads

    return pads


def locate_data(ctx, phase) -> Path:
    """The cache folder of this phase's scale factor: the one the generate phase used in this worker, else the
    one of the installed tpchgen-cli's version, else the newest version present."""
    known = ctx.state.get("tpch_dir")
    if known and ctx.state.get("tpch_sf") == phase.scale_factor:
        return Path(known)
    binary = tdata.find_generator()
    if binary:
        return tdata.cache_dir(Path(phase.data_dir), phase.scale_factor, tdata.generator_version(binary))
    found = sorted(Path(phase.data_dir).glob(f"sf{tdata.sf_text(phase.scale_factor)}-tpchgen-*"))
    found = [f for f in found if not cache.cache_problem(f)]
    return found[-1] if found else tdata.cache_dir(Path(phase.data_dir), phase.scale_factor, "unknown")


def wait_for_data(ctx, folder: Path) -> None:
    """When this worker's previous phase generated the data, worker 0 may still be finalizing it: wait for it."""
    if ctx.state.get("tpch_dir") == str(folder) and ctx.state.get("tpch_generating"):
        # not just the manifest: a stale cache being replaced has one too, until worker 0 swaps the folders
        wait_until(lambda: not cache.cache_problem(folder), ctx.stop, f"{folder} to be finalized")
        ctx.state["tpch_generating"] = False


def require_data(ctx, phase) -> tuple[Path, dict]:
    folder = locate_data(ctx, phase)
    wait_for_data(ctx, folder)
    problem = cache.cache_problem(folder)
    if problem:
        raise RuntimeError(
            f"no complete TPC-H data for SF {tdata.sf_text(phase.scale_factor)} in {phase.data_dir} ({problem}); "
            "add a tpch_generate phase before this one"
        )
    return folder, cache.read_manifest(folder)
