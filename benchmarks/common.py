"""What the benchmark scripts share: running loadgen as a user does, reading its CSVs, and the line that says on
what machine a run was measured."""

import contextlib
import csv
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path


def loadgen_command(path: Path, folder: Path) -> list[str]:
    return [sys.executable, "-m", "loadgen", "run", str(path), "--results-dir", str(folder / "results"), "--quiet"]


def newest_run(folder: Path, name: str) -> Path:
    return sorted((folder / "results" / name).iterdir())[-1]


def run_loadgen(text: str, folder: Path, name: str, timeout: float = 3600, cwd=None) -> tuple[Path, float]:
    """Write the scenario, run it, and return its run folder and the epoch second it was launched."""
    path = folder / f"{name}.yaml"
    path.write_text(text)
    launched = time.time()
    proc = subprocess.run(loadgen_command(path, folder), capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen failed ({proc.returncode}): {proc.stderr}\n{proc.stdout[-2000:]}")
    return newest_run(folder, name), launched


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def machine_line() -> str:
    """`Run <UTC> on <host>: <CPU>, N cores, G GiB RAM, <platform>; load average L.`"""
    import psutil

    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    return (
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()}: {cpu}, "
        f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {platform.platform()}; "
        f"load average {os.getloadavg()[0]:.1f}."
    )


RATIO_TABLE_HEAD = [  # the header of the benches' ratio tables
    "| measurement | loadgen | baseline | ratio | floor | met | note |",
    "|---|---|---|---|---|---|---|",
]


def publish(report: str, path: str | None) -> None:
    """Print the markdown report, and write it to `path` too when one is given (--write)."""
    print(report, end="")
    if path:
        Path(path).write_text(report)
