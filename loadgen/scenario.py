"""YAML scenario → validated, frozen model. Every mistake is reported as `FILE:LINE: key.path: message`.

The YAML is parsed once into a node tree (which knows line numbers) and into plain data; pydantic validates the
data and each error location is mapped back to the node it came from. All errors of a file are reported
together, and nothing here starts a process or writes a file.
"""

import copy
import difflib
import itertools
import json
import re
import secrets
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from loadgen import hyperd_select, ray_config, thresholds
from loadgen.errors import ScenarioError
from loadgen.tables import TableDefinition
from loadgen.workloads.base import (
    BOUND_MEANINGS,
    HOUR_S,
    MAX_ROWS,
    PHASE_NAME_PATTERN,
    WEEK_S,
    Count,
    Number,
    StrictModel,
    check_placeholders,
    excerpt,
    name_problem,
    placeholders,
    shorten,
)
from loadgen.workloads.registry import PHASE_MODELS, PhaseModel

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
ENDPOINT_PATTERN = r"^tab\.(tcp|domain)://.+"
TABLE_PLACEHOLDERS = ("worker",)
DATA_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class ServerConfig(StrictModel):
    endpoint: str | None = Field(
        default=None,
        pattern=ENDPOINT_PATTERN,
        description="Existing hyperd to use (tab.tcp://host:port or tab.domain://dir/domain/name); "
        "default: start a private hyperd for the run.",
    )
    transport: Literal["domain", "tcp"] = Field(
        default="domain", description="How the embedded hyperd listens: a domain socket or TCP on localhost."
    )
    database: Literal["shared", "per_worker"] = Field(
        default="shared", description="One database file for all workers, or one per worker."
    )
    database_dir: str | None = Field(
        default=None, description="Where database files are created (default: a fresh temp folder)."
    )
    keep_database: bool = Field(default=False, description="Keep the database files after the run.")
    replace_existing: bool = Field(
        default=False,
        description="Drop and re-create database files that already exist (in database_dir or at the endpoint). "
        "Default: refuse to start, so a run never destroys data it did not create.",
    )
    connect_timeout_s: Number = Field(
        default=5.0, gt=0, le=300, description="How long any connection attempt to hyperd may take."
    )
    user: str | None = Field(default=None, min_length=1, description="User name for the endpoint, if it needs one.")
    password_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable that holds the password (never the password itself).",
    )
    parameters: dict[str, str] = Field(
        default_factory=dict, description="Extra hyperd parameters for the embedded server."
    )
    hyperd: hyperd_select.HyperdConfig | None = Field(
        default=None,
        description="Which hyperd the private server runs: {version: V} (a tableauhyperapi wheel's, fetched once "
        "into loadgen's cache) or {path: FOLDER} (a local build); default: the installed wheel's.",
    )


class SamplingConfig(StrictModel):
    enabled: bool = True
    interval_ms: Count = Field(default=100, ge=10, le=60_000)
    timeseries_interval_s: Number = Field(default=1.0, gt=0, le=HOUR_S, description="Bucket width of timeseries.csv.")


class TimeoutsConfig(StrictModel):
    barrier_s: Number = Field(default=120.0, gt=0, le=WEEK_S, description="How long anyone waits at a phase barrier.")
    phase_s: Number = Field(default=3600.0, gt=0, le=WEEK_S, description="Maximum duration of a phase.")
    worker_stop_s: Number = Field(
        default=2.0,
        gt=0,
        le=HOUR_S,
        description="How long workers get to stop by themselves before SIGTERM, then SIGKILL.",
    )
    hyperd_stop_s: Number = Field(
        default=30.0, gt=0, le=HOUR_S, description="How long hyperd gets to shut down before SIGKILL."
    )


class OutputConfig(StrictModel):
    dir: str = Field(default="results", description="Parent folder of the run folders.")


