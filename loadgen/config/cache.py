"""`cache: cold | hot | both`, the cold/hot protocol a query phase may ask for (docs/cold_hot.md).

A mixin for any query workload's options (`class MyPhase(CacheOptions, PhaseOptions)`): it adds the keys, the
summary columns the protocol fills, and `cache_problems(scenario)` for the workload's cross_check. The runtime half
is loadgen/workloads/cache_runs.py."""

from typing import ClassVar, Literal

from pydantic import Field

from loadgen.config.fields import StrictModel

CACHE_MODES = ("cold", "hot", "both")
CACHE_COLUMNS = ("cache", "cold_s", "hot_s")  # summary.csv columns the protocol fills (loadgen/columns.py)


class CacheOptions(StrictModel):
    cache: Literal["cold", "hot", "both"] | None = Field(
        default=None,
        description="cold: each statement once on a fresh hyperd with the database's pages evicted from the OS "
        "page cache; hot: each statement hot_runs times on one connection; both: cold, then the hot runs on that "
        "fresh hyperd (ClickBench's [cold, hot1, hot2]). Unset: the phase runs as usual.",
    )
    hot_runs: int = Field(
        default=3, ge=2, le=100, description="Runs of each statement with cache: hot or both (the first included)."
    )

    summary_columns: ClassVar[tuple[str, ...]] = CACHE_COLUMNS

    def cache_runs(self) -> int:
        """How often each statement runs under the protocol: once cold, hot_runs times hot (or both)."""
        return 1 if self.cache == "cold" else self.hot_runs

    def restarts(self) -> bool:
        """Whether each statement starts on a fresh hyperd."""
        return self.cache in ("cold", "both")

    def cache_problems(self, scenario):
        """(location, message) for settings the protocol cannot honour; yielded by the workload's cross_check."""
        if self.cache is None:
            return
        if self.restarts():
            if scenario.server.endpoint:
                yield (
                    ("cache",),
                    f"{self.cache} starts a fresh hyperd for each statement, which loadgen can do only for its own "
                    f"hyperd, and server.endpoint is set ({scenario.server.endpoint}): use cache: hot, or leave out "
                    "server.endpoint",
                )
            if scenario.workers != 1:
                yield (
                    ("cache",),
                    f"{self.cache} measures one statement at a time on a fresh hyperd: use workers: 1 "
                    f"(the scenario has {scenario.workers})",
                )
            if getattr(scenario, "backend", "local") != "local":
                yield ("cache",), f"{self.cache} restarts hyperd between statements: use backend: local"
