"""`backend: ray`: the scenario keys and their checks. Validation only: nothing here imports Ray (whether it is
installed is asked of the import system), so `loadgen validate` stays light. The backend itself is
loadgen/engine/backends/ray.py."""

import importlib.util
import ipaddress
from typing import Literal

from pydantic import Field

from loadgen.config.fields import Count, Number, StrictModel

INSTALL_HINT = "pip install -e '.[ray]' (or: make venv, which installs it)"
LOOPBACK_NAMES = ("localhost",)


class RayConfig(StrictModel):
    address: str = Field(
        default="local",
        min_length=1,
        description="local: start a one-node Ray cluster on this machine for the run (stopped at its end); "
        "HOST:PORT (or auto) of an existing cluster's head.",
    )
    placement: Literal["spread", "pack"] = Field(
        default="spread", description="spread: workers over as many nodes as possible; pack: as few as possible."
    )
    start_delay_ms: Count = Field(
        default=50,
        ge=1,
        le=60_000,
        description="How far in the future the coordinator sets a phase's shared start instant.",
    )
    coordinator_port: Count = Field(
        default=0,
        ge=0,
        le=65535,
        description="TCP port the coordinator listens on for its workers (0: any free port).",
    )
    connect_timeout_s: Number = Field(
        default=30.0,
        gt=0,
        le=600,
        description="How long joining an existing cluster (address HOST:PORT or auto) may take.",
    )


def ray_installed() -> bool:
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):  # not importable (or half installed): missing as far as we can use it
        return False


def host_of(address: str) -> str:
    """The host part of HOST:PORT, [V6]:PORT or ray://HOST:PORT."""
    rest = address.split("://", 1)[-1]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def on_this_machine(config: RayConfig) -> bool:
    """Whether every node of the cluster is on the coordinator's machine, as far as validation can tell: a
    cluster the run starts itself, or one whose head is reachable only through loopback."""
    return config.address == "local" or is_loopback(host_of(config.address))


def cross_check(scenario):
    """Rules of the ray backend, as (location, message) like scenario.cross_checks."""
    config = scenario.ray
    if scenario.backend != "ray":  # a ray: section stays valid, so that --set backend=local compares the two
        return
    if not ray_installed():
        yield ("backend",), f"ray needs Ray, which is not installed: {INSTALL_HINT}"
    if on_this_machine(config):
        return
    endpoint = scenario.server.endpoint or ""
    if not endpoint.startswith("tab.tcp://"):
        yield (
            ("server", "endpoint"),
            f"workers on the Ray cluster at {config.address} may run on other hosts: they need a hyperd they can "
            "reach over TCP, server.endpoint: tab.tcp://HOST:PORT (a private hyperd listens on this machine only)",
        )
    elif is_loopback(host_of(endpoint[len("tab.tcp://") :])):
        yield (
            ("server", "endpoint"),
            f"{endpoint} is a loopback address: workers on other hosts of the Ray cluster at {config.address} "
            "cannot reach it; give the server host's name or address",
        )
    for index, phase in enumerate(scenario.phases):
        if getattr(phase, "method", None) == "arrow":
            yield (
                ("phases", index, "method"),
                "method arrow stages files that hyperd reads from its own disk, which workers on other hosts of "
                f"the Ray cluster at {config.address} cannot write; use arrow_stream (or rows)",
            )
