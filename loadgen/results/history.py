"""<output.dir>/history.csv: every run's final summary rows, appended under a lock, rewritten atomically."""

import csv
import fcntl
import os
import time
from pathlib import Path

from loadgen.results.files import csv_text, read_csv, write_atomic
from loadgen.results.tables import SUMMARY_COLUMNS

HISTORY_COLUMNS = SUMMARY_COLUMNS
HISTORY_LOCK = ".history.csv.lock"
HISTORY_LOCK_S = 30.0


def lock_within(handle, timeout_s: float) -> bool:
    """An exclusive flock (released when the file is closed, also if this process dies), or False after
    timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


class UnreadableHistory(Exception):
    """history.csv is not a table this version can extend without losing what is in it."""


def append_history(output_dir: str, rows: list[dict]) -> str | None:
    """Add this run's final rows to <output dir>/history.csv. Returns a warning when it could not (the run's
    outcome does not depend on its history), else None.

    Runs that finish together take turns: an exclusive flock on a lock file beside history.csv covers reading it
    and rewriting it (atomically, so a reader never sees half a file). Its columns are the union of the file's
    own (also ones this version does not know) and this run's (a matrix's param:KEY columns); cells a row does
    not have stay empty. A history.csv that is a symlink (one history shared by several results folders) is
    written through: the rows go to the file it points to, under a lock beside that file, which every results
    folder that links to it takes."""
    if not rows:
        return None
    path = Path(output_dir) / "history.csv"
    target = Path(os.path.realpath(path))
    try:
        with open(target.with_name(HISTORY_LOCK), "a") as lock:
            if not lock_within(lock, HISTORY_LOCK_S):  # a stopped process or a hung mount must not hang us
                return f"{path}: not updated: another process held its lock for {HISTORY_LOCK_S:g} s"
            columns, existing = read_history(target)
            wanted = dict.fromkeys([*HISTORY_COLUMNS, *(k for r in rows for k in r)])
            columns += [c for c in wanted if c not in columns]
            write_atomic(target, csv_text(columns, existing + rows))
    except UnreadableHistory as exc:
        return f"{path}: {exc}; left as it is, without this run's rows"
    except OSError as exc:
        return f"{path}: not updated: {exc}"
    return None


def read_history(path: Path) -> tuple[list[str], list[dict]]:
    """(columns, rows) of history.csv; a new history has the summary columns."""
    try:
        columns, rows = read_csv(path)
    except FileNotFoundError:
        return list(HISTORY_COLUMNS), []
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UnreadableHistory(f"cannot be read as CSV ({exc})") from None
    if not columns:
        return list(HISTORY_COLUMNS), []  # an empty file
    if "run_id" not in columns or len(set(columns)) != len(columns):
        raise UnreadableHistory("its header is not a loadgen history's (no run_id column, or repeated columns)")
    for number, row in enumerate(rows, start=2):
        if None in row:  # DictReader's key for cells beyond the header
            raise UnreadableHistory(f"row {number} has more cells than the header")
    return columns, rows
