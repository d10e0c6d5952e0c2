"""backend: ray — the workers as Ray actors, on this machine or on a cluster (docs/design.md, "Ray backend").

Each actor runs the very same `worker.main` as a local worker process. What a process shares with the coordinator
on one host is replaced by messages over one TCP connection per worker (multiprocessing.connection, with a
random authentication key), so the protocol (loadgen/engine/protocol.py) and the receiving of
loadgen/engine/backends/base.py stay as they are:

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

The cluster itself (joined or started, stopped, signals while Ray starts): loadgen/engine/backends/ray_cluster.py.
Ray is imported only there and here, and only when a scenario says backend: ray.
"""

import contextlib
import dataclasses
import os
import queue
import secrets
import socket
import sys
import threading
import time
from importlib import metadata
from multiprocessing.connection import Client, Connection, answer_challenge, deliver_challenge
from multiprocessing.connection import wait as wait_for_ready

import psutil

from loadgen.config import ray as ray_config
from loadgen.engine import protocol, worker
from loadgen.engine.backends.base import POLL_S, Backend
from loadgen.engine.backends.ray_cluster import (
    _ray,
    _session,
    cluster_nodes,
    connect,
    disconnect,
    first_line,
    listen_host,
    local_addresses,
    node_label,
    signals_through_ray,
)
from loadgen.errors import LoadgenError, ScenarioError, WorkerError
from loadgen.results.samples import Sample
from loadgen.transfer import staging

SHIP_S = 0.25  # progress and samples from the actors
SPIN_NS = 200_000  # the last 0.2 ms before a start instant are spun, not slept: sleep() overshoots (a longer spin
# keeps a core from the other workers when they outnumber the cores, which delays their own wake-ups)
HANDSHAKE_S = 10.0
RAYLET_WATCH_S = 0.05  # an actor: how often it checks that its node's raylet is still its parent
ENDED_GRACE_S = 2.0  # a task that returned normally: how long its last message may take to arrive
# passed on to the actors (a cluster's workers have the environment of whoever started the cluster): fault
# injection (loadgen/faults.py) and the tests' process tag
FORWARDED_ENV = ("LOADGEN_FAULT", "LOADGEN_TEST_TAG")
PACKAGES = ("loadgen", "tableauhyperapi", "pyarrow", "numpy", "psycopg", "psutil", "pydantic", "ray")


# ------------------------------------------------------------------------------------------ the coordinator


class _Flag:
    """The shape of a multiprocessing RawValue, for worker.StopFlag."""

    def __init__(self):
        self.value = 0


