"""`server.hyperd`: which hyperd a private server runs, and the checks of that choice that need no run (validation,
FILE:LINE). Choosing, fetching and probing the binary before a run: loadgen/engine/hyperd_select.py."""

import os
from pathlib import Path

from pydantic import Field

from loadgen.config.fields import StrictModel

VERSION_PATTERN = r"^[0-9]+(\.[0-9]+){1,3}$"  # a release like 0.0.24457; nothing pip could read as more


class HyperdConfig(StrictModel):
    version: str | None = Field(
        default=None,
        pattern=VERSION_PATTERN,
        description="The hyperd shipped in this tableauhyperapi wheel version (e.g. 0.0.24457), fetched once with "
        "pip into loadgen's cache (~/.cache/loadgen/hyperd).",
    )
    path: str | None = Field(
        default=None,
        min_length=1,
        description="A local build: the folder holding hyperd, as HyperProcess(hyper_path=…) takes it.",
    )


def cross_check(scenario):
    """Static rules (validation, FILE:LINE): yields (location, message)."""
    config = scenario.server
    chosen = config.hyperd
    if chosen is None or not (chosen.version or chosen.path):
        return
    if config.endpoint:
        yield (
            ("server", "hyperd"),
            "selects the hyperd of the private server loadgen starts; with server.endpoint loadgen starts none "
            "(the endpoint runs its own hyperd): remove one of them",
        )
    if chosen.version and chosen.path:
        yield (
            ("server", "hyperd"),
            "give version (a tableauhyperapi wheel's hyperd) or path (a folder holding hyperd), not both",
        )
    if chosen.path and (problem := folder_problem(chosen.path)):
        yield ("server", "hyperd", "path"), problem


def folder_problem(path: str) -> str:
    """Why a folder cannot be HyperProcess's hyper_path ('' when it can)."""
    folder = Path(path).expanduser()
    if folder.name == "hyperd" and folder.is_file():
        return f"{path} is hyperd itself; give the folder that holds it ({folder.parent}), as HyperProcess takes it"
    if not folder.is_dir():
        return f"{path}: no such folder; give the folder that holds hyperd (a local build's bin folder)"
    executable = folder / "hyperd"
    if not executable.is_file():
        return f"{path} holds no hyperd; give the folder that holds it (a local build's bin folder)"
    if not os.access(executable, os.X_OK):
        return f"{executable} is not executable (chmod +x it, or give the folder of an executable hyperd)"
    return ""
