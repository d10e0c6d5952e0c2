"""Files of a run folder: created with an exclusive mkdir, so a folder is never reused; every file written to a
temporary name and renamed into place, so a reader (or a killed run) never sees half a file; plain numbers and
timestamps a spreadsheet reads."""

import contextlib
import csv
import datetime as dt
import io
import itertools
import json
import os
import re
from pathlib import Path

from loadgen.errors import NotARunFolder, ScenarioError


def utc_stamp(moment: dt.datetime | None = None) -> str:
    return (moment or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def iso_utc(epoch_s: float) -> str:
    """`2026-11-27T21:30:17.123`: ISO 8601 with a `T` and no zone suffix, the form LibreOffice's default CSV import
    reads as a date-time (measured with 7.4: a space instead of the `T`, or a trailing `Z`, arrives as text), as
    pandas does with parse_dates. The column names say the zone: UTC."""
    return dt.datetime.fromtimestamp(epoch_s, dt.timezone.utc).strftime(UTC_FORMAT)[:-3]


def parse_utc(text: str) -> float:
    """Epoch seconds of a timestamp written by iso_utc (or by earlier loadgen versions: `… …` and `…T…Z`)."""
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()


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
