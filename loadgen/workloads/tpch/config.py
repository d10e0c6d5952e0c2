"""Options of the TPC-H workloads: tpch_generate (the data, cached), tpch_load (the eight tables), tpch_query (a
power run or throughput streams). Later TPC-H phases inherit the scale factor and the cache folder."""

import contextlib
import subprocess
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator

from loadgen.config.cache import CacheOptions
from loadgen.config.phase import PhaseOptions
from loadgen.workloads.tpch import layout
from loadgen.workloads.tpch import queries as tqueries

TPCH_WORKLOADS = ("tpch_generate", "tpch_load", "tpch_query")


class TpchPhaseBase(PhaseOptions):
    scale_factor: float | None = Field(
        default=None, gt=0, description="TPC-H scale factor (default: that of an earlier TPC-H phase)."
    )
    data_dir: str | None = Field(
        default=None, description="Parquet cache folder (default ~/.cache/loadgen/tpch or an earlier phase's)."
    )

    def inherited(self, scenario, key: str):
        """This phase's value of `key`, else the first TPC-H phase's that sets it."""
        value = getattr(self, key)
        if value is not None:
            return value
        for phase in scenario.phases:
            if phase.workload in TPCH_WORKLOADS and getattr(phase, key, None) is not None:
                return getattr(phase, key)
        return None

    def cross_check(self, scenario):
        if self.inherited(scenario, "scale_factor") is None:
            yield ("scale_factor",), "required key is missing (set it here or on an earlier TPC-H phase)"
        generated = [
            p.scale_factor for p in scenario.phases if p.workload == "tpch_generate" and p.scale_factor is not None
        ]
        if self.workload != "tpch_generate" and self.scale_factor is not None and generated:
            if self.scale_factor not in generated:
                shown = ", ".join(f"{sf:g}" for sf in generated)
                yield (
                    ("scale_factor",),
                    f"no tpch_generate phase makes SF {self.scale_factor:g} (they make {shown}): set the scale "
                    "factor on the tpch_generate phase (e.g. --set generate.scale_factor=…); later phases inherit it",
                )
        if scenario.workers > 1 and scenario.server.database != "shared":
            yield ("workload",), "TPC-H uses one database shared by all workers: set server.database: shared"

    def resolved(self, scenario):
        update = {"scale_factor": self.inherited(scenario, "scale_factor")}
        update["data_dir"] = str(Path(self.inherited(scenario, "data_dir") or layout.default_data_dir()).expanduser())
        return self.model_copy(update=update)

    def nominal_row_bytes(self) -> int:
        return 0  # TPC-H rows have no single width: MiB/s is left out


class TpchGeneratePhase(TpchPhaseBase):
    workload: Literal["tpch_generate"]
    parts: int | None = Field(
        default=None, ge=1, le=100_000, description="Files per table (default: max(workers, ceil(SF)))."
    )
    generator: str | None = Field(default=None, description="tpchgen-cli to run (default: the venv's, else PATH).")
    threads: int | None = Field(default=None, ge=1, description="Threads per tpchgen-cli (default: cores ÷ workers).")
    verify_cache: bool = Field(
        default=False,
        description="Compare every cached file's checksum with the manifest before reusing the cache "
        "(damaged files' parts are regenerated).",
    )
    _parts_given: bool = PrivateAttr(default=False)  # parts set in the scenario: a cache with others is not reused

    def cross_check(self, scenario):
        yield from super().cross_check(scenario)
        folder = Path(self.inherited(scenario, "data_dir") or layout.default_data_dir()).expanduser()
        problem = layout.writable_problem(folder)
        if problem:
            yield ("data_dir",), f"the TPC-H cache folder cannot be written: {problem}"
        binary = layout.find_generator(self.generator)
        if binary is None:
            shown = self.generator or layout.GENERATOR
            yield ("generator",), f"{shown} not found; {layout.INSTALL_HINT}"
        sf = self.inherited(scenario, "scale_factor")
        if binary and sf and not problem:
            with contextlib.suppress(OSError, subprocess.SubprocessError, IndexError):  # the run reports it
                problem = layout.not_ours(layout.cache_dir(folder, sf, layout.generator_version(binary)))
                if problem:
                    yield ("data_dir",), problem

    def resolved(self, scenario):
        phase = super().resolved(scenario)
        if phase.parts is None:
            phase = phase.model_copy(update={"parts": layout.default_parts(phase.scale_factor, scenario.workers)})
        else:
            phase._parts_given = True
        return phase

    def parts_asked(self) -> int | None:
        """The parts the scenario sets (a cache with others is regenerated), None when they are the default."""
        return self.parts if self._parts_given else None


