"""Table definitions of a scenario's `data:` section: columns with a Hyper SQL type, nullability and a generator.

Everything a definition can get wrong is refused here, at validation (pydantic), with the column's location:
an unknown SQL type, a generator that does not fit the type, weights of another length than values, nulls on a
NOT NULL column, a range with low > high, text longer than VARCHAR(n)/CHAR(n). The values of a generator are kept
in the column's *domain* (see `SqlType.domain`) so that generating and verifying work on plain integers wherever
the type allows: NUMERIC as scaled integers, DATE as days and TIMESTAMP as microseconds since 1970-01-01.
"""

import datetime as dt
import difflib
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Literal

import pyarrow as pa
from pydantic import BeforeValidator, Field, field_validator, model_validator

from loadgen.workloads.base import Count, StrictModel, excerpt, placeholders

EPOCH_DATE = dt.date(1970, 1, 1)
EPOCH_TS = dt.datetime(1970, 1, 1)
MAX_NUMERIC_PRECISION = 18  # unscaled values stay in int64: exact sums with numpy, no Python Decimal per value
MAX_ZIPF_N = 10_000_000  # the cumulative distribution is kept in memory (8 bytes per key)
INT_RANGES = {"SMALLINT": (-(2**15), 2**15 - 1), "INT": (-(2**31), 2**31 - 1), "BIGINT": (-(2**63), 2**63 - 1)}
SQL_TYPES = (
    "SMALLINT, INT, BIGINT, DOUBLE PRECISION, NUMERIC(p,s), BOOL, TEXT, VARCHAR(n), CHAR(n), DATE, TIMESTAMP, "
    "TIMESTAMPTZ, INTERVAL"
)
MAX_INTERVAL_US = 100 * 366 * 86_400 * 1_000_000  # ± 100 years: nanoseconds (Arrow's interval unit) stay in int64
_ALIASES = {"INTEGER": "INT", "INT4": "INT", "INT2": "SMALLINT", "INT8": "BIGINT", "BOOLEAN": "BOOL",
            "DOUBLE": "DOUBLE PRECISION", "FLOAT8": "DOUBLE PRECISION", "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
            "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP"}  # fmt: skip
_SIZED = re.compile(r"^(NUMERIC|DECIMAL|VARCHAR|CHARACTER VARYING|CHAR|CHARACTER)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$")


@dataclass(frozen=True)
class SqlType:
    base: str  # SMALLINT … TIMESTAMPTZ, NUMERIC, VARCHAR, CHAR
    precision: int = 0  # NUMERIC(p, s)
    scale: int = 0
    length: int = 0  # VARCHAR(n), CHAR(n)

    @property
    def sql(self) -> str:
        if self.base == "NUMERIC":
            return f"NUMERIC({self.precision},{self.scale})"
        if self.base in ("VARCHAR", "CHAR"):
            return f"{self.base}({self.length})"
        return self.base

    @property
    def domain(self) -> str:
        """int (SMALLINT/INT/BIGINT), float, numeric (scaled int64), bool, text, date (days), timestamp (µs),
        interval (µs)."""
        if self.base in INT_RANGES:
            return "int"
        return {"DOUBLE PRECISION": "float", "NUMERIC": "numeric", "BOOL": "bool", "DATE": "date",
                "TIMESTAMP": "timestamp", "TIMESTAMPTZ": "timestamp",
                "INTERVAL": "interval"}.get(self.base, "text")  # fmt: skip

    @property
    def arrow(self) -> pa.DataType:
        """Exactly the Arrow type hyperd expects for this SQL type: it does no implicit casts on Arrow input."""
        fixed = {
            "SMALLINT": pa.int16(), "INT": pa.int32(), "BIGINT": pa.int64(), "DOUBLE PRECISION": pa.float64(),
            "BOOL": pa.bool_(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"),
            "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"), "INTERVAL": pa.month_day_nano_interval(),
        }.get(self.base)  # fmt: skip
        if self.base == "NUMERIC":
            return pa.decimal128(self.precision, self.scale)
        return fixed or pa.string()


