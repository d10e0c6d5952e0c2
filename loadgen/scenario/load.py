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
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from loadgen.config.fields import excerpt, shorten
from loadgen.config.yaml_source import Source, dotted, line_order, read_yaml
from loadgen.errors import ScenarioError
from loadgen.scenario.messages import format_errors
from loadgen.scenario.model import cross_checks, resolve, scenario_model
from loadgen.scenario.partial import cross_check_refused
from loadgen.workloads import registry


def read_data(path: str, overrides: list[str]):
    data, root, problems = read_yaml(path)
    # a --set that cannot apply is one mistake among the file's: validation reports them all at once
    return data, root, apply_overrides(data, overrides, path, found=problems), problems


def load_scenario(path: str | Path, overrides: list[str] = (), notices: list[str] | None = None) -> BaseModel:
    """The validated scenario of a file with its --set overrides. `notices` collects warnings (deprecated keys)."""
    path = str(path)
    data, root, override_locs, problems = read_data(path, list(overrides))
    return validate(data, Source(path, root, override_locs), notices, problems)


MAX_POINTS = 100
# keys of the run as a whole: the repetitions' order, the seed every point replays, where results go
RUN_WIDE_KEYS = ("name", "repeat", "fresh_server", "seed", "output", "matrix")


def load_plan(path: str | Path, overrides: list[str] = (), notices: list[str] | None = None):
    """(the scenario as written, [(parameters, scenario)] once per `matrix:` combination), each point validated
    like the file. Without a matrix the plan is [({}, scenario)]. The seed is drawn once, so every point
    replays the same random choices. `notices` collects warnings (deprecated keys), each once."""
    path = str(path)
    data, root, override_locs, problems = read_data(path, list(overrides))
    base = validate(data, Source(path, root, override_locs), notices, problems)
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


def apply_overrides(
    data: dict, overrides: list[str], path: str, label: str = "--set", found: list[str] | None = None
) -> dict[tuple, str]:
    """Apply `key.path=value` overrides in place; the first key may name a phase (`insert_arrow.rows=10`).

    Values are parsed as YAML scalars, so `--set workers=8` gives an int. Returns the data location of
    each override so that validation errors point at the --set, not at a line of the file, and so that an
    override that changes nothing can be reported (`shadowed`). A first key that is neither a phase nor a
    scenario key is an error with a suggestion (it would otherwise become an unknown top-level key). The mistakes
    go to `found` when given (a --set that cannot apply changes nothing), else raise ScenarioError.
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
    if problems and found is None:
        raise ScenarioError(problems)
    if found is not None:
        found.extend(problems)
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
                del phase[old]  # reported here: not again as an unknown key
                continue
            phase[new] = phase.pop(old)
            source.renamed[("phases", i, new)] = ("phases", i, old)
            warnings.append(f"{where}: {dotted(('phases', i, old))}: deprecated key, use {new} "
                            f"({old} is accepted until the next release)")  # fmt: skip
    return warnings, problems


def validate(data: dict, source: Source, notices: list[str] | None = None, problems: list[str] = ()) -> BaseModel:
    """The scenario of `data`, resolved; else ScenarioError with every mistake found (`problems`: those found
    while reading the file), the cross-key rules included even when some values are refused."""
    warnings, renaming = rename_deprecated(data, source)
    if notices is not None:
        notices.extend(w for w in warnings if w not in notices)
    problems = list(problems) + renaming
    scenario = None
    try:
        # the folder a python phase's module file is relative to
        context = {"scenario_dir": str(Path(source.path).parent)}
        scenario = scenario_model().model_validate(data, context=context)
    except ValidationError as exc:
        problems += format_errors(exc.errors(), source)
        checks = cross_check_refused(data, exc.errors())
    else:
        checks = list(cross_checks(scenario))
    problems += [f"{source.where(loc)}: {dotted(source.original(loc))}: {msg}" for loc, msg in checks]
    problems = sorted(dict.fromkeys(problems), key=line_order)
    if scenario is not None:
        problems += [
            f"{source.path}: {text}: {why}"
            for loc, text in source.overrides.items()
            if (why := shadowed(scenario, loc))
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


def dump_resolved(scenario) -> str:
    """The scenario as it ran, with every default filled in."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
