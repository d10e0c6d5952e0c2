"""Judging a phase's results: did it pass (verification, error budget), and may its numbers mislead?"""

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
