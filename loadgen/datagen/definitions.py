"""Table definitions of a scenario's `data:` section: columns with a Hyper SQL type, nullability and a generator.

Everything a definition can get wrong is refused here, at validation (pydantic), with the column's location:
an unknown SQL type, a generator that does not fit the type, weights of another length than values, nulls on a
NOT NULL column, a range with low > high, text longer than VARCHAR(n)/CHAR(n). The values of a generator are kept
in the column's *domain* (loadgen/datagen/sqltypes.py) so that generating and verifying work on plain integers
wherever the type allows: NUMERIC as scaled integers, DATE as days and TIMESTAMP as microseconds since 1970-01-01.
"""

from pydantic import Field, field_validator, model_validator

from loadgen.config.fields import StrictModel, check_placeholders, excerpt, placeholders
from loadgen.datagen.kinds import Generator, fitting
from loadgen.datagen.sqltypes import SQL_TYPES, SqlType, parse_sql_type


class Column(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", description="Column name (letters, digits, _).")
    type: str = Field(description=f"Hyper SQL type: {SQL_TYPES}.")
    nullable: bool = Field(default=True, description="false: NOT NULL.")
    null_fraction: float = Field(default=0.0, ge=0, le=1, description="Share of NULLs (nullable columns).")
    generator: Generator | None = Field(
        default=None, description="How values are made; a column without one can only be loaded from files (source:)."
    )

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        return parse_sql_type(value).sql

    @property
    def sql_type(self) -> SqlType:
        return parse_sql_type(self.type)

    @field_validator("null_fraction")
    @classmethod
    def _nulls_allowed(cls, value, info):
        if value > 0 and info.data.get("nullable") is False:
            raise ValueError(f"null_fraction {value} on a NOT NULL column (nullable: false); remove one of them")
        return value

    @field_validator("generator")
    @classmethod
    def _fits(cls, gen, info):
        if gen is None or "type" not in info.data:  # no generator (files only), or the type itself was refused
            return gen
        sql = parse_sql_type(info.data["type"])
        if sql.domain not in gen.fits:
            allowed = ", ".join(fitting(sql.domain))
            raise ValueError(f"generator {gen.kind} does not fit {sql.sql} (allowed for {sql.sql}: {allowed})")
        gen.check(sql)
        longest = gen.max_text_length() if sql.domain == "text" else None
        if longest is not None and sql.length and longest > sql.length:
            raise ValueError(f"generator {gen.kind} makes text of up to {longest} characters, longer than {sql.sql}")
        return gen


class TableDefinition(StrictModel):
    name: str | None = Field(
        default=None,
        max_length=120,
        description="Table name; with {worker} one table per worker, without it one table all workers share. "
        "Default: KEY_{worker}.",
    )
    columns: list[Column] = Field(min_length=1, max_length=1000, description="The table's columns, in order.")

    @field_validator("name")
    @classmethod
    def _placeholders(cls, value):
        if value is not None:
            check_placeholders(value, ("worker",))
        return value

    @model_validator(mode="after")
    def _unique_columns(self):
        seen = set()
        for column in self.columns:
            if column.name.lower() in seen:
                raise ValueError(f"duplicate column name {excerpt(column.name)}")
            seen.add(column.name.lower())
        return self

    def table_name(self, key: str, worker: int) -> str:
        return (self.name or key + "_{worker}").format(worker=worker)

    def shared(self, key: str) -> bool:
        return "worker" not in placeholders(self.name or key + "_{worker}")

    def without_generator(self) -> list[str]:
        """Columns that only files can fill."""
        return [c.name for c in self.columns if c.generator is None]

    def create_sql(self, table_sql: str) -> str:
        cols = ", ".join(f"{quote(c.name)} {c.sql_type.sql}{'' if c.nullable else ' NOT NULL'}" for c in self.columns)
        return f"CREATE TABLE {table_sql} ({cols})"

    def row_bytes(self) -> int:
        """Nominal bytes per row for MiB/s: fixed widths, text at its average generated length (estimated)."""
        return sum(_nominal_bytes(c) for c in self.columns)


def _nominal_bytes(column: Column) -> int:
    sql, gen = column.sql_type, column.generator
    if sql.domain != "text":
        return {"SMALLINT": 2, "INT": 4, "DATE": 4, "BOOL": 1, "NUMERIC": 16, "INTERVAL": 16}.get(sql.base, 8)
    if gen is None:
        return sql.length or 16  # loaded from files: a guess, only for MiB/s
    return gen.nominal_text_bytes()


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
