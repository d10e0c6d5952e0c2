"""The messages between the coordinator and its workers: plain data in typed envelopes, pickled over a pipe (local
workers) or a TCP connection (Ray actors). Exceptions cross as text.

  coordinator → worker   Go (the start barrier), Stop (end the run), Finish (end the running phase now),
                         Gathered (every worker's share of a Gather), Restarted (a fresh hyperd is up)
  worker → coordinator   Ready (at the barrier), Result (a phase's measurement, verification and report), Failure,
                         Interval (a finished interval, for thresholds that act during the phase), Gather,
                         Restart (the worker closed its connections: start a fresh hyperd, cache: cold)
  actor → coordinator    Hello (once, with its node's facts), Progress and Samples (what shared memory carries
                         for a local worker), Lost (its node's raylet ended: the worker is gone with it)
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Ready:
    phase: str


@dataclass(frozen=True)
class Go:
    phase: str
    released_ns: int  # the coordinator's perf_counter_ns of the release: the origin of the phase's time series
    start_wall_ns: int | None = None  # Ray: the shared start instant in wall-clock time (the actor waits for it)


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Finish:
    pass


@dataclass
class Result:
    """One worker's phase: what it measured (a results.recorder.Measurement), how its verification went, what its
    workload reports to the coordinator's after_phase, and the untimed setup and close around it."""

    worker: int
    phase: str
    pid: int
    measurement: object
    verification: dict = field(default_factory=dict)
    report: object = None
    sessions: int | None = None
    setup_ns: int = 0
    close_ns: int = 0
    node: str = ""  # backend: ray: the node it ran on


@dataclass(frozen=True)
class Failure:
    worker: int
    phase: str
    pid: int
    message: str
    traceback: str = ""
    exit_code: int = 1  # the run's exit code when this failure ends it (2: a limit or setting to change)


@dataclass(frozen=True)
class Interval:
    worker: int
    phase: str
    index: int  # intervals since the phase's release
    interval: dict  # an encoded results.recorder.Bucket


@dataclass(frozen=True)
class Gather:
    """A worker's share of an exchange among the workers of a phase (WorkerContext.gather)."""

    worker: int
    phase: str
    round: int
    value: object


@dataclass(frozen=True)
class Gathered:
    phase: str
    round: int
    values: list  # every worker's share, by worker number


@dataclass(frozen=True)
class Restart:
    """A worker asks for a fresh hyperd on the same database (the cold protocol); its connections are closed."""

    worker: int
    phase: str


@dataclass(frozen=True)
class Restarted:
    """The fresh hyperd: where to connect, its pid, what became of the page cache ('' when it was dropped, else
    why not), the seconds the restart took; or why there is none (error)."""

    phase: str
    endpoint: str = ""
    pid: int | None = None
    page_cache: str = ""
    seconds: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class Hello:
    worker: int
    pid: int
    node: dict


@dataclass(frozen=True)
class Progress:
    phase: str
    values: list


@dataclass(frozen=True)
class Samples:
    samples: list  # (t_ns in the coordinator's clock, phase, process, pid, cpu_pct, rss_mib)


@dataclass(frozen=True)
class Lost:
    cause: str  # why the worker is gone, e.g. its node was lost