def parse_sql_type(text: str) -> SqlType:
    raw = " ".join(str(text).upper().split())
    raw = _ALIASES.get(raw, raw)
    if raw in ("SMALLINT", "INT", "BIGINT", "DOUBLE PRECISION", "BOOL", "TEXT", "DATE", "TIMESTAMP", "TIMESTAMPTZ",
               "INTERVAL"):  # fmt: skip
        return SqlType(raw)
    sized = _SIZED.match(raw)
    if sized:
        kind, first, second = sized.group(1), int(sized.group(2)), sized.group(3)
        if kind in ("NUMERIC", "DECIMAL"):
            scale = int(second or 0)
            if not 1 <= first <= MAX_NUMERIC_PRECISION or scale > first:
                raise ValueError(f"NUMERIC(p,s) needs 1 <= p <= {MAX_NUMERIC_PRECISION} and s <= p")
            return SqlType("NUMERIC", precision=first, scale=scale)
        if second is None and first >= 1:
            return SqlType("VARCHAR" if "VAR" in kind else "CHAR", length=first)
    raise ValueError(f"unknown SQL type {excerpt(text)} (allowed: {SQL_TYPES})")


# ------------------------------------------------------------------------------------------------ generators
Scalar = int | float | str | bool


class DataModel(StrictModel):
    """Unknown keys are refused here, with this model's allowed keys: the scenario's generic message cannot name
    the keys of a model inside a `data:` mapping."""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, value):
        if isinstance(value, dict):
            unknown = [k for k in value if k not in cls.model_fields]
            if unknown:
                hint = difflib.get_close_matches(str(unknown[0]), list(cls.model_fields), n=1)
                raise ValueError(
                    f"unknown key {excerpt(unknown[0])}"
                    + (f" (did you mean {hint[0]!r}?)" if hint else "")
                    + f"; allowed: {', '.join(cls.model_fields)}"
                )
        return value


class Sequence(DataModel):
    kind: Literal["sequence"]
    start: Scalar = 0
    step: int | float = 1  # DATE: days, TIMESTAMP: seconds


class Uniform(DataModel):
    kind: Literal["uniform"]
    low: Scalar
    high: Scalar


class Normal(DataModel):
    kind: Literal["normal"]
    mean: float
    stddev: float = Field(gt=0)
    low: float | None = None  # values are clipped to [low, high]
    high: float | None = None


class LogNormal(DataModel):
    kind: Literal["lognormal"]
    mean: float = 0.0  # of the underlying normal
    sigma: float = Field(default=1.0, gt=0)
    low: float | None = None
    high: float | None = None


class Zipf(DataModel):
    kind: Literal["zipf"]
    n: Count = Field(ge=1, le=MAX_ZIPF_N, description="Keys 1..n; key k has weight k^-s.")
    s: float = Field(default=1.1, ge=0, le=10)


class Choice(DataModel):
    kind: Literal["choice"]
    values: list[Scalar] = Field(min_length=1, max_length=100_000)
    weights: list[float] | None = None


class Bool(DataModel):
    kind: Literal["bool"]
    p: float = Field(default=0.5, ge=0, le=1, description="Probability of true.")


class Constant(DataModel):
    kind: Literal["constant"]
    value: Scalar


class Words(DataModel):
    kind: Literal["words"]
    min_words: Count = Field(default=1, ge=1, le=1000)
    max_words: Count = Field(default=8, ge=1, le=1000)


class RandomText(DataModel):
    kind: Literal["random"]
    min_length: Count = Field(default=1, ge=0, le=100_000)
    max_length: Count = Field(default=16, ge=0, le=100_000)
    alphabet: Literal["letters", "digits", "alnum"] = "alnum"


class Pattern(DataModel):
    kind: Literal["pattern"]
    pattern: str = Field(min_length=1, max_length=1000, description="'#' a digit, '?' a letter A-Z, else literal.")


GENERATOR_KINDS = ("sequence", "uniform", "normal", "lognormal", "zipf", "choice", "bool", "constant", "words",
                   "random", "pattern")  # fmt: skip


def _known_kind(value):
    """A missing or unknown `kind` as one message with the allowed kinds (pydantic's tag errors speak of
    workloads in this tool's messages)."""
    if isinstance(value, dict) and value.get("kind") not in GENERATOR_KINDS:
        got = f"unknown generator kind {excerpt(value['kind'])}" if "kind" in value else "generator needs a kind"
        raise ValueError(f"{got}; allowed: {', '.join(GENERATOR_KINDS)}")
    return value