class RayBackend(Backend):
    """One Ray actor per worker, behind the Backend interface."""

    closed_cause = "its connection to the coordinator closed (the actor's process ended)"

    def __init__(self, specs, barrier_s, stop_s, config, staging_dirs=(), sample_ms=0, on_ready=None):
        super().__init__(specs, barrier_s, stop_s, staging_dirs)
        self.config = config
        self.sample_ms = sample_ms
        self.on_ready = on_ready  # called once, when every worker has reported: (facts of the nodes, seconds)
        self.stop_flag = worker.StopFlag(_Flag())
        self.links: list = [None] * len(specs)
        self.nodes: dict[int, dict] = {}  # worker → facts of its node (from the actor)
        self.worker_pids: dict[int, int] = {}
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
        self._started_at = time.monotonic()
        connect(self.config, len(self.specs))
        host, port, key = self._listen()
        self._place()
        self._refuse_other_hosts(_ray())
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy  # noqa: PLC0415

        actor_class = _ray().remote(WorkerActor)
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

    def _listen(self) -> tuple[str, int, bytes]:
        """The socket the actors connect back to (loopback only for a cluster on this machine)."""
        try:
            self._server = socket.create_server((listen_host(self.config), self.config.coordinator_port))
        except OSError as exc:  # taken since the preflight looked
            raise ScenarioError(
                f"ray.coordinator_port: cannot listen on port {self.config.coordinator_port}: {exc.strerror or exc}"
            ) from None
        self._server.settimeout(0.2)
        host = listen_host(self.config) or _ray().util.get_node_ip_address()
        key = secrets.token_bytes(32)
        threading.Thread(target=self._accept, args=(key,), name="loadgen-ray-accept", daemon=True).start()
        return host, self._server.getsockname()[1], key

    def _place(self) -> None:
        """A placement group of one CPU per worker, spread or packed, ready within the barrier time."""
        from ray.util.placement_group import placement_group  # noqa: PLC0415 - Ray is imported only when used

        ray, n = _ray(), len(self.specs)
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

    def _refuse_other_hosts(self, ray) -> None:
        """Workers that Ray placed on another host where they cannot work: method arrow (hyperd reads the staged
        files from its own disk) or a cluster joined through loopback (the coordinator, and a private hyperd,
        listen on loopback). Validation can judge only the address; here Ray has said where each worker goes."""
        arrow = [p.name for p in self.specs[0].phases if getattr(p, "method", None) == "arrow"]
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
        if not isinstance(hello, protocol.Hello):
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
            self.links[hello.worker] = conn
            self.nodes[hello.worker] = hello.node
            self.worker_pids[hello.worker] = hello.pid
            self._host_sampler.setdefault(hello.node["label"], hello.worker)

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

    def where(self, number: int) -> str:
        return f" (on {self.node_of(number)})"

    def name_workers(self, numbers: list[int]) -> str:
        return ", ".join(f"{n} on {self.node_of(n)}" for n in numbers)

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

    # ------------------------------------------------------------------ phases
    def _at_barrier(self) -> None:
        if self.on_ready:
            self.on_ready(self.describe(), time.monotonic() - self._started_at)
            self.on_ready = None

    def _go(self, phase: str) -> tuple[int, protocol.Go]:
        """A start instant start_delay_ms ahead, in both clocks: each actor waits for it on its own."""
        lead_ns = self.config.start_delay_ms * 1_000_000
        released = time.perf_counter_ns() + lead_ns
        return released, protocol.Go(phase, released, time.time_ns() + lead_ns)

    def _send(self, number: int, message) -> bool:
        link = self.links[number]
        if link is None:
            return False
        try:
            link.send(message)
            return True
        except OSError:
            return False

    def _link(self, number: int):
        return self.links[number]

    def _stop_workers(self) -> None:
        if not self.stop_flag.is_set():
            self.stop_flag.set()
            self._send_all(protocol.Stop())

    def finish_phase(self) -> None:
        self._send_all(protocol.Finish())

    def _send_all(self, message) -> None:
        for number in range(len(self.links)):
            self._send(number, message)

    def _wait_step(self, pending: list[int], got: dict, phase: str, kind: type, wait_s: float) -> None:
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

    def _check_actors(self, phase: str, kind: type, got: dict) -> None:
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

    def _on_message(self, number: int, message) -> None:
        if isinstance(message, protocol.Progress):
            if message.phase == self.running_phase:
                base = worker.PROGRESS_SLOTS * number
                self.progress[base : base + worker.PROGRESS_SLOTS] = message.values
        elif isinstance(message, protocol.Samples):
            self._add_samples(number, message.samples)

    def _add_samples(self, number: int, rows: list) -> None:
        if self.sampler is None:
            return
        label = self.nodes.get(number, {}).get("label", "")
        keep_host = self._host_sampler.get(label) == number  # one host series per node
        samples = [
            Sample(t_ns, phase, process, pid, cpu, rss, self.sampler.repetition, label)
            for t_ns, phase, process, pid, cpu, rss in rows
            if process != "host" or keep_host
        ]
        self.sampler.add(samples)

    def _note_death(self, number: int, cause: str = "") -> None:
        self.deaths.setdefault(number, None)
        if cause:
            self.causes.setdefault(number, cause)

    def death_text(self, number: int, phase: str) -> str:
        return (
            f"worker {number} (on {self.node_of(number)}) died during phase {phase}: "
            f"{self.causes.get(number, 'no word from Ray')}"
        )

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> list[str]:
        """Stop every actor in bounded time: ask, wait stop_s (reading what they send as they stop: a stopped
        phase's result is what it measured), then kill; remove the placement group."""
        notes: list[str] = []
        self.stop_flag.set()
        self._send_all(protocol.Stop())
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
    link.send(protocol.Hello(spec.worker, os.getpid(), facts))
    link.start()
    threading.Thread(target=watch_raylet, args=(link, os.getppid()), name="loadgen-raylet-watch", daemon=True).start()
    try:
        # no orphan watch in worker.main (coordinator_pid 0): the coordinator's end is our EOF, the raylet's is
        # watched above
        worker.main(dataclasses.replace(spec, coordinator_pid=0), link, link.stop_raw, link.progress)
    finally:
        link.close()
    return os.getpid()


