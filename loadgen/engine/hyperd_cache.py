"""loadgen's cache of the hyperd binaries that tableauhyperapi wheels ship (`server.hyperd.version`, `loadgen hyperd
fetch`, `loadgen hyperd list`).

Layout of the cache folder, $XDG_CACHE_HOME/loadgen/hyperd (default ~/.cache/loadgen/hyperd):

    VERSION/hyper/           the wheel's tableauhyperapi/bin/hyper/ folder: hyperd and whatever it loads (recent
                             wheels ship hyperd alone; old ones, e.g. 0.0.9746, add libssl/libcrypto that hyperd
                             finds through its RPATH $ORIGIN, and hyperdstarter)
    VERSION/manifest.json    version, the wheel's sha256, hyperd's sha256, every file; a VERSION folder with a
                             manifest is complete, one without is not loadgen's and is never touched
    .fill-PID-XXXX/          a fill under way: pip's download (and pip's own temp files), the extraction; renamed
                             into place only when complete, so a partial download never counts as cached
    .lock-VERSION            the flock a fill holds: a second loadgen filling the same version waits, then finds it

pip fetches the wheel (`pip download`, from whatever index the user's pip is configured for), so a proxy, a mirror
or a local index works as it does for `pip install`; the wheel itself is not kept.
"""

import collections
import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import psutil

from loadgen.config.hyperd import VERSION_PATTERN
from loadgen.errors import EXIT_OK, Interrupted, ScenarioError
from loadgen.results.files import utc_stamp, write_atomic
from loadgen.results.history import lock_within

PACKAGE = "tableauhyperapi"

WHEEL_FOLDER = "tableauhyperapi/bin/hyper/"  # what HyperProcess(hyper_path=…) needs: hyperd and what it loads
HYPER = "hyper"  # VERSION/hyper/ holds that folder's files
MANIFEST = "manifest.json"
FILL_PREFIX = ".fill-"  # + pid: lets a later fill remove what a killed one left
LOCK_PREFIX = ".lock-"
FILL_LOCK_S = 900.0  # another process may be downloading 90 MB over a slow link: wait that long, no longer
PIP_S = 1800.0  # the whole `pip download`; pip's own retries and timeouts (the user's pip config) come first
VERSION_RUN_S = 30.0  # `hyperd --version`
PIP_STOP_S = 5.0  # an interrupted pip gets this long to remove its own temp files
CHUNK = 1 << 20
NEAREST_SHOWN = 8
# what pip says (its debug lines with -vv, its retry warnings) when it cannot reach an index; a 404 is not one
NETWORK_TROUBLE = re.compile(
    r"connection error|NewConnectionError|Failed to establish a new connection|name resolution|Name or service not "
    r"known|Network is unreachable|timed out|ConnectTimeout|ReadTimeout|ProxyError|SSLError|ssl certificate|"
    r"Max retries exceeded|connection broken",
    re.IGNORECASE,
)
PIP_LINES_KEPT = 200


def command(action: str, versions: list[str], console) -> int:
    """`loadgen hyperd list` and `loadgen hyperd fetch VERSION…`."""
    if action == "list":
        entries = cached()
        if not entries:
            console.print(f"no hyperd versions cached in {root()}; fill it with `loadgen hyperd fetch VERSION`")
        for found in entries:
            console.print(f"{found['version']:<12} {found['size'] / 2**20:>6.0f} MiB  {found['path']}", highlight=False)
        return EXIT_OK
    bad = [v for v in versions if not re.match(VERSION_PATTERN, v)]
    if bad:
        raise ScenarioError([f"hyperd fetch: {v!r} is not a tableauhyperapi version like 0.0.24457" for v in bad])
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        for version in versions:
            was_there = entry(version) is not None
            folder = ensure(version, console, progress=True)
            console.print(f"hyperd {version}: {'cached' if was_there else 'ready'}: {folder}", highlight=False)
    except KeyboardInterrupt:
        raise Interrupted("interrupted by SIGINT; nothing partial was kept in the cache") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    return EXIT_OK


