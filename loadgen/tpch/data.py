"""TPC-H data as Parquet from tpchgen-cli, cached per scale factor and generator version.

Layout: DATA_DIR/sf<SF>-tpchgen-<version>/<table>/<table>.<part>.parquet, manifest.json (the generator, scale
factor and parts; per file its bytes, rows, xxh3_128 checksum and the sums the load checks) and the marker
.loadgen-tpch-cache, which loadgen writes when it creates a folder, before anything else. Workers generate their
parts into a temporary folder next to it (DATA_DIR/.sf<SF>-…tmp-<token>/); worker 0 writes the manifest and
renames the folder into place (`finalize`), so a half-written cache is never seen under its final name.

Every use compares the manifest with what the run asks for and each file's size, Parquet footer and rows with
the manifest; the checksums are compared on request (`verify_cache`) and after a failure (`remove_damaged`).
What does not match is regenerated: only the parts of damaged files when the manifest itself is sound. loadgen
deletes only what it made: a folder holding its marker or its manifest.
"""

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from loadgen.tpch.schema import CHECKSUM_COLUMNS, TABLES, spec_rows

GENERATOR = "tpchgen-cli"
MANIFEST = "manifest.json"
MARKER = ".loadgen-tpch-cache"
CHECKSUM = "xxh3_128"
# what loadgen writes into a cache folder: the marker, the manifest, the Parquet parts, DuckDB's reference answers
LOADGEN_FILE = re.compile(
    r"\.loadgen-tpch-cache|\.?manifest\.json(\.tmp)?|(?P<table>[a-z]+)/(?P=table)\.[0-9]+\.parquet"
    r"|reference/duckdb-[^/]+/\.?q[0-9]{2}-[0-9a-f]+\.parquet(\.[0-9]+\.tmp)?"
)
SINGLE_PART_TABLES = ("nation", "region")  # tpchgen-cli writes these whole into part 1
INSTALL_HINT = f"install it with: {sys.executable} -m pip install {GENERATOR}"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "loadgen" / "tpch"


def sf_text(scale_factor: float) -> str:
    return f"{scale_factor:g}"


def find_generator(configured: str | None = None) -> str | None:
    """The tpchgen-cli to run: the configured path or name, else the one next to this Python (a venv's bin),
    else the first on PATH."""
    if configured:
        return shutil.which(configured) or (configured if os.access(configured, os.X_OK) else None)
    beside = Path(sys.executable).parent / GENERATOR
    if beside.exists() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(GENERATOR)


def generator_version(binary: str) -> str:
    """'4.0.0' from `tpchgen-cli --version` ('tpchgen-cli 4.0.0')."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    return out.strip().split()[-1]


def cache_dir(data_dir: Path, scale_factor: float, version: str) -> Path:
    return Path(data_dir) / f"sf{sf_text(scale_factor)}-tpchgen-{version}"


def writable_problem(folder: Path) -> str:
    """'' when `folder` exists and is writable, or could be created; else why not. Probes by creating and at
    once removing a temporary folder in the nearest existing ancestor, so it leaves nothing behind."""
    folder = Path(folder).expanduser()
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return f"{folder}: no existing parent folder"
        probe = probe.parent
    if not probe.is_dir():
        return f"{folder}: {probe} is not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".loadgen-probe-", dir=probe))
    except OSError as exc:
        return f"{folder}: cannot write in {probe} ({exc.strerror or exc})"
    return ""


def default_parts(scale_factor: float, workers: int) -> int:
    """Parts per table: at least one per worker, and about one per unit of scale factor (≤ ~1 GB files)."""
    return max(workers, math.ceil(scale_factor))


def parts_of_worker(worker: int, workers: int, parts: list[int]) -> list[int]:
    return [k for i, k in enumerate(sorted(parts)) if i % workers == worker]


def generate_command(binary: str, scale_factor: float, parts: int, part: int, out: Path, threads: int) -> list[str]:
    return [
        binary, "parquet", "--scale-factor", sf_text(scale_factor), "--parts", str(parts), "--part", str(part),
        "--output-dir", str(out), "--num-threads", str(threads), "--quiet",
    ]  # fmt: skip


def files_of_part(folder: Path, part: int) -> list[Path]:
    return sorted(Path(folder).glob(f"*/*.{part}.parquet"))


# ---------------------------------------------------------------------------------------------- ownership
def owned(folder: Path) -> bool:
    """Whether loadgen made `folder`: it holds loadgen's marker, or a manifest of loadgen's (caches made before
    the marker existed)."""
    folder = Path(folder)
    if (folder / MARKER).is_file():
        return True
    manifest = read_manifest(folder)
    return (
        isinstance(manifest, dict)
        and str(manifest.get("generator", "")).startswith(f"{GENERATOR} ")
        and isinstance(manifest.get("tables"), dict)
    )


def not_ours(folder: Path) -> str:
    """'' unless `folder` exists and loadgen did not make it; then what the user can do about it."""
    folder = Path(folder)
    if not folder.exists() or (folder.is_dir() and owned(folder)):
        return ""
    return (
        f"{folder} exists and loadgen did not create it (it holds no {MARKER} and no {MANIFEST} of loadgen's): "
        "loadgen deletes only what it created; move that folder elsewhere, or set data_dir to another folder"
    )


def make_folder(folder: Path) -> None:
    """Create `folder` (FileExistsError if it is there) and, before anything else, loadgen's marker in it."""
    Path(folder).parent.mkdir(parents=True, exist_ok=True)
    os.mkdir(folder)
    (Path(folder) / MARKER).write_text("made by loadgen: TPC-H Parquet data (loadgen may delete this folder)\n")


