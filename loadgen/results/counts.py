"""Latency histograms and the figures read from them: HdrHistograms (1 µs … 1 h, 3 significant digits) that are
merged across workers and intervals, never averaged; percentiles always come from a merged histogram."""

from hdrh.histogram import HdrHistogram

# Latencies are recorded in microseconds from 1 µs to 1 hour with 3 significant digits (0.1% error).
HIST_LOWEST_US = 1
HIST_HIGHEST_US = 3_600_000_000
HIST_DIGITS = 3
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
MAX_KEPT_ERRORS = 5


def new_histogram(digits: int = HIST_DIGITS) -> HdrHistogram:
    return HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, digits)


# time-series buckets keep 2 significant digits (1% error): one histogram per second per worker must stay small
BUCKET_DIGITS = 2


def latency_ms(histogram: HdrHistogram, total_us: float | None = None) -> dict:
    """count, min, percentiles, max (and the mean, from the exact total when given) in milliseconds.

    All percentiles come from one pass (get_percentile_to_value_dict); hdrhistogram's get_mean_value walks
    every bucket in Python (~80 ms for a 3-digit histogram), so the mean is computed from the recorded total.
    """
    count = histogram.get_total_count()
    out = {"count": count, "mean_ms": ""}
    if count == 0:
        out.update({"min_ms": 0.0, "max_ms": 0.0, "mean_ms": 0.0})
        out.update({percentile_column(p): 0.0 for p in PERCENTILES})
        return out
    out["min_ms"] = histogram.get_min_value() / 1000
    values = histogram.get_percentile_to_value_dict(list(PERCENTILES))
    for p in PERCENTILES:
        out[percentile_column(p)] = values[p] / 1000
    out["max_ms"] = histogram.get_max_value() / 1000
    if total_us is not None:
        out["mean_ms"] = total_us / count / 1000
    return out


def percentile_column(p: float) -> str:
    return "p" + (f"{p:g}".replace(".", "_")) + "_ms"  # 99.9 → p99_9_ms