class Scenario(StrictModel):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    workers: Count = Field(default=1, ge=1, le=256)
    rows: Count | None = Field(
        default=None, ge=1, le=MAX_ROWS, description="Default total rows for insert phases that do not set their own."
    )
    table: str = Field(default="measurements_{worker}", min_length=1, max_length=120)
    server: ServerConfig = Field(default_factory=ServerConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    phases: list[Annotated[PhaseModel, Field(discriminator="workload")]] = Field(min_length=1)
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
    thresholds: dict[str, str | list[str] | dict[str, Any]] = Field(
        default_factory=dict,
        description='Pass/fail criteria, e.g. {"load.rows_per_s": ">= 5e6", "users.search.p99_ms": {bounds: '
        '["< 200"], abort: true}}; a miss exits 1.',
    )
    data: dict[str, TableDefinition] = Field(
        default_factory=dict,
        description="Table definitions by key; an insert phase writes one with `table: KEY` (see docs/own_data.md).",
    )
    backend: Literal["local", "ray"] = Field(
        default="local", description="local: one process per worker here; ray: one Ray actor per worker."
    )
    ray: ray_config.RayConfig = Field(default_factory=ray_config.RayConfig)

    @field_validator("table")
    @classmethod
    def _table_placeholders(cls, value: str) -> str:
        check_placeholders(value, TABLE_PLACEHOLDERS)
        return value

    def table_name(self, worker: int) -> str:
        return self.table.format(worker=worker)


# ----------------------------------------------------------------------------------------------- loading


class Source:
    """Where values came from: the YAML node tree (for line numbers) and any --set overrides."""

    def __init__(self, path: str, root: yaml.Node | None, overrides: dict[tuple, str] | None = None):
        self.path = path
        self.root = root
        self.overrides = overrides or {}

    def where(self, loc: tuple) -> str:
        for prefix, text in self.overrides.items():
            # inside what the override set, or a mapping the override created (--set a.b.c=1 makes `a`)
            if loc[: len(prefix)] == prefix or (prefix[: len(loc)] == loc and find_node(self.root, loc) is None):
                return f"{self.path}: {text}"
        return f"{self.path}:{locate_line(self.root, loc)}"


def find_node(node: yaml.Node | None, loc: tuple) -> yaml.Node | None:
    """The YAML node at `loc`, or None when the file does not have it."""
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return None
    return node


def locate_line(node: yaml.Node | None, loc: tuple) -> int:
    """1-based line of the deepest YAML node on the path `loc` (pydantic's error location).

    Parts that are not in the YAML (a union's tag, for example) are skipped. When the path ends on a key,
    the key's own line is returned.
    """
    if node is None:
        return 1
    line = node.start_mark.line
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                continue  # a tag or a missing key: stay on this mapping
            line = match[0].start_mark.line
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
    return line + 1


MAX_FILE_BYTES = 1 << 20  # a scenario is a page of YAML; a larger file is a mistake (or an attack)
MAX_ALIAS_NODES = 10_000  # nodes reachable through aliases: a few anchors are fine, an alias bomb is not


class BoundedLoader(yaml.SafeLoader):
    """Counts the nodes every alias expands to while composing, and refuses past MAX_ALIAS_NODES: a few hundred
    bytes of nested aliases ("billion laughs") would otherwise expand to billions of values. Recursive
    aliases are refused too (they make a value that contains itself)."""

    def __init__(self, text: str, path: str):
        super().__init__(text)
        self.path = path
        self.expanded = 0
        self.sizes: dict[int, int] = {}
        self.open_anchors: set[str] = set()

    def compose_node(self, parent, index):
        if not self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        event = self.peek_event()
        where = f"{self.path}:{event.start_mark.line + 1}"
        if event.anchor in self.open_anchors:
            raise ScenarioError(f"{where}: *{shorten(event.anchor)}: an alias inside its own anchor is not allowed")
        node = super().compose_node(parent, index)
        self.expanded += self.size(node)
        if self.expanded > MAX_ALIAS_NODES:
            raise ScenarioError(
                f"{where}: *{shorten(event.anchor)}: aliases expand to more than {MAX_ALIAS_NODES} values; "
                "a scenario does not need that many"
            )
        return node

    def size(self, node) -> int:
        if id(node) not in self.sizes:
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            else:
                children = node.value if isinstance(node, yaml.SequenceNode) else []
            self.sizes[id(node)] = 1 + sum(self.size(child) for child in children)
        return self.sizes[id(node)]

    def compose_sequence_node(self, anchor):
        return self._composing(anchor, super().compose_sequence_node)

    def compose_mapping_node(self, anchor):
        return self._composing(anchor, super().compose_mapping_node)

    def _composing(self, anchor, compose):
        if anchor is None:
            return compose(anchor)
        self.open_anchors.add(anchor)
        try:
            return compose(anchor)
        finally:
            self.open_anchors.discard(anchor)


def parse_yaml(text: str, path: str):
    """Parse once into (data, node tree). Duplicate keys are errors (PyYAML would silently keep the last)."""
    try:
        loader = BoundedLoader(text, path)
        try:
            root = loader.get_single_node()
            if root is None:
                raise ScenarioError(f"{path}:1: the file is empty; a scenario needs at least name and phases")
            problems = list(duplicate_keys(root, path))
            if problems:
                raise ScenarioError(problems)
            data = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{path}:{line}: YAML syntax error: {shorten(problem)}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: values are nested too deeply to be a scenario") from None
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{path}:{root.start_mark.line + 1}: a scenario must be a mapping of keys "
            f"(name, workers, phases, …), not a {type(data).__name__}"
        )
    return data, root


