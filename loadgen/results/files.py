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
from pathlib import Path

from loadgen.errors import ScenarioError


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
    so writers of the same file never share one; a failed write removes it."""
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


def csv_text(columns: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        unknown = set(row) - set(columns)
        if unknown:
            raise ValueError(f"columns not in the file's fixed list: {sorted(unknown)}")
        writer.writerow({k: format_value(row.get(k, "")) for k in columns})
    return out.getvalue()


def format_value(value):
    """Plain numbers a spreadsheet reads: no thousands separators, floats with up to 6 decimals."""
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value == value else ""
    return value


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    write_atomic(path, csv_text(columns, rows))


def read_csv(path: Path) -> list[dict]:
    """The rows of a CSV file written here (text values); [] when there is no such file."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


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
