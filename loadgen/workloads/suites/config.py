"""Options of a suite's workloads (loadgen/workloads/suites/suite.py): <suite>_generate (the data, cached),
<suite>_load (the tables), <suite>_query (a power run or throughput streams). Later phases of a suite inherit
its scale factor and cache folder. Each suite's config.py binds these to its Suite and its `workload:` names."""

import contextlib
import subprocess
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator

from loadgen.config.cache import CacheOptions
from loadgen.config.phase import PhaseOptions
from loadgen.workloads.suites import layout
from loadgen.workloads.suites.suite import Suite


class SuitePhaseBase(PhaseOptions):
    suite: ClassVar[Suite]  # set by each suite's options classes
    scale_factor: float | None = Field(
        default=None, gt=0, description="Scale factor (default: that of an earlier phase of the same suite)."
    )
    data_dir: str | None = Field(
        default=None, description="Parquet cache folder (default ~/.cache/loadgen/<suite> or an earlier phase's)."
    )

    def inherited(self, scenario, key: str):
        """This phase's value of `key`, else the first phase's of the same suite that sets it."""
        value = getattr(self, key)
        if value is not None:
            return value
        for phase in scenario.phases:
            if phase.workload in self.suite.workloads and getattr(phase, key, None) is not None:
                return getattr(phase, key)
        return None

    def cross_check(self, scenario):
        label, generate = self.suite.label, self.suite.workloads[0]
        sf = self.inherited(scenario, "scale_factor")
        if sf is None:
            yield ("scale_factor",), f"required key is missing (set it here or on an earlier {label} phase)"
        elif sf < self.suite.min_scale_factor and self.scale_factor is not None:
            yield (
                ("scale_factor",),
                f"{sf:g} is below {label}'s smallest scale factor, {self.suite.min_scale_factor:g} "
                f"(the smallest {self.suite.generator} makes)",
            )
        generated = [p.scale_factor for p in scenario.phases if p.workload == generate and p.scale_factor is not None]
        if self.workload != generate and self.scale_factor is not None and generated:
            if self.scale_factor not in generated:
                shown = ", ".join(f"{sf:g}" for sf in generated)
                yield (
                    ("scale_factor",),
                    f"no {generate} phase makes SF {self.scale_factor:g} (they make {shown}): set the scale "
                    f"factor on the {generate} phase (e.g. --set generate.scale_factor=…); later phases inherit it",
                )
        if scenario.workers > 1 and scenario.server.database != "shared":
            yield ("workload",), f"{label} uses one database shared by all workers: set server.database: shared"

    def resolved(self, scenario):
        update = {"scale_factor": self.inherited(scenario, "scale_factor")}
        folder = self.inherited(scenario, "data_dir") or layout.default_data_dir(self.suite)
        update["data_dir"] = str(Path(folder).expanduser())
        return self.model_copy(update=update)

    def nominal_row_bytes(self) -> int:
        return 0  # a suite's rows have no single width: MiB/s is left out


class SuiteGeneratePhase(SuitePhaseBase):
    parts: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Files per table (TPC-H; default: max(workers, ceil(SF))). TPC-DS writes whole tables: 1.",
    )
    generator: str | None = Field(default=None, description="Generator to run (default: the venv's, else PATH).")
    threads: int | None = Field(default=None, ge=1, description="Threads per generator (default: cores ÷ workers).")
    verify_cache: bool = Field(
        default=False,
        description="Compare every cached file's checksum with the manifest before reusing the cache "
        "(damaged files' parts are regenerated).",
    )
    _parts_given: bool = PrivateAttr(default=False)  # parts set in the scenario: a cache with others is not reused

    def cross_check(self, scenario):
        yield from super().cross_check(scenario)
        suite = self.suite
        folder = Path(self.inherited(scenario, "data_dir") or layout.default_data_dir(suite)).expanduser()
        problem = layout.writable_problem(folder)
        if problem:
            yield ("data_dir",), f"the {suite.label} cache folder cannot be written: {problem}"
        binary = layout.find_generator(suite, self.generator)
        if binary is None:
            shown = self.generator or suite.generator
            yield ("generator",), f"{shown} not found; {layout.install_hint(suite)}"
        if self.parts not in (None, 1) and not suite.units_are_parts:
            yield ("parts",), f"{suite.label}'s generator writes whole tables here: parts must be 1 (or left out)"
        sf = self.inherited(scenario, "scale_factor")
        if binary and sf and not problem:
            with contextlib.suppress(OSError, subprocess.SubprocessError, IndexError):  # the run reports it
                problem = layout.not_ours(suite, layout.cache_dir(suite, folder, sf, layout.generator_version(binary)))
                if problem:
                    yield ("data_dir",), problem

    def resolved(self, scenario):
        phase = super().resolved(scenario)
        if phase.parts is None:
            phase = phase.model_copy(update={"parts": self.suite.default_parts(phase.scale_factor, scenario.workers)})
        else:
            phase._parts_given = True
        return phase

    def parts_asked(self) -> int | None:
        """The parts the scenario sets (a cache with others is regenerated), None when they are the default."""
        return self.parts if self._parts_given else None


