"""A scenario file → validated, frozen models. Every mistake is reported as `FILE:LINE: key.path: message`.

The YAML is parsed once into a node tree (which knows line numbers) and into plain data (loadgen/config/
yaml_source.py); `--set` overrides and matrix points are applied to the data, pydantic validates it and each error
location is mapped back to the node it came from (or to the --set that made it). All errors of a file are
reported together, and nothing here starts a process or writes a file.
"""

import copy
import difflib
import itertools
import json
import types
import typing
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ValidationError

from loadgen.config.fields import BOUND_MEANINGS, PHASE_NAME_PATTERN, excerpt, shorten
from loadgen.config.hyperd import VERSION_PATTERN
from loadgen.config.sections import ENDPOINT_PATTERN
from loadgen.config.yaml_source import Source, dotted, line_order, read_yaml
from loadgen.errors import ScenarioError
from loadgen.scenario.model import NAME_PATTERN, cross_checks, resolve, scenario_model
from loadgen.workloads import registry


def read_data(path: str, overrides: list[str]):
    data, root = read_yaml(path)
    return data, root, apply_overrides(data, overrides, path)


def load_scenario(path: str | Path, overrides: list[str] = (), notices: list[str] | None = None) -> BaseModel:
    """The validated scenario of a file with its --set overrides. `notices` collects warnings (deprecated keys)."""
    path = str(path)
    data, root, override_locs = read_data(path, list(overrides))
    return validate(data, Source(path, root, override_locs), notices)


MAX_POINTS = 100
# keys of the run as a whole: the repetitions' order, the seed every point replays, where results go
RUN_WIDE_KEYS = ("name", "repeat", "fresh_server", "seed", "output", "matrix")


def load_plan(path: str | Path, overrides: list[str] = (), notices: list[str] | None = None):
    """(the scenario as written, [(parameters, scenario)] once per `matrix:` combination), each point validated
    like the file. Without a matrix the plan is [({}, scenario)]. The seed is drawn once, so every point
    replays the same random choices. `notices` collects warnings (deprecated keys), each once."""
    path = str(path)
    data, root, override_locs = read_data(path, list(overrides))
    base = validate(data, Source(path, root, override_locs), notices)
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
            options = registry.options_models().get(target.get("workload")) if isinstance(target, dict) else None
            for replaced in options.set_replaces.get(parts[0], ()) if options and len(parts) == 1 else ():
                target.pop(replaced, None)  # e.g. a phase's rows given on the command line replace its rows_scale
        elif len(parts) > 1 and parts[0] not in scenario_model().model_fields:
            hint = difflib.get_close_matches(parts[0], names + list(scenario_model().model_fields), n=1)
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


def rename_deprecated(data: dict, source: Source) -> tuple[list[str], list[str]]:
    """Phase keys written under a deprecated name (a workload's options declare them: renamed_keys) take their new
    name in `data`; the source remembers where they were written. Returns (warnings, problems)."""
    warnings, problems = [], []
    phases = data.get("phases") if isinstance(data.get("phases"), list) else []
    models = registry.options_models()
    for i, phase in enumerate(phases):
        options = models.get(phase.get("workload")) if isinstance(phase, dict) else None
        for old, new in options.renamed_keys.items() if options else ():
            if old not in phase:
                continue
            where = source.where(("phases", i, old))
            if new in phase:
                problems.append(f"{where}: {dotted(('phases', i, old))}: give only {new} ({old} is its old name)")
                continue
            phase[new] = phase.pop(old)
            source.renamed[("phases", i, new)] = ("phases", i, old)
            warnings.append(f"{where}: {dotted(('phases', i, old))}: deprecated key, use {new} "
                            f"({old} is accepted until the next release)")  # fmt: skip
    return warnings, problems


def validate(data: dict, source: Source, notices: list[str] | None = None) -> BaseModel:
    warnings, problems = rename_deprecated(data, source)
    if notices is not None:
        notices.extend(w for w in warnings if w not in notices)
    if problems:
        raise ScenarioError(problems)
    try:
        # the folder a python phase's module file is relative to
        context = {"scenario_dir": str(Path(source.path).parent)}
        scenario = scenario_model().model_validate(data, context=context)
    except ValidationError as exc:
        raise ScenarioError(sorted((format_error(err, source) for err in exc.errors()), key=line_order)) from None
    problems = sorted(
        (f"{source.where(loc)}: {dotted(source.original(loc))}: {msg}" for loc, msg in cross_checks(scenario)),
        key=line_order,
    )
    problems += [
        f"{source.path}: {text}: {why}" for loc, text in source.overrides.items() if (why := shadowed(scenario, loc))
    ]
    if problems:
        raise ScenarioError(problems)
    return resolve(scenario)


def shadowed(scenario, loc: tuple) -> str:
    """Why an override at `loc` changes nothing because other keys take precedence ('' when it takes effect)."""
    phases = scenario.phases
    if loc == ("rows",):
        takers = [p for p in phases if p.takes_scenario_rows]
        kinds = " and ".join(name for name, model in registry.options_models().items() if model.takes_scenario_rows)
        if not takers:
            return f"no phase uses rows: it is the default of {kinds} phases, and this scenario has none"
        if all(p.sets_own_rows() for p in takers):
            own = ", ".join(f"{p.name}.rows" for p in takers)
            return f"every {kinds} phase sets its own rows ({own}); set those instead"
    if loc == ("timeouts", "phase_s") and all(p.timeout_s is not None for p in phases):
        own = ", ".join(f"{p.name}.timeout_s" for p in phases)
        return f"every phase sets its own timeout_s ({own}); set those instead"
    if len(loc) >= 3 and loc[0] == "phases" and isinstance(loc[1], int) and loc[1] < len(phases):
        phase = phases[loc[1]]
        return phase.shadowed(phase.renamed_keys.get(loc[2], loc[2]))
    return ""


def format_error(err: dict, source: Source) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    # bounds of float fields read as 604800, not 604800.0
    ctx = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in (err.get("ctx") or {}).items()}
    # drop union tags (e.g. 'insert' in phases.0.insert.rows): they are not in the file
    shown = tuple(p for p in loc if not (isinstance(p, str) and p in registry.options_models() and p != loc[-1]))
    where = source.where(shown + ("workload",) if kind == "union_tag_invalid" else shown)
    shown = source.original(shown)  # a key written under its deprecated name is named as written
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
            f"allowed: {', '.join(registry.options_models())}"
        )
    if kind == "union_tag_not_found":
        allowed = ", ".join(registry.options_models())
        return f"{where}: {dotted(shown)}: required key 'workload' is missing; allowed: {allowed}"
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
    VERSION_PATTERN: "must be a tableauhyperapi version like 0.0.24457",
}


def allowed_keys(loc: tuple) -> list[str]:
    """The keys a mapping at `loc` accepts, for 'unknown key' messages."""
    model: typing.Any = scenario_model()
    for part in loc:
        model = step_into(model, part)
        if model is None:
            return []
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def step_into(model, part):
    if isinstance(part, str) and part in registry.options_models():
        return registry.options_models()[part]
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


def dump_resolved(scenario) -> str:
    """The scenario as it ran, with every default filled in."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
