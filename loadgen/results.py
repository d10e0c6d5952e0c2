"""The run folder and its files: fixed CSV columns, atomic writes, environment metadata.

A run folder is created with an exclusive mkdir, so it is never reused; every file is written to a temporary
name and renamed into place, so a reader (or a killed run) never sees half a file.
"""

import contextlib
import csv
import datetime as dt
import fcntl
import io
import itertools
import json
import os
import platform
import re
import socket
import sys
import time
from importlib import metadata
from pathlib import Path

import psutil

from loadgen import columns
from loadgen.errors import NotARunFolder, ScenarioError
from loadgen.metrics import PERCENTILES, percentile_column

SUMMARY_COLUMNS = columns.SUMMARY_NAMES
WORKER_COLUMNS = columns.WORKER_NAMES
LATENCY_COLUMNS = (
    ["run_id", "point", "phase", "repetition", "operation", "count", "errors", "min_ms"]
    + [percentile_column(p) for p in PERCENTILES]
    + ["max_ms", "mean_ms", "first_error"]
)
TIMESERIES_COLUMNS = [
    "run_id", "point", "phase", "repetition", "t_s", "interval_s", "ops", "ops_per_s", "rows_per_s", "errors",
    "p50_ms", "p99_ms", "active_sessions", "target_sessions", "target_rate_per_s",
]  # fmt: skip
OP_TIMESERIES_COLUMNS = [
    "run_id", "point", "phase", "repetition", "t_s", "interval_s", "operation", "ops", "ops_per_s", "rows_per_s",
    "errors", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p99_9_ms",
]  # fmt: skip
SAMPLE_COLUMNS = [
    "run_id", "point", "t_s", "utc", "phase", "repetition", "process", "pid", "cpu_pct", "rss_mib", "node",
]  # fmt: skip


