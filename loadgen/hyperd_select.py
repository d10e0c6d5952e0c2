"""Which hyperd a private server runs (`server.hyperd`), whether it can run this scenario, and what binary it was.

- default: the hyperd of the installed tableauhyperapi wheel (HyperProcess finds it itself, as before);
- `version: V`: the hyperd of the tableauhyperapi V wheel, from loadgen's cache (hyperd_cache; fetched once);
- `path: FOLDER`: a local build, the folder holding hyperd (HyperProcess(hyper_path=FOLDER)).

Before a run starts (exit 2, nothing written): the binary must support the database format every hyperd of the run
is pinned to (`default_database_version`, so that two versions read and write the same files), and a hyperd that is
not the library's own must start under the installed library with the run's settings and answer a query (an old
hyperd does not know the options today's library passes). What a run records of its hyperd: the version it
reports, the path of the running binary and its sha256. The facts about a binary (sha256, `hyperd --version`, the
settings it was seen to start with) are kept in the cache folder by path, mtime and size, so a 250 MB binary is
hashed once, not on every run.
"""

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from loadgen import hyperd_cache
from loadgen.errors import ScenarioError
from loadgen.results import package_version, write_atomic
from loadgen.workloads.base import StrictModel

VERSION_PATTERN = hyperd_cache.VERSION_PATTERN
FORMAT_SETTING = "default_database_version"
FACTS = "facts"  # folder in the cache: one JSON file of facts per binary
PROBE_S = 30.0  # starting and stopping a probe hyperd; a start that takes longer is a failure of its own


class HyperdConfig(StrictModel):
    version: str | None = Field(
        default=None,
        pattern=VERSION_PATTERN,
        description="The hyperd shipped in this tableauhyperapi wheel version (e.g. 0.0.24457), fetched once with "
        "pip into loadgen's cache (~/.cache/loadgen/hyperd).",
    )
    path: str | None = Field(
        default=None,
        min_length=1,
        description="A local build: the folder holding hyperd, as HyperProcess(hyper_path=…) takes it.",
    )


def cross_check(scenario):
    """Static rules (validation, FILE:LINE): yields (location, message)."""
    config = scenario.server
    chosen = config.hyperd
    if chosen is None or not (chosen.version or chosen.path):
        return
    if config.endpoint:
        yield (
            ("server", "hyperd"),
            "selects the hyperd of the private server loadgen starts; with server.endpoint loadgen starts none "
            "(the endpoint runs its own hyperd): remove one of them",
        )
    if chosen.version and chosen.path:
        yield (
            ("server", "hyperd"),
            "give version (a tableauhyperapi wheel's hyperd) or path (a folder holding hyperd), not both",
        )
    if chosen.path and (problem := folder_problem(chosen.path)):
        yield ("server", "hyperd", "path"), problem


def folder_problem(path: str) -> str:
    """Why a folder cannot be HyperProcess's hyper_path ('' when it can)."""
    folder = Path(path).expanduser()
    if folder.name == "hyperd" and folder.is_file():
        return f"{path} is hyperd itself; give the folder that holds it ({folder.parent}), as HyperProcess takes it"
    if not folder.is_dir():
        return f"{path}: no such folder; give the folder that holds hyperd (a local build's bin folder)"
    executable = folder / "hyperd"
    if not executable.is_file():
        return f"{path} holds no hyperd; give the folder that holds it (a local build's bin folder)"
    if not os.access(executable, os.X_OK):
        return f"{executable} is not executable (chmod +x it, or give the folder of an executable hyperd)"
    return ""


@dataclass(frozen=True)
class Hyperd:
    """A private server's hyperd, chosen and checked before the run."""

    chosen: str  # how the scenario chose it: "installed", "version 0.0.24457", "path /opt/hyper/bin"
    key: str  # the scenario key that chose it, for messages
    folder: str | None  # HyperProcess(hyper_path=…); None: the library finds its own hyperd (today's behaviour)
    executable: str
    reported: str  # what `hyperd --version` says
    max_database_version: int | None

    @property
    def name(self) -> str:
        """`hyperd main.0.0.24457.rc36858b6` (what it says it is), for messages."""
        said = self.reported.removeprefix("Hyper version ").strip()
        return f"hyperd {said}" if said else f"hyperd {self.executable}"