def watch_raylet(link, raylet_pid: int) -> None:
    """An actor's parent is its node's raylet: when the raylet ends, the node is lost to the cluster. Tell the
    coordinator (it names the node), then end as an orphaned worker does."""
    while os.getppid() == raylet_pid:
        time.sleep(RAYLET_WATCH_S)
    with contextlib.suppress(OSError):
        link.send(protocol.Lost(f"its Ray node was lost: the node's raylet (pid {raylet_pid}) ended"))
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
            from loadgen.engine.sampler import Sampler  # noqa: PLC0415

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
            if isinstance(message, protocol.Finish):  # end the running phase (an abort threshold): for the flag
                if self.stop_raw.value == 0:
                    self.stop_raw.value = worker.FINISH
                continue
            if isinstance(message, protocol.Stop):
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
        if isinstance(message, protocol.Go) and message.start_wall_ns is not None:
            return self._go(message)
        return message

    def _go(self, message: protocol.Go) -> protocol.Go:
        """Wait for the shared start instant on this node's monotonic clock; from now on this phase's
        timestamps are translated into the coordinator's clock."""
        start = time.perf_counter_ns() + (message.start_wall_ns - time.time_ns())
        self.delta_ns = message.released_ns - start
        self.progress[self._base : self._base + worker.PROGRESS_SLOTS] = [0] * worker.PROGRESS_SLOTS
        self.phase = message.phase
        if self.sampler:
            self.sampler.phase = message.phase
        while (left := start - time.perf_counter_ns()) > SPIN_NS:
            time.sleep((left - SPIN_NS) / 1e9)
        while time.perf_counter_ns() < start:
            pass
        return protocol.Go(message.phase, start)

    # the worker → the coordinator
    def send(self, message) -> None:
        if isinstance(message, protocol.Result):
            measured = message.measurement
            shifted = {name: getattr(measured, name) + self.delta_ns for name in ("start_ns", "end_ns")
                       if getattr(measured, name)}  # fmt: skip
            message = dataclasses.replace(
                message, node=self.label, measurement=dataclasses.replace(measured, **shifted)
            )
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
                self._conn.send(protocol.Progress(self.phase, values))
                self._last_values = (self.phase, values)
            samples = self.sampler.snapshot() if self.sampler else []
            if len(samples) > self._shipped:
                batch = [
                    (s.t_ns + self.sample_delta_ns, s.phase, s.process, s.pid, s.cpu_pct, s.rss_mib)
                    for s in samples[self._shipped :]
                ]
                self._conn.send(protocol.Samples(batch))
                self._shipped = len(samples)

    def close(self) -> None:
        if self.sampler:
            self.sampler.stop()
        with contextlib.suppress(OSError):
            self._ship()
        self._closed.set()
        with contextlib.suppress(OSError):
            self._conn.close()
