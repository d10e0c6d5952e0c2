"""tpch_query as a worker runs it: the power stream or this worker's throughput streams, every answer checked against
DuckDB's over the same files."""

import contextlib
import os
import statistics
import threading
import time

from loadgen.workloads import cache_runs
from loadgen.workloads import plans as query_plans
from loadgen.workloads.contract import WARMUP_SUFFIX, Workload
from loadgen.workloads.tpch import cache, layout, reference
from loadgen.workloads.tpch import metrics as tmetrics
from loadgen.workloads.tpch import queries as tqueries
from loadgen.workloads.tpch.common import POLL_S, blame_data, damage_found, locate_data, wait_until


class TpchQueryWorkload(Workload):
    def setup(self) -> None:
        ctx, phase = self.ctx, self.phase
        all_streams = phase.stream_ids()
        self.streams = [s for i, s in enumerate(all_streams) if i % ctx.workers == ctx.worker]
        self.first_stream = all_streams[0]
        self.plans = {s: phase.plan(s, ctx.seed) for s in self.streams}
        self.references: dict[tuple[int, str], tuple[list, list]] = {}
        if phase.check_answers or phase.parameters == "validation":
            self.folder = locate_data(ctx, phase)
        if phase.check_answers:
            self._prepare_references(all_streams)
        self.connections = {}
        for i, s in enumerate(self.streams):
            self.connections[s] = ctx.connection if i == 0 else ctx.connect()
        self.timings: dict[int, dict] = {}
        self.answers: dict[int, dict[int, tuple[list, list]]] = {s: {} for s in self.streams}
        self.lock = threading.Lock()
        self.cache = cache_runs.CacheRuns(phase, ctx) if phase.cache else None

    def _prepare_references(self, all_streams: list[int]) -> None:
        """DuckDB's answers for every distinct query text of the phase, computed once (cached next to the data):
        the workers split the missing ones, then each waits for the rest."""
        ctx, phase = self.ctx, self.phase
        problem = cache.cache_problem(self.folder, phase.scale_factor)
        if problem:
            raise RuntimeError(f"cannot check answers: no complete TPC-H data at {self.folder} ({problem})")
        digest = cache.data_digest(layout.read_manifest(self.folder))
        needed = sorted({item for s in all_streams for item in phase.plan(s, ctx.seed)})
        # split the full list, not the missing ones: each worker looks at a different moment
        mine = [
            (q, sql)
            for i, (q, sql) in enumerate(needed)
            if i % ctx.workers == ctx.worker and not reference.reference_path(self.folder, digest, q, sql).exists()
        ]
        if mine:
            found = damage_found(self.folder, phase.scale_factor)  # DuckDB must read the data the checksums describe
            if found:
                raise RuntimeError(f"cannot compute DuckDB's reference answers: {found}")
            con = reference.duckdb_connection(self.folder, threads=max(1, (os.cpu_count() or 1) // ctx.workers))
            try:
                for q, sql in mine:
                    reference.compute(con, self.folder, digest, q, sql)
            finally:
                con.close()
        paths = {(q, sql): reference.reference_path(self.folder, digest, q, sql) for q, sql in needed}
        if not wait_until(lambda: all(p.exists() for p in paths.values()), ctx.stop, "DuckDB reference answers"):
            return
        wanted = {item for s in self.streams for item in self.plans[s]}
        self.references = {item: reference.load(paths[item]) for item in wanted}

    def _execute(self, connection, query: int, sql: str) -> tuple[list, list]:
        with connection.execute_query(self.phase.overrides.get(query, sql)) as result:
            columns = [column.name.unescaped for column in result.schema.columns]
            rows = [tuple(row) for row in result]
        return columns, rows

    def warmup(self, recorder) -> None:
        for _ in range(self.phase.warmup_iterations):
            for s in self.streams:
                for q, sql in self.plans[s]:
                    if self.ctx.stop.is_set():
                        return
                    t0 = time.perf_counter_ns()
                    _, rows = self._execute(self.connections[s], q, sql)
                    recorder.record(f"q{q:02d}{WARMUP_SUFFIX}", time.perf_counter_ns() - t0, len(rows))

    def run(self, recorder) -> None:
        if len(self.streams) <= 1:
            for s in self.streams:
                self._stream(s, recorder)
            return
        errors = []

        def body(stream):
            try:
                self._stream(stream, recorder)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the worker's main thread
                errors.append(exc)

        threads = [threading.Thread(target=body, args=(s,), name=f"tpch-stream-{s}") for s in self.streams]
        for thread in threads:
            thread.start()
        cancelled = False
        while alive := [t for t in threads if t.is_alive()]:
            if self.ctx.stop.is_set() and not cancelled:  # the worker cancels its own connection; these are ours
                cancelled = True
                for connection in self.connections.values():
                    if connection is not self.ctx.connection:
                        with contextlib.suppress(Exception):
                            connection.cancel()
            alive[0].join(POLL_S)
        if errors:
            raise errors[0]

    def _stream(self, stream: int, recorder) -> None:
        connection, keep = self.connections[stream], self.answers[stream]
        times = []
        start = time.perf_counter_ns()
        if self.cache is not None:
            self._cache_stream(stream, recorder, times)
        for repetition in range(self.phase.iterations if self.cache is None else 0):
            for q, sql in self.plans[stream]:
                if self.ctx.stop.is_set():
                    return
                t0 = time.perf_counter_ns()
                columns, rows = self._execute(connection, q, sql)
                t1 = time.perf_counter_ns()
                with self.lock:
                    recorder.record(f"q{q:02d}", t1 - t0, len(rows))
                times.append({"query": q, "repetition": repetition, "seconds": (t1 - t0) / 1e9})
                if repetition == 0:
                    keep[q] = (columns, rows)
        self.timings[stream] = {"start_ns": start, "end_ns": time.perf_counter_ns(), "queries": times}

    def _cache_stream(self, stream: int, recorder, times: list) -> None:
        """The power stream by the phase's cold/hot protocol: each query's first run is its time in the power run
        (cold with cache: cold or both) and its answer."""

        def reconnect():  # a fresh hyperd: the stream's connection is the worker's new one
            self.connections[stream] = self.ctx.connection

        for q, sql in self.plans[stream]:
            if self.ctx.stop.is_set():
                return
            answers = self.cache.measure(
                recorder, f"q{q:02d}", lambda q=q, sql=sql: self._answer(stream, q, sql), reconnect
            )
            if answers:
                self.answers[stream][q] = answers[0]
                times.append({"query": q, "repetition": 0, "seconds": self.cache.statements[-1]["seconds"][0]})

    def _answer(self, stream: int, query: int, sql: str) -> tuple[tuple[list, list], int]:
        columns, rows = self._execute(self.connections[stream], query, sql)
        return (columns, rows), len(rows)

    def verify(self) -> dict:
        """After every worker's streams (an exchange, so that no worker starts the next phase's setup, e.g. DuckDB
        references, while another still measures): the answers against DuckDB's."""
        ctx, phase = self.ctx, self.phase
        ctx.gather(None)
        self.explained = {}
        if phase.explain and self.first_stream in self.streams and not ctx.stop.is_set():  # untimed, once per query
            first = {f"q{q:02d}": sql for q, sql in self.plans[self.first_stream]}
            self.explained = query_plans.explain(self.connections[self.first_stream], first)
        if not phase.check_answers:
            return {"verified": "unchecked", "detail": "answers not checked (random parameters)"}
        problems, checked = [], 0
        for s in self.streams:
            for q, sql in self.plans[s]:
                if q not in self.answers[s]:
                    continue
                columns, rows = self.answers[s][q]
                want_columns, want_rows = self.references[(q, sql)]
                checked += 1
                difference = reference.difference(columns, rows, want_columns, want_rows)
                if difference:
                    where = f"stream {s}" if phase.mode == "throughput" else "power stream"
                    problems.append(f"q{q:02d} ({where}) differs from DuckDB's answer: {difference}")
        if problems:
            detail = blame_data("; ".join(problems[:5]), self.folder, phase.scale_factor)
            return {"verified": "failed", "detail": detail}
        return {"verified": "ok", "detail": "", "expected_rows": checked, "counted_rows": checked}

    def report(self) -> dict:
        """Each stream's timings, and the first stream's answers (with validation parameters) for answers/."""
        streams = [{"stream": s, **self.timings[s]} for s in self.streams if s in self.timings]
        first = self.first_stream in self.streams and self.phase.parameters == "validation"
        answers = self.answers[self.first_stream] if first else {}
        cache = self.cache.report() if self.cache else None
        return {"streams": streams, "answers": answers, "cache": cache, "plans": getattr(self, "explained", {})}

    def close(self) -> None:
        for connection in self.connections.values():
            if connection is not self.ctx.connection:
                with contextlib.suppress(Exception):
                    connection.close()

    @classmethod
    def summarize(cls, phase, reports: list, ops: int) -> dict:
        return cache_runs.summary_values(phase, [r.get("cache") for r in reports if r])

    @classmethod
    def after_phase(cls, phase, outcome, output) -> list[str]:
        reports = [r for r in outcome.reports if r]
        cache_lines = cache_runs.after_phase(phase, outcome, output, [r.get("cache") for r in reports])
        for report in reports:  # answers/qNN.csv: the first result of each query in this run (kept once there)
            for q, (columns, rows) in report["answers"].items():
                output.write_rows(f"answers/q{q:02d}.csv", columns, reference.answer_cells(rows), replace=False)
            if report.get("plans"):
                query_plans.write(output, outcome.summary.get("point", 0), phase.name, report["plans"])
        notes = sorted((stream for r in reports for stream in r["streams"]), key=lambda n: n["stream"])
        if not notes:
            return cache_lines
        sf = phase.scale_factor
        summary = outcome.summary
        full = sorted(phase.queries) == list(tqueries.QUERY_NUMBERS)
        row = {
            "run_id": summary["run_id"], "point": summary.get("point", ""), "phase": phase.name,
            "repetition": summary.get("repetition", ""), "mode": phase.mode, "scale_factor": sf,
            "streams": len(notes), "queries": len(phase.queries), "repetitions": phase.iterations,
            "parameters": phase.parameters, "audited": "no",
            "note": "no refresh functions; unrounded intervals" + ("" if full else "; query subset: not comparable")
            + (f"; cache {phase.cache}: each query's first run, restarts between queries" if phase.restarts() else "")
            + ("; cache hot: each query's first run" if phase.cache == "hot" else ""),
        }  # fmt: skip
        span_s = (max(n["end_ns"] for n in notes) - min(n["start_ns"] for n in notes)) / 1e9
        if phase.mode == "power":
            first = [t["seconds"] for t in notes[0]["queries"] if t["repetition"] == 0]
            row["power_run_s"] = span_s
            row["power_at_size"] = tmetrics.power_at_size(first, sf)
        else:
            row["throughput_run_s"] = span_s
            per_stream = len(phase.queries) * phase.iterations
            row["throughput_at_size"] = tmetrics.throughput_at_size(len(notes), per_stream, span_s, sf)
        rows = output.read_table("tpch.csv")
        if phase.mode == "throughput":
            power = next(
                (
                    r
                    for r in reversed(rows)
                    if r["mode"] == "power"
                    and r["run_id"] == row["run_id"]
                    and str(r.get("point", "")) == str(row["point"])
                    and float(r["scale_factor"]) == sf
                ),
                None,
            )
            if power and power.get("power_at_size"):
                row["qphh_at_size"] = tmetrics.qphh_at_size(float(power["power_at_size"]), row["throughput_at_size"])
        rows.append(row)
        output.write_table("tpch.csv", tmetrics.COLUMNS, rows)
        return (cache_lines or time_table(phase, notes)) + [metrics_line(row)]


def time_table(phase, notes: list[dict]) -> list[str]:
    """Seconds per query (rows) and stream (columns); the median over repetitions when there are several."""
    label = "median s" if phase.iterations > 1 else "s"
    heads = ["power" if n["stream"] == 0 else f"stream {n['stream']}" for n in notes]
    lines = [
        f"TPC-H {phase.name} ({phase.mode}, SF {layout.sf_text(phase.scale_factor)}, {phase.parameters} parameters): "
        f"{label} per query",
        "  query " + "".join(f"{h:>10}" for h in heads),
    ]
    per = [{q: [] for q in phase.queries} for _ in notes]
    for i, note in enumerate(notes):
        for t in note["queries"]:
            per[i][t["query"]].append(t["seconds"])
    for q in sorted(phase.queries):
        cells = "".join(f"{statistics.median(p[q]):>10.3f}" if p[q] else f"{'':>10}" for p in per)
        lines.append(f"  q{q:02d}   {cells}")
    totals = "".join(f"{(n['end_ns'] - n['start_ns']) / 1e9:>10.3f}" for n in notes)
    lines.append(f"  total {totals}")
    return lines


def metrics_line(row: dict) -> str:
    parts = []
    if row.get("power_run_s") is not None:
        parts.append(f"power run {row['power_run_s']:.2f} s, Power@Size {row['power_at_size']:.1f}")
    if row.get("throughput_run_s") is not None:
        parts.append(
            f"throughput run {row['throughput_run_s']:.2f} s ({row['streams']} streams), "
            f"Throughput@Size {row['throughput_at_size']:.1f}"
        )
    if row.get("qphh_at_size") is not None:
        parts.append(f"QphH@Size {row['qphh_at_size']:.1f}")
    return "TPC-H " + "; ".join(parts) + f" (not audited: {row['note']}) → tpch.csv"