Generator = Annotated[
    Sequence | Uniform | Normal | LogNormal | Zipf | Choice | Bool | Constant | Words | RandomText | Pattern,
    Field(discriminator="kind"),
    BeforeValidator(_known_kind),
]
# which generators fit which domain
FITS = {
    "int": ("sequence", "uniform", "normal", "lognormal", "zipf", "choice", "constant"),
    "float": ("sequence", "uniform", "normal", "lognormal", "zipf", "choice", "constant"),
    "numeric": ("sequence", "uniform", "normal", "lognormal", "zipf", "choice", "constant"),
    "date": ("sequence", "uniform", "choice", "constant"),
    "timestamp": ("sequence", "uniform", "choice", "constant"),
    "interval": ("sequence", "uniform", "choice", "constant"),
    "bool": ("bool", "choice", "constant"),
    "text": ("words", "random", "pattern", "choice", "constant"),
}


def to_domain(value, sql: SqlType):
    """A YAML value as the column's domain value: int, float, scaled int, bool, str, days or microseconds."""
    domain = sql.domain
    if domain == "text":
        if isinstance(value, bool | int | float):
            raise ValueError(f"{excerpt(value)} is not text (quote it)")
        return str(value)
    if domain == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{excerpt(value)} is not true/false")
        return value
    if isinstance(value, bool):
        raise ValueError(f"{excerpt(value)} is not a {sql.sql} value")
    if domain == "interval":
        return interval_us(value)
    if domain in ("date", "timestamp"):
        if isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        try:
            if domain == "date":
                return (dt.date.fromisoformat(str(value)) - EPOCH_DATE).days
            stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if stamp.tzinfo is not None:
                stamp = stamp.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return (stamp - EPOCH_TS) // dt.timedelta(microseconds=1)
        except ValueError:
            example = "2024-01-31" if domain == "date" else "2024-01-31 12:00:00"
            raise ValueError(f"{excerpt(value)} is not a {sql.sql} (write e.g. {example!r})") from None
    if isinstance(value, str):
        raise ValueError(f"{excerpt(value)} is not a number")
    if domain == "int":
        if value != int(value):
            raise ValueError(f"{excerpt(value)} is not a whole number")
        low, high = INT_RANGES[sql.base]
        if not low <= value <= high:
            raise ValueError(f"{excerpt(value)} does not fit {sql.base} ({low} … {high})")
        return int(value)
    if domain == "numeric":
        scaled = int((Decimal(str(value)) * 10**sql.scale).to_integral_value())
        if abs(scaled) >= 10**sql.precision:
            raise ValueError(f"{excerpt(value)} does not fit {sql.sql}")
        return scaled
    return float(value)


_INTERVAL_UNITS = {
    "microsecond": 1, "us": 1, "millisecond": 1_000, "ms": 1_000, "second": 1_000_000, "sec": 1_000_000,
    "s": 1_000_000, "minute": 60_000_000, "min": 60_000_000, "hour": 3_600_000_000, "h": 3_600_000_000,
    "day": 86_400_000_000, "d": 86_400_000_000, "week": 604_800_000_000,
}  # fmt: skip
_INTERVAL_PART = re.compile(r"\s*(?:(-?\d+(?:\.\d+)?)\s*([a-z]+)|(-?)(\d+):(\d{2})(?::(\d{2}(?:\.\d{1,6})?))?)(?=\s|$)")


_PLURALS = {"microseconds", "milliseconds", "seconds", "secs", "minutes", "mins", "hours", "days", "weeks"}
_NOT_INTERVAL = (
    "is not an INTERVAL (write seconds as a number, or e.g. '90 minutes', '1 day 02:30:00', '250 ms'; "
    "units: microseconds … weeks, not months or years)"
)


def interval_us(value) -> int:
    """A YAML duration as microseconds: a number of seconds, or '90 minutes', '1 day 02:30:00', '1.5 h', '250 ms'.
    Months and years have no fixed length, so they are refused (write days)."""
    if isinstance(value, bool):
        raise ValueError(f"{excerpt(value)} {_NOT_INTERVAL}")
    if isinstance(value, str):
        try:
            value = float(value)  # "90": seconds, as the number 90
        except ValueError:
            pass
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{excerpt(value)} {_NOT_INTERVAL}")
        us = round(value * 1_000_000)
    else:
        us = _interval_text_us(value)
    if abs(us) > MAX_INTERVAL_US:
        raise ValueError(f"{excerpt(value)} is longer than 100 years")
    return us