class SuiteLoadPhase(SuitePhaseBase):
    method: Literal["arrow", "arrow_stream", "rows", "external"] = Field(
        default="arrow", description="How the Parquet files reach hyperd; external: hyperd reads them itself."
    )
    replace_existing: bool = Field(
        default=False, description="Drop the suite's tables that exist already (never done otherwise)."
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


class SuiteQueryPhase(CacheOptions, SuitePhaseBase):
    renamed_keys: ClassVar[dict[str, str]] = {
        "streams": "sessions", "repetitions": "iterations", "warmup": "warmup_iterations",
    }  # fmt: skip
    mode: Literal["power", "throughput"] = Field(
        default="power", description="power: one stream, the queries in order; throughput: concurrent streams."
    )
    sessions: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Concurrent query streams in all, one session each, spread over the workers (throughput).",
    )
    queries: list[int] | None = Field(
        default=None, min_length=1, description="Query numbers to run (default: all of the suite's)."
    )
    iterations: int = Field(default=1, ge=1, le=10_000, description="Times each stream runs its query list.")
    warmup_iterations: int = Field(
        default=0, ge=0, le=100, description="Untimed rounds of the query list before measuring."
    )
    parameters: Literal["validation", "random"] = Field(
        default="validation",
        description="The substitution values: the specification's validation ones, or seeded random (TPC-H).",
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

    @classmethod
    def _unknown(cls, numbers) -> str:
        unknown = [q for q in numbers if q not in cls.suite.query_numbers]
        if not unknown:
            return ""
        first, last = cls.suite.query_numbers[0], cls.suite.query_numbers[-1]
        return f"unknown {cls.suite.label} query number(s) {unknown}; allowed: {first}..{last}"

    @field_validator("queries")
    @classmethod
    def _known_queries(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return value
        if cls._unknown(value):
            raise ValueError(cls._unknown(value))
        if len(set(value)) != len(value):
            raise ValueError("a query number is listed twice")
        return value

    @field_validator("overrides")
    @classmethod
    def _known_overrides(cls, value: dict[int, str]) -> dict[int, str]:
        if cls._unknown(value):
            raise ValueError(cls._unknown(value))
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
        if self.parameters == "random" and not self.suite.random_parameters:
            yield (
                ("parameters",),
                f"{self.suite.label} runs its qualification texts only (loadgen draws no random substitution "
                "values for it); allowed: validation",
            )

    def resolved(self, scenario):
        phase = super().resolved(scenario)
        update = {}
        if phase.queries is None:
            update["queries"] = list(self.suite.query_numbers)
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

    def plan(self, stream: int, seed: int) -> list[tuple[int, str, str]]:
        """(query, the SQL Hyper runs, the SQL DuckDB runs) with this stream's substitution values, in the
        stream's order (the suite's: stream 0 is the power stream)."""
        out = []
        for q in self.suite.stream_order(stream, self.queries):
            hyper, duck = self.suite.texts(q, stream, seed, self.scale_factor, self.parameters == "random")
            out.append((q, self.overrides.get(q, hyper), duck))
        return out
