"""backend: ray on a local 2-node Ray cluster (two raylets on 127.0.0.1), started and stopped here.

Marked `ray`: `make test` runs them, `pytest -m "not ray"` skips them. The module's cluster is started once; the
runs are small so that the whole module stays within a couple of minutes on 2 cores.
"""

import csv
import http.server
import json
import os
import re
import signal
import socket
import threading
import time
from datetime import datetime, timezone

import psutil
import pytest

from tests.conftest import only_run_dir, tagged_processes, write_scenario
from tests.integration.test_reliability import finish, read_summary, start_run

pytestmark = pytest.mark.ray

# Ray replaces 127.0.0.1 with the machine's outside address unless told not to (loadgen/engine/backends/ray_cluster.py)
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"


def descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.fixture(scope="module")
def ray_cluster():
    """Two Ray nodes on this machine (2 logical CPUs each); every process it started is gone afterwards."""
    from ray.cluster_utils import Cluster  # the `ray` extra

    before = descendants()
    started = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "include_dashboard": False, "node_ip_address": "127.0.0.1"},
    )
    try:
        started.add_node(num_cpus=2, node_ip_address="127.0.0.1")
        ours = descendants() - before
        yield started
    finally:
        started.shutdown()
    ours |= descendants() - before  # workers the cluster started meanwhile
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(psutil.pid_exists(p) and not zombie(p) for p in ours):
        time.sleep(0.1)
    left = [p for p in ours if psutil.pid_exists(p) and not zombie(p)]
    for pid in left:  # do not leave them to the next test; then fail
        with_psutil(pid).kill()
    assert not left, f"Ray processes left after the cluster's shutdown: {left}"


@pytest.fixture(scope="module")
def cluster(ray_cluster):
    """The address of the two-node cluster's head."""
    return ray_cluster.address


def zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def with_psutil(pid: int):
    try:
        return psutil.Process(pid)
    except psutil.Error:

        class Gone:
            def kill(self):
                pass

        return Gone()


SCENARIO = """\
name: ray_mixed
workers: 4
rows: 200000
backend: ray
ray: {{address: "{address}", placement: spread}}
sampling: {{interval_ms: 20}}  # each actor labels its own samples: its insert lasts ~0.1 s here
phases:
  - {{name: insert_arrow, workload: insert, method: arrow_stream}}
  - {{name: scan, workload: query, shape: aggregation, method: arrow_stream, iterations: 3}}
  - name: mix
    workload: mix
    sessions: 3
    iterations: 20
    preload_rows: 2000
    bulk_rows: [10, 100]
    operations: {{bulk_insert: 1, single_insert: 2, select_limit: 3, aggregate: 2}}
"""


def read_csv(path):
    with open(path) as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def test_spread_over_two_nodes_same_results_as_local(cli, tmp_path, cluster):
    path = write_scenario(tmp_path / "s.yaml", SCENARIO.format(address=cluster))
    ray_res = cli("run", path, "--results-dir", tmp_path / "ray", timeout=180)
    assert ray_res.code == 0, ray_res.stdout + ray_res.stderr
    local_res = cli("run", path, "--set", "backend=local", "--results-dir", tmp_path / "local", timeout=180)
    assert local_res.code == 0, local_res.stdout + local_res.stderr
    ray_dir, local_dir = only_run_dir(tmp_path / "ray"), only_run_dir(tmp_path / "local")

    def files(folder):
        return sorted(p.name for p in folder.iterdir() if p.suffix in (".csv", ".json", ".yaml"))

    assert files(ray_dir) == files(local_dir)
    for name in ("summary.csv", "workers.csv", "latency.csv", "samples.csv", "timeseries.csv"):
        ray_columns, ray_rows = read_csv(ray_dir / name)
        local_columns, local_rows = read_csv(local_dir / name)
        assert ray_columns == local_columns, name
    _, summary = read_csv(ray_dir / "summary.csv")
    _, local_summary = read_csv(local_dir / "summary.csv")
    assert [(r["phase"], r["status"], r["verified"]) for r in summary] == [
        (r["phase"], "ok", r["verified"]) for r in local_summary
    ]
    assert [r["verified"] for r in summary[:2]] == ["ok", "ok"]  # mix checks nothing across workers
    assert [r["rows"] for r in summary[:2]] == [r["rows"] for r in local_summary[:2]]  # same work, verified
    assert summary[0]["rows"] == "200000"
    for row in summary:  # phase wall and parallelism come from translated timestamps: sane values
        assert 0 < float(row["wall_s"]) < 60 and 0 < float(row["parallelism"]) <= 4.05, row
        assert float(row["start_skew_ms"]) < 1000, row
    _, workers = read_csv(ray_dir / "workers.csv")
    assert len(workers) == 12
    nodes = {r["node"] for r in workers}
    assert len(nodes) == 2, nodes  # spread: both nodes have workers
    assert all(-5 < float(r["start_offset_ms"]) < 1000 for r in workers), workers
    _, local_workers = read_csv(local_dir / "workers.csv")
    assert {r["node"] for r in local_workers} == {""}
    _, samples = read_csv(ray_dir / "samples.csv")
    sampled = {(r["process"], r["node"]) for r in samples if r["process"].startswith("worker-")}
    assert {p for p, _ in sampled} == {f"worker-{n}" for n in range(4)} and {n for _, n in sampled} == nodes
    assert {r["node"] for r in samples if r["process"] == "host" and r["node"]} == nodes  # every node's host
    assert any(r["phase"] == "insert_arrow" for r in samples if r["process"].startswith("worker-"))
    environment = json.loads((ray_dir / "environment.json").read_text())["ray"]
    assert len(environment["nodes"]) == 2
    assert all(n.get("python") and n["packages"]["tableauhyperapi"] for n in environment["nodes"])
    assert {w["node"] for w in environment["workers"].values()} == nodes


