"""What one worker measures in one phase: per operation a latency histogram, its errors and first messages; rows;
per interval a small histogram per operation for the time series; and the live progress counters the coordinator
reads. Recorded on the worker, sent as plain data, merged on the coordinator (loadgen/results/aggregate.py)."""

import time
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from loadgen.results.counts import BUCKET_DIGITS, HIST_HIGHEST_US, HIST_LOWEST_US, MAX_KEPT_ERRORS, new_histogram
from loadgen.workloads.contract import is_primary


@dataclass
class OpBucket:
    ops: int = 0
    rows: int = 0
    errors: int = 0
    histogram: HdrHistogram = field(default_factory=lambda: new_histogram(BUCKET_DIGITS))

    def to_dict(self) -> dict:
        return {"ops": self.ops, "rows": self.rows, "errors": self.errors, "histogram": self.histogram.encode()}


@dataclass
class Bucket:
    """One interval of one worker: per operation counts and latencies, and the mean of the session gauges."""

    ops: dict[str, OpBucket] = field(default_factory=dict)
    gauge_sum: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # active, target sessions, target rate
    gauges: int = 0

    def op(self, name: str) -> OpBucket:
        entry = self.ops.get(name)
        if entry is None:
            entry = self.ops[name] = OpBucket()
        return entry

    def to_dict(self) -> dict:
        out = {"ops": {name: b.to_dict() for name, b in self.ops.items()}}
        if self.gauges:
            out["gauges"] = [g / self.gauges for g in self.gauge_sum]
        return out


@dataclass
class OpStats:
    histogram: HdrHistogram = field(default_factory=new_histogram)
    total_us: int = 0  # exact sum of the recorded latencies, for the mean
    errors: int = 0
    first_errors: list = field(default_factory=list)


class Recorder:
    """Collects one worker's measurements for one phase. `progress` is this worker's slot in shared memory
    (rows done, operations done) that the coordinator reads for the live progress line."""

    def __init__(self, progress=None, origin_ns: int = 0, bucket_ns: int = 1_000_000_000):
        self.ops: dict[str, OpStats] = {}
        self.rows = 0
        self.progress = progress
        self.start_ns = 0
        self.end_ns = 0
        # time series: buckets of bucket_ns since origin_ns (the coordinator's release of the phase); a bucket is
        # encoded once its interval is over (a live histogram holds ~26 KB, its encoding a few hundred bytes)
        self.origin_ns = origin_ns
        self.bucket_ns = bucket_ns
        self.buckets: dict[int, Bucket] = {}
        self.closed: dict[int, dict] = {}
        self.on_interval = None  # called with each finished interval (plain data), e.g. to send it to the coordinator

    def _index(self) -> int:
        return max(0, (time.perf_counter_ns() - self.origin_ns) // self.bucket_ns)

    def _bucket(self) -> Bucket:
        index = self._index()
        bucket = self.buckets.get(index)
        if bucket is None:
            self._close_before(index)
            bucket = self.buckets[index] = Bucket()
        return bucket

    def _close_before(self, index: int) -> None:
        for old in [i for i in self.buckets if i < index]:
            self.closed[old] = self.buckets.pop(old).to_dict()
            if self.on_interval is not None:
                self.on_interval(old, self.closed[old])

    def publish(self) -> None:
        """Close the intervals that are over (a workload that runs a ticker calls this even when nothing happens)."""
        self._close_before(self._index())

    def idle(self) -> None:
        """No session is active any more (the progress line)."""
        if self.progress is not None:
            self.progress[4] = 0

    def gauge(self, active: float, target_sessions: float, target_rate: float) -> None:
        """Active sessions and the targets now (sessions, operations/s), averaged per interval; the progress line
        shows the active sessions."""
        bucket = self._bucket()
        for i, value in enumerate((active, target_sessions, target_rate)):
            bucket.gauge_sum[i] += value
        bucket.gauges += 1
        if self.progress is not None:
            self.progress[4] = int(active)

    def start(self) -> None:
        self.start_ns = time.perf_counter_ns()

    def stop(self) -> None:
        self.end_ns = time.perf_counter_ns()

    def _op(self, name: str) -> OpStats:
        stats = self.ops.get(name)
        if stats is None:
            stats = self.ops[name] = OpStats()
        return stats

    def record(self, op: str, latency_ns: int, rows: int = 0) -> None:
        """One operation. Side records (OP:warmup, OP:from_intended) only go into their own histogram, not into
        the counts, progress or time series."""
        us = min(max(latency_ns // 1000, HIST_LOWEST_US), HIST_HIGHEST_US)
        stats = self._op(op)
        stats.histogram.record_value(us)
        stats.total_us += us
        if not is_primary(op):
            return
        self.rows += rows
        if self.progress is not None:
            self.progress[0] += rows
            self.progress[1] += 1
            self.progress[3] = 0  # the statement's rows are counted now
        bucket = self._bucket().op(op)
        bucket.ops += 1
        bucket.rows += rows
        bucket.histogram.record_value(us)

    def sending(self, rows: int) -> None:
        """Rows handed to a statement that is still running (a streamed COPY), for the progress line only."""
        if self.progress is not None:
            self.progress[3] += rows

    def error(self, op: str, message: str) -> None:
        stats = self._op(op)
        stats.errors += 1
        if len(stats.first_errors) < MAX_KEPT_ERRORS:
            stats.first_errors.append(message)
        if is_primary(op):
            if self.progress is not None:
                self.progress[2] += 1
            self._bucket().op(op).errors += 1

    def to_dict(self) -> dict:
        """Plain data that crosses the process boundary."""
        return {
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "rows": self.rows,
            "ops": {
                name: {
                    "histogram": s.histogram.encode(),
                    "total_us": s.total_us,
                    "errors": s.errors,
                    "first_errors": list(s.first_errors),
                }
                for name, s in self.ops.items()
            },
            "timeseries": {**self.closed, **{index: b.to_dict() for index, b in self.buckets.items()}},
        }
