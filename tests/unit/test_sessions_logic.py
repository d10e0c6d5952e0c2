"""Load shapes, dealing sessions out, placeholders, parameter streams and live threshold checks."""

import pytest

from loadgen.config import thresholds
from loadgen.engine.protocol import Interval
from loadgen.results import thresholds as measured
from loadgen.results.counts import BUCKET_DIGITS, Counts
from loadgen.workloads.mix import binder, operations, sessions


def test_stages_ramp_linearly_from_zero_and_hold_the_last_target():
    shape = sessions.Targets([sessions.Stage(30, 200), sessions.Stage(60, 200), sessions.Stage(10, 0)])
    assert [shape.at(t) for t in (0, 15, 30, 60, 90, 95, 100, 500)] == [0, 100, 200, 200, 200, 100, 0, 0]
    assert shape.duration_s == 100


def test_sessions_are_dealt_out_whole_and_add_up():
    for total in range(0, 12):
        shares = [sessions.deal(total, 3, w) for w in range(3)]
        assert sum(shares) == total and max(shares) - min(shares) <= 1 and shares == sorted(shares, reverse=True)


def test_placeholders_are_counted_and_other_forms_refused():
    assert operations.count_placeholders("SELECT %s, '100%%', %s") == 2
    with pytest.raises(ValueError, match="write each parameter as %s"):
        operations.count_placeholders("SELECT %(name)s")


def test_sequence_parameters_never_repeat_across_sessions():
    param = operations.Param(type="BIGINT", generator={"kind": "sequence", "start": 10, "step": 1})
    drawn = []
    for stream in range(3):
        s = binder.ParamStream(param, seed=1, key="op/0/0", stream=stream, streams=3)
        drawn += [int(s.next()) for _ in range(2000)]  # past one refill
    assert len(set(drawn)) == len(drawn) and min(drawn) == 10


def test_a_parameter_stream_is_a_function_of_the_seed():
    param = operations.Param(type="INT", generator={"kind": "zipf", "n": 100, "s": 1.2})
    one = [binder.ParamStream(param, 7, "q/0/0", 0, 1).next() for _ in range(1)]
    a, b, c = (binder.ParamStream(param, seed, "q/0/0", 0, 1) for seed in (7, 7, 8))
    first = [a.next() for _ in range(50)]
    assert first == [b.next() for _ in range(50)] != [c.next() for _ in range(50)]
    assert one[0] == first[0] and all(1 <= v <= 100 for v in first)


def interval(index, ops, errors, latency_us):
    q = Counts(BUCKET_DIGITS)
    for _ in range(ops):
        q.record(latency_us)
    for _ in range(errors):
        q.error()
    return Interval(worker=0, phase="users", index=index, interval={"ops": {"q": q.encode()}})


def test_a_live_check_fires_after_its_delay_on_what_was_measured_so_far():
    [bound] = thresholds.parse_all("users.q.p99_ms", {"bounds": ["< 100"], "abort": True, "delay_s": 2})
    live = measured.LiveCheck([bound], 1.0)
    live.add(interval(0, 100, 0, 500_000))  # slow, but within the delay
    assert live.check() is None
    live.add(interval(1, 100, 0, 1_000))
    fired = live.check()
    assert fired and fired[0] is bound and fired[1] >= 100 and fired[2] == 2.0


def test_several_bounds_and_per_operation_values_at_the_end():
    parsed = thresholds.parse_all("users.q.error_rate", ["< 0.1", ">= 0"])
    latency = [{"phase": "users", "operation": "q", "count": "90", "errors": "10"}]
    results = measured.evaluate(parsed, {"users": {"wall_s": "1"}}, latency)
    assert [(r[1], r[2]) for r in results] == [(0.1, False), (0.1, True)]