def utc_stamp(moment: dt.datetime | None = None) -> str:
    return (moment or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


UTC_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def iso_utc(epoch_s: float) -> str:
    """`2026-11-27 21:30:17.123`: ISO 8601 with a space and no zone letter, the form LibreOffice and Excel read as
    a date-time (a trailing `Z` makes them read text). The column names say the zone: UTC."""
    return dt.datetime.fromtimestamp(epoch_s, dt.timezone.utc).strftime(UTC_FORMAT)[:-3]


def parse_utc(text: str) -> float:
    """Epoch seconds of a timestamp written by iso_utc (or by loadgen before 0.2: `…T…Z`)."""
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()


def is_aggregate(row: dict) -> bool:
    """A row that summarises repetitions (`aggregate` = median) rather than measuring one."""
    return bool(row.get("aggregate"))


def check_writable(folder: str, key: str) -> None:
    """Refuse early (exit 2, nothing created) when a folder cannot be created or written."""
    probe = Path(folder).resolve()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ScenarioError(f"{key}: {folder}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ScenarioError(f"{key}: {folder}: no permission to write in {probe}")


def create_run_dir(output_dir: str, scenario: str) -> tuple[str, Path]:
    """A new folder results/<scenario>/<UTC stamp>[-N]; returns (run_id, path)."""
    parent = Path(output_dir) / scenario
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ScenarioError(
            f"output.dir: {parent} is a file, not a folder; move it away or use --results-dir"
        ) from None
    except OSError as exc:
        raise ScenarioError(f"output.dir: cannot create {parent}: {exc.strerror or exc}") from None
    stamp = utc_stamp()
    for n in range(1, 1000):
        name = stamp if n == 1 else f"{stamp}-{n}"
        try:
            (parent / name).mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise ScenarioError(f"output.dir: cannot create a run folder in {parent}: {exc.strerror or exc}") from None
        return f"{scenario}-{name}", parent / name
    raise ScenarioError(f"output.dir: cannot create a new run folder under {parent}: 999 exist for {stamp}")


_temp_names = itertools.count()


def write_atomic(path: Path, text: str) -> None:
    """Write a temporary file and rename it into place. The temporary name is unique to this process and call,
    so writers of the same file never share one; a failed write removes it. A symlink is written through: the file
    it points to is replaced and the link stays (e.g. a history.csv that several results folders share)."""
    path = Path(os.path.realpath(path))
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{next(_temp_names)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV injection"): a matrix value
# `=HYPERLINK(…)` would be a link in summary.csv. Such text gets a leading `'`, which spreadsheets show as text; a
# number never does (-1.5 stays a number). Text that starts with `'` itself gets one more, so that read_cell gives
# back exactly what was written.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"
MARKED_STARTS = frozenset((*FORMULA_STARTS, TEXT_MARK))
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value):
    """A cell as loadgen writes it: plain numbers a spreadsheet reads (no thousands separators, floats with up to 6
    decimals), text a spreadsheet cannot run."""
    if type(value) is str:
        return TEXT_MARK + value if value[:1] in MARKED_STARTS and not NUMBER.fullmatch(value) else value
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value == value else ""
    return value


def read_cell(text: str) -> str:
    """A cell's text as it was before csv_cell."""
    return text[1:] if text.startswith(TEXT_MARK) else text


def csv_rows_text(header: list[str], rows) -> str:
    """The one CSV writer of loadgen (run folders, history.csv, compare --format csv, TPC-H answers): every cell
    through csv_cell."""
    cells = [list(map(csv_cell, row)) for row in itertools.chain([header], rows)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(cells)
    if "\r" not in out.getvalue():
        return out.getvalue()
    # Python before 3.12 leaves a field with a lone \r unquoted, which ends the row for a reader: such rows are
    # written with every field quoted (rare: looked for only when the text has a \r)
    out = io.StringIO()
    plain, quoted = csv.writer(out, lineterminator="\n"), csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in cells:
        (quoted if any(isinstance(c, str) and "\r" in c for c in row) else plain).writerow(row)
    return out.getvalue()


def csv_text(columns: list[str], rows: list[dict]) -> str:
    """A table of fixed columns; a row with a column not in the list is a bug, not silently dropped."""
    known = set(columns)
    for row in rows:
        if not known.issuperset(row):
            raise ValueError(f"columns not in the file's fixed list: {sorted(row.keys() - known)}")
    empty = [""] * len(columns)
    return csv_rows_text(columns, (map(row.get, columns, empty) for row in rows))


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    """The one CSV reader of loadgen's own files: (columns, rows), every cell as it was before csv_cell. Cells
    beyond the header are under the key None, missing ones are None (csv.DictReader). Raises OSError,
    UnicodeDecodeError, csv.Error."""
    with open(path, newline="", encoding="utf-8") as handle:
        text = handle.read()
    reader = csv.DictReader(io.StringIO(text))
    marked = TEXT_MARK in text  # most files hold no `'` at all: nothing to take off
    if marked and reader.fieldnames:
        reader.fieldnames = [read_cell(c) for c in reader.fieldnames]
    rows = list(reader)
    if marked:
        rows = [{k: read_cell(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows]
    return list(reader.fieldnames or []), rows


class RunRow(dict):
    """A row of a run folder's table (report, compare): a column the file lacks, or a number that is not one, is an
    error naming the file (exit 2) instead of a traceback."""

    __slots__ = ("file",)

    def __missing__(self, column):
        raise NotARunFolder(f"{self.file}: no column {column!r}: damaged, or not written by loadgen")

    def number(self, column: str) -> float:
        try:
            return float(self[column])
        except (TypeError, ValueError):
            raise NotARunFolder(f"{self.file}: column {column}: {self[column]!r} is not a number") from None


def read_run_table(path: Path) -> list[RunRow]:
    """A run folder's CSV as RunRows; [] when the file is not there (older runs lack some)."""
    try:
        columns, rows = read_csv(path)
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        raise NotARunFolder(f"{path}: not UTF-8 text: damaged, or not written by loadgen") from None
    except csv.Error as exc:
        raise NotARunFolder(f"{path}: cannot be read as CSV ({exc})") from None
    except OSError as exc:
        raise NotARunFolder(f"{path}: cannot be read: {exc.strerror or exc}") from None
    out = []
    for number, row in enumerate(rows, start=2):
        if None in row or None in row.values():  # csv.DictReader's marks of too many or too few cells
            raise NotARunFolder(f"{path}: row {number} has {'more' if None in row else 'fewer'} cells than the "
                                f"header ({len(columns)}): damaged, or not written by loadgen")  # fmt: skip
        out.append(RunRow(row))
        out[-1].file = path
    return out


def read_run_json(path: Path) -> dict:
    """A run folder's JSON object; {} when the file is not there."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise NotARunFolder(f"{path}: not UTF-8 text: damaged, or not written by loadgen") from None
    except json.JSONDecodeError as exc:
        raise NotARunFolder(f"{path}: not valid JSON ({exc}): damaged, or not written by loadgen") from None
    except OSError as exc:
        raise NotARunFolder(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if not isinstance(payload, dict):
        raise NotARunFolder(f"{path}: not a JSON object: damaged, or not written by loadgen")
    return payload


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    write_atomic(path, csv_text(columns, rows))


def write_json(path: Path, payload: dict, in_place_fallback: bool = False) -> None:
    """Atomically. in_place_fallback: if that fails (a full disk has no room for the temporary copy), overwrite
    the existing file in place — a small file's block is already allocated, so run.json can still say `failed`."""
    text = json.dumps(payload, indent=2, sort_keys=False) + "\n"
    try:
        write_atomic(path, text)
    except OSError:
        if not (in_place_fallback and path.exists()):
            raise
        with open(path, "r+", encoding="utf-8") as handle:
            handle.write(text)
            handle.truncate()


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def environment(run_id: str, argv: list[str]) -> dict:
    return {
        "run_id": run_id,
        "command": argv,
        "host": socket.gethostname(),
        "os": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_logical": psutil.cpu_count(logical=True),
        "cpu_physical": psutil.cpu_count(logical=False),
        "memory_total_mib": round(psutil.virtual_memory().total / 2**20),
        "python": sys.version.split()[0],
        "packages": {
            name: package_version(name)
            for name in ("loadgen", "tableauhyperapi", "pyarrow", "numpy", "psycopg", "psutil", "pydantic")
        },
        "hyperd_version": "",
    }


def final_rows(summary: list[dict]) -> list[dict]:
    """One summary row per phase (per matrix point): its `median` row when repeated, else a failed one, else
    its last one."""

    def rank(row: dict) -> int:
        return 2 if is_aggregate(row) else 1 if row.get("status") != "ok" else 0

    by_phase: dict[tuple, dict] = {}
    for row in summary:
        key = (str(row.get("point", "")), row["phase"])
        kept = by_phase.get(key)
        if kept is None or rank(row) >= rank(kept):
            by_phase[key] = row
    return list(by_phase.values())


def describe_parameters(params: dict) -> str:
    """A matrix point's parameters as one cell: `workers=2 load.method=rows`."""
    return " ".join(f"{k}={v}" for k, v in params.items())


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
