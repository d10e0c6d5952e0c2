"""The TPC-H metrics of clause 5.4, without refresh functions and not audited.

Power@Size = 3600 · SF / (Π QI(i,0))^(1/22)   — the geometric mean of the power stream's query times
Throughput@Size = S · 22 · 3600 / Ts · SF       — S streams, Ts the throughput run's interval in seconds
QphH@Size = √(Power@Size · Throughput@Size)

Clause 5.4.1.4: query intervals shorter than the longest ÷ 100,000 count as the longest ÷ 100,000. The
specification reports intervals rounded up to 0.1 s; these use the measured times unrounded (sub-second
queries are the norm at small scale factors, where rounding would make every query 0.1 s).
"""

import math

COLUMNS = [
    "run_id", "point", "phase", "repetition", "mode", "scale_factor", "streams", "queries", "repetitions", "parameters",
    "power_run_s", "throughput_run_s", "power_at_size", "throughput_at_size", "qphh_at_size", "audited", "note",
]  # fmt: skip
MAX_RATIO = 100_000


def power_at_size(query_seconds: list[float], scale_factor: float) -> float:
    if not query_seconds:
        return 0.0
    floor = max(query_seconds) / MAX_RATIO
    times = [max(t, floor) for t in query_seconds]
    if min(times) <= 0:
        return 0.0
    geometric = math.exp(sum(math.log(t) for t in times) / len(times))
    return 3600 * scale_factor / geometric


def throughput_at_size(streams: int, queries_per_stream: int, interval_s: float, scale_factor: float) -> float:
    if interval_s <= 0:
        return 0.0
    return streams * queries_per_stream * 3600 / interval_s * scale_factor


def qphh_at_size(power: float, throughput: float) -> float:
    return math.sqrt(power * throughput) if power > 0 and throughput > 0 else 0.0
