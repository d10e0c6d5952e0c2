import numpy as np
import pyarrow as pa
import pytest

from loadgen.datagen import canonical, canonical_batches


@pytest.mark.parametrize(("start", "count"), [(0, 1), (0, 10), (3, 17), (1_000, 12_345), (999_999, 101)])
def test_expected_matches_brute_force(start, count):
    ids = np.arange(start, start + count, dtype=np.int64)
    want = canonical.expected(canonical.RowRange(start, count))
    assert want.count == count
    assert want.sum_id == int(ids.sum())
    assert want.per_sensor == tuple(int((ids % 10 == s).sum()) for s in range(10))
    for s in range(10):
        assert want.sum_value_per_sensor[s] == pytest.approx(float((ids[ids % 10 == s] * 0.1).sum()), rel=1e-12)


def test_worker_ranges_follow_the_seed_split():
    ranges = [canonical.worker_range(w, 3, 10) for w in range(3)]
    assert [(r.start, r.count) for r in ranges] == [(0, 3), (3, 3), (6, 3)]  # the remainder (1 row) is not written


def test_columns_follow_the_formulas_and_the_arrow_schema():
    batch = canonical_batches.record_batch(5, 4)
    assert batch.schema == canonical_batches.ARROW_SCHEMA
    assert batch.column(0).to_pylist() == [5, 6, 7, 8]
    assert batch.column(1).to_pylist() == [5, 6, 7, 8]
    assert batch.column(2).to_pylist() == pytest.approx([0.5, 0.6, 0.7, 0.8])
    assert batch.column(3).to_pylist() == [canonical.TIMESTAMP_BASE + i * 1000 for i in range(5, 9)]
    assert not batch.schema.field("id").nullable
    assert batch.schema.field("id").type == pa.int32() and batch.schema.field("timestamp").type == pa.int64()


def test_batches_cover_the_range_exactly_once():
    rows = canonical.RowRange(10, 1000)
    batches = list(canonical_batches.iter_record_batches(rows, 64))
    ids = np.concatenate([b.column(0).to_numpy() for b in batches])
    assert max(b.num_rows for b in batches) == 64
    assert ids.tolist() == list(range(10, 1010))


def test_python_rows_equal_the_columns():
    rows = list(canonical_batches.python_rows(20, 3))
    assert rows[0] == (20, 0, pytest.approx(2.0), canonical.TIMESTAMP_BASE + 20_000)
    assert [r[0] for r in rows] == [20, 21, 22]
    assert all(type(v) in (int, float) for r in rows for v in r)
