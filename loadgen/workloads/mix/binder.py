"""Parameter values of a mix phase's `sql_operations:`, per session: generated streams and the latest results.

Values are drawn in batches with the vectorised generators (datagen.generate.column_array) and handed out one by
one, so an operation costs no numpy call. Every stream is a function of (seed, worker, session, operation,
parameter).
"""

from __future__ import annotations

import datetime as dt
import zlib
from decimal import Decimal

from psycopg.types.numeric import Int2, Int4, Int8

from loadgen.workloads.mix.operations import Param, SqlOperation, Statement

DRAW_BATCH = 1024  # values drawn per refill of a parameter stream


class ParamStream:
    """Values of one generated parameter for one session, drawn DRAW_BATCH at a time."""

    def __init__(self, param: Param, seed: int, key: str, stream: int, streams: int):
        column = param.column_model()
        self.column = column.model_copy(update={"generator": column.generator.interleaved(stream, streams)})
        self.seed, self.key, self.stream = seed, zlib.crc32(key.encode()), stream
        self.drawn = 0
        self.values: list = []

    def next(self):
        if not self.values:
            from loadgen.datagen import generate  # numpy and pyarrow: only a worker that draws values loads them

            rng = generate.batch_rng(self.seed, str(self.key), self.stream, self.drawn, 0)
            self.values = generate.column_array(self.column, DRAW_BATCH, self.drawn, rng).to_pylist()
            typed = typed_integer(self.column.sql_type.base)
            if self.column.sql_type.base == "INTERVAL":  # Arrow's (months, days, ns) → a timedelta psycopg binds
                self.values = [v if v is None else _timedelta(v) for v in self.values]
            elif self.column.sql_type.base == "NUMERIC":  # text, read by the CAST of Statement.server_sql
                self.values = [v if v is None else format(v, "f") for v in self.values]
            elif typed is not None:  # a Python int alone goes out as numeric: Hyper wants INT where it takes INT
                self.values = [v if v is None else typed(v) for v in self.values]
            self.values.reverse()  # pop() from the end hands them out in order
            self.drawn += DRAW_BATCH
        return self.values.pop()


def _timedelta(value):
    return dt.timedelta(days=value.months * 30 + value.days, microseconds=value.nanoseconds // 1000)


def typed_integer(base: str):
    """The psycopg wrapper that binds an int with the parameter's SQL type (None: the default adaptation fits)."""
    return {"SMALLINT": Int2, "INT": Int4, "BIGINT": Int8}.get(base)


class NoValue(LookupError):
    """A parameter reads a result that has no rows: a failed operation, counted like a database error."""


class Binder:
    """The parameter values of one session's operations: generated streams and the latest results it saw."""

    def __init__(self, operations: dict[str, SqlOperation], seed: int, stream: int, streams: int):
        """`stream`: this session's number among all `streams` sessions of the phase (worker × sessions + session)."""
        self.latest: dict[str, list] = {}  # operation -> rows of its latest non-empty result (kept only if needed)
        self.wanted = set().union(*(op.sources() for op in operations.values())) if operations else set()
        self.streams: dict[tuple[str, int, int], ParamStream] = {}
        for name, op in operations.items():
            for s, statement in enumerate(op.statements()):
                for p, param in enumerate(statement.params):
                    if param.generator is not None:
                        key = f"{name}/{s}/{p}"
                        self.streams[(name, s, p)] = ParamStream(param, seed, key, stream, streams)
        self.pick = None  # set by the session: a function n -> random index below n

    def values(self, name: str, s: int, statement: Statement) -> tuple | None:
        """The statement's parameters, or None when a `from` operation has no result yet in this session."""
        out = []
        for p, param in enumerate(statement.params):
            if param.from_ is not None:
                rows = self.latest.get(param.from_)
                if not rows:
                    return None
                row = rows[self.pick(len(rows))]
                if param.column >= len(row):
                    raise IndexError(f"{param.from_} returns {len(row)} column(s), no column {param.column}")
                value = row[param.column]
                # a NUMERIC result goes back as text, which the server reads as the type the statement gives it (a
                # column it is compared with, a CAST): psycopg's numeric binding would reach Hyper as NUMERIC(1,0)
                out.append(format(value, "f") if isinstance(value, Decimal) else value)
            else:
                out.append(self.streams[(name, s, p)].next())
        return tuple(out)

    def saw(self, name: str, rows: list | None) -> None:
        if name in self.wanted and rows:
            self.latest[name] = rows
