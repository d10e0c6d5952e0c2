"""The local backend with stand-in targets: barrier, collection, a death, an error, an exchange — no hyperd
involved."""

import time
from dataclasses import dataclass

import psutil
import pytest

from loadgen.engine.backends.local import LocalBackend
from loadgen.errors import WorkerError
from tests.unit import pool_targets


@dataclass
class Spec:
    worker: int
    phases: tuple = ("one", "two")
    scenario: object = None


def make_pool(target, workers=2):
    return LocalBackend([Spec(w) for w in range(workers)], barrier_s=20, stop_s=2, target=target)


def test_every_phase_is_released_together_and_collected():
    pool = make_pool(pool_targets.well_behaved)
    pool.start()
    try:
        for phase in ("one", "two"):
            released = pool.release(phase)
            results = pool.collect(phase, 20)
            assert [r.worker for r in results] == [0, 1] and released > 0
        assert pool.progress_totals()[1] == 2  # each worker counted one operation in the last phase
    finally:
        assert pool.shutdown() == []
    assert all(not psutil.pid_exists(p.pid) or p.exitcode is not None for p in pool.processes)


def test_a_worker_that_dies_mid_phase_ends_the_collection_at_once_and_everyone_is_reaped():
    pool = make_pool(pool_targets.dies_in_phase)
    pool.start()
    try:
        pool.release("one")
        start = time.monotonic()
        with pytest.raises(WorkerError, match="worker 1 exited with code 9 during phase one"):
            pool.collect("one", 60)
        assert time.monotonic() - start < 20  # not the 60 s the other worker would sleep
    finally:
        pool.shutdown()
    assert all(p.exitcode is not None for p in pool.processes)  # the sleeper was stopped and reaped


def test_a_worker_error_is_named_before_the_barrier_waits_out():
    pool = make_pool(pool_targets.raises_in_setup)
    pool.start()
    try:
        with pytest.raises(WorkerError, match="worker 0 failed in phase one: ValueError: broken setup"):
            pool.release("one")
    finally:
        pool.shutdown()


def test_workers_exchange_values_through_the_coordinator():
    pool = make_pool(pool_targets.exchanges, workers=3)
    pool.start()
    try:
        pool.release("one")
        results = pool.collect("one", 20)
    finally:
        pool.shutdown()
    assert [r.report for r in results] == [[0, 1, 4]] * 3  # every worker got every worker's share, in order