def duplicate_keys(node: yaml.Node, path: str):
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    yield (
                        f"{path}:{key.start_mark.line + 1}: {shorten(key.value)}: duplicate key "
                        f"(first on line {seen[key.value]})"
                    )
                else:
                    seen[key.value] = key.start_mark.line + 1
            yield from duplicate_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from duplicate_keys(item, path)


def read_data(path: str, overrides: list[str]):
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ScenarioError(f"{path}: the file is larger than {MAX_FILE_BYTES} bytes (1 MiB), the limit")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {shorten(str(exc))}") from None
    data, root = parse_yaml(text, path)
    return data, root, apply_overrides(data, overrides, path)


def load_scenario(path: str | Path, overrides: list[str] = ()) -> Scenario:
    path = str(path)
    data, root, override_locs = read_data(path, list(overrides))
    return validate(data, Source(path, root, override_locs))


MAX_POINTS = 100
# keys of the run as a whole: the repetitions' order, the seed every point replays, where results go
RUN_WIDE_KEYS = ("name", "repeat", "fresh_server", "seed", "output", "matrix")


def load_plan(path: str | Path, overrides: list[str] = ()) -> tuple[Scenario, list[tuple[dict, Scenario]]]:
    """(the scenario as written, [(parameters, scenario)] once per `matrix:` combination), each point validated
    like the file. Without a matrix the plan is [({}, scenario)]. The seed is drawn once, so every point
    replays the same random choices."""
    path = str(path)
    data, root, override_locs = read_data(path, list(overrides))
    base = validate(data, Source(path, root, override_locs))
    if not base.matrix:
        return base, [({}, base)]
    keys = list(base.matrix)
    combinations = list(itertools.product(*(base.matrix[k] for k in keys)))
    problems = [
        f"{Source(path, root).where(('matrix', k))}: matrix.{k}: needs at least one value"
        for k in keys
        if not base.matrix[k]
    ]
    problems += [
        f"{Source(path, root).where(('matrix', k))}: matrix.{k}: the whole run shares it, a point cannot vary it "
        f"(not allowed in a matrix: {', '.join(RUN_WIDE_KEYS)})"
        for k in keys
        if k.split(".")[0] in RUN_WIDE_KEYS
    ]
    if len(combinations) > MAX_POINTS:
        problems.append(
            f"{Source(path, root).where(('matrix',))}: matrix: {len(combinations)} points, at most {MAX_POINTS}"
        )
    if problems:
        raise ScenarioError(problems)
    plan = []
    for values in combinations:
        params = dict(zip(keys, values, strict=True))
        point = copy.deepcopy(data)
        point.pop("matrix")
        point["seed"] = base.seed
        texts = [f"{k}={json.dumps(v)}" for k, v in params.items()]
        locs = {**override_locs, **apply_overrides(point, texts, path, label="matrix point")}
        try:
            plan.append((params, validate(point, Source(path, root, locs))))
        except ScenarioError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    if problems:
        raise ScenarioError(problems)
    return base, plan