ABORT = """\
name: ray_abort
workers: 2
backend: ray
ray: {{address: "{address}", placement: spread}}
sampling: {{timeseries_interval_s: 0.5}}
phases:
  - name: users
    workload: mix
    sessions: 4
    duration_s: 60
    preload_rows: 1000
    think_ms: 5
    max_error_rate: 1
    operations: {{select_limit: 1, boom: 1}}
    sql_operations:
      boom: {{sql: "SELECT 1 / %s", params: [{{type: INT, generator: {{kind: constant, value: 0}}}}]}}
thresholds:
  users.boom.error_rate: {{bounds: ["< 0.5"], abort: true, delay_s: 1}}
"""


def test_an_abort_threshold_finishes_the_phase_on_every_actor(cli, tmp_path, cluster):
    path = write_scenario(tmp_path / "a.yaml", ABORT.format(address=cluster))
    res = cli("run", path, "--results-dir", tmp_path / "r", timeout=120)
    assert res.code == 1, res.stdout + res.stderr
    assert "threshold users.boom.error_rate < 0.5 breached" in res.stderr + res.stdout
    _, summary = read_csv(only_run_dir(tmp_path / "r") / "summary.csv")
    # every actor finished its operations and reported: the phase's rows hold both workers' measurements
    assert summary[0]["status"] == "failed" and int(summary[0]["ops"]) > 0 and float(summary[0]["wall_s"]) < 10
    _, workers = read_csv(only_run_dir(tmp_path / "r") / "workers.csv")
    assert sorted(w["worker"] for w in workers) == ["0", "1"]  # a result from each actor, not a stopped run


def test_an_actor_killed_mid_phase_fails_the_run_naming_worker_and_node(cli, tmp_path, cluster):
    path = write_scenario(
        tmp_path / "s.yaml",
        f"""\
name: ray_kill
workers: 2
rows: 20000
backend: ray
ray: {{address: "{cluster}"}}
phases:
  - {{name: load, workload: insert, method: arrow_stream}}
  - {{name: scan, workload: query, shape: aggregation, method: arrow_stream, duration_s: 30}}
""",
    )
    # worker 1's actor process SIGKILLs itself 0.5 s into the scan (loadgen/faults.py)
    res = cli("run", path, "--results-dir", tmp_path / "results", env={"LOADGEN_FAULT": "1:scan:run:kill"})
    assert res.code == 1, res.stdout + res.stderr
    assert "error: worker 1 (on " in res.stderr and "died during phase scan" in res.stderr, res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    status = json.loads((run_dir / "run.json").read_text())
    assert status["status"] == "failed" and status["error"].startswith("worker 1 (on ")
    node = json.loads((run_dir / "environment.json").read_text())["ray"]["workers"]["1"]["node"]
    assert node in status["error"]
    rows = read_summary(run_dir)
    assert [(r["phase"], r["status"]) for r in rows] == [("load", "ok"), ("scan", "failed")]
    # the 30 s scan never ran to its end, by the run's own clock (not the test's: a loaded machine starts slowly)
    assert utc(status["finished_utc"]) - utc(rows[1]["started_utc"]) < 30
    # worker 0 was stopped: what it measured until then is kept
    scan = [r for r in read_csv(run_dir / "workers.csv")[1] if r["phase"] == "scan"]
    assert [(r["worker"], r["status"]) for r in scan] == [("0", "failed")] and int(scan[0]["ops"]) > 0


