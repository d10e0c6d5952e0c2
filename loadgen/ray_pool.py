"""backend: ray — the workers as Ray actors, on this machine or on a cluster (docs/design.md, "Ray backend").

Each actor runs the very same `worker.main` as a local worker process. What a process shares with the coordinator
on one host is replaced by messages over one TCP connection per worker (multiprocessing.connection, with a
random authentication key), so the pipe protocol and WorkerPool's receive logic stay as they are:

- the `link`: the actor connects back to the coordinator and hands worker.main an ActorLink, whose reader thread
  turns "stop" into the local stop flag and queues everything else for the worker;
- the start barrier: every worker says "ready"; the coordinator sends "go" with a shared instant a little in the
  future (wall clock); each actor converts it to its own monotonic clock and starts the phase then. The actor
  translates its result's timestamps into the coordinator's clock (anchored at that instant), so phase wall,
  parallelism and each worker's start offset are computed exactly as for local workers;
- progress counters and psutil samples (the worker's process and its node's host) are shipped by a thread in the
  actor every SHIP_S;
- supervision: a dead actor process closes its socket (EOF), an actor whose raylet ends says its node is lost, and
  `ray.wait` on each actor's task notices what a socket cannot tell. Nothing is retried: max_restarts=0,
  max_task_retries=0.

Ray is imported only here, and only when a scenario says backend: ray.
"""

import contextlib
import os
import queue
import secrets
import signal
import socket
import sys
import threading
import time
from dataclasses import replace
from importlib import metadata
from multiprocessing.connection import Client, Connection, answer_challenge, deliver_challenge
from multiprocessing.connection import wait as wait_for_ready

import psutil

from loadgen import ray_config, staging, worker
from loadgen.errors import LoadgenError, ScenarioError, WorkerError
from loadgen.pool import POLL_S, WorkerPool

SHIP_S = 0.25  # progress and samples from the actors
SPIN_NS = 200_000  # the last 0.2 ms before a start instant are spun, not slept: sleep() overshoots (a longer spin
# keeps a core from the other workers when they outnumber the cores, which delays their own wake-ups)
HANDSHAKE_S = 10.0
JOIN_POLL_S = 0.1  # joining a cluster: how often the waiting main thread lets signal handlers run
RAYLET_WATCH_S = 0.05  # an actor: how often it checks that its node's raylet is still its parent
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # the run's (run.HANDLED_SIGNALS)
ABORT_S = 0.5  # a cluster start cut short: how long its processes are hunted while its ray.init goes on
QUIET = {"logging_level": "ERROR", "log_to_driver": False}
ENDED_GRACE_S = 2.0  # a task that returned normally: how long its last message may take to arrive
# passed on to the actors (a cluster's workers have the environment of whoever started the cluster): fault
# injection (loadgen/faults.py) and the tests' process tag
FORWARDED_ENV = ("LOADGEN_FAULT", "LOADGEN_TEST_TAG")
PACKAGES = ("loadgen", "tableauhyperapi", "pyarrow", "numpy", "psycopg", "psutil", "pydantic", "ray")
# started: whether this run started the Ray cluster it uses (then it also stops it); abandoned: a cluster start cut
# short by a signal
_session = {"started": False, "abandoned": False}


def _ray():
    import ray  # noqa: PLC0415 - the optional extra, loaded only for backend: ray

    return ray


@contextlib.contextmanager
def signals_through_ray():
    """Around a call into Ray that may run long: the run's signal handler raises Interrupted wherever the main
    thread is, and raised while Ray's compiled code runs, it comes out as a SystemError ('… returned a result with
    an exception set') caused by it. Raise it as what it is."""
    try:
        yield
    except SystemError as exc:
        if isinstance(exc.__cause__, LoadgenError):
            raise exc.__cause__ from None
        raise


def first_line(exc: BaseException, limit: int = 300) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------------------ the cluster


def preflight(config) -> None:
    """Refuse early (exit 2), before anything is created: Ray missing, a coordinator port that is taken, an existing
    cluster that cannot be joined (this run joins it here, once)."""
    if not ray_config.ray_installed():
        raise ScenarioError(f"backend: ray needs Ray, which is not installed: {ray_config.INSTALL_HINT}")
    check_coordinator_port(config)
    if config.address == "local":
        return
    if config.address != "auto":  # a quick, clear answer for a host or port where nothing listens
        rest = config.address.split("://", 1)[-1]
        host, _, port = rest.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
                pass
        except (OSError, ValueError) as exc:
            raise ScenarioError(f"ray.address: cannot reach the Ray cluster at {config.address}: {exc}") from None
    join(config)