def _interval_text_us(value) -> int:
    text, us, position = str(value).strip().lower(), 0, 0
    if not text:
        raise ValueError(f"{excerpt(value)} {_NOT_INTERVAL}")
    while position < len(text):
        match = _INTERVAL_PART.match(text, position)
        number, unit, sign, hours, minutes, seconds = match.groups() if match else (None,) * 6
        known = unit is None or unit in _INTERVAL_UNITS or unit in _PLURALS
        if match is None or not known or (minutes is not None and int(minutes) > 59) or float(seconds or 0) >= 60:
            raise ValueError(f"{excerpt(value)} {_NOT_INTERVAL}")
        if number is not None:
            us += round(Decimal(number) * (_INTERVAL_UNITS.get(unit) or _INTERVAL_UNITS[unit[:-1]]))
        else:
            clock = int(hours) * 3_600_000_000 + int(minutes) * 60_000_000 + round(Decimal(seconds or 0) * 10**6)
            us += -clock if sign else clock
        position = match.end()
    return us


def sequence_end_problem(column, rows: int) -> str:
    """An INTERVAL sequence must stay within ±100 years over the phase's rows ('' when it does)."""
    gen, sql = column.generator, column.sql_type
    if gen is None or gen.kind != "sequence" or sql.domain != "interval":
        return ""
    last = to_domain(gen.start, sql) + (rows - 1) * interval_us(gen.step)
    if abs(last) <= MAX_INTERVAL_US:
        return ""
    return f"the sequence reaches {last / 86_400_000_000:,.0f} days at row {rows - 1}, beyond ±100 years"


def text_max_length(gen) -> int | None:
    """The longest text a generator can make (None: not a text generator)."""
    from loadgen.generators import WORDS  # the word list lives with the code that uses it

    if gen.kind == "words":
        return gen.max_words * (max(len(w) for w in WORDS) + 1) - 1
    if gen.kind == "random":
        return gen.max_length
    if gen.kind == "pattern":
        return len(gen.pattern)
    if gen.kind == "choice":
        return max(len(str(v)) for v in gen.values)
    if gen.kind == "constant":
        return len(str(gen.value))
    return None


class Column(DataModel):
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
        if gen.kind not in FITS[sql.domain]:
            raise ValueError(
                f"generator {gen.kind} does not fit {sql.sql} (allowed for {sql.sql}: {', '.join(FITS[sql.domain])})"
            )
        check_generator(gen, sql)
        longest = text_max_length(gen) if sql.domain == "text" else None
        if longest is not None and sql.length and longest > sql.length:
            raise ValueError(f"generator {gen.kind} makes text of up to {longest} characters, longer than {sql.sql}")
        return gen


def check_generator(gen, sql: SqlType) -> None:
    """Values convertible to the type, ranges in order, weights matching values."""
    if gen.kind == "sequence":
        to_domain(gen.start, sql)
        if gen.step == 0:
            raise ValueError("sequence step must not be 0 (two rows would get the same key)")
        if sql.domain == "interval":
            interval_us(gen.step)
        if sql.domain in ("int", "date") and gen.step != int(gen.step):
            raise ValueError(f"sequence step {gen.step} must be a whole number for {sql.sql}")
    elif gen.kind == "uniform":
        low, high = to_domain(gen.low, sql), to_domain(gen.high, sql)
        if low > high:
            raise ValueError(f"uniform low {excerpt(gen.low)} > high {excerpt(gen.high)}")
    elif gen.kind in ("normal", "lognormal"):
        if gen.low is not None and gen.high is not None and gen.low > gen.high:
            raise ValueError(f"{gen.kind} low {gen.low} > high {gen.high}")
        for bound in (gen.low, gen.high):
            if bound is not None:
                to_domain(bound, sql)
    elif gen.kind == "zipf":
        to_domain(gen.n, sql)
    elif gen.kind == "choice":
        for value in gen.values:
            to_domain(value, sql)
        if gen.weights is not None:
            if len(gen.weights) != len(gen.values):
                raise ValueError(f"{len(gen.weights)} weights for {len(gen.values)} values; give one weight per value")
            if any(w < 0 for w in gen.weights) or sum(gen.weights) <= 0:
                raise ValueError("weights must be >= 0 and add up to more than 0")
    elif gen.kind == "constant":
        to_domain(gen.value, sql)
    elif gen.kind == "words" and gen.min_words > gen.max_words:
        raise ValueError(f"words min_words {gen.min_words} > max_words {gen.max_words}")
    elif gen.kind == "random" and gen.min_length > gen.max_length:
        raise ValueError(f"random min_length {gen.min_length} > max_length {gen.max_length}")


