"""backend: ray across hosts: a two-node Ray cluster whose nodes have different, non-loopback addresses, as on two
machines. The head runs here, on one end of a veth pair; the other node runs in a network namespace of its own, on
the other end (`ip netns`: root only). hyperd listens on the head's address, where the other node reaches it.

Skipped, saying why, where network namespaces cannot be made. Marked `ray` like tests/integration/test_ray.py.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from tableauhyperapi import HyperProcess, Telemetry

from tests.conftest import only_run_dir, tagged_processes, write_scenario
from tests.integration.test_ray import read_csv, utc, wait_for_output, zombie
from tests.integration.test_reliability import finish, read_summary, start_run

pytestmark = pytest.mark.ray

RAY = str(Path(sys.executable).with_name("ray"))  # the `ray` command of the Ray these tests import
STARTED = "Ray runtime started"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


def free_port() -> int:
    with socket.create_server(("", 0)) as probe:
        return probe.getsockname()[1]


@dataclass
class Hosts:
    """The cluster: `head` and `other` are the two nodes' addresses; `env` is what a run here needs."""

    namespace: str
    head: str
    other: str
    port: int
    temp_dir: str
    tag: str
    endpoint: str = ""
    env: dict = field(default_factory=dict)  # a run's
    cluster_env: dict = field(default_factory=dict)  # the nodes': tagged, to find what is left of them
    processes: list = field(default_factory=list)  # the `ray start --block` of each node
    other_node: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"{self.head}:{self.port}"

    def launch(self, command: list[str]) -> subprocess.Popen:
        """A `ray start --block`; its output goes to proc.log."""
        log = os.path.join(self.temp_dir, f"node-{len(self.processes)}.log")
        with open(log, "w") as out:
            proc = subprocess.Popen(
                command, env=self.cluster_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        proc.log = log
        self.processes.append(proc)
        return proc

    @staticmethod
    def wait_started(proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + 90
        while STARTED not in open(proc.log).read():
            assert proc.poll() is None and time.monotonic() < deadline, open(proc.log).read()[-3000:]
            time.sleep(0.1)

    def launch_other_node(self) -> None:
        """The second node, in its own network namespace; it joins the head once the head is up."""
        self.other_node = self.launch(
            ["ip", "netns", "exec", self.namespace, RAY, "start", "--block", f"--address={self.address}",
             f"--node-ip-address={self.other}", "--num-cpus=2", "--disable-usage-stats"]
        )  # fmt: skip

    def start_other_node(self) -> None:
        """The second node, up (again, if a test took it down)."""
        if self.other_node is None or self.other_node.poll() is not None:
            self.launch_other_node()
        self.wait_started(self.other_node)

    def other_raylet(self) -> psutil.Process:
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if proc.info["name"] == "raylet" and f"--node_ip_address={self.other}" in cmdline:
                return proc
        raise AssertionError(f"no raylet for {self.other}")

    def stop(self) -> None:
        for proc in reversed(self.processes):  # `ray start --block` stops its node's processes on SIGTERM
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        deadline = time.monotonic() + 15
        left = []
        while time.monotonic() < deadline:
            left = [p for p in tagged_processes(self.tag) if not zombie(p.pid)]
            if not left:
                return
            time.sleep(0.1)
        for proc in left:  # do not leave them to the next test; then fail
            proc.kill()
        raise AssertionError(f"Ray processes left after the cluster's shutdown: {left}")


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("a second host needs a network namespace: root and iproute2 (`ip netns`)")
    number = os.getpid()
    # 198.18.0.0/15 is set aside for benchmarking networks (RFC 2544): no real network to collide with; one subnet
    # per test process, so that runs side by side do not meet
    net = f"198.{18 + number // 256 % 2}.{number % 256}"
    namespace, here, there = f"lgtest{number}", f"lgh{number}", f"lgo{number}"
    cluster = Hosts(namespace, f"{net}.1", f"{net}.2", free_port(), str(tmp_path_factory.mktemp("hosts")), "")
    try:
        ip("netns", "add", namespace)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot make a network namespace here: {exc.stderr.strip()}")
    hyper = None
    ray_dir = tempfile.mkdtemp(prefix="lgray")  # Ray's folder (sockets, logs, its current cluster), not /tmp/ray
    try:
        ip("link", "add", here, "type", "veth", "peer", "name", there)
        ip("link", "set", there, "netns", namespace)
        ip("addr", "add", f"{cluster.head}/24", "dev", here)
        ip("link", "set", here, "up")
        for args in (("addr", "add", f"{cluster.other}/24", "dev", there), ("link", "set", there, "up"),
                     ("link", "set", "lo", "up")):  # fmt: skip
            ip("netns", "exec", namespace, "ip", *args)
        hyper = HyperProcess(
            Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
            parameters={"listen_connection": f"tab.tcp://{cluster.head}:auto", "log_dir": cluster.temp_dir},
        )
        cluster.endpoint = hyper.endpoint.connection_descriptor
        cluster.tag = uuid.uuid4().hex
        # RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (test_ray.py's) would hold the nodes to loopback; no token
        # authentication between the nodes of a test cluster
        skip = ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_ADDRESS", "LOADGEN_TEST_TAG")
        cluster.env = {k: v for k, v in os.environ.items() if k not in skip}
        cluster.env.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
        cluster.cluster_env = {**cluster.env, "LOADGEN_TEST_TAG": cluster.tag}
        head = cluster.launch(
            [RAY, "start", "--head", "--block", f"--node-ip-address={cluster.head}", f"--port={cluster.port}",
             "--num-cpus=2", "--include-dashboard=false", f"--dashboard-port={free_port()}",
             f"--dashboard-agent-listen-port={free_port()}", f"--temp-dir={ray_dir}", "--disable-usage-stats"]
        )  # fmt: skip
        cluster.launch_other_node()  # at once: it waits for the head
        cluster.wait_started(head)
        cluster.start_other_node()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            if hyper is not None:
                hyper.close()
            subprocess.run(["ip", "link", "del", here], capture_output=True, timeout=30)
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)
            shutil.rmtree(ray_dir, ignore_errors=True)


ACROSS = """\
name: ray_hosts
workers: 2
rows: 4000
backend: ray
ray: {{address: "{address}", placement: spread}}
server: {{endpoint: "{endpoint}"}}
timeouts: {{worker_stop_s: 10}}  # room for a loaded machine: each stopped actor's measurements are awaited
phases:
  - {{name: load, workload: insert, method: arrow_stream}}
  - {{name: scan, workload: query, shape: aggregation, method: arrow_stream, duration_s: 300}}
"""


def worker_hosts(run_dir) -> dict[str, str]:
    """worker → the address of the node it ran on."""
    ray = json.loads((run_dir / "environment.json").read_text())["ray"]
    return {number: next(n["ip"] for n in ray["nodes"] if n["node_id"].startswith(w["node"].split("/")[-1]))
            for number, w in ray["workers"].items()}  # fmt: skip


def test_staged_arrow_is_refused_for_a_worker_on_another_host(cli, tmp_path, hosts):
    hosts.start_other_node()
    path = write_scenario(
        tmp_path / "s.yaml",
        f"""\
name: ray_arrow
workers: 2
rows: 2000
backend: ray
ray: {{address: "127.0.0.1:{hosts.port}", placement: spread}}
phases:
  - {{name: load, workload: insert, method: arrow}}
""",
    )
    # joined through loopback, the address says nothing of the other host: where Ray places a worker does
    res = cli("run", path, "--results-dir", tmp_path / "r", env=hosts.env, timeout=180)
    assert res.code == 2, res.stdout + res.stderr
    assert re.search(
        r"error: phase load: method arrow stages files that hyperd reads from its own disk, so its workers must run "
        rf"on hyperd's host, but Ray placed worker [01] on node \S+ \({re.escape(hosts.other)}\), another host; use "
        r"arrow_stream \(or rows\)",
        res.stderr,
    ), res.stderr
    status = json.loads((only_run_dir(tmp_path / "r") / "run.json").read_text())
    assert status["status"] == "failed" and status["phases_completed"] == []


def test_an_interrupted_run_keeps_what_each_actor_measured(tmp_path, hosts):
    hosts.start_other_node()
    proc, tag = start_run(tmp_path, ACROSS.format(address=hosts.address, endpoint=hosts.endpoint), env=hosts.env)
    wait_for_output(proc, r"^scan: .*\| w0:[1-9][\d,]* w1:[1-9]")  # its progress line: both actors have queried
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc, timeout=60)
    assert code == 130, err
    run_dir = only_run_dir(tmp_path / "results")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    rows = read_summary(run_dir)
    assert [(r["phase"], r["status"]) for r in rows] == [("load", "ok"), ("scan", "interrupted")]
    assert int(rows[1]["ops"]) > 0 and rows[1]["verified"] == "unchecked"
    scan = [r for r in read_csv(run_dir / "workers.csv")[1] if r["phase"] == "scan"]
    assert [(r["worker"], r["status"]) for r in scan] == [("0", "interrupted"), ("1", "interrupted")]
    assert all(int(r["ops"]) > 0 for r in scan), scan  # each actor's queries until the signal
    assert set(worker_hosts(run_dir).values()) == {hosts.head, hosts.other}
    assert_gone(tag)


