"""Options of `workload: python` (a user's class named by `module:` and `class:`, its own keys under `options:`) and
of installed plugins (entry-point group `loadgen.workloads`: `workload: NAME`, the class fixed by the entry point).

The class is imported at validation, in the coordinator (it runs nothing: no hyperd, no worker), so that its options
are checked by its own pydantic model with FILE:LINE like every other key. A file module is read once there and its
text travels with the phase, so a worker on another host (a Ray actor) runs the very code that was validated.
"""

import os
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, PrivateAttr, ValidationError, ValidationInfo, field_validator

from loadgen.api import API_VERSION, Users, Workload
from loadgen.config.fields import excerpt
from loadgen.config.phase import PhaseOptions
from loadgen.workloads.python.loader import LoadProblem, is_file, load_class

ENTRY_POINT_GROUP = "loadgen.workloads"
RUNTIME = "loadgen.workloads.python.runtime:PythonWorkload"
CLASS_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class PythonPhase(PhaseOptions):
    model_config = ConfigDict(**PhaseOptions.model_config, populate_by_name=True, serialize_by_alias=True)
    workload: Literal["python"]
    module: str = Field(
        min_length=1, description="A Python file (relative to the scenario) or a dotted module on sys.path."
    )
    class_name: str = Field(alias="class", pattern=CLASS_NAME, description="The loadgen.api.Workload subclass in it.")
    options: dict[str, Any] = Field(default_factory=dict, description="The class's own options (its Options model).")
    _source: str | None = PrivateAttr(default=None)  # a file module's text, read at validation

    table_columns: ClassVar[tuple[str, ...]] = ("wall_s", "ops_per_s", "errors", "p50_ms", "p99_ms", "rows_per_s")
    compact_columns: ClassVar[tuple[str, ...]] = ("ops_per_s", "p50_ms", "p99_ms", "errors")

    @field_validator("module")
    @classmethod
    def _relative_to_scenario(cls, value: str, info: ValidationInfo) -> str:
        if not is_file(value) or os.path.isabs(value):
            return value
        base = (info.context or {}).get("scenario_dir", "")
        return os.path.abspath(os.path.join(base, os.path.expanduser(value)))

    def user_class(self) -> type[Workload]:
        """The user's class (imported once per process); raises LoadProblem."""
        return load_class(self.module, self.class_name, Workload, API_VERSION, self._source)

    def validated_options(self):
        """The phase's options as an instance of the class's Options model (raises ValidationError)."""
        return self.user_class().Options.model_validate(self.options)

    def _class_or_none(self) -> type[Workload] | None:
        try:
            return self.user_class()
        except LoadProblem:
            return None

    def _options_or_none(self):
        try:
            return self.validated_options()
        except (LoadProblem, ValidationError):
            return None

    def cross_check(self, scenario):
        try:
            klass = self.user_class()
        except LoadProblem as problem:
            yield (problem.key,), str(problem)
            return
        if issubclass(klass, Users) and not klass.tasks():
            yield (
                ("class",),
                (
                    f"{klass.__name__} has no @task coroutine: mark at least one with @api.task(weight), or define one "
                    "`async def user(self, session)`"
                ),
            )
            return
        try:
            klass.Options.model_validate(self.options)
        except ValidationError as exc:
            for error in exc.errors():
                yield ("options", *error["loc"]), option_message(error, klass.Options)

    def resolved(self, scenario):
        if not is_file(self.module) or self._source is not None:
            return self
        copy = self.model_copy()
        copy._source = Path(self.module).read_text(encoding="utf-8")
        return copy

    def error_budget(self) -> float | None:
        return getattr(self._options_or_none(), "max_error_rate", None)

    def sessions_per_worker(self) -> int | None:
        return getattr(self._options_or_none(), "sessions", None) if self._is_users() else None

    def ends_early(self) -> bool:
        klass = self._class_or_none()
        return bool(klass and klass.ends_early)

    def operation_names(self) -> list[str] | None:
        klass = self._class_or_none()
        if klass is None:
            return None
        names = list(klass.tasks()) if issubclass(klass, Users) else list(klass.operations)
        return names or None

    def _is_users(self) -> bool:
        klass = self._class_or_none()
        return bool(klass and issubclass(klass, Users))


def option_message(error: dict, model: type) -> str:
    """One of pydantic's errors about a user's options, in the words of loadgen's own messages."""
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown option {excerpt(error['loc'][-1])}; {model.__name__} takes: {', '.join(model.model_fields)}"
    if kind == "missing":
        return "required option is missing"
    bounds = {"greater_than_equal": "must be >= {ge}", "greater_than": "must be > {gt}",
              "less_than_equal": "must be <= {le}", "less_than": "must be < {lt}"}  # fmt: skip
    message = bounds[kind].format(**error["ctx"]) if kind in bounds else error["msg"].removeprefix("Value error, ")
    return f"{message} (got {excerpt(error['input'])})" if kind != "value_error" or error["loc"] else message


# ------------------------------------------------------------------------------------------- installed plugins
def plugin_phase(name: str, target: str) -> type[PythonPhase]:
    """The options model of plugin `name`: a python phase whose module and class are the entry point's. Kept as an
    attribute of this module, so that a phase pickled to a worker (which discovers the same plugins) finds it."""
    module, _, class_name = target.partition(":")
    qualname = f"Plugin_{name}"
    model = type(
        qualname,
        (PythonPhase,),
        {
            "__module__": __name__,
            "__qualname__": qualname,
            "__annotations__": {"workload": Literal[name], "module": str, "class_name": str},
            "module": Field(default=module, description=f"The plugin's module ({module})."),
            "class_name": Field(default=class_name, alias="class", description=f"The plugin's class ({class_name})."),
        },
    )
    globals()[qualname] = model
    return model


def installed_plugins() -> list[tuple[str, str, str]]:
    """(name, "module:Class", distribution) of every entry point in the group, in a stable order."""
    found = []
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry.dist.name if entry.dist is not None else "?"
        found.append((entry.name, entry.value, dist))
    return sorted(found)


def __getattr__(name: str):
    """A plugin's options model by its pickled name (Plugin_NAME), made on first use: a worker unpickles its phases
    without having looked up every installed plugin."""
    if name.startswith("Plugin_"):
        for plugin, target, _dist in installed_plugins():
            if f"Plugin_{plugin}" == name:
                return plugin_phase(plugin, target)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