def prepare(points, console, progress: bool = True) -> list[Hyperd | None]:
    """Each point's hyperd (None for an endpoint), fetched into the cache where needed and checked; ScenarioError
    (exit 2) before anything starts when one cannot be had or cannot run the point. Each binary is fetched, looked
    at and probed once, however many points share it."""
    chosen: dict[tuple, Hyperd] = {}
    out: list[Hyperd | None] = []
    for scenario in points:
        config = scenario.server
        if config.endpoint:
            out.append(None)
            continue
        wanted = config.hyperd or HyperdConfig()
        if (wanted.version, wanted.path) not in chosen:
            chosen[(wanted.version, wanted.path)] = select(wanted, console, progress)
        hyperd = chosen[(wanted.version, wanted.path)]
        check_format(hyperd, config)
        if hyperd.folder is not None:
            probe(hyperd, config)
        out.append(hyperd)
    return out


def select(wanted: HyperdConfig, console, progress: bool) -> Hyperd:
    if wanted.version:
        key = "server.hyperd.version"
        try:
            folder = str(hyperd_cache.ensure(wanted.version, console, progress))
        except ScenarioError as exc:
            raise ScenarioError([f"{key}: {p}" for p in exc.problems]) from None
        chosen = f"version {wanted.version}"
    elif wanted.path:
        key = "server.hyperd.path"
        if problem := folder_problem(wanted.path):  # checked at validation; it may have changed since
            raise ScenarioError(f"{key}: {problem}")
        folder = os.path.abspath(os.path.expanduser(wanted.path))
        chosen = f"path {folder}"
    else:
        key, folder, chosen = "server.hyperd", None, "installed"
    executable = os.path.join(folder or installed_folder(), "hyperd")
    try:
        known = facts(executable)
    except (ScenarioError, OSError) as exc:
        if folder is None:  # the library's own hyperd, found as before: what it is stays unknown, nothing is refused
            return Hyperd(chosen, key, None, executable, "", None)
        raise ScenarioError(f"{key}: {exc}") from None
    return Hyperd(chosen, key, folder, executable, known["reported"], known["max_database_version"])


def installed_folder() -> str:
    """The installed wheel's folder holding hyperd, found without importing tableauhyperapi."""
    spec = importlib.util.find_spec("tableauhyperapi")
    package = list(spec.submodule_search_locations or [""])[0] if spec else ""
    return os.path.join(package, "bin", "hyper")


def database_version(config) -> str:
    """The database format the point's hyperd is pinned to."""
    from loadgen import server  # noqa: PLC0415 - server loads tableauhyperapi; validation must stay light

    return str(config.parameters.get(FORMAT_SETTING, server.HYPERD_DATABASE_FORMAT[FORMAT_SETTING]))


def check_format(hyperd: Hyperd, config) -> None:
    wanted = database_version(config)
    supported = hyperd.max_database_version
    if supported is None or not wanted.isdigit() or int(wanted) <= supported:
        return  # unknown: hyperd itself refuses a format it cannot write when it starts
    why = "pins it" if FORMAT_SETTING not in config.parameters else "sets server.parameters." + FORMAT_SETTING
    raise ScenarioError(
        f"{hyperd.key}: {hyperd.name} reads and writes database versions up to {supported}; this run {why} to "
        f"{wanted} (so that every hyperd of the run uses the same file format). Pick a hyperd that supports it, or "
        f"set server.parameters.{FORMAT_SETTING}: '{supported}' (for every point of a matrix)"
    )


def probe(hyperd: Hyperd, config) -> None:
    """Start the hyperd under the installed library with the point's settings, query it, stop it; ScenarioError
    when it does not start or answer. Remembered per binary, library version and settings."""
    from tableauhyperapi import HyperException, HyperProcess, Telemetry  # noqa: PLC0415 - only for a run

    from loadgen import server  # noqa: PLC0415

    settings = {**server.HYPERD_LOG_LIMITS, **server.HYPERD_DATABASE_FORMAT, **config.parameters}
    library = package_version("tableauhyperapi")
    seen = hashlib.sha256(json.dumps([library, sorted(settings.items())]).encode()).hexdigest()[:16]
    known = facts(hyperd.executable)
    if seen in known["started"]:
        return
    # named like the run's own folder, so that a later run sweeps it if this one is killed meanwhile
    log_dir = tempfile.mkdtemp(prefix=f"{server.DB_DIR_PREFIX}{os.getpid()}-probe-")
    process, pid = None, None
    try:
        process = HyperProcess(
            Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
            server.USER_AGENT,
            hyper_path=hyperd.folder,
            parameters={**settings, "log_dir": log_dir},
        )
        pid = server.find_hyperd_pid()
        descriptor = process.endpoint.connection_descriptor

        def ask():
            with server.open_connection(descriptor, None, None) as connection:
                return connection.execute_scalar_query("SELECT version()")

        server.bounded(ask, config.connect_timeout_s, f"{hyperd.key}: querying {hyperd.name}")
    except HyperException as exc:
        raise ScenarioError(refusal(hyperd, exc, settings, library, started=process is not None)) from None
    except server.ServerError as exc:
        raise ScenarioError(f"{exc} (server.connect_timeout_s)") from None
    finally:
        if process is not None:
            with contextlib.suppress(HyperException, server.ServerError):
                server.bounded(lambda: process.shutdown(timeout_ms=int(PROBE_S * 1000)), PROBE_S, "stop")
        server.kill_if_alive(pid or server.find_hyperd_pid(), PROBE_S)
        shutil.rmtree(log_dir, ignore_errors=True)
    remember({**known, "started": [*known["started"][-19:], seen]})


