"""Hyper SQL types of a `data:` column, and values in a column's *domain*: the plain integers (or floats, bools,
strings) generating and verifying work on — NUMERIC as scaled integers, DATE as days and TIMESTAMP as
microseconds since 1970-01-01, INTERVAL as microseconds."""

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal

from loadgen.config.fields import excerpt

EPOCH_DATE = dt.date(1970, 1, 1)
EPOCH_TS = dt.datetime(1970, 1, 1)
MAX_NUMERIC_PRECISION = 18  # unscaled values stay in int64: exact sums with numpy, no Python Decimal per value
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
