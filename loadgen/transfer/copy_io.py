"""File objects over a psycopg COPY, so that pyarrow writes an Arrow IPC stream into COPY … FROM STDIN and reads
one from COPY … TO STDOUT as the bytes arrive."""

import io


class CopyWriter:
    """A write-only file object that forwards pyarrow's IPC bytes into a psycopg COPY."""

    closed = False

    def __init__(self, copy):
        self._copy = copy

    def write(self, buffer) -> int:
        self._copy.write(buffer)
        return len(buffer)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True


class CopyReader(io.RawIOBase):
    """A readable file over a psycopg COPY TO STDOUT, so pyarrow decodes batches as the bytes arrive."""

    def __init__(self, copy):
        self._chunks = iter(copy)
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = memoryview(chunk)
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n