def apply_overrides(data: dict, overrides: list[str], path: str, label: str = "--set") -> dict[tuple, str]:
    """Apply `key.path=value` overrides in place; the first key may name a phase (`insert_arrow.rows=10`).

    Values are parsed as YAML scalars, so `--set workers=8` gives an int. Returns the data location of
    each override so that validation errors point at the --set, not at a line of the file, and so that an
    override that changes nothing can be reported (`shadowed`). A first key that is neither a phase nor a
    scenario key is an error with a suggestion (it would otherwise become an unknown top-level key).
    """
    locs: dict[tuple, str] = {}
    problems = []
    for text in overrides:
        key, sep, raw = text.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        shown = f"{label} {shorten(text, 200)}"  # room for a path, not for a 20 MB value
        if not sep or not parts:
            problems.append(f"{path}: {shown}: expected KEY=VALUE, e.g. workers=4 or insert_arrow.rows=1000")
            continue
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            problems.append(f"{path}: {shown}: value is not valid YAML: {shorten(str(exc))}")
            continue
        if parts[0] == "thresholds" and len(parts) > 2:  # threshold keys hold a dot themselves: PHASE.METRIC
            parts = ["thresholds", ".".join(parts[1:])]
        loc: tuple = ()
        target = data
        phases = data.get("phases") if isinstance(data.get("phases"), list) else []
        names = [p["name"] for p in phases if isinstance(p, dict) and isinstance(p.get("name"), str)]
        phase_index = next((i for i, p in enumerate(phases) if isinstance(p, dict) and p.get("name") == parts[0]), None)
        if phase_index is not None and len(parts) > 1:
            target, loc, parts = phases[phase_index], ("phases", phase_index), parts[1:]
            if parts == ["rows"] and isinstance(target, dict):
                target.pop("rows_scale", None)  # a phase's rows given on the command line replace its rows_scale
        elif len(parts) > 1 and parts[0] not in Scenario.model_fields:
            hint = difflib.get_close_matches(parts[0], names + list(Scenario.model_fields), n=1)
            problems.append(
                f"{path}: {shown}: {excerpt(parts[0])} is neither a phase nor a key"
                + (f" (did you mean {hint[0]}?)" if hint else "")
                + f"; phases: {', '.join(names) or 'none'}"
            )
            continue
        for part in parts[:-1]:
            nxt = target.get(part)
            if nxt is None:
                nxt = target[part] = {}
            if not isinstance(nxt, dict):
                problems.append(f"{path}: {shown}: {dotted(loc + (part,))} is not a mapping")
                break
            target, loc = nxt, loc + (part,)
        else:
            target[parts[-1]] = value
            locs[loc + (parts[-1],)] = shown
    if problems:
        raise ScenarioError(problems)
    return locs


def validate(data: dict, source: Source) -> Scenario:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(sorted((format_error(err, source) for err in exc.errors()), key=line_order)) from None
    problems = sorted(
        (f"{source.where(loc)}: {dotted(loc)}: {msg}" for loc, msg in cross_checks(scenario)), key=line_order
    )
    problems += [
        f"{source.path}: {text}: {why}" for loc, text in source.overrides.items() if (why := shadowed(scenario, loc))
    ]
    if problems:
        raise ScenarioError(problems)
    return resolve(scenario)


