"""hyperd for a run: start a private one (or use an endpoint), create the databases, always shut down.

Also the connection helpers workers use: a tableauhyperapi Connection from an endpoint string, and a psycopg
connection to the same hyperd over its PostgreSQL protocol.
"""

import os
import re
import shutil
import tempfile
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

from loadgen.errors import ScenarioError, ServerError

USER_AGENT = "loadgen"
DB_DIR_PREFIX = "loadgen-db-"  # + coordinator pid: lets a later run remove what a killed one left
SOCKET_DIR = re.compile(r"^[0-9a-f]{32}$")  # tableauhyperapi's folder for hyperd's domain socket
HYPERD_NAMES = ("hyperd", "hyperdMain")
PG_USER = "tableau_internal_user"


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


def connect(descriptor: str, database: str | None = None, auth: dict | None = None) -> Connection:
    return Connection(endpoint(descriptor), database, CreateMode.NONE, parameters=auth or None)


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

    auth = auth or {}
    return psycopg.connect(
        **pg_params(descriptor),
        user=auth.get("user", PG_USER),
        password=auth.get("password"),
        dbname=database or "",
        autocommit=True,
        connect_timeout=max(1, int(timeout_s)),
    )


def check_endpoint(descriptor: str, auth: dict) -> None:
    """Fail early (exit 2, nothing written) when an external endpoint cannot be reached."""
    try:
        with connect(descriptor, None, auth) as connection:
            connection.execute_scalar_query("SELECT 1")
    except HyperException as exc:
        raise ScenarioError(f"server.endpoint: cannot connect to {descriptor}: {first_line(exc)}") from None


def first_line(exc: BaseException) -> str:
    """A one-line message; for Hyper errors its main message (str() adds context lines and positions)."""
    text = (getattr(exc, "message", None) or str(exc)).strip()
    return text.splitlines()[0].rstrip(": ") if text else type(exc).__name__


class Server:
    """One hyperd for one run. Use as a context manager: whatever happens, hyperd is shut down and the
    database files we created are removed (unless keep_database)."""

    def __init__(self, config, workers: int, log_dir: str, shutdown_s: float):
        self.config = config
        self.workers = workers
        self.log_dir = log_dir
        self.shutdown_s = shutdown_s
        self.process: HyperProcess | None = None
        self.descriptor = config.endpoint
        self.pid: int | None = None
        self.version = ""
        self._own_dir: str | None = None
        self.databases: list[str] = []
        self.auth = credentials(config)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self) -> None:
        if self.descriptor is None:
            params = {"log_dir": self.log_dir, **self.config.parameters}
            if self.config.transport == "tcp":
                params.setdefault("listen_connection", "tab.tcp://localhost:auto")
            os.makedirs(self.log_dir, exist_ok=True)
            try:
                self.process = HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, USER_AGENT, parameters=params)
            except HyperException as exc:
                raise ServerError(f"hyperd did not start: {first_line(exc)}") from None
            self.descriptor = self.process.endpoint.connection_descriptor
            self.pid = find_hyperd_pid()
        self._create_databases()

    def _create_databases(self) -> None:
        directory = self.config.database_dir
        if directory is None:
            directory = self._own_dir = tempfile.mkdtemp(prefix=f"{DB_DIR_PREFIX}{os.getpid()}-")
        elif self.process is not None:
            os.makedirs(directory, exist_ok=True)
        if self.config.database == "shared":
            self.databases = [os.path.join(directory, "loadgen.hyper")] * self.workers
        else:
            self.databases = [os.path.join(directory, f"loadgen_worker_{w}.hyper") for w in range(self.workers)]
        try:
            with connect(self.descriptor, None, self.auth) as connection:
                self.version = connection.execute_scalar_query("SELECT version()")
                for path in dict.fromkeys(self.databases):
                    connection.execute_command(f"DROP DATABASE IF EXISTS {escape_name(path)}")
                    connection.execute_command(f"CREATE DATABASE {escape_name(path)}")
        except HyperException as exc:
            raise ServerError(f"cannot create the database in {directory}: {first_line(exc)}") from None

    def database_for(self, worker: int) -> str:
        return self.databases[worker]

    def exit_code(self, wait_s: float = 0) -> int | None:
        """hyperd's exit code if the embedded hyperd died, else None. wait_s: how long to give a dying hyperd
        to finish dying (its sockets close before it becomes a zombie, so a worker can notice first)."""
        if self.pid is None:
            return None
        deadline = time.monotonic() + wait_s
        try:
            proc = psutil.Process(self.pid)
            while proc.status() != psutil.STATUS_ZOMBIE:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0.02)
            return proc.wait(timeout=0)
        except psutil.NoSuchProcess:
            return -1
        except psutil.TimeoutExpired:
            return None

    def responds(self) -> bool:
        """Whether hyperd answers a trivial query right now."""
        try:
            with connect(self.descriptor, None, self.auth) as connection:
                connection.execute_scalar_query("SELECT 1")
            return True
        except HyperException:
            return False

    def close(self) -> None:
        # No DROP DATABASE here: hyperd 0.0.26963 was seen to crash (SIGSEGV) on a DROP DATABASE issued right
        # after the workers' connections closed the database. Deleting the files of the folder we created, once
        # the private hyperd is down (or the endpoint's sessions are closed), removes the same data safely.
        # Databases in a user-given database_dir are the user's: they stay.
        if self.process is not None:
            process, self.process = self.process, None
            try:
                process.shutdown(timeout_ms=int(self.shutdown_s * 1000))
            except HyperException:
                pass
            finally:
                kill_if_alive(self.pid, self.shutdown_s)
        if self._own_dir and not self.config.keep_database:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None


def sweep_stale(temp_dir: str | None = None) -> list[str]:
    """Remove what a run killed with SIGKILL could not: its database folder (named after its dead coordinator)
    and tableauhyperapi's socket folder of its dead hyperd (socket `.s.PGSQL.<hyperd pid>`). Only folders whose
    owner process is gone are touched. Returns what was removed."""
    temp_dir = temp_dir or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(temp_dir)
    except OSError:
        return removed
    for name in names:
        path = os.path.join(temp_dir, name)
        owner = None
        if name.startswith(DB_DIR_PREFIX):
            owner = name[len(DB_DIR_PREFIX) :].split("-", 1)[0]
        elif SOCKET_DIR.match(name):
            try:
                sockets = [f for f in os.listdir(path) if f.startswith(".s.PGSQL.") and not f.endswith(".pid")]
            except OSError:
                continue
            owner = sockets[0].rsplit(".", 1)[1] if len(sockets) == 1 else None
        if owner and owner.isdigit() and not psutil.pid_exists(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


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
