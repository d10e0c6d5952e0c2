"""Staged Arrow files for the `arrow` method: where they go and how they are always removed.

hyperd reads (COPY FROM) and writes (COPY TO) these files itself, so they must live on the hyperd's host.
tmpfs (/dev/shm) keeps them out of the disk's way; a worker has at most two, for the duration of one phase
(loadgen/transfer/writers.py: StagedFiles).
"""

import contextlib
import itertools
import os
import re
import shutil
import tempfile

import psutil

SHM = "/dev/shm"
_counter = itertools.count()
# loadgen-staged-<worker pid>-<n>.arrows: a name nobody else writes, so a sweep can never take a user's file
STAGED_PREFIX = "loadgen-staged-"
STAGED_NAME = re.compile(r"^loadgen-staged-(\d+)-\d+\.arrows$")


def choose_dir(configured: str | None, needed_bytes: int) -> str:
    """The configured folder, else /dev/shm when it exists and has room for two files, else the temp folder."""
    if configured:
        return configured
    if os.path.isdir(SHM) and os.access(SHM, os.W_OK):
        try:
            if shutil.disk_usage(SHM).free > 2 * needed_bytes:
                return SHM
        except OSError:
            pass
    return tempfile.gettempdir()


def file_prefix(pid: int | None = None) -> str:
    return f"{STAGED_PREFIX}{pid or os.getpid()}-"


@contextlib.contextmanager
def staged_file(directory: str):
    """A fresh path in `directory` that is deleted when the block ends, whatever happens."""
    path = os.path.join(directory, f"{file_prefix()}{next(_counter)}.arrows")
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def folders(configured=()) -> list[str]:
    """Every folder staged files can be in: /dev/shm, the temp folder, and the configured ones."""
    return list(dict.fromkeys([SHM, tempfile.gettempdir(), *[c for c in configured if c]]))


def sweep_dead(configured=()) -> list[str]:
    """Delete staged files whose worker (the pid in the name) is gone: what a SIGKILLed worker or a run cut short
    by a second signal left. Returns the paths removed."""
    removed = []
    for directory in folders(configured):
        with contextlib.suppress(OSError):
            for name in os.listdir(directory):
                pid = STAGED_NAME.match(name)
                if pid and not psutil.pid_exists(int(pid.group(1))) and owned(os.path.join(directory, name)):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(directory, name))
                        removed.append(os.path.join(directory, name))
    return removed


def owned(path: str) -> bool:
    """Whether this user owns the file (a shared /dev/shm may hold another user's run)."""
    try:
        return os.stat(path).st_uid == os.getuid()
    except OSError:
        return False


def remove_leftovers(pid: int, configured=()) -> list[str]:
    """Delete staged files a dead worker (by pid) left behind, in the default folders and any configured
    `staging_dir`. Returns what was removed."""
    removed = []
    prefix = file_prefix(pid)
    for directory in folders(configured):
        with contextlib.suppress(OSError):
            for name in os.listdir(directory):
                if name.startswith(prefix):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(directory, name))
                        removed.append(name)
    return removed