def remove_folder(folder: Path) -> None:
    """Delete `folder` if loadgen made it; a folder it did not make is left alone."""
    if Path(folder).is_dir() and owned(folder):
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


def file_entry(root: Path, path: Path) -> dict:
    """What the manifest records of one file: bytes, rows, checksum and the sums the load checks."""
    table = path.parent.name
    key, money = CHECKSUM_COLUMNS[table]
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


def part_of(path: str) -> int:
    """The part a cache file belongs to: 3 for lineitem/lineitem.3.parquet."""
    return int(path.rsplit(".", 2)[1])


def expected_paths(table: str, parts: int) -> list[str]:
    return sorted(f"{table}/{table}.{k}.parquet" for k in range(1, (1 if table in SINGLE_PART_TABLES else parts) + 1))


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


def manifest_files(manifest: dict) -> list[dict]:
    return [f for info in manifest["tables"].values() for f in info["files"]]


def data_digest(manifest: dict) -> str:
    """What identifies the data: a hash of every file's path and checksum (reference answers are keyed by it)."""
    lines = sorted(f"{f['path']} {f[CHECKSUM]}" for f in manifest_files(manifest))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def manifest_problem(folder: Path, manifest, scale_factor: float, parts: int | None = None) -> str:
    """'' when `manifest` is loadgen's, complete and describes `folder` as the run asks for it: the scale factor
    and the generator's version (both in the folder's name too), `parts` when the phase sets it, every table's
    files (exactly one per part), their checksums, and rows that add up (to the specification's where it has
    them). Else the first difference."""
    where = Path(folder) / MANIFEST
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
        return f"{where} is missing or unreadable"
    generator, made_parts = str(manifest.get("generator", "")), manifest.get("parts")
    if not generator.startswith(f"{GENERATOR} ") or not isinstance(made_parts, int) or made_parts < 1:
        return f"{where} is not a manifest of loadgen's TPC-H data (generator {generator!r}, parts {made_parts!r})"
    made_sf = manifest.get("scale_factor")
    if not isinstance(made_sf, (int, float)) or made_sf != scale_factor:
        return f"{where} says scale factor {made_sf}, the run asks for {sf_text(scale_factor)} (a copied folder?)"
    named = cache_dir(Path(folder).parent, scale_factor, generator.removeprefix(f"{GENERATOR} ")).name
    if Path(folder).name != named:
        return f"{where} says {generator} at SF {sf_text(made_sf)}, which belongs in {named}, not {Path(folder).name}"
    if parts is not None and made_parts != parts:
        return f"it has {made_parts} parts per table, the phase asks for {parts}"
    if set(manifest["tables"]) != set(TABLES):
        return f"{where} lists the tables {sorted(manifest['tables'])}, expected {sorted(TABLES)}"
    for table, info in manifest["tables"].items():
        files = info.get("files") if isinstance(info, dict) else None
        if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
            return f"{where}: {table} has no list of files"
        if sorted(str(f.get("path")) for f in files) != expected_paths(table, made_parts):
            return f"{where}: {table}'s files are not its {made_parts} parts"
        if not all(isinstance(f.get(k), t) for f in files for k, t in ((CHECKSUM, str), ("bytes", int), ("rows", int))):
            return f"{where}: {table}'s files have no sizes, rows and {CHECKSUM} checksums (made by an older loadgen?)"
        rows, spec = sum(f["rows"] for f in files), spec_rows(table, scale_factor)
        if rows != info.get("rows") or (spec is not None and rows != spec):
            total = info.get("rows")
            return f"{where}: {table}'s files hold {rows} rows, its total says {total}, the specification {spec}"
        try:  # the sums the load compares Hyper's with: those of the files, as build_manifest adds them up
            money = CHECKSUM_COLUMNS[table][1]
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