def listen_host(config) -> str:
    """Where the coordinator listens for its actors: loopback when the whole cluster is on this machine."""
    return "127.0.0.1" if ray_config.on_this_machine(config) else ""


def check_coordinator_port(config) -> None:
    port = config.coordinator_port
    if not port:
        return
    try:
        socket.create_server((listen_host(config), port)).close()
    except OSError as exc:
        raise ScenarioError(
            f"ray.coordinator_port: cannot listen on port {port} on this machine: {exc.strerror or exc}"
        ) from None


def connect(config, workers: int) -> None:
    """Join the cluster (or start a one-node cluster for this run). Once per run."""
    if config.address == "local":
        start_local(config, workers)
    else:
        join(config)


def _prepare_environment(config) -> None:
    if ray_config.on_this_machine(config):
        # Ray otherwise replaces 127.0.0.1 with the machine's outside address, where a loopback cluster does not
        # listen: this holds the driver (and a cluster it starts) to loopback.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")  # a stopped actor's task is no news


@contextlib.contextmanager
def _signal_handlers_kept():
    """Undo whatever Ray installs for the run's signals (ray.init on the main thread installed SIGTERM →
    sys.exit(15), which ended a run as if it had succeeded): the run's own handlers stop it as interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:  # None: installed outside Python, nothing to put back
                signal.signal(sig, handler)


class _Init:
    """ray.init on a thread of its own while the main thread waits in Python, where the run's signal handlers run
    at once. On the main thread, ray.init sat in compiled code for seconds (where no handler runs; an address that
    accepts TCP but is no Ray head blocks it for good), installed SIGTERM → sys.exit(15), and Ray's start-up code
    catches exceptions, the run's interrupt among them, and carries on. The thread then waits for good (it ends
    with the process): Ray ties the parent-death signal of the processes it starts to the thread that starts them."""

    def __init__(self, ray, **options):
        self.done = threading.Event()
        self.failure: list[BaseException] = []
        self.thread = threading.Thread(target=self._own, args=(ray, options), name="loadgen-ray-init", daemon=True)

    def _own(self, ray, options) -> None:
        try:
            ray.init(**options)
        except BaseException as exc:  # noqa: BLE001 - reported by the waiting thread
            self.failure.append(exc)
        self.done.set()
        threading.Event().wait()

    def wait(self, timeout_s: float) -> bool:
        """Start, and wait until ray.init has returned (True) or timeout_s has passed (False)."""
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.done.wait(JOIN_POLL_S):  # a signal's handler runs between these waits
            if time.monotonic() > deadline:
                return False
        return True


def join(config) -> None:
    """Join an existing cluster as its driver, within ray.connect_timeout_s. Joining starts no process: a ray.init
    still blocked when the run gives up is left behind harmlessly."""
    _prepare_environment(config)
    ray = _ray()
    if ray.is_initialized():
        return
    init = _Init(ray, address=config.address, **QUIET)
    if not init.wait(config.connect_timeout_s):
        raise ScenarioError(
            f"ray.address {config.address}: no Ray cluster answered within {config.connect_timeout_s:g} s "
            "(ray.connect_timeout_s); give the address of the head's GCS (HOST:6379 by default)"
        )
    if init.failure:
        raise ScenarioError(f"ray.address {config.address}: cannot join the Ray cluster: {first_line(init.failure[0])}")


def start_local(config, workers: int) -> None:
    """Start a one-node cluster for this run. A signal meanwhile aborts the start: whatever it launched is killed
    with all that launched (left to Ray, the raylet's agents outlived the run by a minute), and the start is
    abandoned on its thread (see exit_if_abandoned)."""
    _prepare_environment(config)
    ray = _ray()
    if ray.is_initialized():
        return
    before = {child.pid for child in psutil.Process().children()}
    # logical CPUs: one per worker even on a small machine (the placement group asks one per worker)
    init = _Init(ray, address="local", num_cpus=max(workers, os.cpu_count() or 1), include_dashboard=False, **QUIET)
    try:
        init.wait(float("inf"))
    except BaseException:
        if init.done.is_set() and not init.failure:  # it had just started: stopped as any cluster of a run is
            _session["started"] = True
            raise
        _session["abandoned"] = True
        deadline = time.monotonic() + ABORT_S
        while not init.done.wait(0) and time.monotonic() < deadline:  # it may launch more meanwhile
            _kill_started(before)
            time.sleep(JOIN_POLL_S)
        _kill_started(before)
        raise
    if init.failure:
        _kill_started(before)
        raise LoadgenError(f"ray.address local: Ray could not start a cluster here: {first_line(init.failure[0])}")
    _session["started"] = True


def _kill_started(before: set[int]) -> None:
    """Kill the processes a cluster start launched (this process's children that were not there before it) and
    everything they launched. Each is stopped (SIGSTOP) before its children are listed, so that none launches
    another one unseen, then all are killed at once."""
    stopped: list = []
    todo = [child for child in psutil.Process().children() if child.pid not in before]
    while todo:
        proc = todo.pop()
        try:
            proc.suspend()
            deadline = time.monotonic() + 0.5  # SIGSTOP takes effect when the process is next scheduled
            while proc.status() not in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE) and time.monotonic() < deadline:
                time.sleep(0.005)
            stopped.append(proc)
            todo.extend(proc.children())
        except psutil.Error:
            continue
    for proc in stopped:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    # reap our own children; the others are their killed parents' to reap
    psutil.wait_procs([proc for proc in stopped if _is_child(proc)], timeout=2)


def _is_child(proc) -> bool:
    try:
        return proc.ppid() == os.getpid()
    except Exception:  # noqa: BLE001 - gone already
        return False


def disconnect() -> None:
    """Leave the cluster; a cluster this run started is stopped with it."""
    if "ray" not in sys.modules or _session["abandoned"]:
        return
    ray = sys.modules["ray"]
    if ray.is_initialized():
        with _signal_handlers_kept():
            ray.shutdown()
    _session["started"] = False


def exit_if_abandoned(code: int) -> None:
    """A cluster start cut short by a signal leaves a Ray driver half built in this process, its ray.init perhaps
    still running on its thread. Python's exit would tear it down under that thread (Ray 2.60 then crashes, or
    waits for seconds): once the run has written and said everything, leave at once."""
    if _session["abandoned"]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def cluster_nodes() -> list[dict]:
    """Every live node as Ray sees it."""
    ray = _ray()
    return [
        {
            "node_id": n["NodeID"],
            "host": n.get("NodeManagerHostname", ""),
            "ip": n.get("NodeManagerAddress", ""),
            "cpus": n.get("Resources", {}).get("CPU", 0),
        }
        for n in ray.nodes()
        if n.get("Alive")
    ]


def node_label(host: str, node_id: str) -> str:
    return f"{host}/{node_id[:8]}"


def local_addresses() -> set[str]:
    """Every address of this machine's interfaces, loopback included."""
    families = (socket.AF_INET, socket.AF_INET6)
    return {a.address.split("%")[0] for addrs in psutil.net_if_addrs().values() for a in addrs if a.family in families}


# ------------------------------------------------------------------------------------------ the coordinator


class _Flag:
    """The shape of a multiprocessing RawValue, for worker.StopFlag."""

    def __init__(self):
        self.value = 0


class RayPool(WorkerPool):
    """The WorkerPool interface (start, pids, progress_totals, release, collect, failure, shutdown, partial,
    errors) with one Ray actor per worker."""

    def __init__(self, specs, barrier_s, stop_s, config, staging_dirs=(), sample_ms=0, on_ready=None):
        self.specs = specs
        self.barrier_s = barrier_s
        self.stop_s = stop_s
        self.config = config
        self.staging_dirs = list(staging_dirs)
        self.sample_ms = sample_ms
        self.on_ready = on_ready  # called once, when every worker has reported: (facts of the nodes, seconds)
        self.stop_flag = worker.StopFlag(_Flag())
        self.progress = [0] * (worker.PROGRESS_SLOTS * len(specs))
        self.links: list = [None] * len(specs)
        self.processes: list = []  # no local process: force_exit calls kill_all
        self.errors: list[dict] = []
        self.deaths: dict[int, int | None] = {}
        self.causes: dict[int, str] = {}
        self.partial: list[dict] = []
        self.seen: dict[tuple[str, int], dict] = {}  # every result read: (phase, worker) → message
        self.running_phase = ""  # WorkerPool's: the released phase whose stopped results shutdown reads
        self.nodes: dict[int, dict] = {}  # worker → facts of its node (from the actor)
        self.worker_pids: dict[int, int] = {}
        self.sampler = None  # the coordinator's Sampler: the actors' samples join it
        self._phase = ""
        self._actors: list = []
        self._refs: list = []
        self._group = None
        self._server: socket.socket | None = None
        self._accepted: queue.Queue = queue.Queue()
        self._closing = threading.Event()
        self._started_at = 0.0
        self._ended: dict[int, float] = {}  # worker → when Ray said its task returned normally
        self._host_sampler: dict[str, int] = {}  # node → the worker whose host samples are kept

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        ray = _ray()
        from ray.util.placement_group import placement_group  # noqa: PLC0415
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy  # noqa: PLC0415

        self._started_at = time.monotonic()
        connect(self.config, len(self.specs))
        try:
            self._server = socket.create_server((listen_host(self.config), self.config.coordinator_port))
        except OSError as exc:  # taken since the preflight looked
            raise ScenarioError(
                f"ray.coordinator_port: cannot listen on port {self.config.coordinator_port}: {exc.strerror or exc}"
            ) from None
        self._server.settimeout(0.2)
        host = listen_host(self.config) or ray.util.get_node_ip_address()
        port = self._server.getsockname()[1]
        key = secrets.token_bytes(32)
        threading.Thread(target=self._accept, args=(key,), name="loadgen-ray-accept", daemon=True).start()
        n = len(self.specs)
        strategy = {"spread": "SPREAD", "pack": "PACK"}[self.config.placement]
        self._group = placement_group([{"CPU": 1}] * n, strategy=strategy)
        with signals_through_ray():
            ready, _ = ray.wait([self._group.ready()], timeout=self.barrier_s)
        if not ready:
            cpus = ray.cluster_resources().get("CPU", 0)
            raise WorkerError(
                f"Ray could not place {n} workers (one CPU each) within {self.barrier_s:g} s: the cluster has "
                f"{cpus:g} CPUs"
            )
        self._refuse_other_hosts(ray)
        actor_class = ray.remote(WorkerActor)
        offset = time.time_ns() - time.perf_counter_ns()
        env_vars = {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}
        for number, spec in enumerate(self.specs):
            actor = actor_class.options(
                num_cpus=1,
                max_restarts=0,
                max_task_retries=0,
                runtime_env={"env_vars": env_vars} if env_vars else None,
                scheduling_strategy=PlacementGroupSchedulingStrategy(self._group, placement_group_bundle_index=number),
            ).remote()
            self._actors.append(actor)
            self._refs.append(actor.run.remote(spec, host, port, key, self.sample_ms, offset))

    def _refuse_other_hosts(self, ray) -> None:
        """Workers that Ray placed on another host where they cannot work: method arrow (hyperd reads the staged
        files from its own disk) or a cluster joined through loopback (the coordinator, and a private hyperd,
        listen on loopback). Validation can judge only the address; here Ray has said where each worker goes."""
        arrow = [p.name for p in self.specs[0].scenario.phases if getattr(p, "method", None) == "arrow"]
        loopback = ray_config.on_this_machine(self.config)
        if not arrow and not loopback:
            return
        here = local_addresses()
        nodes = {n["NodeID"]: n for n in ray.nodes()}
        away = []
        for number, node_id in sorted(ray.util.placement_group_table(self._group)["bundles_to_node_id"].items()):
            node = nodes.get(node_id, {})
            ip = node.get("NodeManagerAddress", "")
            if ip and ip not in here:
                away.append((number, f"{node_label(node.get('NodeManagerHostname', ''), node_id)} ({ip})"))
        if not away:
            return
        number, where = away[0]
        problems = []
        if arrow:
            problems.append(
                f"phase {arrow[0]}: method arrow stages files that hyperd reads from its own disk, so its workers "
                f"must run on hyperd's host, but Ray placed worker {number} on node {where}, another host; use "
                "arrow_stream (or rows)"
            )
        if loopback:
            problems.append(
                f"ray.address {self.config.address} is a loopback address, but Ray placed worker {number} on node "
                f"{where}, another host, which cannot reach this machine's loopback (the coordinator, a private "
                "hyperd): give the address of the head that the other hosts use"
            )
        raise ScenarioError(problems)

    def _accept(self, key: bytes) -> None:
        while not self._closing.is_set():
            try:
                sock, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handshake, args=(sock, key), daemon=True).start()

    def _handshake(self, sock: socket.socket, key: bytes) -> None:
        sock.setblocking(True)
        conn = Connection(sock.detach())
        try:
            deliver_challenge(conn, key)
            answer_challenge(conn, key)
            hello = conn.recv() if conn.poll(HANDSHAKE_S) else None
        except Exception:  # noqa: BLE001 - not one of ours (wrong key, garbage): drop it
            hello = None
        if not isinstance(hello, dict) or hello.get("kind") != "hello":
            conn.close()
            return
        self._accepted.put((hello, conn))

    def _adopt(self) -> None:
        """Connections of actors that have said hello since the last look."""
        while True:
            try:
                hello, conn = self._accepted.get_nowait()
            except queue.Empty:
                return
            number = hello["worker"]
            self.links[number] = conn
            self.nodes[number] = hello["node"]
            self.worker_pids[number] = hello["pid"]
            self._host_sampler.setdefault(hello["node"]["label"], number)

    def pids(self) -> dict[int, int]:
        return {}  # the workers' processes are sampled on their own nodes

    def node_of(self, number: int) -> str:
        facts = self.nodes.get(number)
        if facts:
            return f"{facts['label']} ({facts['ip']})" if facts.get("ip") else facts["label"]
        with contextlib.suppress(Exception):  # not connected yet: where its placement group bundle is
            table = _ray().util.placement_group_table(self._group)
            return f"node {table['bundles_to_node_id'][number][:8]}"
        return "an unknown node"

    # ------------------------------------------------------------------ phases
    def release(self, phase: str, on_tick=None) -> int:
        self.running_phase = ""
        self._receive(phase, "ready", self.barrier_s, on_tick, "reach the start barrier")
        if self.on_ready:
            self.on_ready(self.describe(), time.monotonic() - self._started_at)
            self.on_ready = None
        self.progress[:] = [0] * len(self.progress)
        self._phase = phase
        lead_ns = self.config.start_delay_ms * 1_000_000
        released = time.perf_counter_ns() + lead_ns
        wall = time.time_ns() + lead_ns
        for number, link in enumerate(self.links):
            try:
                link.send({"kind": "go", "phase": phase, "released_ns": released, "start_wall_ns": wall})
            except OSError:
                self._note_death(number, "its connection closed")
        self.running_phase = phase
        if self.deaths:
            raise self.failure(phase)
        return released

    def describe(self) -> dict:
        """What environment.json records of the cluster: every node, and which worker ran where."""
        nodes = {n["node_id"]: dict(n) for n in cluster_nodes()}
        for facts in self.nodes.values():
            nodes.setdefault(facts["node_id"], {}).update(facts)
        return {
            "address": self.config.address,
            "placement": self.config.placement,
            "started_cluster": _session["started"],
            "nodes": list(nodes.values()),
            "workers": {
                str(n): {"node": self.nodes[n]["label"], "pid": self.worker_pids[n]} for n in sorted(self.nodes)
            },
        }

    def name_workers(self, numbers: list[int]) -> str:
        return ", ".join(f"{n} on {self.node_of(n)}" for n in numbers)

    def _wait_step(self, pending: list[int], got: dict, phase: str, kind: str, wait_s: float) -> None:
        """The actors' links instead of pipes and sentinels; Ray's word on the actors instead of exit codes."""
        self._adopt()
        links = {id(self.links[n]): n for n in pending if self.links[n] is not None}
        if links:
            ready = wait_for_ready([self.links[n] for n in links.values()], timeout=wait_s)
        else:
            time.sleep(min(wait_s, 0.02))
            ready = []
        for conn in ready:
            self._take(links[id(conn)], phase, kind, got)
        self._check_actors(phase, kind, got)

    def _check_actors(self, phase: str, kind: str, got: dict) -> None:
        """Ray's word on the actors still owed a message: a task that ended (normally or not) before its worker
        sent what we wait for is a death."""
        owed = {ref: n for n, ref in enumerate(self._refs) if n not in got and n not in self.deaths}
        if not owed:
            return
        ray = _ray()
        with signals_through_ray():
            done, _ = ray.wait(list(owed), num_returns=len(owed), timeout=0)
        for ref in done:
            number = owed[ref]
            link = self.links[number]
            while link is not None and number not in got and number not in self.deaths and link.poll(0):
                self._take(number, phase, kind, got)  # what it sent before it ended
            if number in got:
                continue
            try:
                with signals_through_ray():
                    ray.get(ref, timeout=0)
            except LoadgenError:  # a signal: the run's, not the actor's
                raise
            except Exception as exc:  # noqa: BLE001 - RayActorError, a node that died, …: all are the cause
                cause = f"Ray reports: {first_line(exc)}"
            else:
                # worker.main returned, so it sent its message; Ray's notice can overtake it (another socket,
                # and loopback delivery is deferred on a busy machine): give the link time to deliver it
                ended = self._ended.setdefault(number, time.monotonic())
                if time.monotonic() - ended < ENDED_GRACE_S:
                    continue
                cause = f"its actor ended without sending it within {ENDED_GRACE_S:g} s"
            self._note_death(number, cause)
            raise self.failure(phase)

    def _recv(self, number: int) -> dict | None:
        try:
            message = self.links[number].recv()
        except (EOFError, OSError):
            self._note_death(number, "its connection to the coordinator closed (the actor's process ended)")
            return None
        kind = message.get("kind")
        if kind == "progress":
            if message["phase"] == self._phase:
                base = worker.PROGRESS_SLOTS * number
                self.progress[base : base + worker.PROGRESS_SLOTS] = message["values"]
        elif kind == "samples":
            self._add_samples(number, message["samples"])
        elif kind == "error":
            self.errors.append(message)
        elif kind == "result":
            self.seen[(message["phase"], number)] = message
        elif kind == "lost":  # its node's raylet ended: the node is lost, and the actor with it
            self._note_death(number, message["cause"])
            return None
        return message

    def _add_samples(self, number: int, rows: list) -> None:
        if self.sampler is None:
            return
        from loadgen.sampler import Sample  # noqa: PLC0415

        label = self.nodes.get(number, {}).get("label", "")
        keep_host = self._host_sampler.get(label) == number  # one host series per node
        samples = [
            Sample(t_ns, phase, process, pid, cpu, rss, self.sampler.repetition, label)
            for t_ns, phase, process, pid, cpu, rss in rows
            if process != "host" or keep_host
        ]
        self.sampler.add(samples)

    def _drain(self, number: int) -> None:
        if self.links[number] is not None:
            super()._drain(number)

    def _note_death(self, number: int, cause: str = "") -> None:
        self.deaths.setdefault(number, None)
        if cause:
            self.causes.setdefault(number, cause)

    def _send_all(self, message: dict) -> None:
        for link in self.links:
            if link is not None:
                with contextlib.suppress(OSError):
                    link.send(message)

    def finish_phase(self) -> None:
        """End the running phase early: every actor's worker finishes its operations and reports."""
        self._send_all({"kind": "finish"})

    def failure(self, phase: str, cause: str = "") -> WorkerError:
        """Stop everyone, then name the cause and where it happened: the first worker's own error, else the
        cause the caller saw (a timeout), else the first worker that died."""
        if not self.stop_flag.is_set():
            self.stop_flag.set()
            self._send_all({"kind": "stop"})
        self._await_first_error()
        if self.errors:
            first = self.errors[0]
            number = first["worker"]
            return WorkerError(
                f"worker {number} (on {self.node_of(number)}) failed in phase {first['phase']}: {first['message']}"
            )
        if cause:
            return WorkerError(f"phase {phase}: {cause}")
        if self.deaths:
            number = next(iter(self.deaths))  # the first noticed; the others were stopped because of it
            return WorkerError(
                f"worker {number} (on {self.node_of(number)}) died during phase {phase}: "
                f"{self.causes.get(number, 'no word from Ray')}"
            )
        return WorkerError(f"phase {phase}: a worker stopped")

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> list[str]:
        """Stop every actor in bounded time: ask, wait stop_s (reading what they send as they stop: a stopped
        phase's result is what it measured), then kill; remove the placement group."""
        notes: list[str] = []
        self.stop_flag.set()
        self._send_all({"kind": "stop"})
        if self._refs or self._group is not None:
            ray = _ray()
            if self._refs:
                left = self._read_until_stopped(ray, time.monotonic() + self.stop_s)
                if left:
                    notes.append(f"{left} Ray actor(s) did not stop and were killed")
            if self.running_phase:  # stopped in the middle of a phase: what each actor measured until then
                self.partial = self.results_of(self.running_phase)
            self._kill_actors(ray)
        self._closing.set()
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.close()
        for link in self.links:
            if link is not None:
                with contextlib.suppress(OSError):
                    link.close()
        me = socket.gethostname()
        for number, pid in self.worker_pids.items():  # staged files of a worker on this machine
            if self.nodes.get(number, {}).get("host") == me:
                staging.remove_leftovers(pid, self.staging_dirs)
        return notes

    def _read_until_stopped(self, ray, deadline: float) -> int:
        """Until every actor's task has ended, or the deadline: read the links. Returns how many are still running."""
        while True:
            self._adopt()
            for number in range(len(self.links)):
                self._drain(number)
            left = deadline - time.monotonic()
            refs = self._live_refs()
            running = ray.wait(refs, num_returns=len(refs), timeout=max(0.0, min(POLL_S, left)))[1] if refs else []
            if not running or left <= 0:
                for number in range(len(self.links)):
                    self._drain(number)  # what arrived with the end of the tasks
                return len(running)

    def _live_refs(self) -> list:
        """The tasks of actors not known to be gone: Ray may take long to say that an actor of a lost node is."""
        return [ref for number, ref in enumerate(self._refs) if number not in self.deaths]

    def _kill_actors(self, ray) -> None:
        from ray.util.placement_group import remove_placement_group  # noqa: PLC0415

        for actor in self._actors:
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
        refs = self._live_refs()
        if refs:  # a killed actor's task resolves (with an error) once it is gone
            ray.wait(refs, num_returns=len(refs), timeout=5)
        if self._group is not None:
            with contextlib.suppress(Exception):
                remove_placement_group(self._group)
        self._actors, self._refs, self._group = [], [], None

    def kill_all(self) -> None:
        """A second signal: kill every actor now, and a cluster this run started."""
        with contextlib.suppress(Exception):
            self._kill_actors(_ray())
        stopper = threading.Thread(target=disconnect, daemon=True)
        stopper.start()
        stopper.join(timeout=10)