def test_sigint_ends_every_actor_and_the_cluster_the_run_started(tmp_path):
    proc, tag = start_run(
        tmp_path,
        """\
name: ray_sigint
workers: 2
rows: 20000
backend: ray
ray: {address: local}
phases:
  - {name: load, workload: insert, method: arrow}
  - {name: scan, workload: query, shape: aggregation, method: arrow_stream, duration_s: 60}
""",
    )
    # the scan has run a while: its progress line (a signal as load's row is written would come before the scan)
    wait_for_output(proc, r"^scan: .* ops")
    run_dir = only_run_dir(tmp_path / "results")
    pids = [w["pid"] for w in json.loads((run_dir / "environment.json").read_text())["ray"]["workers"].values()]
    assert tagged_processes(tag)  # the cluster the run started: gcs, raylet, actors
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    code, _, err = finish(proc, timeout=60)
    assert code == 130, err
    assert time.monotonic() - sent < 20
    assert "interrupted by SIGINT" in err
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    rows = read_summary(run_dir)
    assert [(r["phase"], r["status"]) for r in rows] == [("load", "ok"), ("scan", "interrupted")]
    assert int(rows[1]["ops"]) > 0 and rows[1]["verified"] == "unchecked"  # what the stopped actors measured
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (tagged_processes(tag) or any(psutil.pid_exists(p) for p in pids)):
        time.sleep(0.1)
    assert not tagged_processes(tag), tagged_processes(tag)
    assert not [p for p in pids if psutil.pid_exists(p)]


def utc(text: str) -> float:
    """Seconds since the epoch of a results timestamp (`2026-12-04 13:13:03.171`, UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def wait_for_output(proc, pattern: str, timeout: float = 120) -> re.Match:
    """Read a run's stdout until a line matches (e.g. the progress line a running phase prints every 5 s when the
    output is not a terminal): an event the run shows, not a guessed sleep. A timer ends a silent wait."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        for line in proc.stdout:
            found = re.search(pattern, line)
            if found:
                return found
    finally:
        timer.cancel()
    raise AssertionError(f"the run never printed {pattern!r}")


LOCAL_MIX = """\
name: ray_local_mix
workers: 2
backend: ray
ray: {address: local}
phases:
  - name: users
    workload: mix
    sessions: 2
    duration_s: 120
    preload_rows: 1000
    think_ms: 5
    operations: {select_limit: 1}
"""


def test_sigterm_ends_a_ray_run_as_interrupted_with_what_it_measured(tmp_path):
    proc, tag = start_run(tmp_path, LOCAL_MIX)
    wait_for_output(proc, r"^users: .* ops")  # the phase has run a while (its progress line, every 5 s)
    proc.send_signal(signal.SIGTERM)
    code, _, err = finish(proc, timeout=60)
    assert code == 130, err
    assert "error: interrupted by SIGTERM" in err and "Traceback" not in err, err
    run_dir = only_run_dir(tmp_path / "results")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    rows = read_summary(run_dir)
    assert [(r["phase"], r["status"]) for r in rows] == [("users", "interrupted")]
    assert int(rows[0]["ops"]) > 0  # what the stopped actors measured
    _, history = read_csv(tmp_path / "results" / "history.csv")
    assert [(r["phase"], r["status"]) for r in history] == [("users", "interrupted")]
    assert_none_left(tag)