def cache_problem(folder: Path, scale_factor: float, checksums: bool = False, parts: int | None = None) -> str:
    """'' when the cached folder is complete, is what the run asks for and its files match the manifest (sizes,
    Parquet footers, rows; with `checksums`, checksums too), else what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"{folder} does not exist"
    manifest = read_manifest(folder)
    problem = manifest_problem(folder, manifest, scale_factor, parts)
    return problem or describe(file_problems(folder, manifest, checksums))


def regeneration(folder: Path, scale_factor: float, parts: int, parts_asked: int | None, checksums: bool):
    """What a generate phase makes: (why the cached folder cannot be used as it is, '' when it can; the sound
    manifest whose undamaged files are kept, None when everything is made anew; the parts to make)."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"{folder} does not exist", None, list(range(1, parts + 1))
    manifest = read_manifest(folder)
    problem = manifest_problem(folder, manifest, scale_factor, parts_asked)
    if problem:
        return problem, None, list(range(1, parts + 1))
    damaged = file_problems(folder, manifest, checksums)
    return describe(damaged), manifest, sorted({part_of(path) for path, _ in damaged})


def remove_damaged(folder: Path, scale_factor: float) -> list[tuple[str, str]]:
    """After a failure: every file of a sound cache checked against its checksum; the damaged ones are deleted
    (they are loadgen's: listed in its manifest), so that the next tpch_generate phase regenerates their parts.
    Returns them, with what is wrong."""
    manifest = read_manifest(folder)
    if manifest_problem(folder, manifest, scale_factor):
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


def link_kept(final: Path, temp: Path, manifest: dict, remade: list[int]) -> list[dict]:
    """Link into `temp` the files of the cache `final` whose parts are not remade; their manifest entries. The
    new folder then replaces the old one whole, as after a full generation."""
    kept = [f for f in manifest_files(manifest) if part_of(f["path"]) not in remade]
    for f in kept:
        link_or_copy(Path(final) / f["path"], Path(temp) / f["path"])
    return kept


def write_manifest(folder: Path, manifest: dict) -> None:
    temp = Path(folder) / f".{MANIFEST}.tmp"
    temp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(temp, Path(folder) / MANIFEST)


def finalize(temp: Path, final: Path, manifest: dict, stale: dict | None = None) -> str:
    """Write the manifest into `temp` and rename it to `final`. The `final` this run found wanting (its manifest
    `stale`), or any other that is not sound, is replaced: it is moved aside, the files in it that loadgen does
    not write there are linked into the new folder, and only once that is in place is the old one deleted (if
    the new one cannot be put in place, the old one goes back). A sound one another run put there meanwhile wins
    and `temp` is removed. Returns what happened, for the report."""
    write_manifest(temp, manifest)
    sf = manifest["scale_factor"]
    kept = f"another run completed {final} meanwhile: kept that one"
    if final.exists() and read_manifest(final) != stale and not cache_problem(final, sf):
        remove_folder(temp)
        return kept
    aside = old = None
    if final.exists():
        problem = not_ours(final)
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
        if final.exists() and not cache_problem(final, sf):
            remove_folder(temp)
            return kept
        raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)  # made just now: the old folder, its foreign files linked
    return f"generated {final}"


def table_files(manifest: dict) -> list[tuple[str, str, int, int]]:
    """(table, relative path, bytes, rows) of every file in the manifest."""
    return [(t, f["path"], f["bytes"], f["rows"]) for t, info in manifest["tables"].items() for f in info["files"]]


def assign_files(files: list[tuple], workers: int, by_table: bool = True) -> list[list[tuple]]:
    """Longest first onto the least loaded worker (by bytes): deterministic, so every worker computes the same
    assignment on its own. `by_table`: a table's files all go to one worker, so no two workers write the same
    table at once (Hyper runs concurrent COPYs into one table no faster than one after the other, and here
    slower); otherwise files are spread one by one."""
    groups: dict[str, list[tuple]] = {}
    for item in files:
        groups.setdefault(item[0] if by_table else item[1], []).append(item)
    loads = [0] * workers
    out: list[list[tuple]] = [[] for _ in range(workers)]
    for key in sorted(groups, key=lambda k: (-sum(f[2] for f in groups[k]), k)):
        w = min(range(workers), key=lambda i: (loads[i], i))
        out[w].extend(sorted(groups[key], key=lambda f: f[1]))
        loads[w] += sum(f[2] for f in groups[key])
    return out
