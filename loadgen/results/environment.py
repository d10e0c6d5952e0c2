"""environment.json: the machine and the software a run ran on."""

import platform
import socket
import sys
from importlib import metadata

import psutil


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def environment(run_id: str, argv: list[str]) -> dict:
    return {
        "run_id": run_id,
        "command": argv,
        "host": socket.gethostname(),
        "os": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_logical": psutil.cpu_count(logical=True),
        "cpu_physical": psutil.cpu_count(logical=False),
        "memory_total_mib": round(psutil.virtual_memory().total / 2**20),
        "python": sys.version.split()[0],
        "packages": {
            name: package_version(name)
            for name in ("loadgen", "tableauhyperapi", "pyarrow", "numpy", "psycopg", "psutil", "pydantic")
        },
        "hyperd_version": "",
    }