def shadowed(scenario: Scenario, loc: tuple) -> str:
    """Why an override at `loc` changes nothing because other keys take precedence ('' when it takes effect)."""
    phases = scenario.phases
    if loc == ("rows",):
        inserts = [p for p in phases if p.workload == "insert"]
        if not inserts:
            return "no phase uses rows: it is the default of insert phases, and this scenario has none"
        if all(p.rows is not None for p in inserts):
            own = ", ".join(f"{p.name}.rows" for p in inserts)
            return f"every insert phase sets its own rows ({own}); set those instead"
    if loc == ("timeouts", "phase_s") and all(p.timeout_s is not None for p in phases):
        own = ", ".join(f"{p.name}.timeout_s" for p in phases)
        return f"every phase sets its own timeout_s ({own}); set those instead"
    if len(loc) >= 3 and loc[0] == "phases" and isinstance(loc[1], int) and loc[1] < len(phases):
        return phases[loc[1]].shadowed(loc[2])
    return ""


def cross_checks(scenario: Scenario):
    """Rules that involve more than one key. Yields (location, message)."""
    seen = {}
    for i, phase in enumerate(scenario.phases):
        if phase.name in seen:
            yield (
                ("phases", i, "name"),
                f"duplicate phase name {excerpt(phase.name)} (also phases[{seen[phase.name]}])",
            )
        seen.setdefault(phase.name, i)
        yield from (((("phases", i) + loc), msg) for loc, msg in phase.cross_check(scenario))
    names = {p.name for p in scenario.phases}
    by_name = {p.name: p for p in scenario.phases}
    for key, expression in scenario.thresholds.items():
        try:
            threshold = thresholds.parse(key, expression)
        except ValueError as exc:
            yield ("thresholds", key), str(exc)
            continue
        if threshold.phase not in names:
            yield ("thresholds", key), f"no phase named {excerpt(threshold.phase)}; phases: {', '.join(sorted(names))}"
            continue
        if threshold.abort and not by_name[threshold.phase].ends_early():
            yield (
                ("thresholds", key),
                f"abort: true needs a phase that can end early (mix or query); {threshold.phase} runs workload "
                f"{by_name[threshold.phase].workload}: check it at the end (no abort)",
            )
        if threshold.operation:
            known = by_name[threshold.phase].operation_names()
            if known is None:
                yield (
                    ("thresholds", key),
                    f"{threshold.phase} runs workload {by_name[threshold.phase].workload}: per-operation "
                    "thresholds apply to mix and query phases",
                )
            elif threshold.operation not in known:
                yield (
                    ("thresholds", key),
                    f"{threshold.phase} has no operation {excerpt(threshold.operation)}; its operations: "
                    + ", ".join(known),
                )
    if scenario.server.endpoint and scenario.server.parameters:
        yield (
            ("server", "parameters"),
            "hyperd parameters apply only to the embedded server, not to an endpoint",
        )
    for key in scenario.data:
        if not DATA_KEY.match(key) or key in ("table", "worker"):
            yield (
                ("data", key),
                (
                    f"{excerpt(key)}: a definition's key must start with a letter or _ and use only letters, "
                    "digits and _; not table or worker (query placeholders)"
                ),
            )
    yield from ray_config.cross_check(scenario)
    yield from hyperd_select.cross_check(scenario)
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


def resolve(scenario: Scenario) -> Scenario:
    """Fill defaults that depend on other keys (phase rows from the scenario's rows)."""
    phases = [p.resolved(scenario) for p in scenario.phases]
    seed = scenario.seed if scenario.seed is not None else secrets.randbelow(2**31)
    return scenario.model_copy(update={"phases": phases, "seed": seed})


