"""What the TPC-H workloads share on the worker side: the tables' names and where the data is."""

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from tableauhyperapi import TableName

from loadgen.workloads.tpch import cache, layout


def table_name(table: str) -> TableName:
    return TableName("public", table)


def table_sql(table: str) -> str:
    """public.<table>, quoted by tableauhyperapi."""
    return str(TableName("public", table))


POLL_S = 0.05
WAIT_S = 3600.0  # longest wait for the other workers' DuckDB references (they run the same phase)


@dataclass
class TpchData:
    """Where this worker's generate phase put the data (ctx.shared): later phases of the same scale factor use it."""

    dir: str = ""
    scale_factor: float | None = None


def wait_until(done, stop, what: str, timeout_s: float = WAIT_S) -> bool:
    """Poll `done()` until it is true (True), the run stops (False) or time runs out (an error naming `what`)."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if stop.is_set():
            return False
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up after {timeout_s:g} s waiting for {what}")
        time.sleep(POLL_S)
    return True


def token(*parts) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:12]


def load_parquet_reader():
    """pyarrow.dataset, the client-side Parquet reader. Imported on first use, not at the top (it imports pandas,
    which no other workload needs): the load's setup calls this, so the import is not part of the timed load."""
    import pyarrow.dataset as pads

    return pads


def locate_data(ctx, phase) -> Path:
    """The cache folder of this phase's scale factor: the one the generate phase used in this worker, else the
    one of the installed tpchgen-cli's version, else the newest version present."""
    known = ctx.shared(TpchData)
    if known.dir and known.scale_factor == phase.scale_factor:
        return Path(known.dir)
    binary = layout.find_generator()
    if binary:
        return layout.cache_dir(Path(phase.data_dir), phase.scale_factor, layout.generator_version(binary))
    found = sorted(Path(phase.data_dir).glob(f"sf{layout.sf_text(phase.scale_factor)}-tpchgen-*"))
    found = [f for f in found if not cache.cache_problem(f, phase.scale_factor)]
    return found[-1] if found else layout.cache_dir(Path(phase.data_dir), phase.scale_factor, "unknown")


def require_data(ctx, phase) -> tuple[Path, dict]:
    folder = locate_data(ctx, phase)
    problem = cache.cache_problem(folder, phase.scale_factor)
    if problem:
        raise RuntimeError(
            f"no complete TPC-H data for SF {layout.sf_text(phase.scale_factor)} in {phase.data_dir} ({problem}); "
            "add a tpch_generate phase before this one"
        )
    return folder, layout.read_manifest(folder)


def damage_found(folder: Path, scale_factor: float) -> str:
    """After a failure that damaged data would explain: the cache's files compared with their checksums, and the
    damaged ones deleted, so that the next tpch_generate phase regenerates their parts. '' when all match."""
    damaged = cache.remove_damaged(folder, scale_factor)
    if not damaged:
        return ""
    return (
        f"the TPC-H data in {folder} is damaged: {cache.describe(damaged)}; deleted what is damaged: the next "
        "tpch_generate phase regenerates it"
    )


def blame_data(detail: str, folder: Path, scale_factor: float) -> str:
    """A failed verification's detail, preceded by the damage in the cache that explains it, if any."""
    found = damage_found(folder, scale_factor)
    return f"{found}. {detail}" if found else detail
