"""Judging a phase's results: did it pass (verification, error budget), and may its numbers mislead?"""

from dataclasses import dataclass
from functools import cache

import numpy as np

from loadgen.errors import ErrorBudgetExceeded, VerificationError

SHORT_PHASE_S = 0.1


def judge_phase(phase, outcome) -> None:
    """Fail the phase (an aggregate.PhaseResult), with the reason, when its data did not verify or more operations
    failed than its error budget allows."""
    summary = outcome.summary
    if summary["verified"] == "failed":
        details = "; ".join(f"worker {w['worker']}: {w['detail']}" for w in outcome.workers if w["detail"])
        outcome.fail(f"verification failed: {details}")
    budget = phase.error_budget()
    if budget is not None and summary["error_rate"] > budget:
        first = next((r["first_error"] for r in outcome.latency if r["first_error"]), "")
        outcome.fail(
            f"error budget exceeded: {summary['errors']} operations failed "
            f"({100 * summary['error_rate']:.2f}% > {100 * budget:g}%); first: {first}"
        )


def raise_if_failed(phase, outcome) -> None:
    if outcome.status != "failed":
        return
    kind = ErrorBudgetExceeded if outcome.error.startswith("error budget") else VerificationError
    raise kind(f"phase {phase.name}: {outcome.error}")


def suspect_results(rows: list[dict]) -> list[str]:
    """Why a result may not mean what it seems: noisy repetitions, a saturated client, a ragged start."""
    out = []
    for row in rows:
        r = dict(row, phase=f"{row['phase']} [{row['parameters']}]" if row.get("parameters") else row["phase"])
        cv = r.get("rows_per_s_cv_pct")
        if cv not in ("", None) and float(cv) >= 10:
            out.append(f"{r['phase']}: rows/s varies by {float(cv):.0f}% across repetitions (CV >= 10%)")
        cpu = r.get("workers_cpu_pct_mean")
        if cpu not in ("", None) and float(cpu) >= 90:
            out.append(f"{r['phase']}: workers at {float(cpu):.0f}% CPU: the client may be the bottleneck")
        late = r.get("late_ops_pct")
        if late not in ("", None) and float(late) >= 10:
            out.append(
                f"{r['phase']}: {float(late):.0f}% of operations started more than 10 ms behind schedule: "
                f"the target rate was not met as intended (max {float(r['max_late_ms']):.0f} ms late)"
            )
        wall, skew = float(r.get("wall_s") or 0), float(r.get("start_skew_ms") or 0)
        if wall >= SHORT_PHASE_S and skew / 1000 >= 0.05 * wall:  # a few ms of skew mean nothing on a 2 ms phase
            out.append(
                f"{r['phase']}: workers started {skew:.1f} ms apart, {100 * skew / 1000 / wall:.0f}% of the wall time"
            )
    return out


# ------------------------------------------------------------------ is a change between two sets of repetitions real?

MIN_REPS = 5  # fewer: no interval can be trusted (a rank interval of 4 against 4 cannot reach 95%)
CONFIDENCE = 0.95
PRACTICAL_PCT = 1.0  # a change smaller than this is "within noise" however tight the interval
LARGE_FACTOR = 2.0  # ×2 or ÷2: past any noise seen on this machine (rows/s varies by up to ~40% between repetitions)
TOO_FEW = f"too few repetitions to judge (need {MIN_REPS}: --set repeat={MIN_REPS})"
LARGE = "large change, unjudged"
LEVEL = f"{100 * CONFIDENCE:.0f} %"
ZERO = "unjudged (a repetition measured 0)"
NOT_MEASURED = "not measured on both sides"


@dataclass(frozen=True)
class Verdict:
    """A judged change of `other` against `base`: the verdict, the estimated change and its interval in % of the
    baseline (None when there is no interval), and which way the metric improves."""

    verdict: str  # better | worse | within noise | resource | TOO_FEW | LARGE | ZERO | NOT_MEASURED
    change_pct: float
    interval: tuple[float, float] | None
    better: str  # "higher" | "lower"

    @property
    def judged(self) -> bool:
        return self.verdict in ("better", "worse")

    def words(self) -> str:
        """`worse: 23.0 % lower, 95 % interval 18.1–27.9 % lower` (the direction named once, magnitudes after)."""
        if self.verdict == NOT_MEASURED:
            return self.verdict
        return f"{self.verdict}: {describe_change(self.change_pct, self.interval)}"