def refusal(hyperd: Hyperd, exc, settings: dict, library: str, started: bool) -> str:
    """Why the probe failed, in words: a hyperd older than the library, a setting it does not know, or else."""
    text = str(exc)
    stderr = text.split("stderr:", 1)[1] if "stderr:" in text else ""  # what hyperd said, as the library quotes it
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    telling = re.compile(r"Unknown command line option|Could not interpret|unsupported|^Error\. ")
    said = next((line for line in lines if telling.search(line)), lines[0] if lines else "")
    said = said or (getattr(exc, "main_message", "") or text).strip().splitlines()[0]
    name = hyperd.name
    unknown = re.search(r"Unknown command line option '--([A-Za-z0-9-]+)'", said)
    if not started and unknown and unknown.group(1).replace("-", "_") not in settings:
        return (
            f"{hyperd.key}: {name} is older than the installed tableauhyperapi {library} can talk to: it does not "
            f"know the options the library starts it with ({hyperd_cache.shorten(said)}). Pick a newer hyperd"
        )
    if not started:
        return f"{hyperd.key}: {name} did not start with this run's settings: {hyperd_cache.shorten(said)}"
    return (
        f"{hyperd.key}: the installed tableauhyperapi {library} cannot talk to {name}: {hyperd_cache.shorten(said)}. "
        "Pick a hyperd of a version near the library's"
    )


def record(hyperd: Hyperd | None, running, point: int) -> dict:
    """What environment.json says of the point's hyperd: how it was chosen, the version it reports, the path and
    sha256 of the binary that ran, the database format it was pinned to. `running` is the point's server.Server."""
    if hyperd is None or running.pid is None:
        return {"point": point, "chosen": "endpoint", "version": running.version}
    import psutil  # noqa: PLC0415

    try:
        executable = psutil.Process(running.pid).exe() or hyperd.executable
    except psutil.Error:
        executable = hyperd.executable
    try:
        known = facts(executable)
    except (ScenarioError, OSError):
        known = {"sha256": "", "reported": ""}
    return {
        "point": point, "chosen": hyperd.chosen, "version": running.version, "reported": known["reported"],
        "path": executable, "sha256": known["sha256"], "database_version": database_version(running.config),
    }  # fmt: skip


def facts(executable: str) -> dict:
    """sha256 and `hyperd --version` of a binary, from the cache when its path, mtime and size are unchanged."""
    path = os.path.realpath(executable)
    stat = os.stat(path)
    try:
        known = json.loads(facts_file(path).read_text(encoding="utf-8"))
        if (known["path"], known["mtime_ns"], known["size"]) == (path, stat.st_mtime_ns, stat.st_size):
            return known
    except (OSError, ValueError, KeyError, TypeError):
        pass
    reported = hyperd_cache.report_version(path)
    maximum = re.search(r"Maximum supported database version (\d+)", reported)
    known = {
        "path": path, "mtime_ns": stat.st_mtime_ns, "size": stat.st_size, "sha256": hyperd_cache.file_sha256(path),
        "reported": reported.split(" / ")[0], "max_database_version": int(maximum.group(1)) if maximum else None,
        "started": [],
    }  # fmt: skip
    remember(known)
    return known


def facts_file(path: str) -> Path:
    return hyperd_cache.root() / FACTS / f"{hashlib.sha256(path.encode()).hexdigest()[:24]}.json"


def remember(known: dict) -> None:
    """Best effort: a cache that cannot be written only costs the hash again next time."""
    target = facts_file(known["path"])
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, json.dumps(known, indent=2) + "\n")
