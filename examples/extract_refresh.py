"""An extract refresh, as a loadgen workload: worker 0 rebuilds the extract in a new table with the Inserter and
swaps its rows in with one transaction, again and again, while every other worker keeps querying it. The swap's effect
on the readers is the point: each read is recorded as `read`, and the coordinator compares the reads that
overlapped a swap with the others (docs/writing_workloads.md walks through this file).

    loadgen run examples/extract_refresh.yaml
"""

import statistics
import time

from pydantic import Field
from tableauhyperapi import Inserter, SqlType, TableDefinition, TableName

from loadgen import api

EXTRACT = TableName("extract")
NEXT = TableName("extract_next")


class RefreshOptions(api.Options):
    rows: int = Field(default=20_000, ge=1, le=10_000_000, description="Rows of each new extract.")
    duration_s: float = Field(default=5, gt=0, le=3600, description="How long readers read and the refresher swaps.")
    pause_ms: float = Field(default=100, ge=0, le=60_000, description="Pause after each swap.")


class ExtractRefresh(api.Workload):
    Options = RefreshOptions
    api_version = "1.0"
    operations = ("build", "swap", "read")

    def setup(self):
        self.refresher = self.ctx.worker == 0
        if self.refresher:
            connection = self.ctx.connection
            for table in (EXTRACT, NEXT):
                connection.execute_command(f"DROP TABLE IF EXISTS {table}")
            self.build(EXTRACT, version=0)
        self.ctx.gather(None)  # the readers start only once the first extract exists
        self.swaps = []  # refresher: (start, end) of each swap, perf_counter_ns (one clock for a host's processes)
        self.reads = []  # readers: (start, latency) of each read

    def build(self, table, version: int) -> int:
        definition = TableDefinition(table, [
            TableDefinition.Column("id", SqlType.big_int()),
            TableDefinition.Column("version", SqlType.int()),
            TableDefinition.Column("amount", SqlType.double()),
        ])  # fmt: skip
        self.ctx.connection.catalog.create_table(definition)
        rows = self.options.rows
        with Inserter(self.ctx.connection, definition) as inserter:
            inserter.add_rows((i, version, i * 0.5) for i in range(rows))
            inserter.execute()
        return rows

    def run(self, rec: api.Recorder):
        deadline = time.monotonic() + self.options.duration_s
        version = 0
        while time.monotonic() < deadline and not self.ctx.stop.is_set():
            if self.refresher:
                version += 1
                with rec.op("build") as op:
                    op.rows = self.build(NEXT, version)
                start = time.perf_counter_ns()
                with rec.op("swap"):
                    self.swap()
                self.swaps.append((start, time.perf_counter_ns()))
                time.sleep(self.options.pause_ms / 1000)
            else:
                start = time.perf_counter_ns()
                with rec.op("read") as op:
                    self.ctx.connection.execute_scalar_query(f"SELECT COUNT(*) FROM {EXTRACT}")
                    op.rows = 1
                self.reads.append((start, time.perf_counter_ns() - start))
        self.versions = version

    def swap(self):
        """The new extract replaces the old one's rows in one transaction: a reader sees the old rows or the new,
        never none. (Renaming tables is no swap in Hyper: a rename inside a transaction is visible to other
        sessions before the commit, and a reader then finds no table.)"""
        connection = self.ctx.connection
        connection.execute_command("BEGIN TRANSACTION")
        try:
            connection.execute_command(f"DELETE FROM {EXTRACT}")
            connection.execute_command(f"INSERT INTO {EXTRACT} SELECT * FROM {NEXT}")
            connection.execute_command("COMMIT")
        except BaseException:
            connection.execute_command("ROLLBACK")
            raise
        connection.execute_command(f"DROP TABLE {NEXT}")

    def verify(self):
        if not self.refresher:
            return {"verified": "ok", "detail": f"{len(self.reads)} reads"}
        rows = self.ctx.connection.execute_scalar_query(f"SELECT COUNT(*) FROM {EXTRACT}")
        version = self.ctx.connection.execute_scalar_query(f"SELECT MAX(version) FROM {EXTRACT}")
        ok = rows == self.options.rows and version == self.versions
        detail = f"{self.versions} swaps; the extract holds version {version} with {rows} rows"
        return {"verified": "ok" if ok else "failed", "detail": detail}

    def report(self):
        return {"swaps": self.swaps, "reads": self.reads}

    @classmethod
    def after_phase(cls, phase, outcome, output):
        """Coordinator side: reads that overlapped a swap against all the others."""
        swaps = [s for report in outcome.reports if report for s in report["swaps"]]
        reads = [r for report in outcome.reports if report for r in report["reads"]]
        during = [lat for start, lat in reads if any(start < end and start + lat > begin for begin, end in swaps)]
        outside = [lat for start, lat in reads if not any(start < end and start + lat > begin for begin, end in swaps)]

        def ms(values):
            return (
                f"median {statistics.median(values) / 1e6:.2f} ms, max {max(values) / 1e6:.2f} ms" if values else "none"
            )

        rows = output.read_table("swap_effect.csv")  # kept across repetitions and matrix points: add ours
        rows += [
            {"phase": phase.name, "reads": name, "count": len(v),
             "median_ms": statistics.median(v) / 1e6 if v else "", "max_ms": max(v) / 1e6 if v else ""}
            for name, v in (("during_swap", during), ("outside_swap", outside))
        ]  # fmt: skip
        output.write_table("swap_effect.csv", ["phase", "reads", "count", "median_ms", "max_ms"], rows)
        return [
            f"{phase.name}: {len(swaps)} swaps; reads during a swap: {len(during)} ({ms(during)}); "
            f"other reads: {len(outside)} ({ms(outside)})"
        ]
