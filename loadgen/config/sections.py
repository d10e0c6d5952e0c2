"""The sections every scenario has besides its phases: server, sampling, timeouts, output."""

from typing import Literal

from pydantic import Field

from loadgen.config.fields import HOUR_S, WEEK_S, Count, Number, StrictModel
from loadgen.config.hyperd import HyperdConfig

ENDPOINT_PATTERN = r"^tab\.(tcp|domain)://.+"


class ServerConfig(StrictModel):
    endpoint: str | None = Field(
        default=None,
        pattern=ENDPOINT_PATTERN,
        description="Existing hyperd to use (tab.tcp://host:port or tab.domain://dir/domain/name); "
        "default: start a private hyperd for the run.",
    )
    transport: Literal["domain", "tcp"] = Field(
        default="domain", description="How the embedded hyperd listens: a domain socket or TCP on localhost."
    )
    database: Literal["shared", "per_worker"] = Field(
        default="shared", description="One database file for all workers, or one per worker."
    )
    database_dir: str | None = Field(
        default=None, description="Where database files are created (default: a fresh temp folder)."
    )
    keep_database: bool = Field(default=False, description="Keep the database files after the run.")
    replace_existing: bool = Field(
        default=False,
        description="Drop and re-create database files that already exist (in database_dir or at the endpoint). "
        "Default: refuse to start, so a run never destroys data it did not create.",
    )
    connect_timeout_s: Number = Field(
        default=5.0, gt=0, le=300, description="How long any connection attempt to hyperd may take."
    )
    user: str | None = Field(default=None, min_length=1, description="User name for the endpoint, if it needs one.")
    password_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable that holds the password (never the password itself).",
    )
    parameters: dict[str, str] = Field(
        default_factory=dict, description="Extra hyperd parameters for the embedded server."
    )
    hyperd: HyperdConfig | None = Field(
        default=None,
        description="Which hyperd the private server runs: {version: V} (a tableauhyperapi wheel's, fetched once "
        "into loadgen's cache) or {path: FOLDER} (a local build); default: the installed wheel's.",
    )


class SamplingConfig(StrictModel):
    enabled: bool = Field(default=True, description="Sample CPU and memory (samples.csv).")
    interval_ms: Count = Field(
        default=100, ge=10, le=60_000, description="psutil sampling of hyperd, workers, coordinator and host."
    )
    timeseries_interval_s: Number = Field(default=1.0, gt=0, le=HOUR_S, description="Bucket width of timeseries.csv.")


class TimeoutsConfig(StrictModel):
    barrier_s: Number = Field(default=120.0, gt=0, le=WEEK_S, description="How long anyone waits at a phase barrier.")
    phase_s: Number = Field(default=3600.0, gt=0, le=WEEK_S, description="Maximum duration of a phase.")
    worker_stop_s: Number = Field(
        default=2.0,
        gt=0,
        le=HOUR_S,
        description="How long workers get to stop by themselves before SIGTERM, then SIGKILL.",
    )
    hyperd_stop_s: Number = Field(
        default=30.0, gt=0, le=HOUR_S, description="How long hyperd gets to shut down before SIGKILL."
    )


class OutputConfig(StrictModel):
    dir: str = Field(default="results", description="Parent folder of the run folders.")
