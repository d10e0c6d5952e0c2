"""A suite's cache of its generator's Parquet files (where it is and who made it: loadgen/workloads/suites/layout.py).

Layout: DATA_DIR/sf<SF>-<tag>-<version>/<table>/<table>.<part>.parquet, manifest.json (the generator, scale
factor and parts; per file its bytes, rows, xxh3_128 checksum and the sums the load checks) and the marker
.loadgen-<suite>-cache, which loadgen writes when it creates a folder, before anything else. Workers generate their
parts into a temporary folder next to it (DATA_DIR/.sf<SF>-…tmp-<token>/); worker 0 writes the manifest and
renames the folder into place (`finalize`), so a half-written cache is never seen under its final name.

Every use compares the manifest with what the run asks for and each file's size, Parquet footer and rows with
the manifest; the checksums are compared on request (`verify_cache`) and after a failure (`remove_damaged`).
What does not match is regenerated: only the units (loadgen/workloads/suites/suite.py) of damaged files when
the manifest itself is sound. loadgen
deletes only what it made: a folder holding its marker or its manifest.
"""

import contextlib
import datetime as dt
import decimal
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from loadgen.workloads.suites.layout import MANIFEST, cache_dir, not_ours, owned, read_manifest, sf_text

CHECKSUM = "xxh3_128"
# what loadgen writes into a cache folder: the marker, the manifest, the Parquet parts, DuckDB's reference answers
LOADGEN_FILE = re.compile(
    r"\.loadgen-[a-z]+-cache|\.?manifest\.json(\.tmp)?|(?P<table>[a-z_]+)/(?P=table)\.[0-9]+\.parquet"
    r"|reference/duckdb-[^/]+/\.?q[0-9]{2}-[0-9a-f]+\.parquet(\.[0-9]+\.tmp)?"
)


def make_folder(suite, folder: Path) -> None:
    """Create `folder` (FileExistsError if it is there) and, before anything else, loadgen's marker in it."""
    Path(folder).parent.mkdir(parents=True, exist_ok=True)
    os.mkdir(folder)
    (Path(folder) / suite.marker).write_text(
        f"made by loadgen: {suite.label} Parquet data (loadgen may delete this folder)\n"
    )


def remove_folder(suite, folder: Path) -> None:
    """Delete `folder` if loadgen made it; a folder it did not make is left alone."""
    if Path(folder).is_dir() and owned(suite, folder):
        shutil.rmtree(folder, ignore_errors=True)


def foreign_files(folder: Path) -> list[str]:
    """Files in a cache folder that loadgen does not write there (relative paths): kept when it is replaced."""
    folder = Path(folder)
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink() or (not path.is_dir() and not LOADGEN_FILE.fullmatch(rel)):
            found.append(rel)
    return sorted(found)


