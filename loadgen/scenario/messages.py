"""pydantic's validation errors in the words of this tool: `FILE:LINE: key.path: what it must be (got …)`.

pydantic's locations name things the file does not have — a union's branches (`think_ms.tuple[float, float]`), a
tagged union's tag (`phases.0.insert.rows`), a dict key's marker (`[key]`) — and its messages speak of Python types
("Input should be a valid tuple"). So every location is walked along the scenario model's types: the parts that
are in the file are kept, the type found at the end is described in plain words ("a number or [min, max]"), and
the errors of one union are merged into one message. No pydantic message text reaches the user.
"""

import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel

from loadgen.config.fields import BOUND_MEANINGS, PHASE_NAME_PATTERN, excerpt, suggestion
from loadgen.config.hyperd import VERSION_PATTERN
from loadgen.config.sections import ENDPOINT_PATTERN
from loadgen.config.yaml_source import Source, dotted
from loadgen.scenario.model import NAME_PATTERN, scenario_model

# pydantic's error kinds that say a value broke a bound of the right type, in the words of this tool; every other
# kind says the value has the wrong type or shape, and the message then names the type the key takes (type_words)
CONSTRAINT_MESSAGES = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "multiple_of": "must be a multiple of {multiple_of}",
    "finite_number": "must be a finite number",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
    "string_pattern_mismatch": "must match {pattern}",
}
# lists and mappings with too few or too many entries (a tuple's length is its shape: a type error)
SIZE_MESSAGES = {
    "too_short": "needs at least {min_length} item(s)",
    "too_long": "takes at most {max_length} item(s)",
}
PATTERN_MEANINGS = {
    NAME_PATTERN: "must start with a letter or digit and use only letters, digits, _ . -",
    PHASE_NAME_PATTERN: "must start with a letter and use only letters, digits and _",
    ENDPOINT_PATTERN: "must be an endpoint like tab.tcp://host:port or tab.domain://DIR/domain/NAME",
    VERSION_PATTERN: "must be a tableauhyperapi version like 0.0.24457",
    r"^[A-Za-z][A-Za-z0-9_]*$": "must start with a letter and use only letters, digits and _",
    r"^[A-Za-z_][A-Za-z0-9_]*$": "must start with a letter or _ and use only letters, digits and _",
    r"^[A-Za-z_][A-Za-z0-9_]{0,62}$": "must start with a letter or _ and use only letters, digits and _ "
    "(at most 63 characters)",
}
MAPPING_KINDS = ("model_type", "model_attributes_type", "dict_type")


@dataclass
class Place:
    """Where a pydantic error location lies in the file and in the model."""

    loc: tuple  # the parts the file has (no union branch, no tag)
    annotation: Any  # the type expected there (None: not known, e.g. an unknown key)
    parent: Any  # the model or type holding the last part (for an unknown key: its allowed keys)
    union: tuple | None = None  # the location of the first untagged union passed on the way, if any
    branch: str = ""  # the union branch pydantic tried (its label)
    union_annotation: Any = None  # that union's type, for the merged message
    dict_key: bool = False  # the error is about a mapping's key, not its value


def place_of(loc: tuple) -> Place:
    """Walk pydantic's location along the scenario model's types."""
    annotation: Any = scenario_model()
    parent: Any = None
    kept: list = []
    place = Place((), None, None)
    for part in loc:
        annotation = unwrap(annotation)
        if part == "[key]":
            key_type = typing.get_args(annotation)[0] if typing.get_origin(annotation) is dict else None
            annotation, place.dict_key = key_type, True
            continue
        members = union_members(annotation)
        if members:
            tagged = tag_member(members, part)
            if tagged is None and place.union is None:  # the part is the label of the branch pydantic tried
                place.union, place.branch, place.union_annotation = tuple(kept), str(part), annotation
            parent, annotation = annotation, tagged or branch_of(members, str(part))
            continue
        parent = annotation
        kept.append(part)
        annotation = child_type(annotation, part)
    place.loc, place.annotation, place.parent = tuple(kept), annotation, parent
    return place


