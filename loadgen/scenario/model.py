"""The scenario model: the sections of loadgen/config, the `data:` definitions and a list of phases whose options
models come from the workload registry, with the rules that involve more than one key. The model is built from
the registry, and built again when a workload is registered after import."""

import re
import secrets
from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator

from loadgen.config import thresholds
from loadgen.config.fields import (
    MAX_ROWS,
    Count,
    StrictModel,
    check_placeholders,
    excerpt,
    name_problem,
    placeholders,
    suggestion,
)
from loadgen.config.hyperd import cross_check as hyperd_cross_check
from loadgen.config.ray import RayConfig
from loadgen.config.ray import cross_check as ray_cross_check
from loadgen.config.sections import OutputConfig, SamplingConfig, ServerConfig, TimeoutsConfig
from loadgen.datagen.definitions import TableDefinition
from loadgen.workloads import registry

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
TABLE_PLACEHOLDERS = ("worker",)
DATA_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def build(phase_models: tuple[type, ...]) -> type:
    """The Scenario model whose phases are any of `phase_models` (told apart by their `workload` key)."""
    phase_union = Union[phase_models]  # noqa: UP007 - built from the registry at run time

    class Scenario(StrictModel):
        name: str = Field(pattern=NAME_PATTERN, description="The scenario's name (in the results path).")
        description: str = Field(default="", description="What it does, shown by `loadgen list`.")
        workers: Count = Field(
            default=1, ge=1, le=256, description="Worker processes, each with its own connection and table."
        )
        rows: Count | None = Field(
            default=None,
            ge=1,
            le=MAX_ROWS,
            description="Default total rows for insert phases that do not set their own.",
        )
        table: str = Field(
            default="measurements_{worker}",
            min_length=1,
            max_length=120,
            description="Table name template; {worker} (e.g. {worker:03d}) is required when workers > 1.",
        )
        server: ServerConfig = Field(default_factory=ServerConfig, description="The hyperd the run uses.")
        sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="CPU and memory sampling.")
        timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig, description="How long anything may wait.")
        output: OutputConfig = Field(default_factory=OutputConfig, description="Where results go.")
        phases: list[Annotated[phase_union, Field(discriminator="workload")]] = Field(
            min_length=1, description="Run in order by every worker, each starting at a barrier."
        )
        seed: Count | None = Field(
            default=None, ge=0, description="Seed of every random choice; default: drawn at start and recorded."
        )
        repeat: Count = Field(
            default=1,
            ge=1,
            le=1000,
            description="Run the phase list this many times, each with fresh worker processes; report medians.",
        )
        fresh_server: bool = Field(
            default=False,
            description="With repeat: a new hyperd for every repetition too (a matrix always gives every point and "
            "repetition its own).",
        )
        matrix: dict[str, list[Any]] = Field(
            default_factory=dict,
            description="Sweep: one run per combination, e.g. {workers: [1, 2], load.method: [arrow, rows]}.",
        )
        # values are read by loadgen/config/thresholds.py, whose messages name the forms a value takes
        thresholds: dict[str, Any] = Field(
            default_factory=dict,
            description='Pass/fail criteria, e.g. {"load.rows_per_s": ">= 5e6", "users.search.p99_ms": {bounds: '
            '["< 200"], abort: true}}; a miss exits 1.',
        )
        data: dict[str, TableDefinition] = Field(
            default_factory=dict,
            description="Table definitions by key; an insert phase writes one with `table: KEY` (see docs/data.md).",
        )
        backend: Literal["local", "ray"] = Field(
            default="local", description="local: one process per worker here; ray: one Ray actor per worker."
        )
        ray: RayConfig = Field(default_factory=RayConfig, description="The Ray cluster (backend: ray only).")

        @field_validator("table")
        @classmethod
        def _table_placeholders(cls, value: str) -> str:
            check_placeholders(value, TABLE_PLACEHOLDERS)
            return value

        def table_name(self, worker: int) -> str:
            return self.table.format(worker=worker)

    Scenario.__qualname__ = "Scenario"  # pickled by reference: loadgen.scenario.model.Scenario names it
    return Scenario


Scenario = build(tuple(registry.options_models().values()))
_built = [registry.generation()]


def scenario_model() -> type:
    """The Scenario model for the workloads registered now (rebuilt after a registration)."""
    global Scenario
    if _built[0] != registry.generation():
        Scenario = build(tuple(registry.options_models().values()))
        _built[0] = registry.generation()
    return Scenario