def assert_none_left(tag: str, pids=(), within: float = 10) -> None:
    """Until no process with the run's tag (the coordinator's, hyperd, every Ray process of a cluster it started)
    and none of `pids` is running."""
    deadline = time.monotonic() + within
    while True:
        left = tagged_processes(tag) + [with_psutil(p) for p in pids if psutil.pid_exists(p) and not zombie(p)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, [(p.pid, safe_name(p)) for p in left]


def safe_name(proc) -> str:
    try:
        return proc.name()
    except (psutil.Error, AttributeError):
        return "?"


def test_sigint_while_the_cluster_starts_leaves_no_process_and_ends_at_once(tmp_path):
    proc, tag = start_run(tmp_path, LOCAL_MIX)
    deadline = time.monotonic() + 120
    while not any(safe_name(p) == "gcs_server" for p in tagged_processes(tag)):  # Ray's first process: it starts
        assert time.monotonic() < deadline and proc.poll() is None, "the run never started a Ray cluster"
        time.sleep(0.02)
    family = {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    code, _, err = finish(proc, timeout=60)
    took_s = time.monotonic() - sent
    assert code == 130, err
    assert "error: interrupted by SIGINT" in err
    assert json.loads((only_run_dir(tmp_path / "results") / "run.json").read_text())["status"] == "interrupted"
    # the start is cut short: not finished first (seconds), then stopped (on a quiet machine: ~1 s in all)
    assert took_s < 5, took_s
    # nothing of the cluster outlives the run, not even the raylet's agents (tagged: they inherit the environment;
    # and every process that was the run's descendant when the signal came)
    assert_none_left(tag, family, within=3)


SMALL = """\
name: ray_small
workers: 2
rows: 2000
backend: ray
phases:
  - {name: load, workload: insert, method: arrow_stream}
"""


def test_a_coordinator_port_in_use_is_an_exit_2_naming_the_key(cli, tmp_path):
    path = write_scenario(tmp_path / "s.yaml", SMALL)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        res = cli("run", path, "--set", f"ray.coordinator_port={port}", "--results-dir", tmp_path / "r", timeout=60)
    assert res.code == 2, res.stdout + res.stderr
    assert f"error: ray.coordinator_port: cannot listen on port {port} on this machine: " in res.stderr, res.stderr
    assert "cannot write results" not in res.stderr
    assert not (tmp_path / "r").exists()  # refused before anything was created


def test_an_address_that_is_not_a_ray_head_is_an_exit_2_naming_it(cli, tmp_path, ray_cluster):
    # a raylet's port: gRPC, but not the cluster's GCS; Ray gives up after about 2 s (RAY_gcs_server_port_wait_time_s)
    address = f"127.0.0.1:{ray_cluster.head_node.node_manager_port}"
    path = write_scenario(tmp_path / "s.yaml", SMALL)
    res = cli(
        "run", path, "--set", f"ray.address={address}", "--results-dir", tmp_path / "r",
        env={"RAY_gcs_server_port_wait_time_s": "2"}, timeout=90,
    )  # fmt: skip
    assert res.code == 2, res.stdout + res.stderr
    assert f"error: ray.address {address}: cannot join the Ray cluster: " in res.stderr, res.stderr
    assert "cannot write results" not in res.stderr
    assert not (tmp_path / "r").exists()


class SpeaksHttp:
    """A TCP server that is no Ray head (an HTTP server); `spoken` is set once a client sent it something."""

    def __init__(self):
        spoken = self.spoken = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                spoken.set()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def not_ray():
    server = SpeaksHttp()
    yield server
    server.close()


def test_an_address_that_never_answers_as_ray_ends_after_the_connect_timeout(cli, tmp_path, not_ray):
    path = write_scenario(tmp_path / "s.yaml", SMALL)
    res = cli(
        "run", path, "--set", f"ray.address={not_ray.address}", "--set", "ray.connect_timeout_s=2",
        "--results-dir", tmp_path / "r", timeout=60,
    )  # fmt: skip
    assert res.code == 2, res.stdout + res.stderr
    assert f"error: ray.address {not_ray.address}: no Ray cluster answered within 2 s" in res.stderr, res.stderr
    assert not (tmp_path / "r").exists()


def test_ctrl_c_while_joining_a_cluster_is_honoured(tmp_path, not_ray):
    proc, tag = start_run(tmp_path, SMALL, "--set", f"ray.address={not_ray.address}")
    assert not_ray.spoken.wait(60), "the run never tried to join the cluster"
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc, timeout=20)  # well within ray.connect_timeout_s (30 s): the signal ended it
    assert code == 130, err
    assert "error: interrupted by SIGINT" in err
    assert_none_left(tag)


USER_MODULE = """\
from loadgen import api


class Pinger(api.Users):
    @api.task(1)
    async def ping(self, session):
        return len(await session.execute("SELECT %s::INT", (session.number,)))

    def report(self):
        return self.ctx.worker

    @classmethod
    def after_phase(cls, phase, outcome, output):
        return [f"pinged from workers {sorted(outcome.reports)}"]
"""


def test_a_python_workload_runs_on_actors_from_the_validated_module(cli, tmp_path, cluster):
    (tmp_path / "pinger.py").write_text(USER_MODULE, encoding="utf-8")
    path = write_scenario(
        tmp_path / "p.yaml",
        f"""\
name: ray_python
workers: 2
backend: ray
ray: {{address: "{cluster}", placement: spread}}
phases:
  - {{name: ping, workload: python, module: pinger.py, class: Pinger, options: {{sessions: 2, iterations: 10}}}}
thresholds:
  ping.ping.count: "== 20"
""",
    )
    res = cli("run", path, "--results-dir", tmp_path / "r", timeout=180)
    assert res.code == 0, res.stdout + res.stderr
    assert "pinged from workers [0, 1]" in res.stdout
    assert "threshold ok     ping.ping.count == 20" in res.stdout
    _, workers = read_csv(only_run_dir(tmp_path / "r") / "workers.csv")
    assert len({w["node"] for w in workers}) == 2  # on both nodes