def interrupt(signum, _frame):
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}; nothing partial was kept in the cache")


def root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "loadgen" / "hyperd"


def entry(version: str) -> Path | None:
    """The cached folder holding hyperd of a version (HyperProcess's hyper_path), or None when not cached."""
    folder = root() / version
    return folder / HYPER if (folder / MANIFEST).is_file() else None


def cached() -> list[dict]:
    """Every complete entry: version, size (bytes of its files), path (the folder holding hyperd)."""
    found = []
    with contextlib.suppress(OSError):
        for folder in root().iterdir():
            try:
                facts = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a fill under way, a lock file, or a folder that is not loadgen's
            size = sum(f.get("size", 0) for f in facts.get("files", []))
            found.append({"version": facts.get("version", folder.name), "size": size, "path": str(folder / HYPER)})
    return sorted(found, key=lambda f: version_key(f["version"]))


def ensure(version: str, console, progress: bool = True) -> Path:
    """The folder holding hyperd of `version`, fetched and extracted into the cache first when it is not there.
    ScenarioError (exit 2) when it cannot be had: no such version, no network, a cache that cannot be written."""
    found = entry(version)
    if found is not None:
        return found
    folder = root()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / f"{LOCK_PREFIX}{version}", "a")  # noqa: SIM115 - held across the fill below
    except OSError as exc:
        raise ScenarioError(
            f"cannot write the hyperd cache {folder}: {exc.strerror or exc}; set XDG_CACHE_HOME to a folder you "
            "can write"
        ) from None
    with lock:
        if not lock_within(lock, 0):
            console.print(f"hyperd {version}: another loadgen is filling the cache; waiting (up to {FILL_LOCK_S:g} s)")
            if not lock_within(lock, FILL_LOCK_S):
                raise ScenarioError(
                    f"hyperd {version}: another process held {lock.name} for {FILL_LOCK_S:g} s; try again later"
                )
        found = entry(version)  # filled by the process we waited for
        if found is not None:
            console.print(f"hyperd {version}: filled by another loadgen meanwhile: {found}", highlight=False)
            return found
        sweep_dead_fills(folder)
        return fill(version, folder, console, progress)


