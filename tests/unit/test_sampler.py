import os
import subprocess
import sys

import psutil
import pytest

from loadgen.sampler import CpuClock, Sampler, take_sample


def test_cpu_clock_is_percent_of_one_core():
    clock = CpuClock()
    assert clock.percent("p", 1.0, 0) is None  # nothing to compare with yet
    assert clock.percent("p", 1.5, 1_000_000_000) == pytest.approx(50.0)
    assert clock.percent("p", 3.5, 2_000_000_000) == pytest.approx(200.0)  # busy on two cores


def test_take_sample_labels_processes_and_the_host():
    busy = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<3: pass"])
    try:
        processes = {"coordinator": psutil.Process(os.getpid()), "worker-0": psutil.Process(busy.pid)}
        clock = CpuClock()
        assert [s.process for s in take_sample(processes, clock, "load")] == []  # first read primes the clock
        import time

        time.sleep(0.5)
        samples = {s.process: s for s in take_sample(processes, clock, "load")}
    finally:
        busy.kill()
        busy.wait(timeout=10)
    assert set(samples) == {"coordinator", "worker-0", "host"}
    assert samples["worker-0"].cpu_pct > 50  # a spinning process is busy
    assert samples["worker-0"].pid == busy.pid and samples["host"].pid == 0
    assert all(s.phase == "load" and s.rss_mib > 0 for s in samples.values())


def test_sampler_thread_samples_at_its_interval_and_stops():
    sampler = Sampler(interval_ms=20)
    sampler.watch("coordinator", os.getpid())
    sampler.watch("gone", 2**22 + 12345)  # a pid that does not exist is ignored
    sampler.start()
    import time

    time.sleep(0.5)
    sampler.phase = "second"
    time.sleep(0.3)
    sampler.stop()
    samples = sampler.snapshot()
    phases = {s.phase for s in samples}
    assert phases == {"setup", "second"}
    assert 10 <= sum(1 for s in samples if s.process == "coordinator") <= 45
    assert not sampler._thread.is_alive()