def describe_change(change_pct: float, interval: tuple[float, float] | None, up="higher", down="lower") -> str:
    shown = f"{abs(change_pct):.1f} % {up if change_pct >= 0 else down}"
    if interval is None:
        return shown
    low, high = interval
    if low >= 0 or high <= 0:  # one direction: name it once
        word = up if low >= 0 else down
        small, large = sorted((abs(low), abs(high)))
        return f"{shown}, {LEVEL} interval {small:.1f}–{large:.1f} % {word}"
    return f"{shown}, {LEVEL} interval {low:+.1f} to {high:+.1f} %"


@cache
def rank_sum_tail(n: int, m: int) -> list[float]:
    """P(U ≤ u) for u = 0…n·m, U the Mann–Whitney statistic of n against m exchangeable values: the coefficients of
    the Gaussian binomial (n+m choose n), as probabilities (floats: the counts outgrow int64 at 35 against 35)."""
    size = n * m + 1
    poly = [0.0] * size
    poly[0] = 1.0
    for i in range(1, n + 1):  # ∏ (1 − q^(m+i)) / (1 − q^i), both truncated past n·m
        step = m + i
        for u in range(size - 1, step - 1, -1):
            poly[u] -= poly[u - step]
        for u in range(i, size):
            poly[u] += poly[u - i]
    total = sum(poly)
    out, running = [], 0.0
    for count in poly:
        running += count
        out.append(running / total)
    return out


def change_interval(base: list[float], other: list[float]) -> tuple[float, tuple[float, float]]:
    """The change of `other` against `base` in %, and its CONFIDENCE interval: the Hodges–Lehmann estimate of the
    shift of log(value) and its exact Mann–Whitney interval (the order statistics of the n·m pairwise differences),
    turned into a ratio. Distribution-free: its coverage holds for any noise whose shape is the same on both sides,
    at any number of repetitions (the percentile bootstrap of the median used before made as few false calls at 5
    against 5, but promises nothing), and without resampling the same runs always get the same answer. Positive
    values only (rates, latencies, seconds)."""
    a, b = np.log(np.asarray(base, dtype=float)), np.log(np.asarray(other, dtype=float))
    diffs = np.sort((b[None, :] - a[:, None]).ravel())
    tail = rank_sum_tail(a.size, b.size)
    alpha = (1 - CONFIDENCE) / 2
    k = max((u + 1 for u, p in enumerate(tail) if p <= alpha), default=0)  # P(U ≤ k−1) ≤ alpha
    k = min(max(k, 1), diffs.size // 2)  # with too few values for any interval: the widest, [min, max]

    def pct(log_ratio) -> float:
        return float(100 * np.expm1(log_ratio))

    return pct(np.median(diffs)), (pct(diffs[k - 1]), pct(diffs[diffs.size - k]))


def judge_change(metric, base: list[float], other: list[float], resource: bool = False) -> Verdict:
    """The verdict on `other` against `base` (repetitions of one metric) for a metric of the registry (its
    direction). A resource metric (CPU, memory, parallelism) gets its change and interval, but no better/worse."""
    better = metric.better or "higher"
    if not base or not other:  # e.g. CPU of a phase shorter than the sampling interval: more repetitions won't help
        return Verdict(NOT_MEASURED, 0.0, None, better)
    if min(base + other) <= 0:  # a count of zero, a rate of nothing: no ratio; compare the medians' difference
        mid_a, mid_b = float(np.median(base)), float(np.median(other))
        change = 100 * (mid_b - mid_a) / mid_a if mid_a else 0.0
        if resource:
            return Verdict("resource", change, None, better)
        return Verdict(TOO_FEW if min(len(base), len(other)) < MIN_REPS else ZERO, change, None, better)
    if min(len(base), len(other)) < MIN_REPS:
        ratio = float(np.median(other) / np.median(base))
        large = ratio >= LARGE_FACTOR or ratio <= 1 / LARGE_FACTOR
        if resource:  # shown, never judged: more repetitions would change nothing (and a phase shorter than the
            return Verdict("resource", 100 * (ratio - 1), None, better)  # sampling interval may have no sample)
        return Verdict(LARGE if large else TOO_FEW, 100 * (ratio - 1), None, better)
    # the interval from every pair of repetitions; the change shown is the medians' (what the value columns show:
    # with a wide spread, the pairwise estimate can even have the other sign)
    low, high = change_interval(base, other)[1]
    change = float(100 * (np.median(other) / np.median(base) - 1))
    if resource:
        return Verdict("resource", change, (low, high), better)
    if low <= 0 <= high or max(abs(low), abs(high)) < PRACTICAL_PCT:
        return Verdict("within noise", change, (low, high), better)
    return Verdict("better" if (low > 0) == (better == "higher") else "worse", change, (low, high), better)