def cross_checks(scenario):
    """Rules that involve more than one key. Yields (location, message)."""
    for group in CHECK_GROUPS:
        for check in group(scenario, list(enumerate(scenario.phases))):
            yield from check()


def _phase_checks(scenario, phases):
    """Each phase's own checks against the rest of the scenario, as one check per phase (`phases`: (index in the
    file, phase))."""
    for i, phase in phases:
        yield lambda i=i, phase=phase: (((("phases", i) + loc), msg) for loc, msg in phase.cross_check(scenario))


def _unique_phase_names(scenario, phases):
    yield lambda: _duplicate_names(scenario.phases)


def _duplicate_names(phases):
    seen = {}
    for i, phase in enumerate(phases):
        if phase.name in seen:
            yield (
                ("phases", i, "name"),
                f"duplicate phase name {excerpt(phase.name)} (also phases[{seen[phase.name]}])",
            )
        seen.setdefault(phase.name, i)


def _threshold_checks(scenario, phases):
    for key, expression in scenario.thresholds.items():
        yield lambda key=key, expression=expression: _threshold_check(scenario, key, expression)


def _threshold_check(scenario, key, expression):
    """A threshold names a metric and a phase (and an operation) that exist, and aborts only a phase that can end
    early."""
    try:
        threshold = thresholds.parse(key, expression)
    except ValueError as exc:
        yield ("thresholds", key), str(exc)
        return
    by_name = {p.name: p for p in scenario.phases}
    phase = by_name.get(threshold.phase)
    if phase is None:
        yield (
            ("thresholds", key),
            f"no phase named {excerpt(threshold.phase)}{suggestion(threshold.phase, by_name)}; "
            f"phases: {', '.join(sorted(by_name))}",
        )
        return
    if threshold.abort and not phase.ends_early():
        yield (
            ("thresholds", key),
            f"abort: true needs a phase that can end early (mix or query); {threshold.phase} runs workload "
            f"{phase.workload}: check it at the end (no abort)",
        )
    if threshold.operation:
        known = phase.operation_names()
        if known is None:
            yield (
                ("thresholds", key),
                f"{threshold.phase} runs workload {phase.workload}: per-operation thresholds apply to mix and "
                "query phases",
            )
        elif threshold.operation not in known:
            yield (
                ("thresholds", key),
                f"{threshold.phase} has no operation {excerpt(threshold.operation)}"
                f"{suggestion(threshold.operation, known)}; its operations: " + ", ".join(known),
            )


def _server_checks(scenario, phases):
    yield lambda: _endpoint_parameters(scenario)
    yield lambda: ray_cross_check(scenario)
    yield lambda: hyperd_cross_check(scenario)


def _endpoint_parameters(scenario):
    if scenario.server.endpoint and scenario.server.parameters:
        yield (
            ("server", "parameters"),
            "hyperd parameters apply only to the embedded server, not to an endpoint",
        )


def _table_checks(scenario, phases):
    yield lambda: _data_key_checks(scenario)
    yield lambda: _table_name_checks(scenario)


def _data_key_checks(scenario):
    """data: keys that SQL placeholders can name."""
    for key in scenario.data:
        if not DATA_KEY.match(key) or key in ("table", "worker"):
            yield (
                ("data", key),
                (
                    f"{excerpt(key)}: a definition's key must start with a letter or _ and use only letters, "
                    "digits and _; not table or worker (query placeholders)"
                ),
            )


def _table_name_checks(scenario):
    """Table names that fit and differ per worker."""
    if problem := name_problem(scenario.table, scenario.workers):
        yield ("table",), problem
    for key, definition in scenario.data.items():
        if definition.name is not None and (problem := name_problem(definition.name, scenario.workers)):
            yield ("data", key, "name"), problem
    if "worker" not in placeholders(scenario.table) and scenario.workers > 1:
        yield (
            ("table",),
            "with more than one worker the table name needs {worker} so that each has its own table",
        )


# each group gives independent checks: a check that cannot run (it reads a value the scenario got wrong, see
# loadgen/scenario/partial.py) does not keep the others from running
CHECK_GROUPS = (_phase_checks, _unique_phase_names, _threshold_checks, _server_checks, _table_checks)


def resolve(scenario):
    """Fill defaults that depend on other keys (phase rows from the scenario's rows)."""
    phases = [p.resolved(scenario) for p in scenario.phases]
    seed = scenario.seed if scenario.seed is not None else secrets.randbelow(2**31)
    return scenario.model_copy(update={"phases": phases, "seed": seed})
