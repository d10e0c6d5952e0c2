"""The open-files limit (RLIMIT_NOFILE) that many sessions run into.

Every session is a socket in its worker, and two open files in hyperd: its socket, and from its first statement on
its transient session database (measured: 1,000 idle sessions hold 1,018 files in hyperd, 2,018 once each ran a
SELECT 1). A process cannot hold more open files than its soft limit (`ulimit -n`, often 1024): past it a worker's
connect fails ("no error details available"), and hyperd stops accepting (its clients wait until their connect
timeout, with no hint) or fails a session's first statement ("cannot create temp database"). A process may raise
its own soft limit up to its hard limit; hyperd inherits the coordinator's limit when it starts, so the coordinator
raises it before starting hyperd (its workers inherit it too). Needs past the hard limit are refused before
anything starts, with the numbers.
"""

from __future__ import annotations

import errno
import os
import resource

WORKER_FILES = 64  # a worker's own open files besides its sessions: Python, its pipe, its Hyper connection, libraries
HYPERD_FILES = 64  # hyperd's own (idle: 18) besides its sessions: logs, database files, listening sockets
HYPERD_FILES_PER_SESSION = 2  # its socket and its transient database
PER_WORKER_FILES = 4  # each worker's own Hyper connection (2) and database file, as hyperd counts them


def most_sessions(scenario) -> tuple[int, str]:
    """The most sessions one worker holds at once, and the phase that holds them: phases run one after the other
    and each closes its sessions at its end."""
    return max(((getattr(phase, "sessions", 1) or 1), phase.name) for phase in scenario.phases)


def worker_need(sessions: int) -> int:
    return sessions + WORKER_FILES


def hyperd_need(sessions: int, workers: int) -> int:
    return workers * (sessions * HYPERD_FILES_PER_SESSION + PER_WORKER_FILES) + HYPERD_FILES


def current() -> tuple[int, int]:
    """(soft, hard); an unlimited hard limit reads as the kernel's ceiling (fs.nr_open)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = kernel_ceiling()
    return soft, hard


def kernel_ceiling() -> int:
    try:
        with open("/proc/sys/fs/nr_open", encoding="ascii") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 1 << 20


def open_now() -> int:
    """This process's open files now (0 where /proc is not there)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def out_of_files() -> bool:
    """Whether this process is at its open-files limit (libpq then says only "no error details available")."""
    try:
        count = len(os.listdir("/proc/self/fd"))
    except OSError as exc:
        return exc.errno in (errno.EMFILE, errno.ENFILE)
    return count + 2 >= current()[0]


def shortfall(need: int, who: str, why: str) -> str | None:
    """A message naming what to raise when `need` open files exceed the hard limit; None when it fits."""
    _, hard = current()
    if need <= hard:
        return None
    return (
        f"{why} need about {need:,} open files in {who}, but the open-files hard limit is {hard:,}: raise "
        f"ulimit -n to {need} or more (the hard limit too: ulimit -Hn as root, or nofile in "
        "/etc/security/limits.conf) or lower sessions"
    )


def raise_soft(need: int) -> str | None:
    """Raise the soft limit to the hard one when `need` open files exceed it; returns a note saying so (None when
    nothing changed). The caller has checked the hard limit (shortfall)."""
    soft, hard = current()
    if need <= soft or soft >= hard:
        return None
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    return f"raised the open-files soft limit (ulimit -n) from {soft:,} to {hard:,}: about {need:,} are needed"
