"""The packages are layers and imports flow one way: a module imports only modules of its own layer or of the
layers below it (read from the source, module-level and in-function imports alike)."""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "loadgen"

# bottom to top; a module belongs to the first layer one of whose names it is or lies under
LAYERS = (
    ("loadgen.errors", "loadgen.columns", "loadgen.limits"),  # error kinds, the metric registry, open-files limits
    ("loadgen.config",),  # field types, the sections every scenario has, threshold expressions, YAML with lines
    ("loadgen.datagen",),  # the canonical rows, data: definitions, generated rows and their facts
    ("loadgen.transfer",),  # moving rows into hyperd: staged Arrow, Arrow streams, the row API, files
    (
        "loadgen.workloads",
        "loadgen.api",
    ),  # the public API for users' workloads; the contract, the registry, one package per workload
    ("loadgen.scenario",),  # the scenario model assembled from the workloads' options; loading and planning
    ("loadgen.results",),  # recording, merging, the run folder, judging and comparing
    ("loadgen.report",),  # terminal, HTML and PNG views of results
    ("loadgen.engine",),  # the run: hyperd, workers, backends, protocol, signals
    ("loadgen.cli", "loadgen.__main__", "loadgen"),  # the commands
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    for number, names in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in names if name != "loadgen"):
            return number
    if module == "loadgen":
        return len(LAYERS) - 1
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.is_dir() or path.with_suffix(".py").exists()


def imported(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, module) of every loadgen module the file imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            # `from loadgen.x import y` imports loadgen.x.y when y is a module, else loadgen.x
            modules = [f"{base}.{a.name}" for a in node.names if is_module(f"{base}.{a.name}")]
            out += [(node.lineno, name) for name in modules] or [(node.lineno, base)]
    return [(line, name) for line, name in out if name == "loadgen" or name.startswith("loadgen.")]


def upward_imports() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        mine = layer_of(module)
        for line, target in imported(path, module):
            if target != "loadgen" and layer_of(target) > mine:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} imports {target}, a layer above it")
    return found


def test_every_module_imports_only_its_own_layer_and_those_below():
    assert upward_imports() == []


def test_an_upward_import_is_found(tmp_path, monkeypatch):
    """The check itself: a config module that imported the engine would be reported."""
    copy = tmp_path / "loadgen"
    (copy / "config").mkdir(parents=True)
    (copy / "engine").mkdir()
    (copy / "__init__.py").write_text("")
    (copy / "config" / "__init__.py").write_text("")
    (copy / "engine" / "__init__.py").write_text("")
    (copy / "engine" / "run.py").write_text("from loadgen.config import fields\n")
    (copy / "config" / "fields.py").write_text("import os\n\n\ndef f():\n    from loadgen.engine import run\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", copy)
    assert upward_imports() == [
        "loadgen/config/fields.py:5: loadgen.config.fields imports loadgen.engine.run, a layer above it"
    ]