# ------------------------------------------------------------------------------------------ the actor


class WorkerActor:
    """One worker. Made a Ray actor class with ray.remote() at start (so this module imports without Ray)."""

    def run(self, spec, host: str, port: int, key: bytes, sample_ms: int, coordinator_offset_ns: int) -> int:
        return serve(spec, host, port, key, sample_ms, coordinator_offset_ns)


def node_facts() -> dict:
    ray = _ray()
    node_id = ray.get_runtime_context().get_node_id()
    host = socket.gethostname()
    return {
        "node_id": node_id,
        "label": node_label(host, node_id),
        "host": host,
        "ip": ray.util.get_node_ip_address(),
        "cpu_logical": psutil.cpu_count(logical=True),
        "memory_total_mib": round(psutil.virtual_memory().total / 2**20),
        "python": sys.version.split()[0],
        "packages": {name: _version(name) for name in PACKAGES},
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def serve(spec, host: str, port: int, key: bytes, sample_ms: int, coordinator_offset_ns: int) -> int:
    conn = Client((host, port), authkey=key)
    facts = node_facts()
    link = ActorLink(conn, spec, coordinator_offset_ns, facts["label"], sample_ms)
    link.send({"kind": "hello", "worker": spec.worker, "pid": os.getpid(), "node": facts})
    link.start()
    threading.Thread(target=watch_raylet, args=(link, os.getppid()), name="loadgen-raylet-watch", daemon=True).start()
    try:
        # no orphan watch in worker.main (coordinator_pid 0): the coordinator's end is our EOF, the raylet's is
        # watched above
        worker.main(replace(spec, coordinator_pid=0), link, link.stop_raw, link.progress)
    finally:
        link.close()
    return os.getpid()


def watch_raylet(link, raylet_pid: int) -> None:
    """An actor's parent is its node's raylet: when the raylet ends, the node is lost to the cluster. Tell the
    coordinator (it names the node), then end as an orphaned worker does."""
    while os.getppid() == raylet_pid:
        time.sleep(RAYLET_WATCH_S)
    with contextlib.suppress(OSError):
        link.send({"kind": "lost", "cause": f"its Ray node was lost: the node's raylet (pid {raylet_pid}) ended"})
    os._exit(worker.EXIT_ORPHANED)


_EOF = object()


class ActorLink:
    """What worker.main sees as its pipe, inside an actor: send (thread-safe: the shipper sends too), poll and
    recv of the coordinator's messages (read by a thread, so that "stop" reaches the stop flag at once)."""

    def __init__(self, conn, spec, coordinator_offset_ns: int, label: str, sample_ms: int):
        self._conn = conn
        self._lock = threading.Lock()
        self._inbox: queue.Queue = queue.Queue()
        self._peeked = None
        self._closed = threading.Event()
        self.worker = spec.worker
        self.label = label
        self.stop_raw = _Flag()
        self.progress = [0] * (worker.PROGRESS_SLOTS * spec.workers)
        self._base = worker.PROGRESS_SLOTS * spec.worker
        self.phase = ""  # the running phase, for progress messages
        self.delta_ns = 0  # the coordinator's clock − this node's, anchored at the phase's start instant
        # the same for samples, through the wall clocks (taken before any phase starts)
        self.sample_delta_ns = (time.time_ns() - time.perf_counter_ns()) - coordinator_offset_ns
        self.sampler = None
        if sample_ms:
            from loadgen.sampler import Sampler  # noqa: PLC0415

            self.sampler = Sampler(sample_ms)
            self.sampler.watch(f"worker-{spec.worker}", os.getpid())
        self._shipped = 0
        self._last_values = None

    def start(self) -> None:
        threading.Thread(target=self._read, name="loadgen-link-reader", daemon=True).start()
        threading.Thread(target=self._ship_loop, name="loadgen-link-shipper", daemon=True).start()
        if self.sampler:
            self.sampler.start()

    # the coordinator → the worker
    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                if self._closed.is_set():
                    return
                self.stop_raw.value = 1  # the coordinator is gone: the worker stops, as an orphan
                self._inbox.put(_EOF)
                time.sleep(1.0)
                os._exit(worker.EXIT_ORPHANED)
            if message.get("kind") == "finish":  # end the running phase (an abort threshold): not for worker.main
                if self.stop_raw.value == 0:
                    self.stop_raw.value = worker.FINISH
                continue
            if message.get("kind") == "stop":
                self.stop_raw.value = worker.STOP
            self._inbox.put(message)

    def poll(self, timeout: float | None = None) -> bool:
        if self._peeked is None:
            try:
                self._peeked = self._inbox.get(timeout=timeout)
            except queue.Empty:
                return False
        return True

    def recv(self):
        message = self._peeked if self._peeked is not None else self._inbox.get()
        self._peeked = None
        if message is _EOF:
            self._inbox.put(_EOF)
            raise EOFError("the coordinator closed the connection")
        if message.get("kind") == "go" and "start_wall_ns" in message:
            return self._go(message)
        return message

    def _go(self, message: dict) -> dict:
        """Wait for the shared start instant on this node's monotonic clock; from now on this phase's
        timestamps are translated into the coordinator's clock."""
        start = time.perf_counter_ns() + (message["start_wall_ns"] - time.time_ns())
        self.delta_ns = message["released_ns"] - start
        self.progress[self._base : self._base + worker.PROGRESS_SLOTS] = [0] * worker.PROGRESS_SLOTS
        self.phase = message["phase"]
        if self.sampler:
            self.sampler.phase = message["phase"]
        while (left := start - time.perf_counter_ns()) > SPIN_NS:
            time.sleep((left - SPIN_NS) / 1e9)
        while time.perf_counter_ns() < start:
            pass
        return {"kind": "go", "phase": message["phase"], "released_ns": start}

    # the worker → the coordinator
    def send(self, message: dict) -> None:
        if message.get("kind") == "result":
            message = dict(message, node=self.label)
            for name in ("start_ns", "end_ns"):
                if message.get(name):
                    message[name] += self.delta_ns
            self._ship()  # the last progress and samples before the result
            self.phase = ""
            if self.sampler:
                self.sampler.phase = "setup"
        with self._lock:
            self._conn.send(message)

    def _ship_loop(self) -> None:
        while not self._closed.wait(SHIP_S):
            try:
                self._ship()
            except OSError:
                return

    def _ship(self) -> None:
        with self._lock:  # the worker's thread ships too (before its result): one at a time
            values = self.progress[self._base : self._base + worker.PROGRESS_SLOTS]
            if self.phase and (self.phase, values) != self._last_values:
                self._conn.send({"kind": "progress", "phase": self.phase, "values": values})
                self._last_values = (self.phase, values)
            samples = self.sampler.snapshot() if self.sampler else []
            if len(samples) > self._shipped:
                batch = [
                    (s.t_ns + self.sample_delta_ns, s.phase, s.process, s.pid, s.cpu_pct, s.rss_mib)
                    for s in samples[self._shipped :]
                ]
                self._conn.send({"kind": "samples", "samples": batch})
                self._shipped = len(samples)

    def close(self) -> None:
        if self.sampler:
            self.sampler.stop()
        with contextlib.suppress(OSError):
            self._ship()
        self._closed.set()
        with contextlib.suppress(OSError):
            self._conn.close()