# ---------------------------------------------------------------------------------------------- manifest
def file_checksum(path: Path) -> str:
    """xxh3_128 of the file's bytes: 5-9 GB/s on the 2-core development machine, 5-7x sha256 (even with SHA-NI)
    and 10x blake2b, so all of SF 1 (346 MiB of Parquet) costs 0.04-0.07 s. It detects damage, not tampering."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def file_entry(suite, root: Path, path: Path) -> dict:
    """What the manifest records of one file: bytes, rows, checksum and the sums the load checks."""
    table = path.parent.name
    key, money = suite.checksum_columns(table)
    columns = [key] + ([money] if money else [])
    data = pq.read_table(path, columns=columns)
    return {
        "path": path.relative_to(root).as_posix(),
        "table": table,
        "bytes": path.stat().st_size,
        "rows": data.num_rows,
        CHECKSUM: file_checksum(path),
        "sum_key": int(pc.sum(data[key]).as_py() or 0),
        "sum_money": str(pc.sum(data[money]).as_py() or 0) if money else None,
    }


def build_manifest(suite, root: Path, entries: list[dict], scale_factor: float, version: str, parts: int) -> dict:
    """The manifest of a complete generated folder; raises ValueError naming what is missing or wrong."""
    by_table: dict[str, list[dict]] = {t: [] for t in suite.tables}
    for entry in entries:
        by_table[entry["table"]].append(entry)
    problems = []
    tables = {}
    for table, files in by_table.items():
        want_parts = len(suite.expected_paths(table, parts))
        if len(files) != want_parts:
            problems.append(f"{table}: {len(files)} files, expected {want_parts}")
        rows = sum(f["rows"] for f in files)
        expected = suite.spec_rows(table, scale_factor)
        if expected is not None and rows != expected and not files == []:
            problems.append(f"{table}: {rows} rows in the files, the specification says {expected}")
        money = suite.checksum_columns(table)[1]
        tables[table] = {
            "rows": rows,
            "sum_key": sum(f["sum_key"] for f in files),
            "sum_money": str(sum(_decimal(f["sum_money"]) for f in files)) if money else None,
            "files": sorted(files, key=lambda f: f["path"]),
        }
    if problems:
        raise ValueError("; ".join(problems))
    return {
        "generator": f"{suite.generator} {version}",
        "scale_factor": scale_factor,
        "parts": parts,
        "created_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "tables": tables,
    }


def _decimal(text):
    return decimal.Decimal(text)


def manifest_files(manifest: dict) -> list[dict]:
    return [f for info in manifest["tables"].values() for f in info["files"]]


def data_digest(manifest: dict) -> str:
    """What identifies the data: a hash of every file's path and checksum (reference answers are keyed by it)."""
    lines = sorted(f"{f['path']} {f[CHECKSUM]}" for f in manifest_files(manifest))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def manifest_problem(suite, folder: Path, manifest, scale_factor: float, parts: int | None = None) -> str:
    """'' when `manifest` is loadgen's, complete and describes `folder` as the run asks for it: the scale factor
    and the generator's version (both in the folder's name too), `parts` when the phase sets it, every table's
    files (exactly one per part), their checksums, and rows that add up (to the specification's where it has
    them). Else the first difference."""
    where = Path(folder) / MANIFEST
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
        return f"{where} is missing or unreadable"
    generator, made_parts = str(manifest.get("generator", "")), manifest.get("parts")
    if not generator.startswith(f"{suite.generator} ") or not isinstance(made_parts, int) or made_parts < 1:
        return (
            f"{where} is not a manifest of loadgen's {suite.label} data (generator {generator!r}, parts {made_parts!r})"
        )
    made_sf = manifest.get("scale_factor")
    if not isinstance(made_sf, (int, float)) or made_sf != scale_factor:
        return f"{where} says scale factor {made_sf}, the run asks for {sf_text(scale_factor)} (a copied folder?)"
    named = cache_dir(suite, Path(folder).parent, scale_factor, generator.removeprefix(f"{suite.generator} ")).name
    if Path(folder).name != named:
        return f"{where} says {generator} at SF {sf_text(made_sf)}, which belongs in {named}, not {Path(folder).name}"
    if parts is not None and made_parts != parts:
        return f"it has {made_parts} parts per table, the phase asks for {parts}"
    if set(manifest["tables"]) != set(suite.tables):
        return f"{where} lists the tables {sorted(manifest['tables'])}, expected {sorted(suite.tables)}"
    for table, info in manifest["tables"].items():
        files = info.get("files") if isinstance(info, dict) else None
        if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
            return f"{where}: {table} has no list of files"
        if sorted(str(f.get("path")) for f in files) != suite.expected_paths(table, made_parts):
            return f"{where}: {table}'s files are not its {made_parts} parts"
        if not all(isinstance(f.get(k), t) for f in files for k, t in ((CHECKSUM, str), ("bytes", int), ("rows", int))):
            return f"{where}: {table}'s files have no sizes, rows and {CHECKSUM} checksums (made by an older loadgen?)"
        rows, spec = sum(f["rows"] for f in files), suite.spec_rows(table, scale_factor)
        if rows != info.get("rows") or (spec is not None and rows != spec):
            total = info.get("rows")
            return f"{where}: {table}'s files hold {rows} rows, its total says {total}, the specification {spec}"
        try:  # the sums the load compares Hyper's with: those of the files, as build_manifest adds them up
            money = suite.checksum_columns(table)[1]
            sums = (
                sum(f["sum_key"] for f in files),
                str(sum(_decimal(f["sum_money"]) for f in files)) if money else None,
            )
        except (KeyError, TypeError, ValueError, ArithmeticError):
            sums = None
        if sums != (info.get("sum_key"), info.get("sum_money")):
            return f"{where}: {table}'s sums are not those of its files"
    return ""


def file_problems(folder: Path, manifest: dict, checksums: bool = False) -> list[tuple[str, str]]:
    """(file, what is wrong) for each file that differs from the manifest (a sound one: see manifest_problem):
    missing, another size (truncated or changed), no readable Parquet footer, other rows, and with `checksums`
    another checksum."""
    found = []
    for f in manifest_files(manifest):
        path = Path(folder) / f["path"]
        try:
            size = path.stat().st_size
        except OSError:
            found.append((f["path"], "is missing"))
            continue
        if size != f["bytes"]:
            found.append((f["path"], f"has {size} bytes, the manifest says {f['bytes']} (truncated or changed)"))
            continue
        try:
            rows = pq.read_metadata(path).num_rows
        except Exception as exc:  # noqa: BLE001 - any unreadable footer means a bad file
            found.append((f["path"], f"is not readable Parquet: {exc}"))
            continue
        if rows != f["rows"]:
            found.append((f["path"], f"has {rows} rows, the manifest says {f['rows']}"))
        elif checksums and file_checksum(path) != f[CHECKSUM]:
            found.append((f["path"], f"has another {CHECKSUM} checksum than the manifest's (damaged or changed)"))
    return found


