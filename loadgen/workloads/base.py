"""What every workload shares: the phase model fields and the worker-side interface."""

import os
import re
import string
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from loadgen.data import BYTES_PER_ROW
from loadgen.metrics import (  # noqa: F401 - the suffixes and is_primary are re-exported for workloads
    FROM_INTENDED_SUFFIX,
    WARMUP_SUFFIX,
    Verification,
    is_primary,
)

PHASE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"


# Upper bounds of durations: a huge value would hang a wait or overflow a timer (time.sleep(1e308) raises).
WEEK_S = 7 * 24 * 3600
HOUR_S = 3600
HOUR_MS = HOUR_S * 1000
MAX_ROWS = 2**31  # canonical ids 0 … rows-1 go into an INT column (data.COLUMNS_SQL)
# what messages say about a bound, next to its number
BOUND_MEANINGS = {
    WEEK_S: "one week",
    HOUR_S: "one hour",
    HOUR_MS: "one hour",
    60_000: "one minute",
    MAX_ROWS: "the ids 0 … rows-1 must fit in the table's INT id column",
}
EXCERPT_CHARS = 60


def shorten(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Text cut to an excerpt for a message (a 20 MB value must not become a 20 MB error line)."""
    return text if len(text) <= limit else text[:limit] + "…"


def excerpt(value) -> str:
    """A value as messages echo it: its repr, cut short."""
    return shorten(repr(value))


def _whole_number(value):
    """Counts: reject booleans (YAML `true` is not 1) and accept whole numbers written as floats; PyYAML reads
    `1e6` as the string '1e6' and `1.0e+6` as a float. Anything else is left for pydantic to report."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true/false")
    if isinstance(value, str) and value.strip():
        try:
            value = float(value.replace("_", ""))
        except ValueError:
            return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def not_bool(value):
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


Count = Annotated[int, BeforeValidator(_whole_number)]
Number = Annotated[float, BeforeValidator(not_bool)]


def folder_problem(folder: str) -> str:
    """'' when `folder` is an existing folder this process can write in, else why not."""
    if not os.path.isdir(folder):
        return f"{folder!r} is not an existing folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"no permission to write in {folder!r}"
    return ""


class StrictModel(BaseModel):
    """Unknown keys are errors and a validated scenario cannot be changed by accident."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PhaseBase(StrictModel):
    name: str = Field(pattern=PHASE_NAME_PATTERN, description="Unique phase name (letters, digits, _).")
    description: str = ""
    timeout_s: Number | None = Field(
        default=None, gt=0, le=WEEK_S, description="Maximum duration of this phase; defaults to timeouts.phase_s."
    )

    def cross_check(self, scenario):
        """Rules involving other keys of the scenario. Yields (location inside this phase, message)."""
        return ()

    def shadowed(self, key: str) -> str:
        """Why setting this phase's `key` would change nothing ('' when it takes effect); for --set."""
        return ""

    def resolved(self, scenario):
        """This phase with defaults that depend on the scenario filled in."""
        return self

    # ---- what the core may ask of a phase (the workload contract; the core reads nothing else)
    def nominal_row_bytes(self) -> int:
        """Bytes per row for MiB/s: the canonical row's nominal width, the same for every method."""
        return BYTES_PER_ROW

    def progress_total(self) -> int:
        """Rows the phase will write or read in all, for the progress line's % and ETA; 0 = unknown."""
        return 0

    def error_budget(self) -> float | None:
        """The fraction of operations allowed to fail; None: any error fails the phase's verification only."""
        return None

    def method_name(self) -> str:
        """The client path (rows, arrow, arrow_stream, …) for the summary's `method` column; '' if none."""
        return ""

    def staging_folder(self) -> str | None:
        """A configured folder for staged files, swept of dead workers' files like /dev/shm."""
        return None

    def ends_early(self) -> bool:
        """Whether the phase honours the finish flag (an abort threshold ends it at once, keeping its results)."""
        return False

    def operation_names(self) -> list[str] | None:
        """The operations this phase records (latency.csv), for per-operation thresholds; None: not known ahead."""
        return None

    def describe_rate(self, workers: int) -> str:
        """How the load is paced, printed when the phase starts ('' for a phase that runs as fast as it can)."""
        return ""


class Workload:
    """One phase as a worker runs it. `setup` and `verify` are untimed; `run` is the timed part.

    A workload records every operation into `recorder` (loadgen.metrics.Recorder) and keeps what later phases
    need (for example which rows its table holds) in `ctx.state`.
    """

    def __init__(self, phase, ctx):
        self.phase = phase
        self.ctx = ctx

    def setup(self) -> None:
        pass

    def warmup(self, recorder) -> None:
        """Untimed by the phase clock; record operations named with WARMUP_SUFFIX."""

    def run(self, recorder) -> None:
        raise NotImplementedError

    def verify(self) -> Verification:
        """Check what the phase did (untimed); see metrics.Verification for the keys."""
        return {"verified": "unchecked", "detail": ""}

    @classmethod
    def after_phase(cls, phase, outcome: dict, run_dir) -> list[str]:
        """Coordinator side, after a phase's results are aggregated (outcome: summary, workers, latency,
        timeseries) and before they are written: a workload may check them across workers (setting
        outcome["summary"]["status"]/"error" to fail the phase) or write files of its own into run_dir.
        Returns lines printed under the final tables."""
        return []


MAX_NAME_CHARS = 120  # a table name as formatted for a worker (Hyper has none: it creates a 100,000-character name)


def placeholders(template: str) -> set[str]:
    """The names of a template's placeholders ({worker:03d} is `worker`); empty for broken braces."""
    try:
        return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError:
        return set()


def check_placeholders(template: str, allowed: tuple[str, ...]) -> None:
    """Reject `{unknown}` placeholders, broken braces and format specs that do not format: each placeholder is
    formatted with a sample of what it gets (worker: a number, the others: a quoted table name). A width or
    precision above MAX_NAME_CHARS is refused before that ({worker:>300000000} would build 300 MB)."""
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)
                  if name is not None]  # fmt: skip
    except ValueError as exc:
        raise ValueError(f"bad braces in {excerpt(template)}: {exc} (write {{{{ and }}}} for literal braces)") from None
    samples = {name: 0 if name == "worker" else '"t"' for name in allowed}
    for name, spec, conversion in fields:
        field = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if name not in allowed:
            shown = ", ".join("{" + a + "}" for a in allowed)
            raise ValueError(f"unknown placeholder {shorten('{' + name + '}')} (allowed: {shown})")
        if "{" in spec:
            raise ValueError(f"{shorten(field)}: a placeholder inside a format spec is not allowed")
        wide = [int(number) for number in re.findall(r"\d+", spec) if int(number) > MAX_NAME_CHARS]
        if wide:
            raise ValueError(f"{shorten(field)}: {wide[0]} characters wide; at most {MAX_NAME_CHARS}")
        try:
            field.format(**samples)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{shorten(field)} cannot be formatted: {exc}") from None


def name_problem(template: str, workers: int) -> str:
    """'' when the table name template gives every worker a name of at most MAX_NAME_CHARS, else why not (a width
    such as {worker:0>20} or the worker's number makes it longer)."""
    for worker in range(workers):
        name = template.format(worker=worker)
        if len(name) > MAX_NAME_CHARS:
            return (
                f"worker {worker}'s table would be named {shorten(name)}, {len(name)} characters; "
                f"at most {MAX_NAME_CHARS}"
            )
    return ""
