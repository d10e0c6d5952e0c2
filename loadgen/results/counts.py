"""Counts: operations, rows and failed operations with their latencies, over some span — one operation of one
worker's phase, one interval, every worker together. Recorded on a worker, sent as plain data, merged on the
coordinator; the one place where rates, error rates and percentiles are derived.

Latencies go into HdrHistograms (1 µs … 1 h, 3 significant digits; 2 for the time series' intervals) that are
merged, never averaged: percentiles always come from a merged histogram.
"""

from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

HIST_LOWEST_US = 1
HIST_HIGHEST_US = 3_600_000_000
HIST_DIGITS = 3
# time-series buckets keep 2 significant digits (1% error): one histogram per second per worker must stay small
BUCKET_DIGITS = 2
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
MAX_KEPT_ERRORS = 5


def new_histogram(digits: int = HIST_DIGITS) -> HdrHistogram:
    return HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, digits)


def percentile_column(p: float) -> str:
    return "p" + (f"{p:g}".replace(".", "_")) + "_ms"  # 99.9 → p99_9_ms


def per_second(count: float, seconds: float) -> float:
    """A rate over measured seconds; 0 when no time was measured."""
    return count / seconds if seconds > 0 else 0.0


def error_rate(ops: float, errors: float) -> float:
    """Failed operations ÷ all attempted (completed + failed); 0 when nothing was attempted."""
    return errors / (ops + errors) if ops + errors else 0.0


def clamp_us(latency_ns: int) -> int:
    """A latency in the histograms' unit and range."""
    return min(max(latency_ns // 1000, HIST_LOWEST_US), HIST_HIGHEST_US)


@dataclass
class Counts:
    digits: int = HIST_DIGITS
    ops: int = 0
    rows: int = 0
    errors: int = 0
    total_us: int = 0  # exact sum of the recorded latencies, for the mean
    first_errors: list[str] = field(default_factory=list)
    histogram: HdrHistogram = None

    def __post_init__(self):
        if self.histogram is None:
            self.histogram = new_histogram(self.digits)

    # ------------------------------------------------------------------ recording
    def record(self, us: int, rows: int = 0) -> None:
        """One completed operation of `us` microseconds (see clamp_us) that wrote or read `rows`.

        HdrHistogram.record_value inlined: the same counts index (its _get_bucket_index, _get_sub_bucket_index and
        _counts_index, with bit_length for 64 - clz), without its four Python calls, which were most of a recorded
        operation's cost (benchmarks/bench_api.py). clamp_us keeps `us` inside the histogram's range."""
        h = self.histogram
        bucket = (us | h.sub_bucket_mask).bit_length() - h.unit_magnitude - h.sub_bucket_half_count_magnitude - 1
        sub_bucket = us >> (bucket + h.unit_magnitude)
        h.counts[((bucket + 1) << h.sub_bucket_half_count_magnitude) + sub_bucket - h.sub_bucket_half_count] += 1
        h.total_count += 1
        if us < h.min_value:
            h.min_value = us
        if us > h.max_value:
            h.max_value = us
        self.total_us += us
        self.ops += 1
        self.rows += rows

    def error(self, message: str = "") -> None:
        self.errors += 1
        if message and len(self.first_errors) < MAX_KEPT_ERRORS:
            self.first_errors.append(message)

    def merge(self, other: "Counts") -> "Counts":
        self.histogram.add(other.histogram)
        self.ops += other.ops
        self.rows += other.rows
        self.errors += other.errors
        self.total_us += other.total_us
        self.first_errors.extend(other.first_errors[: MAX_KEPT_ERRORS - len(self.first_errors)])
        return self

    # ------------------------------------------------------------------ plain data (crosses process boundaries)
    def encode(self) -> dict:
        return {"ops": self.ops, "rows": self.rows, "errors": self.errors, "total_us": self.total_us,
                "first_errors": list(self.first_errors), "histogram": self.histogram.encode()}  # fmt: skip

    @classmethod
    def decode(cls, data: dict, digits: int = HIST_DIGITS) -> "Counts":
        histogram = HdrHistogram.decode(data["histogram"])
        return cls(digits, data["ops"], data["rows"], data["errors"], data["total_us"], list(data["first_errors"]),
                   histogram)  # fmt: skip

    @classmethod
    def merged(cls, parts, digits: int = HIST_DIGITS) -> "Counts":
        """Counts of several parts (Counts or their encodings) together."""
        total = cls(digits)
        for part in parts:
            total.merge(part if isinstance(part, Counts) else cls.decode(part, digits))
        return total

    # ------------------------------------------------------------------ derived
    @property
    def error_rate(self) -> float:
        return error_rate(self.ops, self.errors)

    def latency(self) -> dict:
        """count, min, percentiles, max and mean in milliseconds (all 0 without operations).

        All percentiles come from one pass (get_percentile_to_value_dict); hdrhistogram's get_mean_value walks
        every bucket in Python (~80 ms for a 3-digit histogram), so the mean comes from the recorded total."""
        count = self.histogram.get_total_count()
        if count == 0:
            return {"count": 0, "min_ms": 0.0, **{percentile_column(p): 0.0 for p in PERCENTILES}, "max_ms": 0.0,
                    "mean_ms": 0.0}  # fmt: skip
        values = self.histogram.get_percentile_to_value_dict(list(PERCENTILES))
        return {"count": count, "min_ms": self.histogram.get_min_value() / 1000,
                **{percentile_column(p): values[p] / 1000 for p in PERCENTILES},
                "max_ms": self.histogram.get_max_value() / 1000, "mean_ms": self.total_us / count / 1000}  # fmt: skip