def describe(problems: list[tuple[str, str]], shown: int = 3) -> str:
    text = "; ".join(f"{path} {what}" for path, what in problems[:shown])
    return text + (f"; and {len(problems) - shown} more files" if len(problems) > shown else "")


def cache_problem(suite, folder: Path, scale_factor: float, checksums: bool = False, parts: int | None = None) -> str:
    """'' when the cached folder is complete, is what the run asks for and its files match the manifest (sizes,
    Parquet footers, rows; with `checksums`, checksums too), else what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"{folder} does not exist"
    manifest = read_manifest(folder)
    problem = manifest_problem(suite, folder, manifest, scale_factor, parts)
    return problem or describe(file_problems(folder, manifest, checksums))


def regeneration(suite, folder: Path, scale_factor: float, parts: int, parts_asked: int | None, checksums: bool):
    """What a generate phase makes: (why the cached folder cannot be used as it is, '' when it can; the sound
    manifest whose undamaged files are kept, None when everything is made anew; the units to make)."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"{folder} does not exist", None, suite.units(parts)
    manifest = read_manifest(folder)
    problem = manifest_problem(suite, folder, manifest, scale_factor, parts_asked)
    if problem:
        return problem, None, suite.units(parts)
    damaged = file_problems(folder, manifest, checksums)
    return describe(damaged), manifest, sorted({suite.unit_of(path) for path, _ in damaged}, key=suite.unit_order)


def remove_damaged(suite, folder: Path, scale_factor: float) -> list[tuple[str, str]]:
    """After a failure: every file of a sound cache checked against its checksum; the damaged ones are deleted
    (they are loadgen's: listed in its manifest), so that the next generate phase regenerates their units.
    Returns them, with what is wrong."""
    manifest = read_manifest(folder)
    if manifest_problem(suite, folder, manifest, scale_factor):
        return []
    damaged = file_problems(folder, manifest, checksums=True)
    for path, _ in damaged:
        with contextlib.suppress(OSError):
            (Path(folder) / path).unlink()
    return damaged


def link_or_copy(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` (a symbolic link itself, not what it points to), else a copy: the
    source stays where it is."""
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def link_kept(suite, final: Path, temp: Path, manifest: dict, remade: list[str]) -> list[dict]:
    """Link into `temp` the files of the cache `final` whose units are not remade; their manifest entries. The
    new folder then replaces the old one whole, as after a full generation."""
    kept = [f for f in manifest_files(manifest) if suite.unit_of(f["path"]) not in remade]
    for f in kept:
        link_or_copy(Path(final) / f["path"], Path(temp) / f["path"])
    return kept


def write_manifest(folder: Path, manifest: dict) -> None:
    temp = Path(folder) / f".{MANIFEST}.tmp"
    temp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(temp, Path(folder) / MANIFEST)


def finalize(suite, temp: Path, final: Path, manifest: dict, stale: dict | None = None) -> str:
    """Write the manifest into `temp` and rename it to `final`. The `final` this run found wanting (its manifest
    `stale`), or any other that is not sound, is replaced: it is moved aside, the files in it that loadgen does
    not write there are linked into the new folder, and only once that is in place is the old one deleted (if
    the new one cannot be put in place, the old one goes back). A sound one another run put there meanwhile wins
    and `temp` is removed. Returns what happened, for the report."""
    write_manifest(temp, manifest)
    sf = manifest["scale_factor"]
    kept = f"another run completed {final} meanwhile: kept that one"
    if final.exists() and read_manifest(final) != stale and not cache_problem(suite, final, sf):
        remove_folder(suite, temp)
        return kept
    aside = old = None
    if final.exists():
        problem = not_ours(suite, final)
        if problem:
            raise OSError(problem)
        aside = Path(tempfile.mkdtemp(prefix=f".{final.name}.replaced-", dir=final.parent))
        old = aside / final.name
        os.rename(final, old)
    try:
        for rel in foreign_files(old) if old else []:
            link_or_copy(old / rel, temp / rel)
        os.rename(temp, final)
    except OSError:
        made, aside = aside, None  # nothing is deleted now: at worst the old folder stays aside
        if old is not None and not final.exists():
            os.rename(old, final)  # the old folder back in place, with the user's files
            made.rmdir()
        if final.exists() and not cache_problem(suite, final, sf):
            remove_folder(suite, temp)
            return kept
        raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)  # made just now: the old folder, its foreign files linked
    return f"generated {final}"