def test_a_node_lost_mid_phase_fails_the_run_at_once_naming_it(tmp_path, hosts):
    hosts.start_other_node()
    proc, tag = start_run(tmp_path, ACROSS.format(address=hosts.address, endpoint=hosts.endpoint), env=hosts.env)
    wait_for_output(proc, r"^scan: .* ops")
    hosts.other_raylet().kill()  # the other host's node is lost (its `ray start` then stops the rest of it)
    lost = time.time()
    code, _, err = finish(proc, timeout=120)
    assert code == 1, err
    run_dir = only_run_dir(tmp_path / "results")
    status = json.loads((run_dir / "run.json").read_text())
    away = next(n for n, host in worker_hosts(run_dir).items() if host == hosts.other)
    assert status["status"] == "failed"
    assert status["error"].startswith(f"worker {away} (on "), status["error"]
    assert f"({hosts.other})) died during phase scan: its Ray node was lost" in status["error"], status["error"]
    # by the run's own clock: the loss ended it at once, not Ray's health checks nor the
    # 300 s scan (~2 s on a quiet machine; room for a loaded one)
    assert utc(status["finished_utc"]) - lost < 10
    rows = read_summary(run_dir)
    assert [(r["phase"], r["status"]) for r in rows] == [("load", "ok"), ("scan", "failed")]
    assert_gone(tag)


def assert_gone(tag: str) -> None:
    deadline = time.monotonic() + 10
    while tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not tagged_processes(tag)
