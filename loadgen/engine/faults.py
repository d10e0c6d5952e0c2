"""Fault injection for reliability tests: make a worker fail for real at a chosen step.

LOADGEN_FAULT="WORKER:PHASE:STEP:ACTION[,…]" — STEP is setup, barrier or run; ACTION is
  raise    raise an exception (setup and run: at once; reported like any worker error)
  exit     os._exit(7) — a crash without a word
  kill     SIGKILL to itself
  hang     stop responding (sleep for an hour)
  sleepN   sleep N seconds, then go on
  sysexit  raise SystemExit (what a foreign signal handler may do)
`coordinator:run:cleanup:sleepN` makes the coordinator sleep at the start of a point's cleanup, so a test can
signal it there; `coordinator:PHASE:run:ACTION` acts in the coordinator once it has released the phase;
`coordinator:hyperd:restart:ACTION` once a fresh hyperd of the cold protocol has started, before loadgen holds it. At
`barrier` and `run`, exit and kill happen 0.5 s after the step starts, from a timer thread, so the worker really
is waiting at the barrier or in the middle of the phase. Unset in normal runs: the check is one dict lookup per
phase.
"""

import os
import signal
import sys
import threading
import time

FAULT_ENV = "LOADGEN_FAULT"
DELAY_S = 0.5


class InjectedFault(RuntimeError):
    pass


def act(action: str, where: str) -> None:
    if action == "raise":
        raise InjectedFault(f"fault injected at {where}")
    if action == "exit":
        os._exit(7)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "sysexit":
        sys.exit(f"fault injected at {where}")
    if action == "hang":
        time.sleep(3600)
    if action.startswith("sleep"):
        # said on stderr first, so that a test can act while we sleep (an observable event, not a guess)
        print(f"fault: sleeping {action[len('sleep') :]} s at {where}", file=sys.stderr, flush=True)
        time.sleep(float(action[len("sleep") :]))


def inject(worker: int, phase: str, step: str) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    for fault in spec.split(","):
        parts = fault.strip().split(":")
        if len(parts) != 4 or parts[:3] != [str(worker), phase, step]:
            continue
        action, where = parts[3], f"{step} of phase {phase}"
        if step in ("barrier", "run") and action in ("exit", "kill"):
            threading.Timer(DELAY_S, act, args=(action, where)).start()
        else:
            act(action, where)
