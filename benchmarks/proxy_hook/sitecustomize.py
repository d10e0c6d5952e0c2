"""Stamps of one loadgen worker's phase, for benchmarks/bench_arrow_proxy.py; inert unless LOADGEN_PROXY_STAMPS is
set (a folder). The bench puts this folder on PYTHONPATH of the `loadgen run` it starts, so every process of that
run (the coordinator, and each spawned worker) imports it at start-up.

In a worker it wraps the phase's Recorder: created right after the start barrier's `go` (it is handed the
coordinator's release stamp), started right before the workload's run and stopped right after it. At the stop it
appends one JSON line to FOLDER/<pid>.jsonl: the release, go, start, first-COPY and end stamps (perf_counter_ns,
one clock for every process of a host), the wall clock at the release (to place hyperd's log lines), and the
process's CPU seconds (psutil: all its threads) and rusage (page faults, context switches) over the run, and
hyperd's CPU seconds over the same span when LOADGEN_PROXY_HYPERD_PID names it.
The first COPY is stamped as the worker issues it: tableauhyperapi's execute_command (arrow) or psycopg's
cursor.copy (arrow_stream).

Where loadgen's Recorder lives is the one thing this file knows of loadgen's layout (RECORDER below)."""

import importlib
import json
import os
import resource
import time

RECORDER = ("loadgen.results.recorder", "Recorder")
FOLDER = os.environ.get("LOADGEN_PROXY_STAMPS")


HYPERD_PID = os.environ.get("LOADGEN_PROXY_HYPERD_PID")


def _usage() -> dict:
    import psutil

    cpu = psutil.Process().cpu_times()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out = {
        "user_s": cpu.user,
        "system_s": cpu.system,
        "minflt": ru.ru_minflt,
        "majflt": ru.ru_majflt,
        "nvcsw": ru.ru_nvcsw,
        "nivcsw": ru.ru_nivcsw,
    }
    if HYPERD_PID:
        hyperd = psutil.Process(int(HYPERD_PID)).cpu_times()
        out.update(hyperd_user_s=hyperd.user, hyperd_system_s=hyperd.system)
    return out


def _install() -> None:
    state: dict = {}
    module = importlib.import_module(RECORDER[0])
    recorder = getattr(module, RECORDER[1])
    init, start, stop = recorder.__init__, recorder.start, recorder.stop

    def first_copy(sql) -> None:
        if "first_copy_ns" not in state and "start_ns" in state and str(sql).lstrip().upper().startswith("COPY"):
            state["first_copy_ns"] = time.perf_counter_ns()

    def wrapped_init(self, progress=None, origin_ns=0, *args, **kwargs):
        now_ns, epoch_ns = time.perf_counter_ns(), time.time_ns()
        state.clear()
        state.update(release_ns=origin_ns, go_ns=now_ns, release_epoch_ns=epoch_ns - (now_ns - origin_ns))
        init(self, progress, origin_ns, *args, **kwargs)

    def wrapped_start(self):
        state["usage0"] = _usage()
        state["start_ns"] = time.perf_counter_ns()
        start(self)

    def wrapped_stop(self):
        stop(self)
        if "start_ns" not in state or "end_ns" in state:
            return
        state["end_ns"] = time.perf_counter_ns()
        used = _usage()
        line = {k: v for k, v in state.items() if k != "usage0"}
        line.update({k: used[k] - state["usage0"][k] for k in used})
        line["rows"] = self.rows
        with open(os.path.join(FOLDER, f"{os.getpid()}.jsonl"), "a") as handle:
            handle.write(json.dumps(line) + "\n")

    recorder.__init__, recorder.start, recorder.stop = wrapped_init, wrapped_start, wrapped_stop

    from tableauhyperapi import Connection

    execute = Connection.execute_command

    def wrapped_execute(self, command, *args, **kwargs):
        first_copy(command)
        return execute(self, command, *args, **kwargs)

    Connection.execute_command = wrapped_execute

    import psycopg

    copy = psycopg.Cursor.copy

    def wrapped_copy(self, statement, *args, **kwargs):
        first_copy(statement)
        return copy(self, statement, *args, **kwargs)

    psycopg.Cursor.copy = wrapped_copy


if FOLDER:
    _install()
