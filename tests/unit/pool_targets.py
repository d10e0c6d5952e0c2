"""Stand-in worker targets for the pool's unit tests (importable by spawned processes; no hyperd)."""

import os
import time

from loadgen.engine import worker


def well_behaved(spec, link, _stop_raw, progress):
    """Ready, go, a result per phase — what worker.main says, without a server."""
    for phase in spec.phases:
        link.send({"kind": "ready", "phase": phase})
        message = link.recv()
        assert message["kind"] == "go"
        progress[1 + worker.PROGRESS_SLOTS * spec.worker] += 1
        link.send({"kind": "result", "phase": phase, "worker": spec.worker, "pid": os.getpid()})


def dies_in_phase(spec, link, _stop_raw, _progress):
    link.send({"kind": "ready", "phase": spec.phases[0]})
    link.recv()
    if spec.worker == 1:
        os._exit(9)
    time.sleep(60)  # the other one would work on; the pool must not wait for it


def raises_in_setup(spec, link, _stop_raw, _progress):
    if spec.worker == 0:
        link.send({"kind": "error", "worker": 0, "phase": spec.phases[0], "message": "ValueError: broken setup"})
        os._exit(1)
    link.send({"kind": "ready", "phase": spec.phases[0]})
    time.sleep(60)
