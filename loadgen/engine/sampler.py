"""CPU % and RSS of hyperd, every worker, the coordinator and the host, sampled at a fixed interval.

`take_sample` is plain logic over psutil (testable without a thread); `Sampler` runs it on a thread.
cpu_pct is % of one core (a process busy on two cores shows 200); the host row is the whole machine's
busy time, on the same scale (100 × cores at most), and its rss_mib is used memory.
"""

import threading
import time

import psutil

from loadgen.datagen.canonical import MIB
from loadgen.results.samples import Sample


class CpuClock:
    """CPU seconds of one process (or the host) between two reads, as % of one core."""

    def __init__(self):
        self.last: dict[str, tuple[float, int]] = {}

    def percent(self, key: str, cpu_s: float, now_ns: int) -> float | None:
        previous = self.last.get(key)
        self.last[key] = (cpu_s, now_ns)
        if previous is None or now_ns <= previous[1]:
            return None  # the first read has nothing to compare with
        return max(0.0, 100.0 * (cpu_s - previous[0]) / ((now_ns - previous[1]) / 1e9))


def host_busy_s() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def take_sample(processes: dict[str, psutil.Process], clock: CpuClock, phase: str, repetition: int = 1) -> list[Sample]:
    """One sample of each live process plus the host. Processes that are gone are skipped."""
    now = time.perf_counter_ns()
    out = []
    for label, proc in list(processes.items()):
        try:
            with proc.oneshot():
                cpu = proc.cpu_times()
                rss = proc.memory_info().rss
        except psutil.Error:
            continue
        pct = clock.percent(label, cpu.user + cpu.system, now)
        if pct is not None:
            out.append(Sample(now, phase, label, proc.pid, pct, rss / MIB, repetition))
    pct = clock.percent("host", host_busy_s(), now)
    if pct is not None:
        memory = psutil.virtual_memory()
        out.append(Sample(now, phase, "host", 0, pct, (memory.total - memory.available) / MIB, repetition))
    return out


class Sampler:
    def __init__(self, interval_ms: int):
        self.interval_s = interval_ms / 1000
        self.phase = "setup"
        self.repetition = 1
        self.samples: list[Sample] = []
        self._processes: dict[str, psutil.Process] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="loadgen-sampler", daemon=True)
        self._clock = CpuClock()

    def watch(self, label: str, pid: int | None) -> None:
        if pid is None:
            return
        try:
            proc = psutil.Process(pid)
        except psutil.Error:
            return
        with self._lock:
            self._processes[label] = proc

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                processes = dict(self._processes)
            batch = take_sample(processes, self._clock, self.phase, self.repetition)
            with self._lock:
                self.samples.extend(batch)
            # fixed-rate schedule: a slow sample does not shift every later one
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def add(self, samples: list[Sample]) -> None:
        """Samples taken elsewhere (by Ray actors on their nodes), in this sampler's clock."""
        with self._lock:
            self.samples.extend(samples)

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
