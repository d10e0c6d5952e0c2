"""The worker's side of the workload contract: what a workload is given (see loadgen/workloads/contract.py for the
whole contract). One context per worker process, shared by its phases."""

import contextlib
import random
import zlib
from dataclasses import dataclass, field

from tableauhyperapi import TableName

from loadgen.engine import server
from loadgen.transfer import staging


class Stopped(Exception):
    """The coordinator stopped the run while the worker waited for the other workers (WorkerContext.gather)."""


@dataclass
class WorkerContext:
    worker: int
    workers: int
    connection: object  # the worker's own tableauhyperapi Connection, open for the whole run
    table: TableName  # the worker's canonical table (the scenario's `table`, {worker} filled in)
    endpoint: str
    database: str
    stop: object  # StopFlag: the run is ending
    finish: object  # StopFlag: end the running phase now and report (an abort threshold fired)
    auth: dict = field(default_factory=dict)  # user/password, if the endpoint needs them
    seed: int = 0  # the scenario's seed; workloads derive their random streams from it and the worker number
    owns_database: bool = True  # the one worker per database that creates shared objects in setup
    database_is_new: bool = False  # the run created the database: every table in it was created by this run
    run_dir: str = ""  # the run folder, for files a workload writes as results (e.g. TPC-H's answers)
    connect_timeout_s: float = 5.0
    barrier_by: float = float("inf")  # time.monotonic() by which the coming phase's setup must reach the barrier
    definitions: dict = field(default_factory=dict)  # the scenario's data: definitions, by key
    state: dict = field(default_factory=dict)  # what phases hand on to later phases of this worker: state(kind)
    exchange: object = None  # set by the worker: (value) → every worker's value (gather)
    restarter: object = None  # set by the worker: () → protocol.Restarted, a fresh hyperd (fresh_server)
    _pg: object = None

    @property
    def table_sql(self) -> str:
        return str(self.table)  # quoted by tableauhyperapi, never pasted raw

    # ------------------------------------------------------------------ connections
    def pg_connection(self):
        """The worker's own psycopg connection (made on first use, closed after the last phase)."""
        if self._pg is None:
            self._pg = self.pg_connect()
        return self._pg

    def connect(self):
        """A new tableauhyperapi Connection to the phase's database; the caller closes it."""
        return server.connect(self.endpoint, self.database, self.auth, self.connect_timeout_s)

    def pg_connect(self):
        """A new psycopg connection (autocommit) to the phase's database; the caller closes it."""
        return server.pg_connect(self.endpoint, self.database, self.auth, self.connect_timeout_s)

    def pg_connect_async(self, timeout_s: float | None = None):
        """A coroutine that opens a psycopg AsyncConnection, one attempt bounded by timeout_s (default: the connect
        timeout)."""
        timeout_s = self.connect_timeout_s if timeout_s is None else timeout_s
        return server.pg_connect_async(self.endpoint, self.database, self.auth, timeout_s)

    @staticmethod
    def connect_refused(exc: BaseException) -> str | None:
        """Why hyperd refused a connect for now (a full listen backlog, …), or None: not a refusal worth a retry."""
        return server.refusal(exc)

    def cancel(self) -> None:
        """Cancel what the worker's own connections are running (the run is ending)."""
        with contextlib.suppress(Exception):
            self.connection.cancel()
        with contextlib.suppress(Exception):
            if self._pg is not None:
                self._pg.cancel_safe(timeout=1)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._pg is not None:
                self._pg.close()
        with contextlib.suppress(Exception):
            self.connection.close()

    # ------------------------------------------------------------------ what else a workload is given
    def table_names(self, templates: dict[str, str]) -> dict[str, str]:
        """{table} (the worker's own) and each template's table name of this worker, quoted as SQL takes them."""
        names = {key: str(TableName(template.format(worker=self.worker))) for key, template in templates.items()}
        return {**names, "table": self.table_sql}

    def staging_dir(self, configured: str | None, needed_bytes: int) -> str:
        """Where to stage files hyperd reads: the configured folder, else /dev/shm when it has room, else the
        temp folder."""
        return staging.choose_dir(configured, needed_bytes)

    def random(self, *key) -> random.Random:
        """A random stream of this worker that depends only on the seed and `key` (e.g. the phase's name)."""
        return random.Random(zlib.crc32(repr((self.seed, self.worker, key)).encode()))

    def shared(self, kind: type):
        """The worker's object of a kind of state (created on first use): typed state a phase hands on to later
        phases of this worker, e.g. which rows the table holds."""
        found = self.state.get(kind)
        if found is None:
            found = self.state[kind] = kind()
        return found

    def fresh_server(self):
        """A fresh hyperd on the same database (the cold protocol, loadgen/workloads/cache_runs.py): this worker's
        connections are closed, the coordinator stops hyperd, evicts the database files from the OS page cache and
        starts a new one; `connection` is then a new connection to it. Returns the coordinator's protocol.Restarted
        (the new pid, whether the page cache was dropped). Raises Stopped when the run stops meanwhile."""
        self.close()
        self._pg = None
        restarted = self.restarter()
        self.endpoint = restarted.endpoint
        self.connection = self.connect()
        return restarted

    def gather(self, value) -> list:
        """Every worker's `value` of this exchange (the same list for all, by worker number), once every worker of
        the phase has called gather: a rendezvous through the coordinator. Raises Stopped when the run stops."""
        return self.exchange(value)
