"""The Ray cluster a run uses: joined (an existing one, in the preflight) or started for the run (`address:
local`) and stopped with it, with the run's signals honoured throughout; which nodes it has and where this
machine's addresses are. The workers on it: loadgen/engine/backends/ray.py.

Ray is imported only here and there, and only when a scenario says backend: ray.
"""

import contextlib
import os
import signal
import socket
import sys
import threading
import time

import psutil

from loadgen.config import ray as ray_config
from loadgen.engine.signals import HANDLED_SIGNALS
from loadgen.errors import LoadgenError, ScenarioError

JOIN_POLL_S = 0.1  # joining a cluster: how often the waiting main thread lets signal handlers run
ABORT_S = 0.5  # a cluster start cut short: how long its processes are hunted while its ray.init goes on
QUIET = {"logging_level": "ERROR", "log_to_driver": False}
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
    saved = {sig: signal.getsignal(sig) for sig in HANDLED_SIGNALS}
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
