"""The deterministic part of a mix worker's load: which operation, with which parameters, and how long to wait."""

import zlib

from loadgen.workloads.mix.config import OPERATIONS

OPS_BATCH = 256  # operations drawn per numpy call


class OperationPlan:
    """The deterministic part of a worker's load: which operation, with which parameters, and how long to wait.
    Three independent streams from one seed, so the operation sequence does not depend on timing choices.

    The streams are numpy Generators made on the first draw: a session that never draws (one operation, a fixed
    think time, no parameters) runs without numpy, which keeps a worker of many SQL sessions small."""

    def __init__(self, seed: int, worker: int, phase: str, weights: dict[str, float], think, bulk_rows, session=0):
        self.entropy = [seed, worker, zlib.crc32(phase.encode())] + ([session] if session else [])
        self.names = [n for n in OPERATIONS if weights.get(n, 0) > 0]
        self.names += [n for n, w in weights.items() if n not in OPERATIONS and w > 0]  # sql_operations, in order
        self.weights = [weights[n] for n in self.names]
        self._streams: list | None = None
        self.cdf = None
        self.drawn: list[str] = []
        self.think = think
        self.bulk_rows = bulk_rows

    def _stream(self, which: int):
        """Stream 0 picks operations, 1 draws parameters, 2 times (think, arrivals)."""
        if self._streams is None:
            import numpy as np  # the first draw: see the class's docstring

            self._streams = [np.random.default_rng(s) for s in np.random.SeedSequence(self.entropy).spawn(3)]
            p = np.array(self.weights, dtype=float)
            self.cdf = np.cumsum(p / p.sum())
        return self._streams[which]

    @property
    def ops_rng(self):
        return self._stream(0)

    @property
    def param_rng(self):
        return self._stream(1)

    @property
    def time_rng(self):
        return self._stream(2)

    def next_operation(self) -> str:
        """Drawn OPS_BATCH at a time (one numpy call per operation cost more than a SELECT 1's client work). With
        one operation nothing is drawn: the operation stream feeds only this choice."""
        if len(self.names) == 1:
            return self.names[0]
        if not self.drawn:
            draws = self.ops_rng.random(OPS_BATCH)
            picks = self.cdf.searchsorted(draws, side="right").clip(max=len(self.names) - 1)
            self.drawn = [self.names[i] for i in picks[::-1]]  # pop() from the end hands them out in order
        return self.drawn.pop()

    def bulk_count(self) -> int:
        return int(self.param_rng.integers(self.bulk_rows[0], self.bulk_rows[1] + 1))

    def fraction(self) -> float:
        return float(self.param_rng.random())

    def think_s(self) -> float:
        if isinstance(self.think, tuple):
            return float(self.time_rng.uniform(self.think[0], self.think[1])) / 1000
        return (self.think or 0) / 1000

    def interarrival_s(self, rate: float, arrivals: str) -> float:
        return self.arrival_units(arrivals) / rate

    def arrival_units(self, arrivals: str) -> float:
        """The next arrival's distance in units of the rate's integral: Exp(1) for poisson, 1 for uniform."""
        return float(self.time_rng.exponential(1.0)) if arrivals == "poisson" else 1.0


def operation_sequence(seed: int, worker: int, phase: str, weights: dict[str, float], n: int) -> list[str]:
    plan = OperationPlan(seed, worker, phase, weights, 0, (1, 1))
    return [plan.next_operation() for _ in range(n)]
