"""Error kinds. The CLI turns each into `error: …` and the exit code it carries."""

import signal

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class LoadgenError(Exception):
    """Base class: a message meant for the user, and the exit code that goes with it."""

    exit_code = EXIT_RUN_FAILED


class ScenarioError(LoadgenError):
    """Bad scenario file, override or usage. Raised before anything starts or is written.

    `problems` holds one line per mistake so that a file's mistakes are reported together.
    """

    exit_code = EXIT_USAGE

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ServerError(LoadgenError):
    """hyperd could not be started, reached, or died during the run."""


class WorkerError(LoadgenError):
    """A worker process raised or died."""


class VerificationError(LoadgenError):
    """The data in Hyper does not match what the workload wrote or expected to read."""


class ErrorBudgetExceeded(LoadgenError):
    """More operations of a phase failed than its max_error_rate allows."""


class ThresholdAborted(LoadgenError):
    """An abort threshold fired during a phase: the phase ended early, its measurements are kept."""


class LimitError(LoadgenError):
    """The scenario asks for more than a limit of this machine or setting allows (open files, a connect time): the
    message names the limit, the numbers and what to raise. Exit 2, like a scenario to change."""

    exit_code = EXIT_USAGE


class NotARunFolder(LoadgenError):
    """A path given to compare or report is not a run folder (bad usage: exit 2)."""

    exit_code = EXIT_USAGE


class ResultsError(LoadgenError):
    """The results folder cannot be written."""


class Interrupted(LoadgenError):
    """SIGINT or SIGTERM reached the coordinator."""

    exit_code = EXIT_INTERRUPTED


def describe_exit(code: int | None) -> str:
    """How a process ended, from its exit code (negative: the signal that killed it)."""
    if code is None:
        return "exited (exit code unknown)"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"
