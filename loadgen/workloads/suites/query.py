"""<suite>_query as a worker runs it: the power stream or this worker's throughput streams, every answer checked
against DuckDB's over the same files. A query Hyper cannot run is noted and the stream goes on (the phase then
fails, naming it, unless the suite lists it as a known difference); the run says how many ran and matched."""

import contextlib
import os
import shutil
import statistics
import tempfile
import threading
import time

from loadgen.workloads import cache_runs
from loadgen.workloads import plans as query_plans
from loadgen.workloads.contract import WARMUP_SUFFIX, Workload
from loadgen.workloads.suites import cache, layout, reference
from loadgen.workloads.suites.common import POLL_S, blame_data, damage_found, locate_data, wait_until
from loadgen.workloads.tpch import metrics as tmetrics


class QueryWorkload(Workload):
    def setup(self) -> None:
        ctx, phase = self.ctx, self.phase
        self.suite = phase.suite
        all_streams = phase.stream_ids()
        self.streams = [s for i, s in enumerate(all_streams) if i % ctx.workers == ctx.worker]
        self.first_stream = all_streams[0]
        self.plans = {s: phase.plan(s, ctx.seed) for s in self.streams}
        self.references: dict[tuple[int, str], tuple[list, list]] = {}  # (query, DuckDB's text) → answer
        if phase.check_answers or phase.parameters == "validation":
            self.folder = locate_data(ctx, phase)
        if phase.check_answers:
            self._prepare_references(all_streams)
        self.connections = {}
        for i, s in enumerate(self.streams):
            self.connections[s] = ctx.connection if i == 0 else ctx.connect()
            for statement in self.suite.session_sql():
                self.connections[s].execute_command(statement)
        self.timings: dict[int, dict] = {}
        self.answers: dict[int, dict[int, tuple[list, list]]] = {s: {} for s in self.streams}
        self.errors: dict[int, dict[int, str]] = {s: {} for s in self.streams}  # Hyper's error per query
        self.checks: dict[int, dict[int, list[str]]] = {}  # stream → query → [outcome, text] (verify)
        self.lock = threading.Lock()
        self.refresh = None  # (first set, RefreshPairs) on the worker that runs the refresh functions
        self.refresh_note: dict = {}
        self.cache = cache_runs.CacheRuns(phase, ctx) if phase.cache else None  # the cold/hot protocol
        self.explained: dict = {}
        if getattr(phase, "refresh", False) and ctx.worker == 0:
            self._prepare_refresh()

    def _prepare_refresh(self) -> None:
        """Worker 0 runs the refresh functions: in a power run on the power stream's connection, in a throughput
        run as a stream of its own. Their data sets are written now (untimed) and removed in close()."""
        ctx, phase = self.ctx, self.phase
        self.refresh_dir = tempfile.mkdtemp(prefix=f"loadgen-refresh-{os.getpid()}-")
        pairs = 1 if phase.mode == "power" else phase.sessions
        self.refresh_connection = ctx.connection if phase.mode == "power" else ctx.connect()
        self.refresh = self.suite.refresh_pairs(
            locate_data(ctx, phase), phase.scale_factor, self.refresh_connection, pairs, self.refresh_dir,
            self.suite.schema,
        )  # fmt: skip

    def _prepare_references(self, all_streams: list[int]) -> None:
        """DuckDB's answers for every distinct query text of the phase, computed once (cached next to the data):
        the workers split the missing ones, then each waits for the rest."""
        ctx, phase, suite = self.ctx, self.phase, self.suite
        problem = cache.cache_problem(suite, self.folder, phase.scale_factor)
        if problem:
            raise RuntimeError(f"cannot check answers: no complete {suite.label} data at {self.folder} ({problem})")
        digest = cache.data_digest(layout.read_manifest(self.folder))
        needed = sorted({(q, duck) for s in all_streams for q, _hyper, duck in phase.plan(s, ctx.seed)})
        # split the full list, not the missing ones: each worker looks at a different moment
        mine = [
            (q, sql)
            for i, (q, sql) in enumerate(needed)
            if i % ctx.workers == ctx.worker and not reference.reference_path(self.folder, digest, q, sql).exists()
        ]
        if mine:
            # DuckDB must read the data the checksums describe
            found = damage_found(suite, self.folder, phase.scale_factor)
            if found:
                raise RuntimeError(f"cannot compute DuckDB's reference answers: {found}")
            threads = max(1, (os.cpu_count() or 1) // ctx.workers)
            con = reference.duckdb_connection(suite, self.folder, threads=threads)
            try:
                for q, sql in mine:
                    reference.compute(con, self.folder, digest, q, sql)
            finally:
                con.close()
        paths = {(q, sql): reference.reference_path(self.folder, digest, q, sql) for q, sql in needed}
        if not wait_until(lambda: all(p.exists() for p in paths.values()), ctx.stop, "DuckDB reference answers"):
            return
        wanted = {(q, duck) for s in self.streams for q, _hyper, duck in self.plans[s]}
        self.references = {item: reference.load(paths[item]) for item in wanted}

    def _execute(self, connection, sql: str) -> tuple[list, list]:
        with connection.execute_query(sql) as result:
            columns = [column.name.unescaped for column in result.schema.columns]
            rows = [tuple(row) for row in result]
        return columns, rows

    def warmup(self, recorder) -> None:
        for _ in range(self.phase.warmup_iterations):
            for s in self.streams:
                for q, sql, _duck in self.plans[s]:
                    if self.ctx.stop.is_set():
                        return
                    if q in self.errors[s]:
                        continue
                    t0 = time.perf_counter_ns()
                    try:
                        _, rows = self._execute(self.connections[s], sql)
                    except Exception as exc:  # noqa: BLE001 - noted; the run goes on with the next query
                        if self.ctx.stop.is_set():
                            return
                        self.errors[s][q] = _error_text(exc)
                        continue
                    recorder.record(
                        f"{self.suite.query_label(q)}{WARMUP_SUFFIX}", time.perf_counter_ns() - t0, len(rows)
                    )

    def run(self, recorder) -> None:
        refresh_stream = self.refresh is not None and self.phase.mode == "throughput"
        if len(self.streams) <= 1 and not refresh_stream:
            for s in self.streams:
                self._stream(s, recorder)
            return
        errors = []

        def body(run, *args):
            try:
                run(*args)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the worker's main thread
                errors.append(exc)

        threads = [
            threading.Thread(target=body, args=(self._stream, s, recorder), name=f"query-stream-{s}")
            for s in self.streams
        ]
        if refresh_stream:
            threads.append(threading.Thread(target=body, args=(self._refresh_stream, recorder), name="refresh"))
        for thread in threads:
            thread.start()
        cancelled = False
        while alive := [t for t in threads if t.is_alive()]:
            if self.ctx.stop.is_set() and not cancelled:  # the worker cancels its own connection; these are ours
                cancelled = True
                for connection in self._own_connections():
                    with contextlib.suppress(Exception):
                        connection.cancel()
            alive[0].join(POLL_S)
        if errors:
            raise errors[0]

    def _stream(self, stream: int, recorder) -> None:
        connection, keep, failed = self.connections[stream], self.answers[stream], self.errors[stream]
        times = []
        start = time.perf_counter_ns()
        power_refresh = self.refresh is not None and self.phase.mode == "power" and stream == self.streams[0]
        if power_refresh:  # the power test: RF1, the query stream, RF2 (clause 5.3.3)
            self._refresh_function("rf1", self.refresh[0], recorder)
        if self.cache is not None:
            self._cache_stream(stream, recorder, times)
        for repetition in range(self.phase.iterations if self.cache is None else 0):
            for q, sql, _duck in self.plans[stream]:
                if self.ctx.stop.is_set():
                    return
                if q in failed:
                    continue
                t0 = time.perf_counter_ns()
                try:
                    columns, rows = self._execute(connection, sql)
                except Exception as exc:  # noqa: BLE001 - noted; the stream goes on with the next query
                    if self.ctx.stop.is_set():
                        return
                    failed[q] = _error_text(exc)
                    continue
                t1 = time.perf_counter_ns()
                with self.lock:
                    recorder.record(self.suite.query_label(q), t1 - t0, len(rows))
                times.append({"query": q, "repetition": repetition, "seconds": (t1 - t0) / 1e9})
                if repetition == 0:
                    keep[q] = (columns, rows)
        if power_refresh and not self.ctx.stop.is_set():
            self._refresh_function("rf2", self.refresh[0], recorder)
        self.timings[stream] = {"start_ns": start, "end_ns": time.perf_counter_ns(), "queries": times}

    def _cache_stream(self, stream: int, recorder, times: list) -> None:
        """The power stream by the phase's cold/hot protocol: each query's first run is its time in the power run
        (cold with cache: cold or both) and its answer."""

        def reconnect():  # a fresh hyperd: the stream's connection is the worker's new one, set up as the first
            self.connections[stream] = self.ctx.connection
            for statement in self.suite.session_sql():
                self.ctx.connection.execute_command(statement)

        def answer(sql):
            columns, rows = self._execute(self.connections[stream], sql)
            return (columns, rows), len(rows)

        for q, sql, _duck in self.plans[stream]:
            if self.ctx.stop.is_set():
                return
            try:
                answers = self.cache.measure(
                    recorder, self.suite.query_label(q), lambda sql=sql: answer(sql), reconnect
                )
            except Exception as exc:  # noqa: BLE001 - noted; the stream goes on with the next query
                if self.ctx.stop.is_set():
                    return
                self.errors[stream][q] = _error_text(exc)
                continue
            if answers:
                self.answers[stream][q] = answers[0]
                times.append({"query": q, "repetition": 0, "seconds": self.cache.statements[-1]["seconds"][0]})

    def _refresh_function(self, name: str, set_number: int, recorder) -> None:
        pairs = self.refresh[1]
        run = pairs.rf1 if name == "rf1" else pairs.rf2
        elapsed = run(self.refresh_connection, set_number)
        with self.lock:
            recorder.record(name, elapsed, 0)
        self.refresh_note.setdefault("functions", []).append(
            {"set": set_number, "name": name, "seconds": elapsed / 1e9}
        )

    def _refresh_stream(self, recorder) -> None:
        """The throughput test's refresh stream: one RF1/RF2 pair per query stream, one after the other."""
        start = time.perf_counter_ns()
        for set_number in sorted(self.refresh[1].sets):
            for name in ("rf1", "rf2"):
                if self.ctx.stop.is_set():
                    return
                self._refresh_function(name, set_number, recorder)
        self.refresh_note.update(start_ns=start, end_ns=time.perf_counter_ns())

    def _own_connections(self) -> list:
        """The connections this phase opened (the worker's own one it cancels itself)."""
        extra = [self.refresh_connection] if self.refresh is not None else []
        return [c for c in [*self.connections.values(), *extra] if c is not self.ctx.connection]

    def verify(self) -> dict:
        """After every worker's streams (an exchange, so that no worker starts the next phase's setup, e.g. DuckDB
        references, while another still measures): the answers against DuckDB's. A query that failed on Hyper or
        whose answer differs fails the phase, unless the suite lists it as a known difference."""
        ctx, phase, suite = self.ctx, self.phase, self.suite
        ctx.gather(None)
        if phase.explain and self.first_stream in self.streams and not ctx.stop.is_set():  # untimed, once per query
            first = {suite.query_label(q): sql for q, sql, _duck in self.plans[self.first_stream]}
            self.explained = query_plans.explain(self.connections[self.first_stream], first)
        problems, checked = [], 0
        for s in self.streams:
            outcome = self.checks.setdefault(s, {})
            where = f"stream {s}" if phase.mode == "throughput" else "power stream"
            for q, _sql, duck in self.plans[s]:
                label = suite.query_label(q)
                if q in self.errors[s]:
                    outcome[q] = ["failed", self.errors[s][q]]
                    problem = f"{label} ({where}) failed on Hyper: {self.errors[s][q]}"
                elif q not in self.answers[s]:
                    continue  # the run stopped first
                elif not phase.check_answers:
                    outcome[q] = ["ran", ""]
                    continue
                else:
                    columns, rows = self.answers[s][q]
                    want_columns, want_rows = self.references[(q, duck)]
                    checked += 1
                    difference, note = suite.difference(q, columns, rows, want_columns, want_rows)
                    outcome[q] = ["differs", difference] if difference else ["matched", note]
                    problem = f"{label} ({where}) differs from DuckDB's answer: {difference}" if difference else ""
                if problem and q not in suite.known_differences:
                    problems.append(problem)
        if self.refresh is not None:
            problems.extend(self.refresh[1].problems)
        if problems:
            folder = locate_data(ctx, phase)
            detail = blame_data(suite, "; ".join(problems[:5]), folder, phase.scale_factor)
            return {"verified": "failed", "detail": detail}
        if not phase.check_answers:
            return {"verified": "unchecked", "detail": "answers not checked (random parameters)"}
        return {"verified": "ok", "detail": "", "expected_rows": checked, "counted_rows": checked}

    def report(self) -> dict:
        """Each stream's timings and each query's outcome, and the first stream's answers (with validation
        parameters) for answers/."""
        streams = [{"stream": s, **self.timings[s]} for s in self.streams if s in self.timings]
        first = self.first_stream in self.streams and self.phase.parameters == "validation"
        return {
            "streams": streams,
            "refresh": self.refresh_note,
            "answers": self.answers[self.first_stream] if first else {},
            "checks": {s: dict(self.checks.get(s, {})) for s in self.streams},
            "cache": self.cache.report() if self.cache else None,
            "plans": self.explained,
        }

    def close(self) -> None:
        for connection in self._own_connections():
            with contextlib.suppress(Exception):
                connection.close()
        if self.refresh is not None:
            shutil.rmtree(self.refresh_dir, ignore_errors=True)
        if self.suite.session_sql() and self.ctx.connection in self.connections.values():
            with contextlib.suppress(Exception):  # the worker's connection serves its later phases as it was
                self.ctx.connection.execute_command("RESET search_path")

    @classmethod
    def summarize(cls, phase, reports: list, ops: int) -> dict:
        return cache_runs.summary_values(phase, [r.get("cache") for r in reports if r])

    @classmethod
    def after_phase(cls, phase, outcome, output) -> list[str]:
        suite = phase.suite
        reports = [r for r in outcome.reports if r]
        cache_lines = cache_runs.after_phase(phase, outcome, output, [r.get("cache") for r in reports])
        for report in reports:  # answers/<query>.csv: the first result of each query in this run (kept once there)
            for q, (columns, rows) in report["answers"].items():
                name = f"answers/{suite.query_label(q)}.csv"
                output.write_rows(name, columns, reference.answer_cells(rows), replace=False)
            if report.get("plans"):
                query_plans.write(output, outcome.summary.get("point", 0), phase.name, report["plans"])
        notes = sorted((stream for r in reports for stream in r["streams"]), key=lambda n: n["stream"])
        if not notes:
            return cache_lines
        sf = phase.scale_factor
        summary = outcome.summary
        full = sorted(phase.queries) == list(suite.query_numbers)
        row = {
            "run_id": summary["run_id"], "point": summary.get("point", ""), "phase": phase.name,
            "repetition": summary.get("repetition", ""), "mode": phase.mode, "scale_factor": sf,
            "streams": len(notes), "queries": len(phase.queries), "repetitions": phase.iterations,
            "parameters": phase.parameters, "audited": "no",
            "note": suite.metrics_note + ("" if full else "; query subset: not comparable")
            + (f"; cache {phase.cache}: each query's first run, restarts between queries" if phase.restarts() else "")
            + ("; cache hot: each query's first run" if phase.cache == "hot" else ""),
        }  # fmt: skip
        refresh = next((r["refresh"] for r in reports if r.get("refresh")), {})
        functions = refresh.get("functions", [])
        spans = notes + ([refresh] if "start_ns" in refresh else [])  # the throughput test's refresh stream
        span_s = (max(n["end_ns"] for n in spans) - min(n["start_ns"] for n in spans)) / 1e9
        if functions:
            sets = sorted({f["set"] for f in functions})
            row["note"] = f"RF1/RF2 of refresh set(s) {sets[0]}–{sets[-1]}; " + row["note"]
        elif getattr(phase, "refresh", None) is False:
            row["note"] = "no refresh functions; " + row["note"]
        table = f"{suite.name}.csv"
        rows = output.read_table(table)
        if phase.mode == "power":
            # Power@Size: the geometric mean over the 22 queries and, with refresh, RF1 and RF2 (24 intervals)
            first = [t["seconds"] for t in notes[0]["queries"] if t["repetition"] == 0]
            first += [f["seconds"] for f in functions]
            row["power_run_s"] = span_s
            if suite.metrics_formulas:
                row["power_at_size"] = tmetrics.power_at_size(first, sf)
        else:
            row["throughput_run_s"] = span_s
            if suite.metrics_formulas:
                per_stream = len(phase.queries) * phase.iterations
                row["throughput_at_size"] = tmetrics.throughput_at_size(len(notes), per_stream, span_s, sf)
                power = _power_row(rows, row)
                if power and power.get("power_at_size"):
                    power_at_size = float(power["power_at_size"])
                    row["qphh_at_size"] = tmetrics.qphh_at_size(power_at_size, row["throughput_at_size"])
        rows.append(row)
        output.write_table(table, tmetrics.COLUMNS, rows)
        checks = [c for r in reports for c in r.get("checks", {}).values()]
        lines = (cache_lines or time_table(phase, notes)) + refresh_lines(functions)
        return lines + [metrics_line(suite, row, table)] + checks_lines(phase, checks)


def refresh_lines(functions: list[dict]) -> list[str]:
    if not functions:
        return []
    shown = ", ".join(f"{f['name'].upper()} of set {f['set']} {f['seconds']:.3f} s" for f in functions)
    return [f"  refresh functions: {shown}"]


def _error_text(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _power_row(rows: list[dict], row: dict) -> dict | None:
    """The latest power run of the same run, point and scale factor (a throughput run's QphH needs it)."""
    return next(
        (
            r
            for r in reversed(rows)
            if r["mode"] == "power"
            and r["run_id"] == row["run_id"]
            and str(r.get("point", "")) == str(row["point"])
            and float(r["scale_factor"]) == row["scale_factor"]
        ),
        None,
    )


def checks_lines(phase, checks: list[dict]) -> list[str]:
    """'N of M ran, K matched DuckDB', then every query that did not, with the reason. A query counts as run
    (matched) when it ran (matched) in every stream that ran it."""
    suite = phase.suite
    per_query: dict[int, list] = {}
    for stream in checks:
        for q, (state, text) in stream.items():
            per_query.setdefault(int(q), []).append((state, text))
    if not per_query:
        return []
    planned = len(phase.queries)
    ran = [q for q, got in per_query.items() if all(state != "failed" for state, _ in got)]
    matched = [q for q, got in per_query.items() if all(state == "matched" for state, _ in got)]
    head = f"{suite.label}: {len(ran)} of {planned} ran"
    if phase.check_answers:
        head += f", {len(matched)} matched DuckDB"
    lines = [head]
    for q in sorted(per_query):
        for state, text in per_query[q]:
            if state in ("failed", "differs") or (state == "matched" and text):
                known = suite.known_differences.get(q)
                reason = f"{state}: {text}" + (f" (known: {known})" if known else "")
                lines.append(f"  {suite.query_label(q)} {reason}")
                break
    return lines


def time_table(phase, notes: list[dict]) -> list[str]:
    """Seconds per query (rows) and stream (columns); the median over repetitions when there are several."""
    suite = phase.suite
    label = "median s" if phase.iterations > 1 else "s"
    heads = ["power" if n["stream"] == 0 else f"stream {n['stream']}" for n in notes]
    lines = [
        f"{suite.label} {phase.name} ({phase.mode}, SF {layout.sf_text(phase.scale_factor)}, {phase.parameters} "
        f"parameters): {label} per query",
        "  query " + "".join(f"{h:>10}" for h in heads),
    ]
    per = [{q: [] for q in phase.queries} for _ in notes]
    for i, note in enumerate(notes):
        for t in note["queries"]:
            per[i][t["query"]].append(t["seconds"])
    for q in sorted(phase.queries):
        cells = "".join(f"{statistics.median(p[q]):>10.3f}" if p[q] else f"{'':>10}" for p in per)
        lines.append(f"  {suite.query_label(q):<6}{cells}")
    totals = "".join(f"{(n['end_ns'] - n['start_ns']) / 1e9:>10.3f}" for n in notes)
    lines.append(f"  total {totals}")
    return lines


def metrics_line(suite, row: dict, table: str) -> str:
    parts = []
    if row.get("power_run_s") is not None:
        parts.append(f"power run {row['power_run_s']:.2f} s")
        if row.get("power_at_size") is not None:
            parts[-1] += f", Power@Size {row['power_at_size']:.1f}"
    if row.get("throughput_run_s") is not None:
        parts.append(f"throughput run {row['throughput_run_s']:.2f} s ({row['streams']} streams)")
        if row.get("throughput_at_size") is not None:
            parts[-1] += f", Throughput@Size {row['throughput_at_size']:.1f}"
    if row.get("qphh_at_size") is not None:
        parts.append(f"QphH@Size {row['qphh_at_size']:.1f}")
    return f"{suite.label} " + "; ".join(parts) + f" (not audited: {row['note']}) → {table}"
