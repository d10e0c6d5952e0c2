"""The rules that involve more than one key, run on a scenario pydantic refused, so that one look at a file shows
all its mistakes (a misspelt operation is a cross-check: it would otherwise show only once the types are right).

pydantic gives no model for a refused scenario. So each refused value is taken out of a copy of the data (its key
removed: the default applies; a value that cannot be removed — a required key, an item of a list — takes its
mapping or list item with it), until pydantic accepts what is left. In that model every value taken out is
replaced by UNKNOWN, which refuses to be compared, iterated, formatted or tested for truth: a check that reads one
stops there, keeping the messages it gave before. A check can therefore never report a consequence of a value the
file does not have; it only stays silent.
"""

import copy
import difflib
import typing

from pydantic import BaseModel, ValidationError

from loadgen.scenario.messages import place_of
from loadgen.scenario.model import CHECK_GROUPS, scenario_model

MAX_ROUNDS = 20  # each round removes at least one value; a scenario has far fewer nested levels
STAND_INS = {("name",): "scenario"}  # required top-level keys the checks never read, so the rest can be checked


class UnknownValue(Exception):
    """A check read a value the scenario got wrong."""


class Unknown:
    """A refused value's stand-in: any use but `is None` and isinstance raises UnknownValue."""

    def _refuse(self, *args, **kwargs):
        raise UnknownValue


for _name in (
    "__eq__ __ne__ __lt__ __le__ __gt__ __ge__ __bool__ __len__ __iter__ __contains__ __getitem__ __getattr__ "
    "__hash__ __str__ __format__ __int__ __float__ __index__ __call__ __add__ __radd__ __sub__ __rsub__ __mul__ "
    "__rmul__ __truediv__ __rtruediv__ __floordiv__ __rfloordiv__ __mod__ __neg__ __abs__ __round__"
).split():
    setattr(Unknown, _name, Unknown._refuse)

UNKNOWN = Unknown()


def cross_check_refused(data: dict, errors: list[dict]) -> list[tuple[tuple, str]]:
    """(location, message) of the cross-checks that can run on what pydantic accepted of `data` (its `errors`)."""
    data = copy.deepcopy(data)
    origin = locations(data)  # id of each mapping and list → its location in the file, as items move up
    removed: list[tuple] = []
    for _ in range(MAX_ROUNDS):
        for err in errors:
            loc = remove(data, place_of(tuple(err["loc"])).loc, err["type"] == "missing", origin)
            if loc is None:
                return []
            removed.append(loc)
        try:
            scenario = scenario_model().model_validate(data)
            break
        except ValidationError as exc:
            errors = exc.errors()
    else:
        return []
    nodes = model_nodes(scenario, data, origin)
    phases = [(loc[1], phase) for phase, loc in nodes if len(loc) == 2 and loc[0] == "phases"]
    for loc in removed:
        mark_unknown(nodes, loc)
    return list(run_checks(scenario, phases))


def locations(data, loc: tuple = (), out: dict | None = None) -> dict[int, tuple]:
    out = {} if out is None else out
    if isinstance(data, dict | list):
        out[id(data)] = loc
        for key, value in data.items() if isinstance(data, dict) else enumerate(data):
            locations(value, loc + (key,), out)
    return out


def remove(data: dict, loc: tuple, missing: bool, origin: dict) -> tuple | None:
    """Take the value at `loc` out of `data` (a missing key: the mapping that lacks it). Returns its location in
    the file, or None when only the whole scenario could go."""
    if loc in STAND_INS:
        data[loc[0]] = STAND_INS[loc]
        return loc
    if missing:
        loc = loc[:-1]
    container, rest = data, loc
    while len(rest) > 1 and is_step(container, rest[0]):
        container, rest = container[rest[0]], rest[1:]
    if not rest:  # the scenario itself
        return None
    where = origin.get(id(container), ()) + rest[:1]
    if is_step(container, rest[0]):  # else already gone, with an earlier error
        del container[rest[0]]
    return where


def is_step(container, part) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def model_nodes(model: BaseModel, data, origin: dict) -> list[tuple[BaseModel, tuple]]:
    """Every model of the validated tree with its location in the file (walked beside the data it came from)."""
    out = [(model, origin.get(id(data), ()))]
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        value = getattr(model, name)
        raw = data.get(key) if isinstance(data, dict) else None
        items = []
        if isinstance(value, BaseModel):
            items = [(value, raw)]
        elif isinstance(value, list | tuple) and isinstance(raw, list):
            items = list(zip(value, raw, strict=False))
        elif isinstance(value, dict) and isinstance(raw, dict):
            items = [(v, raw.get(k)) for k, v in value.items()]
        for item, item_data in items:
            if isinstance(item, BaseModel) and isinstance(item_data, dict):
                out += model_nodes(item, item_data, origin)
    return out


def mark_unknown(nodes: list, loc: tuple) -> None:
    """Replace the field of the deepest model that holds `loc` (a value taken out) by UNKNOWN."""
    holders = [(model, at) for model, at in nodes if loc[: len(at)] == at and len(loc) > len(at)]
    if not holders:
        return
    model, at = max(holders, key=lambda pair: len(pair[1]))
    key = loc[len(at)]
    fields = {field.alias or name: name for name, field in type(model).model_fields.items()}
    if key in fields:
        names = [fields[key]]
    else:  # an unknown key: read as the key its message suggests, written with a value not known
        meant = difflib.get_close_matches(str(key), list(fields), n=1)
        names = [fields[k] for k in meant if fields[k] not in model.model_fields_set]
    for name in names:
        model.__dict__[name] = UNKNOWN  # the model is frozen: its field is set past pydantic


def run_checks(scenario, phases: list) -> typing.Iterator[tuple[tuple, str]]:
    for group in CHECK_GROUPS:
        checks = group(scenario, phases)
        while True:
            try:
                check = next(checks)
            except (StopIteration, UnknownValue):
                break
            try:
                yield from check()
            except UnknownValue:
                continue
