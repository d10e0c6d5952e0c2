import os
import subprocess
import sys

import psutil
import pytest

from loadgen.engine.sampler import CpuClock, Sampler, take_sample


def test_cpu_clock_is_percent_of_one_core():
    clock = CpuClock()
    assert clock.percent("p", 1.0, 0) is None  # nothing to compare with yet
    assert clock.percent("p", 1.5, 1_000_000_000) == pytest.approx(50.0)
    assert clock.percent("p", 3.5, 2_000_000_000) == pytest.approx(200.0)  # busy on two cores


def wait_for(condition, what: str, timeout_s: float = 30):
    """Until condition() holds (an observable event), or fail after timeout_s."""
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_take_sample_labels_processes_and_the_host():
    busy = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 60: pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        processes = {"coordinator": psutil.Process(os.getpid()), "worker-0": psutil.Process(busy.pid),
                     "worker-1": psutil.Process(idle.pid)}  # fmt: skip
        clock = CpuClock()
        assert [s.process for s in take_sample(processes, clock, "load")] == []  # first read primes the clock
        spent = processes["worker-0"].cpu_times().user
        # on a loaded machine the spinner gets less than a core: wait until it has spun 0.2 s of CPU, however long
        wait_for(lambda: processes["worker-0"].cpu_times().user - spent >= 0.2, "the spinner's CPU time")
        samples = {s.process: s for s in take_sample(processes, clock, "load")}
    finally:
        for process in (busy, idle):
            process.kill()
            process.wait(timeout=10)
    assert set(samples) == {"coordinator", "worker-0", "worker-1", "host"}
    assert samples["worker-0"].cpu_pct > samples["worker-1"].cpu_pct + 1  # a spinning process is busy, not idle
    assert samples["worker-0"].pid == busy.pid and samples["host"].pid == 0
    assert all(s.phase == "load" and s.rss_mib > 0 for s in samples.values())


def test_sampler_thread_samples_at_its_interval_and_stops():
    sampler = Sampler(interval_ms=20)
    sampler.watch("coordinator", os.getpid())
    sampler.watch("gone", 2**22 + 12345)  # a pid that does not exist is ignored
    import time

    started_ns = time.perf_counter_ns()
    sampler.start()

    def count(phase):
        return sum(1 for s in sampler.snapshot() if s.process == "coordinator" and s.phase == phase)

    wait_for(lambda: count("setup") >= 5, "5 samples")
    sampler.phase = "second"
    wait_for(lambda: count("second") >= 5, "5 samples of the second phase")
    sampler.stop()
    samples = [s for s in sampler.snapshot() if s.process == "coordinator"]
    assert {s.phase for s in sampler.snapshot()} == {"setup", "second"}
    # a fixed-rate schedule: the k-th sample (the first read only primes the CPU clock) is taken no earlier than
    # k intervals after the start; later is allowed on a loaded machine
    assert (samples[-1].t_ns - started_ns) / 1e6 >= 20 * len(samples) * 0.95
    assert not sampler._thread.is_alive()


def test_the_wide_samples_have_a_row_per_instant_and_name_a_host_per_ray_node():
    from loadgen.results.samples import wide_rows

    def sample(t_s, process, cpu, node="", point=0):
        return {"run_id": "r", "point": point, "t_s": t_s, "utc": f"u{t_s}", "phase": "load", "repetition": 1,
                "process": process, "pid": 1, "cpu_pct": cpu, "rss_mib": 10 * cpu, "node": node}  # fmt: skip

    columns, rows = wide_rows([
        sample(0.2, "worker-10", 1.0, "b"), sample(0.2, "host", 2.0, "b"),  # a Ray node's samples, its own instant
        sample(0.1, "host", 3.0), sample(0.1, "worker-2", 4.0, "a"), sample(0.1, "hyperd", 5.0),
        sample(0.1, "coordinator", 6.0), sample(0.1, "host", 7.0, "a"),
        sample(0.05, "hyperd", 8.0, point=1),  # ordered by point, then time
    ])  # fmt: skip
    roles = ["hyperd", "coordinator", "worker-2", "worker-10", "host", "host@a", "host@b"]
    assert columns[6:] == [f"{r}_cpu_pct" for r in roles] + [f"{r}_rss_mib" for r in roles]
    assert [(r["point"], r["t_s"]) for r in rows] == [(0, 0.1), (0, 0.2), (1, 0.05)]
    assert {c: v for c, v in rows[0].items() if c.endswith("_cpu_pct")} == {
        "host_cpu_pct": 3.0, "worker-2_cpu_pct": 4.0, "hyperd_cpu_pct": 5.0, "coordinator_cpu_pct": 6.0,
        "host@a_cpu_pct": 7.0,
    }  # fmt: skip
    assert (rows[1]["host@b_rss_mib"], rows[1]["worker-10_rss_mib"], rows[1]["utc"]) == (20.0, 10.0, "u0.2")
