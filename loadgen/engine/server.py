"""hyperd for a run: start a private one (or use an endpoint), create the databases, always shut down.

Also the connection helpers workers use: a tableauhyperapi Connection from an endpoint string, and a psycopg
connection to the same hyperd over its PostgreSQL protocol.
"""

import contextlib
import errno
import os
import re
import shutil
import tempfile
import threading
import time

import psutil
from tableauhyperapi import (
    Connection,
    CreateMode,
    Endpoint,
    HyperException,
    HyperProcess,
    Telemetry,
    escape_name,
)

from loadgen.engine import faults
from loadgen.errors import ScenarioError, ServerError, describe_exit
from loadgen.transfer import staging

USER_AGENT = "loadgen"
DB_DIR_PREFIX = "loadgen-db-"  # + coordinator pid: lets a later run remove what a killed one left
SOCKET_DIR = re.compile(r"^[0-9a-f]{32}$")  # tableauhyperapi's folder for hyperd's domain socket
SOCKET_NOTE = "socket_dir"  # in our own folder: the socket folder of the hyperd we started, for the sweep
KEEP_NOTE = "KEPT"  # in our own folder when server.keep_database kept it: never swept
# hyperd rotates its log past this size and keeps this many files: a long run under load (~0.8 MB/s) never
# fills the disk; loadgen reads what its CSVs need while the run goes on (hyperlog.Tail)
HYPERD_LOG_LIMITS = {"log_file_size_limit": "64M", "log_file_max_count": "4"}
# the database file format, set explicitly (hyperd's own default since 0.0.23576) so that the hyperds of a run, of
# different versions, read and write the same files; server.parameters.default_database_version overrides it
HYPERD_DATABASE_FORMAT = {"default_database_version": "2"}
RESPONDS_S = 1.0  # how long a liveness probe of a hyperd that may be dying or frozen waits
HYPERD_NAMES = ("hyperd", "hyperdMain")
PG_USER = "tableau_internal_user"
# What libpq says when hyperd cannot take one more connection just now, and why: worth another try soon. Its
# Unix-socket listen backlog holds 128 connects (somaxconn caps it); past that a connect fails at once with EAGAIN.
REFUSALS = {
    os.strerror(errno.EAGAIN): "hyperd's listen backlog was full (Resource temporarily unavailable)",
    os.strerror(errno.ECONNREFUSED): "connection refused",
}


def endpoint(descriptor: str) -> Endpoint:
    return Endpoint(descriptor, USER_AGENT)


def credentials(config) -> dict:
    """user/password connection parameters from server.user and the variable named by server.password_env.
    The password is read from the environment where it is used and is never written anywhere."""
    out = {}
    if config.user:
        out["user"] = config.user
    if config.password_env:
        if config.password_env not in os.environ:
            raise ScenarioError(f"server.password_env: environment variable {config.password_env} is not set")
        out["password"] = os.environ[config.password_env]
    return out


def connect(
    descriptor: str, database: str | None = None, auth: dict | None = None, timeout_s: float = 5.0
) -> Connection:
    """A Connection, or ServerError if hyperd does not answer within timeout_s (the library itself would wait
    forever on a server that accepts TCP and never speaks)."""
    return bounded(
        lambda: open_connection(descriptor, database, auth),
        timeout_s,
        f"connecting to {descriptor}",
    )


def open_connection(descriptor: str, database: str | None, auth: dict | None) -> Connection:
    """A Connection with no timeout of its own: call it through bounded() (connect() does)."""
    return Connection(endpoint(descriptor), database, CreateMode.NONE, parameters=auth or None)


