"""Field types and the words of validation messages, shared by every model of a scenario."""

import difflib
import os
import re
import string
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

PHASE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"

# Upper bounds of durations: a huge value would hang a wait or overflow a timer (time.sleep(1e308) raises).
WEEK_S = 7 * 24 * 3600
HOUR_S = 3600
HOUR_MS = HOUR_S * 1000
MAX_ROWS = 2**31  # canonical ids 0 … rows-1 go into an INT column (datagen.canonical.COLUMNS_SQL)
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


def suggestion(name: str, allowed) -> str:
    """' (did you mean 'x'?)' for a name close to one of `allowed` (a misspelt key, operation, metric), else ''."""
    hint = difflib.get_close_matches(str(name), [str(a) for a in allowed], n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


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
