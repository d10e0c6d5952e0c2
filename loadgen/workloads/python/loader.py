"""Finding a user's workload class: a Python file (its path as the scenario gives it, relative to the scenario) or a
dotted module on sys.path, then a class in it that is a loadgen.api Workload written for this API. Every problem
is a LoadProblem naming the scenario key it concerns and, for a module that does not import, the module's own
file:line. Light: the user's module imports what it needs, this module only importlib."""

import hashlib
import importlib
import importlib.util
import sys
import traceback
from pathlib import Path

_classes: dict[tuple[str, str], type] = {}  # (module, class) → the class, imported once per process


class LoadProblem(Exception):
    """A workload class that cannot be used; `key` is the phase's key to point at (module, class)."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def is_file(module: str) -> bool:
    return module.endswith(".py") or "/" in module


def module_name(path: str) -> str:
    """The name a user's file is imported under: its stem and a digest of its path (two files named alike differ)."""
    return f"loadgen_user_{Path(path).stem}_{hashlib.sha1(path.encode()).hexdigest()[:8]}"


def where_raised(exc: BaseException, inside: str | None) -> str:
    """file:line of the innermost frame of `exc` inside the file `inside` (else the innermost frame at all)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if inside and f.filename == inside] or frames
    return f"{mine[-1].filename}:{mine[-1].lineno}" if mine else "?"


def import_module(module: str, source: str | None = None):
    """The module: a file (its text `source` when given, shipped from the coordinator to a worker on another host)
    or a dotted name. Raises LoadProblem('module', …)."""
    try:
        if not is_file(module):
            return importlib.import_module(module)
        name = module_name(module)
        if name in sys.modules:
            return sys.modules[name]
        path = Path(module)
        if source is None and not path.is_file():
            raise LoadProblem("module", f"{module}: no such file")
        if str(path.parent) not in sys.path:  # its sibling modules import as they would next to it
            sys.path.append(str(path.parent))
        spec = importlib.util.spec_from_loader(name, loader=None, origin=module)
        loaded = importlib.util.module_from_spec(spec)
        loaded.__file__ = module
        sys.modules[name] = loaded  # before running it: pickle and dataclasses look classes up by module
        try:
            code = compile(source if source is not None else path.read_text(encoding="utf-8"), module, "exec")
            exec(code, loaded.__dict__)  # noqa: S102 - the user's own workload, named in their scenario
        except BaseException:
            del sys.modules[name]
            raise
        return loaded
    except LoadProblem:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")) and not is_file(module):
            raise LoadProblem(
                "module", f"no module named {module!r} on sys.path (or give a file: path/to/file.py)"
            ) from None
        raise LoadProblem("module", f"{module} does not import: {_summary(exc, module)}") from None
    except Exception as exc:  # noqa: BLE001 - whatever the user's module raises, said with its file:line
        raise LoadProblem("module", f"{module} does not import: {_summary(exc, module)}") from None


def _summary(exc: BaseException, module: str) -> str:
    inside = module if is_file(module) else getattr(sys.modules.get(module), "__file__", None)
    text = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    return f"{where_raised(exc, inside)}: {type(exc).__name__}: {(text.strip().splitlines() or [''])[0]}"


def load_class(module: str, name: str, base: type, api_version: str, source: str | None = None) -> type:
    """The class `name` of `module`, checked: a subclass of `base`, written for a compatible API version."""
    key = (module, name)
    if key in _classes:
        return _classes[key]
    loaded = import_module(module, source)
    found = getattr(loaded, name, None)
    if found is None:
        public = sorted(
            n for n, v in vars(loaded).items() if isinstance(v, type) and issubclass(v, base) and v is not base
        )
        raise LoadProblem(
            "class", f"{module} has no class {name!r}; its workload classes: {', '.join(public) or 'none'}"
        )
    if not (isinstance(found, type) and issubclass(found, base)):
        raise LoadProblem("class", f"{module}:{name} is not a workload: subclass loadgen.api.Workload")
    if problem := version_problem(getattr(found, "api_version", api_version), api_version):
        raise LoadProblem("class", f"{module}:{name}: {problem}")
    _classes[key] = found
    return found


def version_problem(wanted, have: str) -> str:
    """'' when a class written for API `wanted` runs on API `have`: the same major version, a minor one not newer."""
    try:
        w_major, w_minor = (int(p) for p in str(wanted).split("."))
    except ValueError:
        return f"api_version {wanted!r} is not MAJOR.MINOR (this loadgen has {have})"
    h_major, h_minor = (int(p) for p in have.split("."))
    if w_major != h_major or w_minor > h_minor:
        return f"written for loadgen.api {wanted}, this loadgen has {have}: update one of them"
    return ""
