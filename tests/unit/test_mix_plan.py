import pytest

from loadgen.workloads.mix.plan import OperationPlan, operation_sequence

WEIGHTS = {"select_limit": 5, "aggregate": 3, "join": 2, "ddl": 0}


def test_same_seed_same_sequence_and_different_seed_another():
    first = operation_sequence(42, 1, "stress", WEIGHTS, 200)
    assert first == operation_sequence(42, 1, "stress", WEIGHTS, 200)
    assert first != operation_sequence(43, 1, "stress", WEIGHTS, 200)
    assert first != operation_sequence(42, 2, "stress", WEIGHTS, 200)  # each worker has its own stream
    assert "ddl" not in first  # weight 0 never drawn


def test_weights_shape_the_mix():
    ops = operation_sequence(1, 0, "p", WEIGHTS, 5000)
    share = ops.count("select_limit") / len(ops)
    assert share == pytest.approx(0.5, abs=0.05)


def test_timing_draws_do_not_change_the_operation_sequence():
    a = OperationPlan(9, 0, "p", WEIGHTS, (10, 200), (1, 10))
    b = OperationPlan(9, 0, "p", WEIGHTS, 0, (1, 10))
    seq_a, seq_b = [], []
    for _ in range(100):
        seq_a.append(a.next_operation())
        a.think_s()
        a.interarrival_s(50, "poisson")
        seq_b.append(b.next_operation())
    assert seq_a == seq_b


def test_arrivals():
    plan = OperationPlan(3, 0, "p", WEIGHTS, 0, (1, 10))
    assert plan.interarrival_s(50, "uniform") == pytest.approx(0.02)
    gaps = [plan.interarrival_s(50, "poisson") for _ in range(5000)]
    assert sum(gaps) / len(gaps) == pytest.approx(0.02, rel=0.1)
    think = OperationPlan(3, 0, "p", WEIGHTS, (10, 200), (1, 10))
    assert all(0.010 <= think.think_s() <= 0.200 for _ in range(1000))
