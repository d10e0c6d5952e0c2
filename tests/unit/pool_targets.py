"""Stand-in worker targets for the backend's unit tests (importable by spawned processes; no hyperd)."""

import os
import time

from loadgen.engine import protocol, worker
from loadgen.results.recorder import Measurement


def well_behaved(spec, link, _stop_raw, progress):
    """Ready, go, a result per phase — what worker.main says, without a server."""
    for phase in spec.phases:
        link.send(protocol.Ready(phase))
        message = link.recv()
        assert isinstance(message, protocol.Go)
        progress[1 + worker.PROGRESS_SLOTS * spec.worker] += 1
        link.send(protocol.Result(spec.worker, phase, os.getpid(), Measurement()))


def dies_in_phase(spec, link, _stop_raw, _progress):
    link.send(protocol.Ready(spec.phases[0]))
    link.recv()
    if spec.worker == 1:
        os._exit(9)
    time.sleep(60)  # the other one would work on; the backend must not wait for it


def raises_in_setup(spec, link, _stop_raw, _progress):
    if spec.worker == 0:
        link.send(protocol.Failure(0, spec.phases[0], os.getpid(), "ValueError: broken setup"))
        os._exit(1)
    link.send(protocol.Ready(spec.phases[0]))
    time.sleep(60)


def exchanges(spec, link, _stop_raw, _progress):
    """Each worker sends its number squared through a Gather, then reports what came back as its result."""
    phase = spec.phases[0]
    link.send(protocol.Ready(phase))
    link.recv()
    link.send(protocol.Gather(spec.worker, phase, 1, spec.worker**2))
    gathered = link.recv()
    link.send(protocol.Result(spec.worker, phase, os.getpid(), Measurement(), report=gathered.values))
