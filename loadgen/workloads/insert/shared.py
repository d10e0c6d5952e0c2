"""A table all workers of a phase write: the last worker to finish checks it against every worker's facts.

Each worker writes its facts to RUN_DIR/facts/PHASE/WORKER.json after its last COPY, and the one that then sees
every worker's file (all inserts are committed by then) checks the table against their sum; no barrier, no
waiting. A later phase that re-creates the table first waits until that check is done."""

import json
import os
import shutil
import tempfile
import time

SHARED_WAIT_S = 3600  # bound of the wait for other workers' last writes into a shared table
SHARED_POLL_S = 0.01


def facts_dir(run_dir: str, phase: str, clear: bool = False) -> str:
    folder = os.path.join(run_dir or tempfile.gettempdir(), "facts", phase)
    if clear:
        shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)
    return folder


def write_json(path: str, payload: dict) -> None:
    """Atomically: a reader never sees half a file."""
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
    os.replace(temp, path)


def publish(folder: str, worker: int, facts: dict) -> list[str]:
    """This worker's facts; returns the names of every worker's facts file there now."""
    write_json(os.path.join(folder, f"{worker}.json"), facts)
    return [n for n in os.listdir(folder) if n.endswith(".json")]


def read_all(folder: str, names: list[str]) -> list[dict]:
    out = []
    for name in names:
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            out.append(json.load(handle))
    return out


def mark_checked(folder: str) -> None:
    write_json(os.path.join(folder, "checked"), {"checked": True})  # the next phase may drop the table now


def claim(path: str) -> bool:
    """True for exactly one caller over all processes (an exclusive create)."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def wait_for_check(folder: str, stop) -> None:
    """Until the last worker has checked the shared table of `folder` (so every write and the check are done),
    the run stops, or the bound."""
    deadline = time.monotonic() + SHARED_WAIT_S
    while not os.path.exists(os.path.join(folder, "checked")):
        if stop.is_set() or time.monotonic() > deadline:
            raise RuntimeError(f"workers did not finish writing the shared table ({folder}) in {SHARED_WAIT_S} s")
        time.sleep(SHARED_POLL_S)  # a file-system condition: no event to wait on across processes
