"""What the suites' workloads share on the worker side: the tables' names and where the data is."""

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from tableauhyperapi import TableName

from loadgen.workloads.suites import cache, layout


def table_name(table: str, schema: str = "public") -> TableName:
    return TableName(schema, table)


def table_sql(table: str, schema: str = "public") -> str:
    """<schema>.<table>, quoted by tableauhyperapi."""
    return str(TableName(schema, table))


POLL_S = 0.05
WAIT_S = 3600.0  # longest wait for the other workers' DuckDB references (they run the same phase)


@dataclass
class SuiteData:
    """Where this worker's generate phases put the data (ctx.shared), per suite: (folder, scale factor). Later
    phases of the same suite and scale factor use it."""

    dirs: dict[str, tuple[str, float]] = field(default_factory=dict)


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
    """The cache folder of this phase's suite and scale factor: the one the generate phase used in this worker,
    else the one of the installed generator's version, else the newest version present."""
    suite = phase.suite
    known = ctx.shared(SuiteData).dirs.get(suite.name)
    if known and known[1] == phase.scale_factor:
        return Path(known[0])
    binary = layout.find_generator(suite)
    if binary:
        return layout.cache_dir(suite, Path(phase.data_dir), phase.scale_factor, layout.generator_version(binary))
    found = sorted(Path(phase.data_dir).glob(f"sf{layout.sf_text(phase.scale_factor)}-{suite.folder_tag}-*"))
    found = [f for f in found if not cache.cache_problem(suite, f, phase.scale_factor)]
    return found[-1] if found else layout.cache_dir(suite, Path(phase.data_dir), phase.scale_factor, "unknown")


def require_data(ctx, phase) -> tuple[Path, dict]:
    folder = locate_data(ctx, phase)
    problem = cache.cache_problem(phase.suite, folder, phase.scale_factor)
    if problem:
        raise RuntimeError(
            f"no complete {phase.suite.label} data for SF {layout.sf_text(phase.scale_factor)} in {phase.data_dir} "
            f"({problem}); add a {phase.suite.name}_generate phase before this one"
        )
    return folder, layout.read_manifest(folder)


def damage_found(suite, folder: Path, scale_factor: float) -> str:
    """After a failure that damaged data would explain: the cache's files compared with their checksums, and the
    damaged ones deleted, so that the next generate phase regenerates them. '' when all match."""
    damaged = cache.remove_damaged(suite, folder, scale_factor)
    if not damaged:
        return ""
    return (
        f"the {suite.label} data in {folder} is damaged: {cache.describe(damaged)}; deleted what is damaged: the "
        f"next {suite.name}_generate phase regenerates it"
    )


def blame_data(suite, detail: str, folder: Path, scale_factor: float) -> str:
    """A failed verification's detail, preceded by the damage in the cache that explains it, if any."""
    found = damage_found(suite, folder, scale_factor)
    return f"{found}. {detail}" if found else detail
