"""`workload: python` (and installed plugins) as a worker runs it: the user's class, with every failure of its code
named by the class, the worker and the file:line where the user's code raised."""

import sys

from loadgen.errors import LoadgenError
from loadgen.workloads.contract import Workload
from loadgen.workloads.python.loader import where_raised


class PluginError(Exception):
    """A user's workload raised: what, where in their code, in which class and worker."""


class PythonWorkload(Workload):
    def __init__(self, phase, ctx):
        super().__init__(phase, ctx)
        self.klass = phase.user_class()
        self.user = self._call(self.klass, phase, ctx)

    def _call(self, method, *args):
        try:
            return method(*args)
        except (LoadgenError, PluginError):
            raise
        except Exception as exc:
            if self.ctx.stop.is_set():  # the run is ending: the worker sends what was measured, this is no cause
                raise
            name = getattr(method, "__name__", "?")
            inside = getattr(sys.modules.get(self.klass.__module__), "__file__", None)
            raise PluginError(
                f"{self.klass.__name__}.{name} (worker {self.ctx.worker}) raised at {where_raised(exc, inside)}: "
                f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
            ) from exc

    def setup(self) -> None:
        self._call(self.user.setup)

    def warmup(self, recorder) -> None:
        self._call(self.user.warmup, recorder)

    def run(self, recorder) -> None:
        self._call(self.user.run, recorder)

    def verify(self):
        return self._call(self.user.verify)

    def report(self):
        return self._call(self.user.report)

    def close(self) -> None:
        self._call(self.user.close)

    @classmethod
    def summarize(cls, phase, reports: list, ops: int) -> dict:
        return {}

    @classmethod
    def after_phase(cls, phase, outcome, output) -> list[str]:
        return list(phase.user_class().after_phase(phase, outcome, output) or [])
