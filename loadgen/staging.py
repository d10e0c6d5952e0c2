"""Staged Arrow files for the `arrow` method: where they go and how they are always removed.

hyperd reads (COPY FROM) and writes (COPY TO) these files itself, so they must live on the hyperd's host.
tmpfs (/dev/shm) keeps them out of the disk's way; the file exists only for the duration of one COPY.
"""

import contextlib
import itertools
import os
import shutil
import tempfile

SHM = "/dev/shm"
_counter = itertools.count()


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


def file_prefix() -> str:
    return f"loadgen-{os.getpid()}-"


@contextlib.contextmanager
def staged_file(directory: str, suffix: str = ".arrows"):
    """A fresh path in `directory` that is deleted when the block ends, whatever happens."""
    path = os.path.join(directory, f"{file_prefix()}{next(_counter)}{suffix}")
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def remove_leftovers(pid: int, configured=()) -> list[str]:
    """Delete staged files a dead worker (by pid) left behind, in the default folders and any configured
    `staging_dir`. Returns what was removed."""
    removed = []
    prefix = f"loadgen-{pid}-"
    for directory in dict.fromkeys((SHM, None, *configured)):
        directory = directory or tempfile.gettempdir()
        with contextlib.suppress(OSError):
            for name in os.listdir(directory):
                if name.startswith(prefix):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(directory, name))
                        removed.append(name)
    return removed