def fill(version: str, folder: Path, console, progress: bool) -> Path:
    """Download, extract, check that hyperd runs, write the manifest, then rename into place (under the lock)."""
    target = folder / version
    if target.exists():
        raise ScenarioError(
            f"hyperd {version}: {target} exists but is not a complete cache entry (no {MANIFEST}); loadgen did not "
            "create it, so it leaves it alone: move it away and fetch again"
        )
    work = Path(tempfile.mkdtemp(prefix=f"{FILL_PREFIX}{os.getpid()}-", dir=folder))
    try:
        started = time.monotonic()
        wheel = download(version, work, console, progress)
        downloaded = time.monotonic()
        staged = work / version
        files, wheel_sha = extract(wheel, staged / HYPER, console, progress)
        hyperd = next((f for f in files if f["path"] == f"{HYPER}/hyperd"), None)
        if hyperd is None:
            raise ScenarioError(
                f"hyperd {version}: {wheel.name} has no {WHEEL_FOLDER}hyperd; loadgen needs the Linux wheel"
            )
        reported = report_version(staged / HYPER / "hyperd")
        facts = {
            "version": version, "wheel": wheel.name, "wheel_sha256": wheel_sha, "hyperd_sha256": hyperd["sha256"],
            "reported": reported, "files": files, "fetched_utc": utc_stamp(),
        }  # fmt: skip
        write_atomic(staged / MANIFEST, json.dumps(facts, indent=2) + "\n")
        os.rename(staged, target)  # atomic: the entry appears complete or not at all
        extracted = time.monotonic()
        console.print(
            f"hyperd {version}: cached in {target} (download {downloaded - started:.1f} s, "
            f"{wheel.stat().st_size / 2**20:.0f} MiB; extraction {extracted - downloaded:.1f} s)",
            highlight=False,
        )
        return target / HYPER
    except OSError as exc:
        raise ScenarioError(f"hyperd {version}: cannot fill the cache in {folder}: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def download(version: str, work: Path, console, progress: bool) -> Path:
    """`pip download` of the wheel into work/wheel; pip's progress is shown as ours. Returns the wheel's path."""
    dest, pip_tmp = work / "wheel", work / "tmp"
    pip_tmp.mkdir()
    command = [
        sys.executable, "-m", "pip", "download", f"{PACKAGE}=={version}", "--no-deps", "--only-binary=:all:",
        "--dest", str(dest), "--progress-bar", progress_bar_mode(),
        "-vv",  # pip tells why an index could not be read (no network) only in its debug lines
    ]  # fmt: skip
    console.print(f"hyperd {version}: downloading {PACKAGE} {version} with pip", highlight=False)
    # pip's temp files in our folder: whatever an interrupted pip leaves goes with it
    env = {**os.environ, "TMPDIR": str(pip_tmp), "PIP_NO_INPUT": "1"}
    errors_path = work / "pip.err"
    with open(errors_path, "w+", encoding="utf-8") as errors, bar(console, progress) as shown:
        task = shown.add_task("download", total=None)
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=env, text=True)
        watchdog = threading.Timer(PIP_S, proc.kill)
        watchdog.start()
        said = collections.deque(maxlen=PIP_LINES_KEPT)
        try:
            for line in proc.stdout:
                match = re.match(r"Progress (\d+) of (\d+)", line)
                if match:
                    done, total = map(int, match.groups())
                    shown.update(task, completed=done, total=total or None)
                elif NETWORK_TROUBLE.search(line):
                    said.append(line)
            proc.wait()
        finally:
            watchdog.cancel()
            stop_pip(proc)
        errors.seek(0)
        stderr = "".join(said) + errors.read()
    wheels = sorted(dest.glob("*.whl")) if dest.is_dir() else []
    if proc.returncode != 0 or len(wheels) != 1:
        raise ScenarioError(pip_failure(version, stderr, proc.returncode))
    return wheels[0]


def progress_bar_mode(pip_version: str | None = None) -> str:
    """pip's `--progress-bar raw` (lines loadgen turns into its own bar) exists from pip 24.1 on; an older pip (a
    venv made without upgrading it) refuses the whole command for it, so it gets `off` and loadgen shows a spinner."""
    if pip_version is None:
        try:
            pip_version = importlib.metadata.version("pip")  # the pip that `sys.executable -m pip` runs
        except importlib.metadata.PackageNotFoundError:
            return "off"  # no pip: the download fails and pip_failure says what to do
    numbers = [int(part) for part in re.findall(r"\d+", pip_version)[:2]] + [0, 0]
    return "raw" if tuple(numbers[:2]) >= (24, 1) else "off"