def unwrap(annotation):
    """The type without Annotated and without an optional None."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if is_union(annotation):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return unwrap(args[0])
    return annotation


def is_union(annotation) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def union_members(annotation) -> tuple:
    if not is_union(annotation):
        return ()
    return tuple(unwrap(a) for a in typing.get_args(annotation) if a is not type(None))


def tag_member(members: tuple, part):
    """The member of a tagged union whose tag (a Literal field, e.g. workload or kind) is `part`, else None."""
    if not isinstance(part, str):
        return None
    for member in members:
        if isinstance(member, type) and issubclass(member, BaseModel):
            for field in member.model_fields.values():
                if typing.get_origin(field.annotation) is Literal and typing.get_args(field.annotation) == (part,):
                    return member
    return None


def union_tags(annotation, key: str) -> list[str]:
    """The tags of a tagged union (its members' Literal `key`), e.g. the workloads a phase can run."""
    return [
        str(tag)
        for member in union_members(unwrap(annotation))
        if isinstance(member, type) and issubclass(member, BaseModel) and key in member.model_fields
        for tag in typing.get_args(member.model_fields[key].annotation)
    ]


def branch_of(members: tuple, label: str):
    """The union member pydantic's branch label names (`float`, `tuple[float, float]`, `list[constrained-str]`)."""
    head = label.split("[", 1)[0]
    for member in members:
        origin = typing.get_origin(member) or member
        name = getattr(origin, "__name__", "")
        if name and (name == head or (head == "function-after" and name in label)):
            return member
    return members[0]


def child_type(annotation, part):
    """The type of `part` inside `annotation` (a model's field, a list's item, a mapping's value)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args:
        return args[0]
    if origin is tuple and args:
        return args[0] if args[-1] is Ellipsis or not isinstance(part, int) or part >= len(args) else args[part]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def model_keys(annotation) -> list[str]:
    annotation = unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [field.alias or name for name, field in annotation.model_fields.items()]
    return []


def allowed_keys(loc: tuple) -> list[str]:
    """The keys a mapping at `loc` (a location in the file) accepts, for 'unknown key' messages."""
    return model_keys(place_of(loc).annotation)


# ---- types in words ----------------------------------------------------------------------------------------------


def type_words(annotation) -> str:
    """What a value of this type is, in the words of a scenario file: 'a whole number', 'a number or [min, max]'."""
    annotation = unwrap(annotation)
    members = union_members(annotation)
    tag = common_tag(members)
    if tag:
        return f"a mapping with {tag}: one of {', '.join(union_tags(annotation, tag))}"
    if members:
        words = list(dict.fromkeys(type_words(m) for m in members))
        if "a number" in words and "a whole number" in words:
            words.remove("a whole number")
        if len(words) > 1:
            words = [w.replace("true or false", "true/false") for w in words]
        return " or ".join(words) if len(words) <= 2 else ", ".join(words[:-1]) + " or " + words[-1]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[0] == args[1]:
            return "[min, max]"
        return "a list [" + ", ".join(type_words(a) for a in args if a is not Ellipsis) + "]"
    if origin is list:
        return f"a list of {plural(type_words(args[0]))}" if args else "a list"
    if origin is dict:
        return f"a mapping of {plural(type_words(args[0]))} to {plural(type_words(args[1]))}" if args else "a mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"a mapping of keys ({', '.join(model_keys(annotation))})"
    return BASIC_WORDS.get(annotation, "a value of another kind")


BASIC_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text", Any: "any value"}


def common_tag(members: tuple) -> str:
    """The tag key of a tagged union's members (workload, kind), '' when they are not all tagged models."""
    if not members or not all(isinstance(m, type) and issubclass(m, BaseModel) for m in members):
        return ""
    for key, field in members[0].model_fields.items():
        if typing.get_origin(field.annotation) is Literal and all(
            key in m.model_fields and typing.get_origin(m.model_fields[key].annotation) is Literal for m in members
        ):
            return key
    return ""


def plural(words: str) -> str:
    """'a whole number' → 'whole numbers'; 'text' stays; a choice of several stays whole ('each a number or …')."""
    if words.startswith("a mapping with"):
        return "mappings" + words[len("a mapping") :]
    if " or " in words:
        return f"items that are each {words}"
    if words == "any value":
        return "values"
    if words.startswith("a mapping"):
        return "mappings" + words[len("a mapping") :]
    if words.startswith("a list"):
        return "lists" + words[len("a list") :]
    if words.startswith("a "):
        return words[2:] + "s"
    return words


# ---- messages ----------------------------------------------------------------------------------------------------


def format_errors(errors: list[dict], source: Source) -> list[str]:
    """One message per mistake, in pydantic's order: the errors of one untagged union (one per branch) become one
    message."""
    groups: dict = {}
    for index, err in enumerate(errors):
        place = place_of(tuple(err["loc"]))
        groups.setdefault(("union", place.union) if place.union is not None else index, []).append((err, place))
    out = []
    for key, group in groups.items():
        if isinstance(key, tuple):
            out.extend(format_union(key[1], group, source))
        else:
            out.extend(format_error(err, place, source) for err, place in group)
    return out


def format_union(loc: tuple, group: list, source: Source) -> list[str]:
    """The errors of every branch of one union: when the value has the type of one branch and only broke that
    branch's bounds (an empty path, a too small number), those errors; else what the key takes, in words."""
    branches: dict[str, list] = {}
    for err, place in group:
        branches.setdefault(place.branch, []).append((err, place))
    fitting = [b for b in branches.values() if all(is_constraint(err) for err, _ in b)]
    if len(fitting) == 1:
        return [format_error(err, place, source) for err, place in fitting[0]]
    err, place = min(group, key=lambda e: len(e[0]["loc"]))
    words = type_words(place.union_annotation)
    return [f"{source.where(loc)}: {shown(source, loc)}: must be {words} (got {excerpt(err['input'])})"]


def is_constraint(err: dict) -> bool:
    return err["type"] in CONSTRAINT_MESSAGES or err["type"] in ("value_error", "literal_error")


def shown(source: Source, loc: tuple) -> str:
    return dotted(source.original(loc))  # a key written under its deprecated name is named as written


def format_error(err: dict, place: Place, source: Source) -> str:
    kind, loc = err["type"], place.loc
    # bounds of float fields read as 604800, not 604800.0
    ctx = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in (err.get("ctx") or {}).items()}
    got = f" (got {excerpt(err['input'])})"
    tag_key = str(ctx.get("discriminator", "'kind'")).strip("'")  # a tagged union's key, e.g. workload
    line_of = loc + (tag_key,) if kind == "union_tag_invalid" else loc
    head = f"{source.where(line_of)}: {shown(source, loc)}"
    if place.dict_key:
        head += f": the key {excerpt(loc[-1]) if loc else ''}"
        got = ""
    if kind == "extra_forbidden":
        allowed = model_keys(place.parent)
        hint = suggestion(str(loc[-1]), allowed)
        return f"{head}: unknown key {excerpt(loc[-1])}{hint}; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return f"{head}: required key is missing"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = union_tags(place.annotation, tag_key)
        if kind == "union_tag_not_found":
            return f"{head}: required key {tag_key!r} is missing; allowed: {', '.join(tags)}"
        tag = str(ctx.get("tag"))
        return f"{head}.{tag_key}: unknown {tag_key} {excerpt(tag)}{suggestion(tag, tags)}; allowed: {', '.join(tags)}"
    if kind == "literal_error":
        allowed = [str(a) for a in typing.get_args(unwrap(place.annotation))]
        hint = suggestion(str(err["input"]), allowed)
        words = ", ".join(allowed[:-1]) + " or " + allowed[-1] if len(allowed) > 1 else "".join(allowed)
        return f"{head}: {excerpt(err['input'])} is not allowed{hint}; allowed: {words or ctx.get('expected', '')}"
    if kind in MAPPING_KINDS and model_keys(place.annotation):
        keys = ", ".join(model_keys(place.annotation))
        return f"{head}: must be a mapping of keys ({keys}), got {excerpt(err['input'])}"
    if kind in ("value_error", "assertion_error"):
        return f"{head}: {ctx.get('error', 'not a valid value')}{got}"
    if kind in SIZE_MESSAGES and isinstance(err["input"], str):  # a bound on a text or a list of texts
        kind = "string_" + kind
    if kind in CONSTRAINT_MESSAGES or (kind in SIZE_MESSAGES and not is_tuple(place.annotation)):
        template = CONSTRAINT_MESSAGES.get(kind) or SIZE_MESSAGES[kind]
        if kind == "string_pattern_mismatch":
            template = PATTERN_MEANINGS.get(ctx.get("pattern"), template)
        message = template.format_map(KeepMissing(ctx))
        bound = ctx.get("le", ctx.get("lt"))
        if bound in BOUND_MEANINGS:
            message += f" ({BOUND_MEANINGS[bound]})"
        return f"{head}: {message}{got}"
    return f"{head}: must be {type_words(place.annotation)}{got}"


class KeepMissing(dict):
    """The error's context for a template: a bound pydantic did not give reads '?' instead of failing."""

    def __missing__(self, key):
        return "?"


def is_tuple(annotation) -> bool:
    return typing.get_origin(unwrap(annotation)) is tuple
