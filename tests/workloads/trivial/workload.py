"""`workload: trivial` as a worker runs it: the statement, `statements` times, each one operation; the workers'
counts go to the coordinator, which checks them and prints a line."""

from loadgen.workloads.contract import Workload


class TrivialWorkload(Workload):
    def setup(self) -> None:
        self.done = 0

    def run(self, recorder) -> None:
        for _ in range(self.phase.statements):
            if self.ctx.stop.is_set():
                return
            with recorder.op("statement") as op:
                op.rows = len(self.ctx.connection.execute_list_query(self.phase.sql))
            self.done += 1

    def verify(self) -> dict:
        ok = self.done == self.phase.statements
        return {"verified": "ok" if ok else "failed", "detail": "" if ok else f"ran {self.done}"}

    def report(self) -> int:
        return self.done

    @classmethod
    def after_phase(cls, phase, outcome, output) -> list[str]:
        return [f"trivial {phase.name}: {sum(outcome.reports)} statements by {len(outcome.reports)} workers"]
