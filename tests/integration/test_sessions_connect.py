"""Many sessions connecting: paced, refusals retried, and limits (open files, connect time, the barrier) named with
the numbers to raise, against a real hyperd."""

import asyncio
import contextlib
import csv
import json
import resource
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest
from tableauhyperapi import HyperProcess, Telemetry

from loadgen.engine import server
from loadgen.workloads.mix import sessions
from tests.conftest import only_run_dir, write_scenario


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def hyperd(tmp_path_factory):
    """A hyperd of the test's own (its log tells which sessions ran statements)."""
    logs = tmp_path_factory.mktemp("hyperd")
    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(logs)}) as hp:
        yield hp.endpoint.connection_descriptor, logs


def sessions_that_ran(logs: Path) -> set[str]:
    found = set()
    for log in logs.glob("hyperd*.log"):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("k") == "query-end" and entry.get("sess") not in (None, "-"):
                    found.add(entry["sess"])
    return found


class NarrowDoor:
    """A Unix socket in front of hyperd's, with a listen backlog of `backlog` connects, that accepts one connect
    every `pace_s` (and none past `accept_at_most`) and pipes each accepted connection to hyperd. Sessions that
    connect at once overflow its backlog as they overflow hyperd's own (128) at a larger scale: the connects past
    it fail at once with EAGAIN."""

    def __init__(self, target: str, backlog: int = 4, pace_s: float = 0.005, accept_at_most: int | None = None):
        self.folder = tempfile.mkdtemp(prefix="lg-door-")  # short: a socket path has at most 107 bytes
        where = server.pg_params(target)
        self.target = f"{where['host']}/.s.PGSQL.{where['port']}"  # hyperd's socket
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(f"{self.folder}/.s.PGSQL.5999")
        self.listener.listen(backlog)
        self.listener.setblocking(False)
        self.pace_s = pace_s
        self.accept_at_most = accept_at_most
        self.accepted = 0
        self.pipes = set()  # the running pipes: a task nobody holds may be garbage-collected mid-way
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"tab.domain://{self.folder}/domain/.s.PGSQL.5999"

    def __enter__(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self.loop)
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()
        self.listener.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    async def _close(self):
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self):
        while self.accept_at_most is None or self.accepted < self.accept_at_most:
            client, _ = await self.loop.sock_accept(self.listener)
            self.accepted += 1
            pipe = self.loop.create_task(self._pipe(client))
            self.pipes.add(pipe)
            pipe.add_done_callback(self.pipes.discard)
            await asyncio.sleep(self.pace_s)

    async def _pipe(self, client):
        client_reader, client_writer = await asyncio.open_unix_connection(sock=client)
        hyper_reader, hyper_writer = await asyncio.open_unix_connection(self.target)

        async def copy(reader, writer):
            with contextlib.suppress(OSError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.close()

        await asyncio.gather(copy(client_reader, hyper_writer), copy(hyper_reader, client_writer))


def scenario(endpoint: str, sessions: int, connect_timeout_s: float = 30, barrier_s: float = 120) -> str:
    return f"""\
name: door
workers: 1
seed: 1
server: {{endpoint: "{endpoint}", connect_timeout_s: {connect_timeout_s}}}
timeouts: {{barrier_s: {barrier_s}}}
phases:
  - name: users
    workload: mix
    sessions: {sessions}
    iterations: {sessions}
    preload_rows: 0
    operations: {{one: 1}}
    sql_operations: {{one: {{sql: "SELECT 1"}}}}
"""


def test_sessions_refused_by_a_full_listen_backlog_are_retried_until_all_connect(cli, tmp_path, hyperd):
    endpoint, logs = hyperd
    before = sessions_that_ran(logs)
    with NarrowDoor(endpoint, backlog=4, pace_s=0.005) as door:
        path = write_scenario(tmp_path / "s.yaml", scenario(door.endpoint, 120))
        res = cli("run", path, "--results-dir", tmp_path / "r")
    assert res.code == 0, res.stdout + res.stderr
    (worker,) = read(only_run_dir(tmp_path / "r") / "workers.csv")
    # the backlog of 4 did overflow (the connects past it were refused), and every session connected in the end
    assert "120 session(s), connected in" in worker["detail"] and "refused connects retried" in worker["detail"]
    assert door.accepted >= 120
    assert len(sessions_that_ran(logs) - before) >= 120


def test_sessions_that_cannot_connect_within_the_connect_timeout_exit_2_with_the_numbers(cli, tmp_path, hyperd):
    endpoint, _ = hyperd
    with NarrowDoor(endpoint, backlog=4, accept_at_most=30) as door:
        path = write_scenario(tmp_path / "s.yaml", scenario(door.endpoint, 100, connect_timeout_s=2))
        res = cli("run", path, "--results-dir", tmp_path / "r")
    assert res.code == 2, res.stdout + res.stderr
    assert "did not connect within server.connect_timeout_s = 2 s" in res.stderr, res.stderr
    assert "of 100 sessions were connected: raise server.connect_timeout_s" in res.stderr


def test_connecting_ends_before_the_start_barrier_times_out_and_says_how_far_it_got(cli, tmp_path, hyperd):
    endpoint, _ = hyperd
    with NarrowDoor(endpoint, backlog=4, pace_s=0.5) as door:  # 100 sessions would take 50 s
        path = write_scenario(tmp_path / "s.yaml", scenario(door.endpoint, 100, barrier_s=15))
        res = cli("run", path, "--results-dir", tmp_path / "r")
    assert res.code == 2, res.stdout + res.stderr
    assert "of 100 sessions connected in" in res.stderr and "raise timeouts.barrier_s" in res.stderr, res.stderr
    assert res.seconds < 60


def test_connects_are_paced_a_few_at_a_time(hyperd):
    endpoint, _ = hyperd
    in_flight = most = 0

    async def connect(timeout_s):
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await server.pg_connect_async(endpoint, None, None, timeout_s)
        finally:
            in_flight -= 1

    async def main():
        pool = sessions.SessionPool(
            [sessions.Session(k, None, None) for k in range(300)], connect, None, (Exception,), None, None,
            connect_timeout_s=30, refused=server.refusal, concurrency=8,
        )  # fmt: skip
        await pool.open_all(120)
        try:
            return pool.connected()
        finally:
            await pool.close_all()

    assert asyncio.run(main()) == 300
    assert most == 8


SESSIONS_300 = """\
name: files
workers: 1
seed: 1
phases:
  - name: users
    workload: mix
    sessions: 300
    iterations: 300
    preload_rows: 0
    operations: {one: 1}
    sql_operations: {one: {sql: "SELECT 1"}}
"""


def open_files(soft: int, hard: int):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_an_open_files_limit_too_low_for_the_sessions_exits_2_naming_ulimit(cli, tmp_path):
    path = write_scenario(tmp_path / "s.yaml", SESSIONS_300)
    res = cli("run", path, "--results-dir", tmp_path / "r", preexec_fn=open_files(256, 256))
    assert res.code == 2, res.stdout + res.stderr
    assert "phase users: 300 sessions per worker need about" in res.stderr
    assert "the open-files hard limit is 256: raise ulimit -n to" in res.stderr
    assert "in hyperd" in res.stderr  # hyperd holds a socket per session too
    assert not (tmp_path / "r").exists()  # refused before anything was created


def test_a_low_soft_open_files_limit_is_raised_to_the_hard_one_and_said(cli, tmp_path):
    path = write_scenario(tmp_path / "s.yaml", SESSIONS_300)
    res = cli("run", path, "--results-dir", tmp_path / "r", preexec_fn=open_files(256, 4096))
    assert res.code == 0, res.stdout + res.stderr
    assert "raised the open-files soft limit (ulimit -n) from 256 to 4,096" in res.stdout
    summary = read(only_run_dir(tmp_path / "r") / "summary.csv")[0]
    assert int(summary["ops"]) == 300 and int(summary["errors"]) == 0