def line_order(problem: str) -> tuple:
    """Sort messages by their line number (FILE:LINE: …); --set messages last."""
    head = problem.split(": ", 1)[0]
    line = head.rpartition(":")[2]
    return (0, int(line)) if line.isdigit() else (1, 0)


def dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + shorten(str(part)))
    return out or "(top level)"


def format_error(err: dict, source: Source) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    # bounds of float fields read as 604800, not 604800.0
    ctx = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in (err.get("ctx") or {}).items()}
    # drop union tags (e.g. 'insert' in phases.0.insert.rows): they are not in the file
    shown = tuple(p for p in loc if not (isinstance(p, str) and p in PHASE_MODELS and p != loc[-1]))
    where = source.where(shown + ("workload",) if kind == "union_tag_invalid" else shown)
    if kind == "extra_forbidden":
        allowed = allowed_keys(loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        msg = f"unknown key {excerpt(loc[-1])}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        return f"{where}: {dotted(shown)}: {msg}; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return f"{where}: {dotted(shown)}: required key is missing"
    if kind == "union_tag_invalid":
        return (
            f"{where}: {dotted(shown)}.workload: unknown workload {excerpt(ctx.get('tag'))}; "
            f"allowed: {', '.join(PHASE_MODELS)}"
        )
    if kind == "union_tag_not_found":
        return f"{where}: {dotted(shown)}: required key 'workload' is missing; allowed: {', '.join(PHASE_MODELS)}"
    if kind == "literal_error":
        return (
            f"{where}: {dotted(shown)}: {excerpt(err['input'])} is not allowed; "
            f"allowed: {ctx.get('expected', '').replace(chr(39), '')}"
        )
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        allowed = allowed_keys(loc)
        keys = f" ({', '.join(allowed)})" if allowed else ""
        return f"{where}: {dotted(shown)}: must be a mapping of keys{keys}, got {excerpt(err['input'])}"
    if kind == "value_error":
        return f"{where}: {dotted(shown)}: {ctx.get('error', err['msg'])} (got {excerpt(err['input'])})"
    template = PLAIN_MESSAGES.get(kind)
    if kind == "string_pattern_mismatch":
        template = PATTERN_MEANINGS.get(ctx.get("pattern"), template)
    message = template.format(**ctx) if template else err["msg"]
    bound = ctx.get("le", ctx.get("lt"))
    if bound in BOUND_MEANINGS:
        message += f" ({BOUND_MEANINGS[bound]})"
    return f"{where}: {dotted(shown)}: {message} (got {excerpt(err['input'])})"


# pydantic's error kinds in the words of this tool
PLAIN_MESSAGES = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "too_short": "needs at least {min_length} item(s)",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
}
PATTERN_MEANINGS = {
    NAME_PATTERN: "must start with a letter or digit and use only letters, digits, _ . -",
    PHASE_NAME_PATTERN: "must start with a letter and use only letters, digits and _",
    ENDPOINT_PATTERN: "must be an endpoint like tab.tcp://host:port or tab.domain://DIR/domain/NAME",
    hyperd_select.VERSION_PATTERN: "must be a tableauhyperapi version like 0.0.24457",
}


def allowed_keys(loc: tuple) -> list[str]:
    """The keys a mapping at `loc` accepts, for 'unknown key' messages."""
    model: typing.Any = Scenario
    for part in loc:
        model = step_into(model, part)
        if model is None:
            return []
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def step_into(model, part):
    if isinstance(part, str) and part in PHASE_MODELS:
        return PHASE_MODELS[part]
    if isinstance(model, type) and issubclass(model, BaseModel):
        field = model.model_fields.get(part) if isinstance(part, str) else None
        return unwrap(field.annotation) if field else None
    if typing.get_origin(model) is list and isinstance(part, int):
        return unwrap(typing.get_args(model)[0])
    return None


def unwrap(annotation):
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        if len(args) == 1:
            return unwrap(args[0])
    return annotation


def dump_resolved(scenario: Scenario) -> str:
    """The scenario as it ran, with every default filled in."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