def bounded(call, timeout_s: float, what: str):
    """Run a blocking library call on a helper thread and wait at most timeout_s for it.

    Why a thread: tableauhyperapi blocks inside C with no timeout of its own, and a signal handler runs only when
    the main thread gets back to Python. Waiting on an Event keeps the main thread in Python, so Ctrl-C and
    SIGTERM are handled at once. A call that never returns is abandoned on its daemon thread (the process's
    exit does not wait for it)."""
    box: dict = {}
    done = threading.Event()

    def target():
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, daemon=True, name="loadgen-bounded-call").start()
    if not done.wait(timeout_s):
        raise ServerError(f"{what}: no answer from hyperd within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def pg_params(descriptor: str) -> dict:
    """libpq host/port for a Hyper endpoint. tab.domain://DIR/domain/.s.PGSQL.N is the socket DIR/.s.PGSQL.N."""
    if descriptor.startswith("tab.tcp://"):
        host, _, port = descriptor[len("tab.tcp://") :].rpartition(":")
        return {"host": host.strip("[]"), "port": port}
    if descriptor.startswith("tab.domain://"):
        path = descriptor[len("tab.domain://") :]
        directory, _, name = path.rpartition("/")
        if directory.endswith("/domain"):
            directory = directory[: -len("/domain")]
        return {"host": directory, "port": name.rpartition(".")[2]}
    raise ValueError(f"not a Hyper endpoint: {descriptor!r}")


def pg_connect(descriptor: str, database: str | None, auth: dict | None = None, timeout_s: float = 10):
    import psycopg  # only the arrow_stream paths need it

    return _intervals_as_text(psycopg.connect(**pg_arguments(descriptor, database, auth, timeout_s)))


def _intervals_as_text(connection):
    """Hyper sends INTERVAL results in ISO 8601 ('PT1H30M'), which psycopg cannot parse (it raises): keep them as
    text. Bound as a parameter again, Hyper reads that text back as an INTERVAL."""
    from psycopg.types.string import TextLoader

    connection.adapters.register_loader("interval", TextLoader)
    return connection


async def pg_connect_async(descriptor: str, database: str | None, auth: dict | None = None, timeout_s: float = 10):
    """A psycopg AsyncConnection (the sessions of a mix phase), bounded by timeout_s as a whole: one attempt, no
    retry (sessions.SessionPool paces many connects and retries refusals)."""
    import asyncio

    import psycopg

    connect = psycopg.AsyncConnection.connect(**pg_arguments(descriptor, database, auth, timeout_s))
    connection = await asyncio.wait_for(connect, timeout_s)
    connection.prepare_threshold = None  # prepare only when an operation says `prepare: true`, never behind its back
    return _intervals_as_text(connection)


def refusal(exc: BaseException) -> str | None:
    """Why hyperd refused a connect for now (a full listen backlog, …), or None: not a refusal worth a retry."""
    text = str(exc)
    return next((why for said, why in REFUSALS.items() if said in text), None)


def pg_arguments(descriptor: str, database: str | None, auth: dict | None, timeout_s: float) -> dict:
    auth = auth or {}
    return {
        **pg_params(descriptor),
        "user": auth.get("user", PG_USER),
        "password": auth.get("password"),
        "dbname": database or "",
        "autocommit": True,
        "connect_timeout": max(1, int(timeout_s)),
    }


def check_endpoint(descriptor: str, auth: dict, timeout_s: float, databases: list[str], replace: bool) -> None:
    """Fail early (exit 2, nothing written) when an external endpoint cannot be reached in time, or when a
    database file we would create already exists there (unless the scenario allows replacing it)."""

    def probe():
        with open_connection(descriptor, None, auth) as connection:
            connection.execute_scalar_query("SELECT 1")
            return [] if replace else [path for path in databases if database_exists(connection, path)]

    try:
        existing = bounded(probe, timeout_s, f"server.endpoint: cannot connect to {descriptor}")
    except ServerError as exc:
        raise ScenarioError(f"{exc} (server.connect_timeout_s)") from None
    except HyperException as exc:
        raise ScenarioError(f"server.endpoint: cannot connect to {descriptor}: {first_line(exc)}") from None
    if existing:
        raise ScenarioError(refuse_existing(existing))


def database_exists(connection: Connection, path: str) -> bool:
    """Whether hyperd can open a database file at path: ATTACH succeeds only for an existing file."""
    alias = "loadgen_probe"
    try:
        connection.execute_command(f"ATTACH DATABASE {escape_name(path)} AS {escape_name(alias)}")
    except HyperException:
        return False
    connection.execute_command(f"DETACH DATABASE {escape_name(alias)}")
    return True


def check_database_files(databases: list[str], replace: bool) -> None:
    """Refuse (exit 2, nothing written) to start when a database file we would create exists in a database_dir
    on this host, unless the scenario allows replacing it."""
    existing = [path for path in dict.fromkeys(databases) if os.path.exists(path)]
    if existing and not replace:
        raise ScenarioError(refuse_existing(existing))


def refuse_existing(paths: list[str]) -> str:
    shown = ", ".join(dict.fromkeys(paths))
    return (
        f"server.database_dir: {shown} already exists; loadgen creates its own database files and never replaces "
        "one it did not create. Choose an empty folder, or set server.replace_existing: true to drop and re-create it"
    )


def database_paths(config, workers: int, directory: str, point: int | None = None) -> list[str]:
    """The database file of each worker: one shared file, or one per worker. Each matrix point (`point`) has files
    of its own: a .hyper file is opened by one hyperd at a time, and points may run different hyperds."""
    stem = "loadgen" if point is None else f"loadgen_point_{point}"
    if config.database == "shared":
        return [os.path.join(directory, f"{stem}.hyper")] * workers
    return [os.path.join(directory, f"{stem}_worker_{w}.hyper") for w in range(workers)]


def first_line(exc: BaseException) -> str:
    """A one-line message; for Hyper errors its main message (str() adds context lines and positions)."""
    text = (getattr(exc, "main_message", None) or str(exc)).strip()
    return text.splitlines()[0].rstrip(": ") if text else type(exc).__name__


class Server:
    """One hyperd for one run: a private one started here, or an external endpoint. Whatever happens, close()
    shuts a private hyperd down and removes the folder we created (unless keep_database)."""

    def __init__(
        self,
        config,
        workers: int,
        log_dir: str,
        shutdown_s: float,
        ours: set[str] | None = None,
        hyper_path: str | None = None,
        point: int | None = None,
    ):
        self.config = config
        self.hyper_path = hyper_path  # the folder holding the hyperd to start; None: the library's own
        self.point = point  # a matrix point: its own database files
        self.workers = workers
        self.log_dir = log_dir
        self.shutdown_s = shutdown_s
        self.connect_s = config.connect_timeout_s
        self.process: HyperProcess | None = None
        self.descriptor = config.endpoint
        self.pid: int | None = None
        self.version = ""
        self._own_dir: str | None = None  # our temp folder: database files (without database_dir) and notes
        self.databases: list[str] = []
        self.auth = credentials(config)
        # database files this run created (shared by the points of a matrix): an earlier point's file is ours
        self.ours = ours if ours is not None else set()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        # our folder first, named after this process, so that a later run can sweep it if we are SIGKILLed
        self._own_dir = tempfile.mkdtemp(prefix=f"{DB_DIR_PREFIX}{os.getpid()}-")
        if self.config.keep_database and not self.config.database_dir:
            # from the start: a run killed before its cleanup must not have its kept databases swept later
            with open(os.path.join(self._own_dir, KEEP_NOTE), "w", encoding="utf-8") as note:
                note.write("server.keep_database: true\n")
        if self.descriptor is None:
            self._start_private()
        self._create_databases()

    def _start_private(self, step: str = "start") -> None:
        params = {"log_dir": self.log_dir, **HYPERD_LOG_LIMITS, **HYPERD_DATABASE_FORMAT, **self.config.parameters}
        if self.config.transport == "tcp":
            params.setdefault("listen_connection", "tab.tcp://localhost:auto")
        os.makedirs(self.log_dir, exist_ok=True)
        # (no signal mask here: hyperd would inherit it and ignore its own shutdown; an interrupt between the
        # start and the assignment is covered by close(), which then looks the child up)
        try:
            telemetry = Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU
            process = HyperProcess(telemetry, USER_AGENT, hyper_path=self.hyper_path, parameters=params)
        except HyperException as exc:
            raise ServerError(f"hyperd did not start: {first_line(exc)}") from None
        faults.inject("coordinator", "hyperd", step)  # a test's window: started, not yet held
        self.process = process
        self.pid = find_hyperd_pid()
        self.descriptor = self.process.endpoint.connection_descriptor
        if self.descriptor.startswith("tab.domain://"):
            with open(os.path.join(self._own_dir, SOCKET_NOTE), "w", encoding="utf-8") as note:
                note.write(pg_params(self.descriptor)["host"])

    def _stop_private(self) -> None:
        """Shut the private hyperd down, bounded; kill it if it does not go."""
        process, self.process = self.process, None
        try:  # bounded: a frozen (SIGSTOPped) hyperd never answers a shutdown request
            if process is not None:
                bounded(lambda: process.shutdown(timeout_ms=int(self.shutdown_s * 1000)), self.shutdown_s + 1, "stop")
        except (HyperException, ServerError):
            pass
        finally:
            kill_if_alive(self.pid, self.shutdown_s)
        self.pid = None

    def restart(self) -> str:
        """A fresh private hyperd on the same database files, for the cold protocol (docs/cold_hot.md): stop this
        one, evict the files from the OS page cache, start another (same binary, settings and log folder). Returns
        '' when the page cache was dropped, else why not. An interrupt anywhere in between leaves close() a hyperd
        it can find (held, or a child of ours) or none."""
        if self.config.endpoint:
            raise ServerError("cannot restart an external endpoint's hyperd")
        self._stop_private()
        remove_socket_dir(self._own_dir)  # the stopped hyperd's socket folder (a new one gets its own)
        why = evict_page_cache(dict.fromkeys(self.databases))
        self.descriptor = None
        self._start_private("restart")
        return why

    def _create_databases(self) -> None:
        directory = self.config.database_dir or self._own_dir
        if self.config.database_dir and self.process is not None:
            os.makedirs(directory, exist_ok=True)
        self.databases = database_paths(self.config, self.workers, directory, self.point)

        def create():
            with open_connection(self.descriptor, None, self.auth) as c:
                version = c.execute_scalar_query("SELECT version()")
                for path in dict.fromkeys(self.databases):
                    if self.config.replace_existing or path in self.ours:  # said so, or made by this run
                        c.execute_command(f"DROP DATABASE IF EXISTS {escape_name(path)}")
                    elif database_exists(c, path):  # appeared since the preflight check
                        raise ScenarioError(refuse_existing([path]))
                    try:
                        c.execute_command(f"CREATE DATABASE {escape_name(path)}")
                    except HyperException as exc:
                        if "already exists" in str(exc):  # a file the probe could not open: still not ours
                            raise ScenarioError(refuse_existing([path])) from None
                        raise
                    self.ours.add(path)
                return version

        try:
            budget = self.connect_s * (1 + len(set(self.databases)))  # a connection, then a statement or two per file
            self.version = bounded(create, budget, f"creating the database in {directory}")
        except HyperException as exc:
            raise ServerError(f"cannot create the database in {directory}: {first_line(exc)}") from None

    def database_for(self, worker: int) -> str:
        return self.databases[worker]

    def death(self, wait_s: float = 0) -> str:
        """'' while the private hyperd lives; else how it ended ('hyperd was killed by SIGKILL', …).
        wait_s: how long to give a dying hyperd to finish dying (its sockets close before it becomes a zombie,
        so a worker can notice first)."""
        if self.pid is None:
            return ""
        deadline = time.monotonic() + wait_s
        try:
            proc = psutil.Process(self.pid)
            while proc.status() != psutil.STATUS_ZOMBIE:
                if time.monotonic() >= deadline:
                    return ""
                time.sleep(0.02)
            return f"hyperd {describe_exit(proc.wait(timeout=0))}"
        except psutil.NoSuchProcess:
            return "hyperd is gone (its exit code was collected elsewhere)"
        except psutil.TimeoutExpired:
            return ""

    def responds(self) -> bool:
        """Whether hyperd answers a trivial query within RESPONDS_S (a frozen hyperd does not)."""

        def probe():
            with open_connection(self.descriptor, None, self.auth) as c:
                c.execute_scalar_query("SELECT 1")

        try:
            bounded(probe, RESPONDS_S, "probing hyperd")
            return True
        except (HyperException, ServerError):
            return False

    def close(self) -> None:
        # No DROP DATABASE here: hyperd 0.0.26963 was seen to crash (SIGSEGV) on a DROP DATABASE issued right
        # after the workers' connections closed the database. Deleting the files of the folder we created, once
        # the private hyperd is down (or the endpoint's sessions are closed), removes the same data safely.
        # Databases in a user-given database_dir are the user's: they stay.
        if self.process is None and self.pid is None and not self.config.endpoint:
            kill_if_alive(find_hyperd_pid(), 1.0)  # started, but interrupted before we held it
        if self.process is not None or self.pid is not None:  # (pid alone: a restart's stop was interrupted)
            self._stop_private()
        if self._own_dir:
            remove_socket_dir(self._own_dir)
            if self.config.keep_database and not self.config.database_dir:
                # the user asked to keep the databases in our folder: mark it so no later sweep removes it
                with open(os.path.join(self._own_dir, KEEP_NOTE), "w", encoding="utf-8") as note:
                    note.write("server.keep_database: true\n")
            else:
                shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    def kill(self) -> None:
        """At once, for a forced exit: SIGKILL hyperd and remove what we created."""
        pid = self.pid or (None if self.config.endpoint else find_hyperd_pid())
        if pid:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
                psutil.Process(pid).wait(timeout=2)
        if self._own_dir:
            remove_socket_dir(self._own_dir)
            if not (self.config.keep_database and not self.config.database_dir):
                shutil.rmtree(self._own_dir, ignore_errors=True)


def evict_page_cache(paths) -> str:
    """Drop the files' pages from the OS page cache (after fsync), which needs no privilege and touches no other
    file (docs/cold_hot.md). Returns '' when it was done for every file, else why not."""
    if not hasattr(os, "posix_fadvise"):
        return "posix_fadvise is not available on this system"
    for path in paths:
        kind = memory_backed(path)
        if kind:  # its pages are the file itself: nothing to evict
            return f"{path} is on {kind} (in memory)"
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            return f"{path}: {exc.strerror}"
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError as exc:
            return f"{path}: {exc.strerror}"
        finally:
            os.close(fd)
    return ""


def memory_backed(path: str) -> str:
    """The file system type when `path` lies on one kept in memory (tmpfs, ramfs), else ''."""
    real = os.path.realpath(path)
    mounts = [
        p
        for p in psutil.disk_partitions(all=True)
        if real == p.mountpoint or real.startswith(p.mountpoint.rstrip("/") + "/")
    ]
    if not mounts:
        return ""
    fstype = max(mounts, key=lambda p: len(p.mountpoint)).fstype
    return fstype if fstype in ("tmpfs", "ramfs") else ""


def remove_socket_dir(own_dir: str) -> None:
    """Remove the socket folder of the hyperd we started (noted in our folder) once no socket is left in it:
    tableauhyperapi removes it on a clean shutdown, not when hyperd was killed."""
    try:
        with open(os.path.join(own_dir, SOCKET_NOTE), encoding="utf-8") as note:
            folder = note.read().strip()
    except OSError:
        return
    if SOCKET_DIR.match(os.path.basename(folder)) and os.path.isdir(folder):
        live = [n for n in os.listdir(folder) if n.startswith(".s.PGSQL.") and not n.endswith(".pid")]
        if not any(n.rsplit(".", 1)[1].isdigit() and psutil.pid_exists(int(n.rsplit(".", 1)[1])) for n in live):
            shutil.rmtree(folder, ignore_errors=True)


def sweep_stale(temp_dir: str | None = None, staging_dirs=()) -> list[str]:
    """Remove what a run killed with SIGKILL (or cut short by a second signal) could not: its own folder
    (named after its dead coordinator) with the socket folder of its hyperd noted there, socket folders that
    still hold the socket of a dead hyperd, and staged Arrow files of dead workers in every staging folder.
    Only things whose owner process is gone are touched. Returns what was removed."""
    temp_dir = temp_dir or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(temp_dir)
    except OSError:
        names = []
    for name in names:
        path = os.path.join(temp_dir, name)
        owner = None
        if name.startswith(DB_DIR_PREFIX):
            owner = name[len(DB_DIR_PREFIX) :].split("-", 1)[0]
            if owner.isdigit() and not psutil.pid_exists(int(owner)):
                remove_socket_dir(path)
            if os.path.exists(os.path.join(path, KEEP_NOTE)):
                continue  # databases the user asked to keep
        elif SOCKET_DIR.match(name):
            try:
                sockets = [f for f in os.listdir(path) if f.startswith(".s.PGSQL.") and not f.endswith(".pid")]
            except OSError:
                continue
            owner = sockets[0].rsplit(".", 1)[1] if len(sockets) == 1 else None
        if owner and owner.isdigit() and not psutil.pid_exists(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed + staging.sweep_dead(staging_dirs)


def find_hyperd_pid() -> int | None:
    """The hyperd child of this process (tableauhyperapi starts it; it shows up as hyperdMain)."""
    candidates = [p for p in psutil.Process().children() if safe_name(p) in HYPERD_NAMES]
    if not candidates:
        return None
    return max(candidates, key=lambda p: p.create_time()).pid


def safe_name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return ""


def kill_if_alive(pid: int | None, timeout_s: float) -> None:
    if pid is None:
        return
    try:
        proc = psutil.Process(pid)
        deadline = time.monotonic() + timeout_s
        while proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
            proc.kill()
        proc.wait(timeout=timeout_s)
    except (psutil.NoSuchProcess, psutil.TimeoutExpired):
        pass