class TableDefinition(DataModel):
    name: str | None = Field(
        default=None,
        max_length=120,
        description="Table name; with {worker} one table per worker, without it one table all workers share. "
        "Default: KEY_{worker}.",
    )
    columns: list[Column] = Field(min_length=1, max_length=1000)

    @field_validator("name")
    @classmethod
    def _placeholders(cls, value):
        if value is not None:
            from loadgen.workloads.base import check_placeholders

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

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.sql_type.arrow, nullable=c.nullable) for c in self.columns])

    def row_bytes(self) -> int:
        """Nominal bytes per row for MiB/s: fixed widths, text at its average generated length (estimated)."""
        return sum(_nominal_bytes(c) for c in self.columns)


def _nominal_bytes(column: Column) -> int:
    sql, gen = column.sql_type, column.generator
    if sql.domain != "text":
        return {"SMALLINT": 2, "INT": 4, "DATE": 4, "BOOL": 1, "NUMERIC": 16, "INTERVAL": 16}.get(sql.base, 8)
    if gen is None:
        return sql.length or 16  # loaded from files: a guess, only for MiB/s
    if gen.kind == "words":
        return (gen.min_words + gen.max_words) * 7 // 2
    if gen.kind == "random":
        return (gen.min_length + gen.max_length) // 2
    return text_max_length(gen) or 0


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ------------------------------------------------------------------------------------------------ files
@dataclass(frozen=True)
class FileColumn:
    """A column of a file source: what verification needs (name, SQL type), without a generator."""

    name: str
    type: str
    nullable: bool = True

    @property
    def sql_type(self) -> SqlType:
        return parse_sql_type(self.type)


@dataclass(frozen=True)
class FileTable:
    """The table a file source is loaded into, derived from the files' Arrow schema."""

    columns: tuple

    def create_sql(self, table_sql: str) -> str:
        return f"CREATE TABLE {table_sql} ({', '.join(f'{quote(c.name)} {c.type}' for c in self.columns)})"

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.sql_type.arrow) for c in self.columns])

    def row_bytes(self) -> int:
        return sum({"SMALLINT": 2, "INT": 4, "DATE": 4, "BOOL": 1, "NUMERIC": 16}.get(c.sql_type.base, 8)
                   for c in self.columns)  # fmt: skip


ARROW_TO_SQL = (
    "int16, int32, int64, float64, decimal128(p<=18), bool, string, date32, timestamp (any unit, tz UTC or none), "
    "month_day_nano_interval"
)


def sql_for_arrow(arrow_type: pa.DataType) -> str | None:
    """The Hyper type a file column is loaded as (None: not supported). Timestamps become µs, as hyperd reads them."""
    simple = {pa.int16(): "SMALLINT", pa.int32(): "INT", pa.int64(): "BIGINT", pa.float64(): "DOUBLE PRECISION",
              pa.bool_(): "BOOL", pa.string(): "TEXT", pa.large_string(): "TEXT", pa.date32(): "DATE"}  # fmt: skip
    if arrow_type in simple:
        return simple[arrow_type]
    if arrow_type == pa.month_day_nano_interval():
        return "INTERVAL"
    if pa.types.is_decimal128(arrow_type) and arrow_type.precision <= MAX_NUMERIC_PRECISION:
        return f"NUMERIC({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        if arrow_type.tz is None:
            return "TIMESTAMP"
        if arrow_type.tz in ("UTC", "+00:00", "Z"):
            return "TIMESTAMPTZ"
    return None


