"""Parameterized SQL operations of a mix phase: `sql_operations:` in YAML.

An operation is one statement, or a list of statements run as one transaction, with `%s` placeholders that the
server binds (psycopg sends the values separately over the PostgreSQL protocol: never pasted into the SQL text).
Each placeholder takes its value from a parameter: a generator of the `data:` library with a SQL type
(`{type: INT, generator: {kind: zipf, n: 100}}`), or a value of an earlier result in the same session
(`{from: OPERATION, column: 0}`, a random row of that operation's latest result).

Values are drawn in batches with the vectorised generators (generators.column_array) and handed out one by one,
so an operation costs no numpy call. Every stream is a function of (seed, worker, session, operation, parameter).
"""

from __future__ import annotations

import re
import zlib
from decimal import Decimal

from pydantic import Field, model_validator

from loadgen import tables
from loadgen.workloads.base import StrictModel, excerpt

PLACEHOLDER = re.compile(r"%%|%s|%\(|%[a-zA-Z]")
OPERATION_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
DRAW_BATCH = 1024  # values drawn per refill of a parameter stream


def count_placeholders(sql: str) -> int:
    """The number of `%s` in a statement; `%%` is a literal percent sign. Other forms are refused."""
    count = 0
    for match in PLACEHOLDER.finditer(sql):
        token = match.group()
        if token == "%s":
            count += 1
        elif token != "%%":
            raise ValueError(
                f"{excerpt(token)} in {excerpt(sql)}: write each parameter as %s (bound by the server, in order); "
                "a literal percent sign as %%"
            )
    return count


class Param(StrictModel):
    """A generated value (`type` + `generator`) or a value read from an earlier result (`from` + `column`)."""

    type: str | None = Field(default=None, description=f"SQL type of a generated value: {tables.SQL_TYPES}.")
    generator: tables.Generator | None = None
    from_: str | None = Field(
        default=None, alias="from", pattern=OPERATION_NAME, description="An operation whose latest result feeds this."
    )
    column: int = Field(default=0, ge=0, le=1000, description="Column index in that result.")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.from_ is None) == (self.generator is None):
            raise ValueError("a parameter needs either type + generator, or from (an operation) + column")
        if self.generator is not None:
            if self.type is None:
                raise ValueError("a generated parameter needs a type (e.g. INT, TEXT, DATE)")
            tables.Column(name="p", type=self.type, generator=self.generator)  # the same checks as a column
        return self

    def column_model(self) -> tables.Column:
        return tables.Column(name="p", type=self.type, generator=self.generator)


class Statement(StrictModel):
    sql: str = Field(min_length=1, max_length=100_000, description="SQL with %s placeholders; {table} = the table.")
    params: list[Param] = Field(default_factory=list, max_length=1000)

    def server_sql(self) -> str:
        """The SQL as sent: the placeholder of each generated NUMERIC parameter becomes CAST(%s AS NUMERIC(p,s)),
        and its value goes out as text (ParamStream). psycopg binds a Decimal with the bare `numeric` type, which
        Hyper reads as NUMERIC(1,0) (found by test: 1.5 arrived as 2, 9.99 overflowed, even with `%s::NUMERIC(12,2)`);
        the protocol carries no precision and scale, so the statement gives them."""
        casts = iter(
            f"CAST(%s AS {p.column_model().sql_type.sql})" if p.generator is not None and is_numeric(p) else "%s"
            for p in self.params
        )
        return PLACEHOLDER.sub(lambda m: next(casts) if m.group() == "%s" else m.group(), self.sql)

    @model_validator(mode="after")
    def _params_fit(self):
        wanted = count_placeholders(self.sql)
        if wanted != len(self.params):
            raise ValueError(
                f"the statement has {wanted} placeholder(s) (%s) and {len(self.params)} parameter(s); "
                "give one parameter per placeholder, in order"
            )
        return self


class SqlOperation(StrictModel):
    """One statement (`sql` + `params`) or a transaction (`transaction`: a list of statements)."""

    sql: str | None = Field(default=None, min_length=1, max_length=100_000)
    params: list[Param] = Field(default_factory=list, max_length=1000)
    transaction: list[Statement] | None = Field(default=None, min_length=1, max_length=100)
    prepare: bool = Field(default=False, description="Prepare the statement(s) on the server once per session.")

    @model_validator(mode="after")
    def _one_form(self):
        if (self.sql is None) == (self.transaction is None):
            raise ValueError("give either sql (+ params) or transaction (a list of statements)")
        if self.sql is not None:
            Statement(sql=self.sql, params=self.params)
        elif self.params:
            raise ValueError("params belong to each statement of the transaction")
        return self

    def statements(self) -> list[Statement]:
        return self.transaction if self.transaction is not None else [Statement(sql=self.sql, params=self.params)]

    def sources(self) -> set[str]:
        """Operations whose results feed this one."""
        return {p.from_ for s in self.statements() for p in s.params if p.from_}


class ParamStream:
    """Values of one generated parameter for one session, drawn DRAW_BATCH at a time."""

    def __init__(self, param: Param, seed: int, key: str, stream: int, streams: int):
        column = param.column_model()
        gen = column.generator
        if gen.kind == "sequence":  # interleave the sessions' sequences so that no two sessions draw the same value
            column = column.model_copy(
                update={
                    "generator": gen.model_copy(update={"start": _shifted(gen, stream), "step": gen.step * streams})
                }
            )
        self.column = column
        self.seed, self.key, self.stream = seed, zlib.crc32(key.encode()), stream
        self.drawn = 0
        self.values: list = []

    def next(self):
        if not self.values:
            from loadgen import generators  # numpy/pyarrow work: a worker pays this only when it draws

            rng = generators.batch_rng(self.seed, str(self.key), self.stream, self.drawn, 0)
            self.values = generators.column_array(self.column, DRAW_BATCH, self.drawn, rng).to_pylist()
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


def is_numeric(param: Param) -> bool:
    return param.column_model().sql_type.base == "NUMERIC"


def _timedelta(value):
    import datetime as dt

    return dt.timedelta(days=value.months * 30 + value.days, microseconds=value.nanoseconds // 1000)


def typed_integer(base: str):
    """The psycopg wrapper that binds an int with the parameter's SQL type (None: the default adaptation fits)."""
    from psycopg.types.numeric import Int2, Int4, Int8

    return {"SMALLINT": Int2, "INT": Int4, "BIGINT": Int8}.get(base)


def _shifted(gen, stream: int):
    """A sequence's start moved by `stream` steps (dates and timestamps step in days and seconds)."""
    start = gen.start
    if isinstance(start, int | float) and not isinstance(start, bool):
        return start + stream * gen.step
    import datetime as dt

    if isinstance(start, dt.datetime):
        return start + dt.timedelta(seconds=stream * gen.step)
    if isinstance(start, dt.date):
        return start + dt.timedelta(days=stream * gen.step)
    text = str(start)
    try:
        return (dt.date.fromisoformat(text) + dt.timedelta(days=stream * gen.step)).isoformat()
    except ValueError:
        pass
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (stamp + dt.timedelta(seconds=stream * gen.step)).isoformat()
    except ValueError:  # an INTERVAL ('90 minutes'): as seconds
        return tables.interval_us(text) / 1_000_000 + stream * gen.step


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
