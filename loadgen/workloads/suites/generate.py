"""<suite>_generate as a worker runs it: the suite's generator writes this worker's units (loadgen/workloads/suites/
suite.py) as Parquet; worker 0 writes the manifest from every worker's files and moves the folder into the cache
(reused by later runs)."""

import os
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq

from loadgen.workloads.contract import Workload
from loadgen.workloads.suites import cache, layout
from loadgen.workloads.suites.common import POLL_S, SuiteData, token


class GenerateWorkload(Workload):
    def setup(self) -> None:
        ctx, phase = self.ctx, self.phase
        self.suite = suite = phase.suite
        binary = layout.find_generator(suite, phase.generator)
        if binary is None:
            raise RuntimeError(f"{phase.generator or suite.generator} not found; {layout.install_hint(suite)}")
        self.binary = binary
        self.version = layout.generator_version(binary)
        self.final = layout.cache_dir(suite, Path(phase.data_dir), phase.scale_factor, self.version)
        foreign = layout.not_ours(suite, self.final)  # checked before the run too; this catches one made since
        if foreign:
            raise RuntimeError(foreign)
        self.stale_manifest = layout.read_manifest(self.final)
        self.problem, self.keep, remake = cache.regeneration(
            suite, self.final, phase.scale_factor, phase.parts, phase.parts_asked(), phase.verify_cache
        )
        self.stale = self.problem if self.final.exists() else ""
        self.remake = remake if self.problem else []
        self.total = self.keep["parts"] if self.keep else phase.parts  # a repair keeps the cache's layout
        self.temp = self.final.with_name(f".{self.final.name}.tmp-{token(ctx.run_dir, ctx.endpoint, phase.name)}")
        self.units = suite.share(self.remake, ctx.worker, ctx.workers)
        self.threads = phase.threads or max(1, (os.cpu_count() or 1) // ctx.workers)
        self.generated: list[str] = []
        ctx.shared(SuiteData).dirs[suite.name] = (str(self.final), phase.scale_factor)
        self._make_temp()

    def _make_temp(self) -> None:
        """Worker 0 creates the temporary folder, with loadgen's marker in it before anything else; every worker
        waits for that (an exchange) before it generates parts into it."""
        if self.ctx.worker == 0 and self.problem:
            try:
                cache.make_folder(self.suite, self.temp)
            except FileExistsError:
                raise RuntimeError(f"{self.temp} exists already; loadgen does not reuse it: delete it") from None
        self.ctx.gather(None)

    def run(self, recorder) -> None:
        commands = self.suite.commands(
            self.binary, self.phase.scale_factor, self.total, self.units, self.temp, self.threads
        )
        for cmd, units in commands:
            if self.ctx.stop.is_set():
                return
            t0 = time.perf_counter_ns()
            self._run_generator(cmd)
            elapsed = time.perf_counter_ns() - t0
            rows = sum(pq.read_metadata(p).num_rows for p in self.suite.files_of(self.temp, units))
            recorder.record("generate", elapsed, rows)
            self.generated.extend(units)

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
        ctx = self.ctx
        entries = []
        entries.extend(
            cache.file_entry(self.suite, self.temp, p) for p in self.suite.files_of(self.temp, self.generated)
        )
        self.note = {
            "final": str(self.final), "temp": str(self.temp), "version": self.version, "cached": not self.problem,
            "stale": self.stale, "entries": entries, "what": "", "remade": self.remake, "parts": self.total,
            "repair": self.keep is not None,
        }  # fmt: skip
        notes = ctx.gather(self.note)
        rows = sum(e["rows"] for e in entries)
        result = {"verified": "ok", "detail": "", "expected_rows": rows, "counted_rows": rows}
        if ctx.worker == 0 and not all(n["cached"] for n in notes):
            result = self._finalize([e for n in notes for e in n["entries"]]) or result
        ctx.gather(None)  # the cache is final (or known bad) before anyone goes on
        return result

    def _finalize(self, entries: list[dict]) -> dict | None:
        """Worker 0: the manifest of every worker's files (and, for a repair, of the undamaged ones kept), then the
        folder moved into place. A failed verification, or None."""
        phase, suite = self.phase, self.suite
        try:
            if self.keep is not None:  # a repair: the undamaged files join the regenerated units
                entries = entries + cache.link_kept(suite, self.final, self.temp, self.keep, self.remake)
            manifest = cache.build_manifest(suite, self.temp, entries, phase.scale_factor, self.version, self.total)
            self.note["what"] = cache.finalize(suite, self.temp, self.final, manifest, self.stale_manifest)
        except ValueError as exc:
            cache.remove_folder(suite, self.temp)
            return {"verified": "failed", "detail": f"generated {suite.label} data is incomplete: {exc}"}
        except OSError as exc:
            cache.remove_folder(suite, self.temp)
            return {"verified": "failed", "detail": f"cannot put the generated {suite.label} data in place: {exc}"}
        return None

    def report(self) -> dict:
        """What this worker generated (worker 0's also says how the cache was completed)."""
        return self.note

    @classmethod
    def after_phase(cls, phase, outcome, output) -> list[str]:
        workers = [r for r in outcome.reports if r]
        if not workers:
            return []
        summary, suite, label = outcome.summary, phase.suite, phase.suite.label
        final, temp = Path(workers[0]["final"]), Path(workers[0]["temp"])
        sf = layout.sf_text(phase.scale_factor)
        if summary["status"] == "failed":
            cache.remove_folder(suite, temp)
            return []
        if all(n["cached"] for n in workers):
            manifest = layout.read_manifest(final) or {}
            rows = sum(t["rows"] for t in manifest.get("tables", {}).values())
            checked = "sizes and checksums" if phase.verify_cache else "sizes"
            return [f"{label} SF {sf}: cached data reused, {rows:,} rows, {checked} checked ({final})"]
        entries = [e for n in workers for e in n["entries"]]
        first = workers[0]
        what = first["what"] or f"generated {final}"
        rows = sum(e["rows"] for e in entries)
        size = sum(e["bytes"] for e in entries) / 2**20
        lines = []
        stale, remade, parts = next((n["stale"] for n in workers if n["stale"]), ""), first["remade"], first["parts"]
        if stale and first["repair"]:
            shown = ", ".join(map(str, remade))
            what_units = f"part {shown} of {parts}" if suite.units_are_parts else f"the tables of {shown}"
            lines.append(f"{label} SF {sf}: the cached copy was not used ({stale}): regenerated {what_units}")
        elif stale:
            lines.append(f"{label} SF {sf}: the cached copy was not used ({stale}): regenerated")
        lines.append(
            f"{label} SF {sf}: {what}: {rows:,} rows, {size:.1f} MiB in {len(entries)} new files, "
            f"{f'{parts} parts' if suite.units_are_parts else 'whole tables'} over {len(workers)} workers, "
            f"{summary['wall_s']:.1f} s"
        )
        return lines
