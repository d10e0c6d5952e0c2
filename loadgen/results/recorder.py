"""What one worker measures in one phase: per operation a latency histogram, its errors and first messages; rows;
per interval a small histogram per operation for the time series; and the live progress counters the coordinator
reads. Recorded on the worker, sent as plain data, merged on the coordinator (loadgen/results/aggregate.py).

In the time series an operation counts, with its latency, in the interval in which it ended, and its rows where
they were sent: rows handed to a statement as it ran (`sending`: a streamed COPY's batches, the Inserter's rows)
count in the intervals they were handed over in; the others (a staged COPY: hyperd reads the file itself) are
spread over the intervals the operation ran in, in proportion to its time in each. A COPY of 1M rows that ran 3 s
was sending (or hyperd reading) its rows all along: counting them in its last second would draw a stall and a
burst that did not happen."""

import time
from dataclasses import dataclass, field

from loadgen.results.counts import BUCKET_DIGITS, HIST_HIGHEST_US, HIST_LOWEST_US, Counts
from loadgen.workloads.contract import is_primary


@dataclass
class Bucket:
    """One interval of one worker: per operation its Counts (2 digits), and the mean of the session gauges."""

    ops: dict[str, Counts] = field(default_factory=dict)
    gauge_sum: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # active, target sessions, target rate
    gauges: int = 0
    rated: bool = False  # a target rate was given (an open-loop phase); else its mean is None, not 0

    def op(self, name: str) -> Counts:
        entry = self.ops.get(name)
        if entry is None:
            entry = self.ops[name] = Counts(BUCKET_DIGITS)
        return entry

    def encode(self) -> dict:
        out = {"ops": {name: counts.encode() for name, counts in self.ops.items()}}
        if self.gauges:
            active, sessions, rate = (g / self.gauges for g in self.gauge_sum)
            out["gauges"] = [active, sessions, rate if self.rated else None]
        return out


class TimedOp:
    """`with recorder.op(name) as op:` — a class, not a contextlib generator: entering and leaving a generator cost
    more than the recording itself (benchmarks/bench_api.py)."""

    __slots__ = ("recorder", "name", "rows", "t0")

    def __init__(self, recorder, name: str):
        self.recorder, self.name, self.rows, self.t0 = recorder, name, 0, 0

    def __enter__(self) -> "TimedOp":
        self.t0 = time.perf_counter_ns()
        return self

    def __exit__(self, kind, exc, _tb) -> bool:
        if kind is None:
            self.recorder.record(self.name, time.perf_counter_ns() - self.t0, self.rows)
            return False
        if issubclass(kind, Exception):
            self.recorder.error(self.name, exc)  # re-raises it unless the phase has an error budget
            return True
        return False  # KeyboardInterrupt, SystemExit: not an operation's failure


