"""tpch_generate as a worker runs it: tpchgen-cli writes this worker's Parquet parts; worker 0 writes the manifest
from every worker's and moves the folder into the cache (reused by later runs)."""

import os
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq

from loadgen.workloads.contract import Workload
from loadgen.workloads.tpch import cache
from loadgen.workloads.tpch import data as tdata
from loadgen.workloads.tpch.common import POLL_S, TpchData, token


class TpchGenerateWorkload(Workload):
    def setup(self) -> None:
        ctx, phase = self.ctx, self.phase
        binary = tdata.find_generator(phase.generator)
        if binary is None:
            raise RuntimeError(f"{phase.generator or tdata.GENERATOR} not found; {tdata.INSTALL_HINT}")
        self.binary = binary
        self.version = tdata.generator_version(binary)
        self.final = tdata.cache_dir(Path(phase.data_dir), phase.scale_factor, self.version)
        self.problem = cache.cache_problem(self.final)
        self.stale = self.problem if self.final.exists() else ""
        self.temp = self.final.with_name(f".{self.final.name}.tmp-{token(ctx.run_dir, ctx.endpoint, phase.name)}")
        self.parts = tdata.parts_of_worker(ctx.worker, ctx.workers, phase.parts) if self.problem else []
        self.threads = phase.threads or max(1, (os.cpu_count() or 1) // ctx.workers)
        self.generated: list[int] = []
        data = ctx.shared(TpchData)
        data.dir, data.scale_factor = str(self.final), phase.scale_factor
        if self.parts:
            self.temp.mkdir(parents=True, exist_ok=True)

    def run(self, recorder) -> None:
        for part in self.parts:
            if self.ctx.stop.is_set():
                return
            cmd = tdata.generate_command(
                self.binary, self.phase.scale_factor, self.phase.parts, part, self.temp, self.threads
            )
            t0 = time.perf_counter_ns()
            self._run_generator(cmd)
            elapsed = time.perf_counter_ns() - t0
            rows = sum(pq.read_metadata(p).num_rows for p in tdata.files_of_part(self.temp, part))
            recorder.record("generate", elapsed, rows)
            self.generated.append(part)

    def _run_generator(self, cmd: list[str]) -> None:
        with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
            while proc.poll() is None:
                if self.ctx.stop.is_set():
                    proc.kill()
                    proc.wait()
                    return
                time.sleep(POLL_S)
            stderr = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0:
            tail = " ".join(stderr.strip().splitlines()[-3:])
            raise RuntimeError(f"{' '.join(cmd)} exited with code {proc.returncode}: {tail}")

    def verify(self) -> dict:
        """Every worker describes its files; worker 0 writes the manifest from all of them and moves the folder into
        place. Everyone waits for that (a second exchange), so the cache is complete before any worker starts the
        next phase's setup."""
        ctx, phase = self.ctx, self.phase
        entries = []
        for part in self.generated:
            entries.extend(cache.file_entry(self.temp, p) for p in tdata.files_of_part(self.temp, part))
        self.note = {
            "final": str(self.final), "temp": str(self.temp), "version": self.version, "cached": not self.problem,
            "stale": self.stale, "entries": entries, "what": "",
        }  # fmt: skip
        notes = ctx.gather(self.note)
        rows = sum(e["rows"] for e in entries)
        result = {"verified": "ok", "detail": "", "expected_rows": rows, "counted_rows": rows}
        if ctx.worker == 0 and not all(n["cached"] for n in notes):
            all_entries = [e for n in notes for e in n["entries"]]
            try:
                manifest = cache.build_manifest(self.temp, all_entries, phase.scale_factor, self.version, phase.parts)
                self.note["what"] = cache.finalize(self.temp, self.final, manifest)
            except (ValueError, OSError) as exc:
                cache.remove_quietly(self.temp)
                result = {"verified": "failed", "detail": f"generated TPC-H data is incomplete: {exc}"}
        ctx.gather(None)  # the cache is final (or known bad) before anyone goes on
        return result

    def report(self) -> dict:
        """What this worker generated (worker 0's also says how the cache was completed)."""
        return self.note

    @classmethod
    def after_phase(cls, phase, outcome, output) -> list[str]:
        workers = [r for r in outcome.reports if r]
        if not workers:
            return []
        summary = outcome.summary
        final, temp = Path(workers[0]["final"]), Path(workers[0]["temp"])
        sf = tdata.sf_text(phase.scale_factor)
        if summary["status"] == "failed":
            cache.remove_quietly(temp)
            return []
        if all(n["cached"] for n in workers):
            manifest = cache.read_manifest(final) or {}
            rows = sum(t["rows"] for t in manifest.get("tables", {}).values())
            return [f"TPC-H SF {sf}: cached data reused, {rows:,} rows, manifest checked ({final})"]
        entries = [e for n in workers for e in n["entries"]]
        what = workers[0]["what"] or f"generated {final}"
        rows = sum(e["rows"] for e in entries)
        size = sum(e["bytes"] for e in entries) / 2**20
        lines = []
        stale = next((n["stale"] for n in workers if n["stale"]), "")
        if stale:
            lines.append(f"TPC-H SF {sf}: the cached copy was not used ({stale}): regenerated")
        lines.append(
            f"TPC-H SF {sf}: {what}: {rows:,} rows, {size:.1f} MiB in {len(entries)} files, {phase.parts} parts "
            f"over {len(workers)} workers, {summary['wall_s']:.1f} s"
        )
        return lines
