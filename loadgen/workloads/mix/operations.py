"""Parameterized SQL operations of a mix phase: `sql_operations:` in YAML.

An operation is one statement, or a list of statements run as one transaction, with `%s` placeholders that the
server binds (psycopg sends the values separately over the PostgreSQL protocol: never pasted into the SQL text).
Each placeholder takes its value from a parameter: a generator of the `data:` library with a SQL type
(`{type: INT, generator: {kind: zipf, n: 100}}`), or a value of an earlier result in the same session
(`{from: OPERATION, column: 0}`, a random row of that operation's latest result).

The values are drawn by loadgen/workloads/mix/binder.py.
"""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from loadgen.config.fields import StrictModel, excerpt
from loadgen.datagen.definitions import Column
from loadgen.datagen.kinds import Generator
from loadgen.datagen.sqltypes import SQL_TYPES

PLACEHOLDER = re.compile(r"%%|%s|%\(|%[a-zA-Z]")
OPERATION_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"


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

    type: str | None = Field(default=None, description=f"SQL type of a generated value: {SQL_TYPES}.")
    generator: Generator | None = Field(default=None, description="How a generated value is made (a data: generator).")
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
            Column(name="p", type=self.type, generator=self.generator)  # the same checks as a column
        return self

    def column_model(self) -> Column:
        return Column(name="p", type=self.type, generator=self.generator)


class Statement(StrictModel):
    sql: str = Field(min_length=1, max_length=100_000, description="SQL with %s placeholders; {table} = the table.")
    params: list[Param] = Field(default_factory=list, max_length=1000, description="One parameter per %s, in order.")

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

    sql: str | None = Field(
        default=None, min_length=1, max_length=100_000, description="One statement with %s placeholders."
    )
    params: list[Param] = Field(default_factory=list, max_length=1000, description="One parameter per %s, in order.")
    transaction: list[Statement] | None = Field(
        default=None, min_length=1, max_length=100, description="Instead of sql: statements run as one transaction."
    )
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


def is_numeric(param: Param) -> bool:
    return param.column_model().sql_type.base == "NUMERIC"
