"""The TPC-H cache: DATA_DIR/sf<SF>-tpchgen-<version>/<table>/<table>.<part>.parquet plus manifest.json (files,
bytes, rows, sha256, and per table the rows and the sums the load checks). Workers generate their parts into a
temporary folder next to it (DATA_DIR/.sf<SF>-…tmp-<token>/); the manifest is written and the folder renamed into
place (`finalize`), so a half-written cache is never seen under its final name. A cache whose files do not match
its manifest (missing, truncated, changed size, unreadable Parquet footer) is not used: the generate phase
regenerates it.
"""

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from loadgen.workloads.tpch.data import GENERATOR
from loadgen.workloads.tpch.schema import CHECKSUM_COLUMNS, TABLES, spec_rows

MANIFEST = "manifest.json"
SINGLE_PART_TABLES = ("nation", "region")  # tpchgen-cli writes these whole into part 1


def file_entry(root: Path, path: Path) -> dict:
    """What the manifest records of one file: bytes, rows, sha256 and the sums the load checks."""
    table = path.parent.name
    key, money = CHECKSUM_COLUMNS[table]
    columns = [key] + ([money] if money else [])
    data = pq.read_table(path, columns=columns)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {
        "path": path.relative_to(root).as_posix(),
        "table": table,
        "bytes": path.stat().st_size,
        "rows": data.num_rows,
        "sha256": digest.hexdigest(),
        "sum_key": int(pc.sum(data[key]).as_py() or 0),
        "sum_money": str(pc.sum(data[money]).as_py() or 0) if money else None,
    }


def build_manifest(root: Path, entries: list[dict], scale_factor: float, version: str, parts: int) -> dict:
    """The manifest of a complete generated folder; raises ValueError naming what is missing or wrong."""
    by_table: dict[str, list[dict]] = {t: [] for t in TABLES}
    for entry in entries:
        by_table[entry["table"]].append(entry)
    problems = []
    tables = {}
    for table, files in by_table.items():
        want_parts = 1 if table in SINGLE_PART_TABLES else parts
        if len(files) != want_parts:
            problems.append(f"{table}: {len(files)} files, expected {want_parts}")
        rows = sum(f["rows"] for f in files)
        expected = spec_rows(table, scale_factor)
        if expected is not None and rows != expected and not files == []:
            problems.append(f"{table}: {rows} rows in the files, the specification says {expected}")
        money = CHECKSUM_COLUMNS[table][1]
        tables[table] = {
            "rows": rows,
            "sum_key": sum(f["sum_key"] for f in files),
            "sum_money": str(sum(_decimal(f["sum_money"]) for f in files)) if money else None,
            "files": sorted(files, key=lambda f: f["path"]),
        }
    if problems:
        raise ValueError("; ".join(problems))
    return {
        "generator": f"{GENERATOR} {version}",
        "scale_factor": scale_factor,
        "parts": parts,
        "created_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "tables": tables,
    }


def _decimal(text):
    import decimal

    return decimal.Decimal(text)


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def cache_problem(folder: Path, checksums: bool = False) -> str:
    """'' when the cached folder is complete and matches its manifest, else the first problem found.
    Checks sizes and each file's Parquet footer (a truncated file has none); with `checksums`, also sha256."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"{folder} does not exist"
    manifest = read_manifest(folder)
    if manifest is None or set(manifest.get("tables", {})) != set(TABLES):
        return f"{folder / MANIFEST} is missing or unreadable"
    for info in manifest["tables"].values():
        for f in info["files"]:
            path = folder / f["path"]
            try:
                size = path.stat().st_size
            except OSError:
                return f"{f['path']} is missing"
            if size != f["bytes"]:
                return f"{f['path']} has {size} bytes, the manifest says {f['bytes']} (truncated or changed)"
            try:
                rows = pq.read_metadata(path).num_rows
            except Exception as exc:  # noqa: BLE001 - any unreadable footer means a bad file
                return f"{f['path']} is not readable Parquet: {exc}"
            if rows != f["rows"]:
                return f"{f['path']} has {rows} rows, the manifest says {f['rows']}"
            if checksums and file_entry(folder, path)["sha256"] != f["sha256"]:
                return f"{f['path']}: sha256 differs from the manifest"
    return ""


def write_manifest(folder: Path, manifest: dict) -> None:
    temp = Path(folder) / f".{MANIFEST}.tmp"
    temp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(temp, Path(folder) / MANIFEST)


def finalize(temp: Path, final: Path, manifest: dict) -> str:
    """Write the manifest into `temp` and rename it to `final`. A bad `final` (one that failed cache_problem) is
    moved aside and removed first; a good one another run put there meanwhile wins and `temp` is removed.
    Returns what happened, for the report."""
    write_manifest(temp, manifest)
    if final.exists():
        if not cache_problem(final):
            shutil.rmtree(temp, ignore_errors=True)
            return f"another run completed {final} meanwhile: kept that one"
        aside = final.with_name(final.name + f".bad-{os.getpid()}")
        os.rename(final, aside)
        shutil.rmtree(aside, ignore_errors=True)
    try:
        os.rename(temp, final)
    except OSError:
        if final.exists() and not cache_problem(final):
            shutil.rmtree(temp, ignore_errors=True)
            return f"another run completed {final} meanwhile: kept that one"
        raise
    return f"generated {final}"


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(path)
