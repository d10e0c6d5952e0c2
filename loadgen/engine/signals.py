"""SIGINT, SIGTERM and SIGHUP during a run: the first ends the run and lets its cleanup finish; a second cuts the
cleanup short (docs/design.md, "Signals and cleanup")."""

import contextlib
import os
import signal

from loadgen.errors import EXIT_INTERRUPTED, Interrupted

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Signals:
    """SIGINT, SIGTERM and SIGHUP during one run.

    The first signal ends the run: it raises Interrupted wherever the run is, and the cleanup that follows is the
    shutdown it asked for. A first signal that arrives while cleaning up lets the cleanup finish (it is already
    the shutdown). A second signal cuts the cleanup short: `force` kills the children, removes what they
    staged, marks the run interrupted and exits 130."""

    def __init__(self):
        self.received: list[str] = []
        self.cleaning = False
        self.holding = False  # a first signal waits for the end of a held block
        self.force = None  # set while there is something to kill; called with the signal's name
        self._previous: dict = {}

    def install(self) -> None:
        for sig in HANDLED_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, _frame) -> None:
        name = signal.Signals(signum).name
        self.received.append(name)
        if len(self.received) > 1:
            if self.force:
                self.force(name)
            os._exit(EXIT_INTERRUPTED)
        if not self.cleaning and not self.holding:
            raise Interrupted(f"interrupted by {name}")

    @contextlib.contextmanager
    def held(self):
        """A block a first signal must not cut in two (a finished phase's rows being written): the signal is
        raised when the block is done."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.received and not self.cleaning:
            raise Interrupted(f"interrupted by {self.received[0]}")