class TpchLoadPhase(TpchPhaseBase):
    workload: Literal["tpch_load"]
    method: Literal["arrow", "arrow_stream", "rows", "external"] = Field(
        default="arrow", description="How the Parquet files reach hyperd; external: hyperd reads them itself."
    )
    replace_existing: bool = Field(
        default=False, description="Drop TPC-H tables that exist already (never done otherwise)."
    )
    batch_rows: int = Field(default=65_536, ge=1, le=10_000_000, description="Rows per Arrow record batch.")
    rows_per_copy: int = Field(default=1_000_000, ge=1, description="Rows per COPY statement (arrow methods).")
    staging_dir: str | None = Field(default=None, description="Folder for staged Arrow files (default /dev/shm).")
    split_tables: bool = Field(
        default=False,
        description="Spread a table's files over several workers (default: each table is loaded by one worker).",
    )

    def method_name(self) -> str:
        return self.method

    def staging_folder(self) -> str | None:
        return self.staging_dir


class TpchQueryPhase(CacheOptions, TpchPhaseBase):
    workload: Literal["tpch_query"]
    renamed_keys: ClassVar[dict[str, str]] = {
        "streams": "sessions", "repetitions": "iterations", "warmup": "warmup_iterations",
    }  # fmt: skip
    mode: Literal["power", "throughput"] = Field(
        default="power", description="power: one stream, Q1…Q22; throughput: concurrent streams (sessions)."
    )
    sessions: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Concurrent query streams in all, one session each, spread over the workers (throughput).",
    )
    queries: list[int] = Field(
        default_factory=lambda: list(tqueries.QUERY_NUMBERS), min_length=1, description="Query numbers to run."
    )
    iterations: int = Field(default=1, ge=1, le=10_000, description="Times each stream runs its query list.")
    warmup_iterations: int = Field(
        default=0, ge=0, le=100, description="Untimed rounds of the query list before measuring."
    )
    parameters: Literal["validation", "random"] = Field(
        default="validation",
        description="The substitution values: the specification's validation ones, or seeded random.",
    )
    check_answers: bool | None = Field(
        default=None, description="Compare every answer with DuckDB's (default: with validation parameters)."
    )
    overrides: dict[int, str] = Field(
        default_factory=dict, description="Query number → SQL run by Hyper instead (checked against the standard)."
    )
    explain: bool = Field(
        default=False,
        description="Save Hyper's plan of each query (EXPLAIN ANALYZE, run once after the timed part) in plans/.",
    )

    @field_validator("queries")
    @classmethod
    def _known_queries(cls, value: list[int]) -> list[int]:
        unknown = [q for q in value if q not in tqueries.QUERY_NUMBERS]
        if unknown:
            raise ValueError(f"unknown TPC-H query number(s) {unknown}; allowed: 1..22")
        if len(set(value)) != len(value):
            raise ValueError("a query number is listed twice")
        return value

    @field_validator("overrides")
    @classmethod
    def _known_overrides(cls, value: dict[int, str]) -> dict[int, str]:
        unknown = [q for q in value if q not in tqueries.QUERY_NUMBERS]
        if unknown:
            raise ValueError(f"unknown TPC-H query number(s) {unknown}; allowed: 1..22")
        return value

    def cross_check(self, scenario):
        yield from super().cross_check(scenario)
        if self.mode == "power" and (self.sessions or 1) != 1:
            yield ("sessions",), "a power run is one stream; use mode: throughput for concurrent streams"
        yield from self.cache_problems(scenario)
        if self.cache is not None:
            if self.mode != "power":
                yield ("cache",), f"{self.cache} measures one stream of queries: use mode: power"
            if self.iterations != 1:
                yield ("iterations",), f"cache: {self.cache} runs each query by its own protocol: leave out iterations"
            if self.restarts() and self.warmup_iterations:
                yield (
                    ("warmup_iterations",),
                    f"cache: {self.cache} restarts hyperd before each query, which undoes a warmup: leave it out",
                )

    def resolved(self, scenario):
        phase = super().resolved(scenario)
        update = {}
        if phase.sessions is None:
            update["sessions"] = 1 if phase.mode == "power" else 2
        if phase.check_answers is None:
            update["check_answers"] = phase.parameters == "validation"
        return phase.model_copy(update=update) if update else phase

    def method_name(self) -> str:
        return "rows"  # the client path: answers come back through execute_query, row by row

    def stream_ids(self) -> list[int]:
        """Stream 0 is the power stream; throughput streams are 1…S (Appendix A numbering)."""
        return [0] if self.mode == "power" else list(range(1, self.sessions + 1))

    def plan(self, stream: int, seed: int) -> list[tuple[int, str]]:
        """(query, SQL with this stream's substitution values) in the stream's order. The power stream runs
        Q1…Q22 in order; throughput stream s runs Appendix A's order for s."""
        wanted = set(self.queries)
        if self.mode == "power":
            order = [q for q in tqueries.QUERY_NUMBERS if q in wanted]
        else:
            order = tqueries.stream_order(stream, self.queries)
        if self.parameters == "validation":
            values = tqueries.VALIDATION
        else:
            rng = tqueries.stream_rng(seed, stream)  # drawn for all 22 in number order: subsets keep their values
            values = {q: tqueries.random_parameters(q, rng) for q in tqueries.QUERY_NUMBERS}
        return [(q, tqueries.render(q, values[q], self.scale_factor)) for q in order]