class Recorder:
    """Collects one worker's measurements for one phase. `progress` is this worker's slot in shared memory
    (rows done, operations done) that the coordinator reads for the live progress line."""

    def __init__(self, progress=None, origin_ns: int = 0, bucket_ns: int = 1_000_000_000, error_budget=None):
        self.ops: dict[str, Counts] = {}
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
        self.sealed = -1  # the latest closed interval: rows of a long operation go to later ones only
        # rows handed to statements still running, by the interval they were handed over in; they count there once
        # an operation records them, so those intervals stay open until then
        self.sent: dict[int, int] = {}
        self.on_interval = None  # called with each finished interval (plain data), e.g. to send it to the coordinator
        # the fraction of operations the phase allows to fail; None: a failed operation fails the phase (error raises)
        self.error_budget = error_budget

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
        index = min([index, *self.sent])  # an interval with rows sent but not recorded yet stays open
        for old in sorted(i for i in self.buckets if i < index):
            self.closed[old] = self.buckets.pop(old).encode()
            self.sealed = max(self.sealed, old)
            if self.on_interval is not None:
                self.on_interval(old, self.closed[old])

    def publish(self) -> None:
        """Close the intervals that are over (a workload that runs a ticker calls this even when nothing happens)."""
        self._close_before(self._index())

    def idle(self) -> None:
        """No session is active any more (the progress line)."""
        if self.progress is not None:
            self.progress[4] = 0

    def gauge(self, active: float, target_sessions: float, target_rate: float | None) -> None:
        """Active sessions and the targets now (sessions, operations/s; None: the phase has no target rate),
        averaged per interval; the progress line shows the active sessions."""
        bucket = self._bucket()
        for i, value in enumerate((active, target_sessions, target_rate or 0.0)):
            bucket.gauge_sum[i] += value
        bucket.gauges += 1
        bucket.rated = bucket.rated or target_rate is not None
        if self.progress is not None:
            self.progress[4] = int(active)

    def start(self) -> None:
        self.start_ns = time.perf_counter_ns()

    def stop(self) -> None:
        self.end_ns = time.perf_counter_ns()

    def _op(self, name: str) -> Counts:
        counts = self.ops.get(name)
        if counts is None:
            counts = self.ops[name] = Counts()
        return counts

    def record(self, op: str, latency_ns: int, rows: int = 0) -> None:
        """One operation. Side records (OP:warmup, OP:from_intended) only go into their own Counts, not into the
        phase's rows, the progress or the time series."""
        # the common path is written out (clamp_us, is_primary and the Counts lookups inlined): it runs once per
        # operation, and each Python call on it was a tenth of the recorder's cost (benchmarks/bench_api.py)
        us = latency_ns // 1000
        us = HIST_LOWEST_US if us < HIST_LOWEST_US else HIST_HIGHEST_US if us > HIST_HIGHEST_US else us
        counts = self.ops.get(op)
        if counts is None:
            counts = self._op(op)
        if ":" in op:  # a side record (not is_primary)
            counts.record(us)
            return
        counts.record(us, rows)
        self.rows += rows
        if self.progress is not None:
            self.progress[0] += rows
            self.progress[1] += 1
            if rows:  # the rows sent so far are counted now (an add_rows call, counting none, keeps them)
                self.progress[3] = 0
        now = time.perf_counter_ns() - self.origin_ns
        index = now // self.bucket_ns if now > 0 else 0
        if rows and (self.sent or now - latency_ns < index * self.bucket_ns):  # not all sent in this interval
            shares = self._take_sent(rows)
            rest = spread(rows - sum(shares.values()), now - latency_ns, now, self.bucket_ns, self.sealed + 1)
            for at, part in [*shares.items(), *rest.items()]:
                self.buckets.setdefault(at, Bucket()).op(op).rows += part
            rows = 0
        bucket = self.buckets.get(index)
        if bucket is None or len(self.buckets) > 1:
            bucket = self.buckets.setdefault(index, Bucket())
            self._close_before(index)  # the intervals before this one are over, with the rows they got just now
        entry = bucket.ops.get(op)
        if entry is None:
            entry = bucket.op(op)
        entry.record(us, rows)

    def sending(self, rows: int) -> None:
        """Rows handed to a statement that is still running (a streamed COPY, an Inserter's load): the progress line
        shows them now, and the time series counts them in this interval once the operation that commits them is
        recorded."""
        if self.progress is not None:
            self.progress[3] += rows
        index = self._index()
        self.sent[index] = self.sent.get(index, 0) + rows

    def _take_sent(self, rows: int) -> dict[int, int]:
        """Up to `rows` of the rows sent so far, oldest first, by the interval they were sent in."""
        taken = {}
        for index in sorted(self.sent):
            part = min(rows, self.sent[index])
            if part <= 0:
                break
            taken[index], rows = part, rows - part
            self.sent[index] -= part
            if not self.sent[index]:
                del self.sent[index]
        return taken

    def error(self, op: str, failure) -> None:
        """A failed operation (an exception or its message): counted, with its first line kept, when the phase
        has an error budget (judged at its end); re-raised when it has none."""
        if isinstance(failure, BaseException):
            if self.error_budget is None:
                raise failure
            failure = (str(failure).strip().splitlines() or [type(failure).__name__])[0]
        self._op(op).error(failure)
        if is_primary(op):
            self.sent.clear()  # the failed statement's rows were never committed
            if self.progress is not None:
                self.progress[2] += 1
            self._bucket().op(op).error()

    def op(self, name: str) -> "TimedOp":
        """Time the block as one operation `name`; set `.rows` on what it yields to count the rows it wrote or read.
        An exception in it is a failed operation (see error)."""
        return TimedOp(self, name)

    def measurement(self) -> "Measurement":
        """What was recorded, as plain data that crosses the process boundary."""
        return Measurement(
            start_ns=self.start_ns,
            end_ns=self.end_ns,
            rows=self.rows,
            ops={name: counts.encode() for name, counts in self.ops.items()},
            timeseries={**self.closed, **{index: b.encode() for index, b in self.buckets.items()}},
        )


def spread(rows: int, start_ns: int, end_ns: int, width_ns: int, first: int = 0) -> dict[int, int]:
    """An operation's rows by interval (index → rows, whole numbers that add up to `rows`): in proportion to its
    time [start_ns, end_ns] (since the origin) in each interval of width_ns; what falls before interval `first`
    (already closed and sent) goes to it."""
    if not rows:
        return {}
    start_ns, end_ns = max(0, start_ns), max(0, end_ns)
    if end_ns // width_ns == start_ns // width_ns or end_ns <= start_ns:
        return {max(first, end_ns // width_ns): rows}
    shares: dict[int, int] = {}
    done = 0
    for index in range(start_ns // width_ns, end_ns // width_ns + 1):
        upto = rows * (min(end_ns, (index + 1) * width_ns) - start_ns) // (end_ns - start_ns)
        if upto > done:
            shares[max(first, index)] = shares.get(max(first, index), 0) + upto - done
        done = upto
    return shares


@dataclass
class Measurement:
    """One worker's phase as it reaches the coordinator: its timed span (perf_counter_ns, in the coordinator's clock),
    the rows of its primary operations, every operation's encoded Counts, and its intervals (index → encoded
    Bucket) since the phase's release."""

    start_ns: int = 0
    end_ns: int = 0
    rows: int = 0
    ops: dict = field(default_factory=dict)
    timeseries: dict = field(default_factory=dict)

    def counts(self, name: str) -> Counts:
        return Counts.decode(self.ops[name])