def stop_pip(proc: subprocess.Popen) -> None:
    """An interrupted pip: SIGINT first (pip removes its temp files on KeyboardInterrupt), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(OSError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(PIP_STOP_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def pip_failure(version: str, stderr: str, code: int | None) -> str:
    """What went wrong with `pip download`, in words that say what to do."""
    fill_hint = (
        f"fill the cache where the index can be reached (`loadgen hyperd fetch {version}`, then copy "
        f"{root() / version} to this machine's {root()} if it stays offline)"
    )
    if "No module named pip" in stderr:
        return (
            f"hyperd {version}: loadgen fetches hyperd with pip, and {sys.executable} has no pip: install it, or "
            f"{fill_hint}"
        )
    offered = re.search(r"\(from versions: ([^)]*)\)", stderr)
    versions = [] if not offered or offered.group(1).strip() == "none" else offered.group(1).split(", ")
    trouble = next((line.strip() for line in stderr.splitlines() if NETWORK_TROUBLE.search(line)), "")
    if versions:
        near = nearest(version, versions)
        more = f", … ({len(versions)} in all: `pip index versions {PACKAGE}`)" if len(near) > NEAREST_SHOWN else ""
        return (
            f"hyperd {version}: the package index has no {PACKAGE} {version} wheel for this platform; it offers "
            f"(nearest first): {', '.join(near[:NEAREST_SHOWN])}{more}"
        )
    if trouble:
        return (
            f"hyperd {version}: not in loadgen's cache ({root()}) and pip cannot reach the package index "
            f"({shorten(trouble)}): {fill_hint}"
        )
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), f"exit code {code}")
    return f"hyperd {version}: pip could not download {PACKAGE} {version} ({shorten(last)}); {fill_hint}"


def shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def version_key(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.]", text))


def nearest(version: str, versions: list[str]) -> list[str]:
    """Versions ordered by closeness to `version`: the longest common prefix of parts first, then the smallest
    difference in the first part that differs (0.0.24458 → 0.0.24457, 0.0.24081, 0.0.25080, …)."""
    wanted = version_key(version)

    def distance(other: str) -> tuple:
        key = version_key(other)
        shared = min(len(wanted), len(key))
        common = next((i for i in range(shared) if wanted[i] != key[i]), shared)
        gap = abs(wanted[common] - key[common]) if common < shared else 0
        return (-common, gap, other)

    return sorted((v.strip() for v in versions if v.strip()), key=distance)


def extract(wheel: Path, destination: Path, console, progress: bool) -> tuple[list[dict], str]:
    """The wheel's tableauhyperapi/bin/hyper/ files into destination, with their modes; their sha256 computed
    while they are written. Returns (files, the wheel's sha256)."""
    files = []
    with zipfile.ZipFile(wheel) as archive, bar(console, progress) as shown:
        members = [m for m in archive.infolist() if m.filename.startswith(WHEEL_FOLDER) and not m.is_dir()]
        task = shown.add_task("extract", total=sum(m.file_size for m in members) or None)
        for member in members:
            relative = member.filename[len(WHEEL_FOLDER) :]
            if not relative or ".." in Path(relative).parts or Path(relative).is_absolute():
                continue  # not a file of the folder (a crafted name would escape the cache)
            path = destination / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with archive.open(member) as source, open(path, "wb") as out:
                while block := source.read(CHUNK):
                    digest.update(block)
                    out.write(block)
                    shown.advance(task, len(block))
            os.chmod(path, (member.external_attr >> 16) & 0o777 or 0o644)
            files.append({"path": f"{HYPER}/{relative}", "size": member.file_size, "sha256": digest.hexdigest()})
    return files, file_sha256(wheel)


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def report_version(executable: Path | str) -> str:
    """What `hyperd --version` prints, on one line; ScenarioError when it does not run here."""
    try:
        proc = subprocess.run(
            [str(executable), "--version"], capture_output=True, text=True, timeout=VERSION_RUN_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScenarioError(f"{executable} does not run on this machine: {exc}") from None
    if proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip().splitlines()
        raise ScenarioError(
            f"{executable} does not run on this machine: `hyperd --version` exited with code {proc.returncode}"
            + (f" ({shorten(said[0])})" if said else "")
        )
    return " / ".join(line.strip() for line in proc.stdout.splitlines() if line.strip())


def sweep_dead_fills(folder: Path) -> None:
    """Remove the fill folders of loadgen processes that are gone (killed mid-fill); only ours, by their name."""
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            owner = path.name[len(FILL_PREFIX) :].split("-", 1)[0] if path.name.startswith(FILL_PREFIX) else ""
            if owner.isdigit() and int(owner) != os.getpid() and not psutil.pid_exists(int(owner)):
                shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def bar(console, shown: bool):
    """A rich progress bar on the console, on a terminal only (elsewhere the lines before and after say it)."""
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("  {task.description:>8}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(
        *columns, TimeElapsedColumn(), console=console, disable=not (shown and console.is_terminal), transient=True
    ) as progress:
        yield progress