def file_table(schema: pa.Schema, path: str) -> FileTable:
    """Raises ValueError naming the file, the column and its type when a column maps onto no Hyper type."""
    columns = []
    for field in schema:
        sql = sql_for_arrow(field.type)
        if pa.types.is_null(field.type):
            raise ValueError(f"{path}: column {field.name!r} has no value that tells its type (Arrow type null: "
                             f"empty in the rows read); declare the table in data: (column names and types) and load "
                             f"the files into it with table: KEY")  # fmt: skip
        if sql is None:
            raise ValueError(f"{path}: column {field.name!r} has Arrow type {field.type}, which loadgen cannot load "
                             f"(allowed: {ARROW_TO_SQL})")  # fmt: skip
        columns.append(FileColumn(field.name, sql))
    return FileTable(tuple(columns))


# ------------------------------------------------------------------------------------------------ files → a definition
# Which Arrow types of a file column load into which SQL domain of a declared column. The client casts with
# pyarrow's safe cast (a value that does not fit raises, naming the column) and hyperd casts itself when it reads
# the file; floats are not accepted for NUMERIC because the two round differently (verification would differ).
_FILE_FITS = {
    "int": ("integer",),
    "float": ("integer", "floating"),
    "numeric": ("integer", "decimal"),
    "bool": ("boolean",),
    "text": ("string",),
    "date": ("date",),
    "timestamp": ("timestamp", "date"),
    "interval": ("interval",),
}
_FILE_KIND_NAMES = {
    "integer": "int8 … int64, uint8 … uint64",
    "floating": "float16/32/64",
    "decimal": "decimal128/256",
    "boolean": "bool",
    "string": "string, large_string, string_view, dictionary of strings",
    "date": "date32, date64",
    "timestamp": "timestamp (any unit)",
    "interval": "month_day_nano_interval",
}


def _file_kind(arrow_type: pa.DataType) -> str | None:
    t = pa.types
    if t.is_dictionary(arrow_type):
        return "string" if _file_kind(arrow_type.value_type) == "string" else None
    checks = (
        ("integer", t.is_integer), ("floating", t.is_floating), ("decimal", t.is_decimal), ("boolean", t.is_boolean),
        ("string", lambda x: t.is_string(x) or t.is_large_string(x) or x == pa.string_view()),
        ("date", t.is_date), ("timestamp", t.is_timestamp),
        ("interval", lambda x: x == pa.month_day_nano_interval()),
    )  # fmt: skip
    return next((kind for kind, check in checks if check(arrow_type)), None)


def map_file_schema(definition: TableDefinition, key: str, schema: pa.Schema, path: str, read_by: str) -> None:
    """Every declared column is in the file (by name) with a type that loads into it; raises ValueError naming
    the file, the column and both types. The file's other columns are not loaded (as hyperd's COPY does)."""
    by_name = {field.name: field for field in schema}
    for column in definition.columns:
        field = by_name.get(column.name)
        if field is None:
            alike = [name for name in schema.names if name.lower() == column.name.lower()]
            hint = f"; names are matched exactly, and {alike[0]!r} differs only in case" if alike else ""
            raise ValueError(
                f"{path}: no column {column.name!r} for data.{key}.{column.name} "
                f"(the file has: {', '.join(schema.names)}{hint})"
            )
        if read_by == "hyperd" and field.type == pa.uint64():
            raise ValueError(f"{path}: column {column.name!r} is Arrow uint64, which hyperd does not read from "
                             f"Parquet (read_by: client casts it, failing on values beyond BIGINT)")  # fmt: skip
        sql = column.sql_type
        kind = _file_kind(field.type)
        zoned = bool(getattr(field.type, "tz", None))  # an instant: only TIMESTAMPTZ holds it unchanged
        if kind not in _FILE_FITS[sql.domain] or (sql.domain == "timestamp" and (sql.base == "TIMESTAMPTZ") != zoned):
            if sql.base in ("TIMESTAMP", "TIMESTAMPTZ") and kind == "timestamp":
                fits = "timestamp with a time zone" if sql.base == "TIMESTAMPTZ" else "timestamp without a time zone"
            else:
                fits = "; ".join(_FILE_KIND_NAMES[k] for k in _FILE_FITS[sql.domain])
            raise ValueError(
                f"{path}: column {column.name!r} is Arrow {field.type}, which does not load into "
                f"data.{key}.{column.name} {sql.sql} (loads from: {fits})"
            )
