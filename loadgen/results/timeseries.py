"""The time series of a phase: the workers' per-interval buckets merged into rows of timeseries.csv and
op_timeseries.csv, each row's rates taken over the part of the phase's measured window it covers."""

from hdrh.histogram import HdrHistogram

from loadgen.results.counts import BUCKET_DIGITS, latency_ms, new_histogram


def timeseries_rows(run_id, phase: str, repetition: int, messages, interval_s: float, release_ns: int = 0) -> list:
    """Merge the workers' per-interval buckets: ops/s, rows/s, errors, p50 and p99 per interval, the active sessions
    and their targets (sums over the workers of each interval's mean), and the same per operation (`by_op`).

    Buckets are `interval_s` wide from the phase's release (`release_ns`, the workers' bucket origin). A bucket's
    rates are its counts divided by the time it covers inside the phase's measured window [first worker start,
    last worker end] — the warmup before it and the idle tail after it are not measured time — so the first and
    last bucket of a phase are not diluted, and a phase shorter than a bucket is drawn at its real rate. The
    phase's first or last bucket covering less than half an interval is merged into its neighbour: a few
    milliseconds of coverage would turn one operation into a spike. A row then covers the window from its `t_s` to
    the next row's `t_s` (the last row: to the window's end); Σ covered = wall_s and Σ rows_per_s × covered = rows.
    """
    width_ns = interval_s * 1e9
    merged: dict[int, dict] = {}
    for message in messages:
        for index, b in message.get("timeseries", {}).items():
            entry = merged.setdefault(int(index), {"by_op": {}, "gauges": [0.0, 0.0, 0.0], "gauged": False})
            for name, part in b["ops"].items():
                op = entry["by_op"].setdefault(name, _empty_counts())
                _add_counts(op, part)
            if "gauges" in b:
                entry["gauged"] = True
                entry["gauges"] = [a + g for a, g in zip(entry["gauges"], b["gauges"], strict=True)]
    spans = [(m["start_ns"], m["end_ns"]) for m in messages if m.get("end_ns", 0) > m.get("start_ns", 0) >= 0]
    if spans:  # the measured window, in ns after the release
        window = (min(s for s, _ in spans) - release_ns, max(e for _, e in spans) - release_ns)
        first, last = int(max(0, window[0]) // width_ns), int(max(0, window[1] - 1) // width_ns)
        if merged and (first > max(merged) or last < min(merged)):  # not this release's window: no clipping
            window, first, last = None, 0, -1
    else:
        window = None
        first, last = 0, -1
    indices = sorted(set(range(first, last + 1)) | set(merged))
    if not indices:
        return []

    def covered_s(lo: int, hi: int) -> float:
        """Seconds of the measured window inside buckets lo … hi."""
        a, b = lo * width_ns, (hi + 1) * width_ns
        if window is None:
            return (b - a) / 1e9
        return max(0.0, min(b, window[1]) - max(a, window[0])) / 1e9

    # groups of consecutive bucket indices that make one row each: short edge buckets join their neighbour
    groups = [[i] for i in range(indices[0], indices[-1] + 1)]
    if len(groups) > 1 and covered_s(groups[0][0], groups[0][0]) < interval_s / 2:
        groups[1:2] = [groups[0] + groups[1]]
        del groups[0]
    if len(groups) > 1 and covered_s(groups[-1][0], groups[-1][0]) < interval_s / 2:
        groups[-2:] = [groups[-2] + groups[-1]]
    out = []
    for group in groups:
        total, by_op, gauges, gauged = _empty_counts(), {}, [0.0, 0.0, 0.0], False
        for index in group:
            part = merged.get(index)
            if not part:
                continue
            for name, counts in part["by_op"].items():
                _add_counts(by_op.setdefault(name, _empty_counts()), counts)
                _add_counts(total, counts)
            if part["gauged"]:  # a merged edge bucket keeps the larger (the time-weighted mean is not known here)
                gauged = True
                gauges = [max(a, g) for a, g in zip(gauges, part["gauges"], strict=True)]
        seconds = covered_s(group[0], group[-1]) or interval_s  # operations outside the window (no timing): width
        lat = latency_ms(total["h"])
        out.append({
            "run_id": run_id, "phase": phase, "repetition": repetition, "t_s": group[0] * interval_s,
            "interval_s": interval_s, "ops": total["ops"], "ops_per_s": total["ops"] / seconds,
            "rows_per_s": total["rows"] / seconds, "errors": total["errors"],
            "p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"],
            "active_sessions": gauges[0] if gauged else "", "target_sessions": gauges[1] if gauged else "",
            "target_rate_per_s": gauges[2] if gauged else "",
            "by_op": {
                name: {"ops": c["ops"], "ops_per_s": c["ops"] / seconds, "rows_per_s": c["rows"] / seconds,
                       "errors": c["errors"], **{k: v for k, v in latency_ms(c["h"]).items() if k[0] == "p"}}
                for name, c in sorted(by_op.items())
            },
        })  # fmt: skip
    return out


def _empty_counts() -> dict:
    return {"ops": 0, "rows": 0, "errors": 0, "h": new_histogram(BUCKET_DIGITS)}


def _add_counts(into: dict, part: dict) -> None:
    into["ops"] += part["ops"]
    into["rows"] += part["rows"]
    into["errors"] += part["errors"]
    into["h"].add(part["h"] if "h" in part else HdrHistogram.decode(part["histogram"]))


def operation_timeseries_rows(series: list[dict]) -> list[dict]:
    """op_timeseries.csv: one row per interval and operation, taken out of timeseries_rows' `by_op`."""
    keep = ("run_id", "point", "phase", "repetition", "t_s", "interval_s")
    return [{**{k: row[k] for k in keep if k in row}, "operation": name, **values}
            for row in series for name, values in row.pop("by_op", {}).items()]  # fmt: skip
