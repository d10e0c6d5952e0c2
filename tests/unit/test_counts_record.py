"""Counts.record puts a latency where HdrHistogram.record_value would: the same counts index, total, min and max, at
both precisions loadgen uses, over the whole range clamp_us allows."""

import random

import pytest

from loadgen.results.counts import BUCKET_DIGITS, HIST_DIGITS, HIST_HIGHEST_US, HIST_LOWEST_US, Counts, new_histogram


@pytest.mark.parametrize("digits", [HIST_DIGITS, BUCKET_DIGITS])
def test_recording_matches_hdrhistograms_own_record_value(digits):
    rng = random.Random(7)
    values = [HIST_LOWEST_US, 2, 1023, 1024, 2047, 2048, 4095, 4096, 10**6, HIST_HIGHEST_US - 1, HIST_HIGHEST_US]
    values += [int(10 ** rng.uniform(0, 9.55)) for _ in range(20_000)]
    values = [min(max(v, HIST_LOWEST_US), HIST_HIGHEST_US) for v in values]
    ours, reference = Counts(digits), new_histogram(digits)
    for value in values:
        ours.record(value, 1)
        reference.record_value(value)
    mine = ours.histogram
    assert list(mine.counts) == list(reference.counts)
    assert (mine.total_count, mine.min_value, mine.max_value) == (
        reference.total_count, reference.min_value, reference.max_value
    )  # fmt: skip
    assert mine.get_value_at_percentile(99) == reference.get_value_at_percentile(99)
    assert (ours.ops, ours.rows, ours.total_us) == (len(values), len(values), sum(values))
