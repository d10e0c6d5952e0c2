"""Arrow types of Hyper SQL types: exactly what hyperd expects, as it does no implicit casts on Arrow input."""

import pyarrow as pa

from loadgen.datagen.sqltypes import SqlType


def arrow_type(sql: SqlType) -> pa.DataType:
    fixed = {
        "SMALLINT": pa.int16(), "INT": pa.int32(), "BIGINT": pa.int64(), "DOUBLE PRECISION": pa.float64(),
        "BOOL": pa.bool_(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"),
        "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"), "INTERVAL": pa.month_day_nano_interval(),
    }.get(sql.base)  # fmt: skip
    if sql.base == "NUMERIC":
        return pa.decimal128(sql.precision, sql.scale)
    return fixed or pa.string()


def arrow_schema(definition) -> pa.Schema:
    """The Arrow schema of a table definition (a data: definition, or the table files are loaded into)."""
    return pa.schema([pa.field(c.name, arrow_type(c.sql_type), nullable=c.nullable) for c in definition.columns])
