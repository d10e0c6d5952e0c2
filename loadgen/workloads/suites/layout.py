"""A suite's generated data: where it is cached (per suite, scale factor and generator version), which generator
runs, how the files are shared out among the loading workers, and whether loadgen made a cache folder (it deletes
only what it made). Light (no pyarrow): validation uses it. The cache's manifest and its checks:
loadgen/workloads/suites/cache.py.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MANIFEST = "manifest.json"


def install_hint(suite) -> str:
    return f"install it with: {sys.executable} -m pip install {suite.generator}"


def default_data_dir(suite) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "loadgen" / suite.cache_name


def sf_text(scale_factor: float) -> str:
    return f"{scale_factor:g}"


def find_generator(suite, configured: str | None = None) -> str | None:
    """The suite's generator to run: the configured path or name, else the one next to this Python (a venv's
    bin), else the first on PATH."""
    if configured:
        return shutil.which(configured) or (configured if os.access(configured, os.X_OK) else None)
    beside = Path(sys.executable).parent / suite.generator
    if beside.exists() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(suite.generator)


def generator_version(binary: str) -> str:
    """'4.0.0' from `tpchgen-cli --version` ('tpchgen-cli 4.0.0')."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    return out.strip().split()[-1]


def cache_dir(suite, data_dir: Path, scale_factor: float, version: str) -> Path:
    return Path(data_dir) / f"sf{sf_text(scale_factor)}-{suite.folder_tag}-{version}"


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


# ---------------------------------------------------------------------------------------------- ownership
def owned(suite, folder: Path) -> bool:
    """Whether loadgen made `folder`: it holds loadgen's marker, or a manifest of loadgen's (caches made before
    the marker existed)."""
    folder = Path(folder)
    if (folder / suite.marker).is_file():
        return True
    manifest = read_manifest(folder)
    return (
        isinstance(manifest, dict)
        and str(manifest.get("generator", "")).startswith(f"{suite.generator} ")
        and isinstance(manifest.get("tables"), dict)
    )


def not_ours(suite, folder: Path) -> str:
    """'' unless `folder` exists and loadgen did not make it; then what the user can do about it."""
    folder = Path(folder)
    if not folder.exists() or (folder.is_dir() and owned(suite, folder)):
        return ""
    return (
        f"{folder} exists and loadgen did not create it (it holds no {suite.marker} and no {MANIFEST} of loadgen's): "
        "loadgen deletes only what it created; move that folder elsewhere, or set data_dir to another folder"
    )


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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
