"""Verification of a `data:` definition's table: the server's aggregates against the facts the workers
accumulated while generating (loadgen/datagen/facts.py)."""

import math

from loadgen.datagen.definitions import quote

FLOAT_REL_TOL = 1e-9  # float sums: the server adds in another order


def check_table(connection, table_sql: str, definition, want: dict) -> dict:
    """The server's COUNT(*) and per column COUNT, SUM, MIN, MAX, SUM(LENGTH) against the facts `want`
    ({"rows": n, "columns": {name: facts}}). Integer, NUMERIC and BOOL sums are exact; float sums match within a
    relative tolerance of FLOAT_REL_TOL. Returns a Verification naming every column that differs."""
    select, reads = ["COUNT(*)"], []
    for column in definition.columns:
        col, domain = quote(column.name), column.sql_type.domain
        select.append(f"COUNT({col})")
        reads.append((column, "non_null", None))
        if domain == "text":
            select.append(f"SUM(LENGTH({col}))")
            reads.append((column, "length", int))
        elif domain == "bool":
            select.append(f"SUM(CASE WHEN {col} THEN 1 ELSE 0 END)")
            reads.append((column, "sum", int))
        else:
            value = {
                "date": "{f}({c}) - DATE '1970-01-01'",
                "timestamp": "EXTRACT(EPOCH FROM {f}({c}))",
                "interval": "{f}(EXTRACT(EPOCH FROM {c}))",  # Hyper has no SUM of intervals
            }.get(domain, "{f}({c})")
            for key, func in (("sum", "SUM"), ("min", "MIN"), ("max", "MAX")):
                if key == "sum" and domain in ("date", "timestamp"):
                    continue
                select.append(value.format(f=func, c=col))
                reads.append((column, key, domain))
    got = connection.execute_list_query(f"SELECT {', '.join(select)} FROM {table_sql}")[0]
    count, problems = got[0], []
    if count != want["rows"]:
        problems.append(f"COUNT(*) = {count}, expected {want['rows']}")
    for (column, key, domain), server in zip(reads, got[1:], strict=True):
        expected = want["columns"].get(column.name, {}).get(key)
        if not _same(server, expected, domain, column):
            problems.append(
                f"{column.name}: {_sql_of(key, column.name)} = {server}, expected {_shown(expected, domain, column)}"
            )
    return {
        "verified": "failed" if problems else "ok",
        "detail": "; ".join(problems),
        "expected_rows": want["rows"],
        "counted_rows": count,
    }


def _same(server, expected, domain, column) -> bool:
    if server is None or expected is None:
        return (server is None or server == 0) and (expected is None or expected == 0)
    if domain == "float":
        if math.isnan(float(server)) or math.isnan(expected):  # NaN is not equal to itself: both NaN is a match
            return math.isnan(float(server)) and math.isnan(expected)
        return math.isclose(float(server), expected, rel_tol=FLOAT_REL_TOL, abs_tol=1e-9)
    if domain == "numeric":
        return server * 10**column.sql_type.scale == expected
    if domain == "timestamp":
        return server * 1_000_000 == expected
    if domain == "interval":  # EXTRACT(EPOCH …) is a float: whole µs up to its precision
        return math.isclose(float(server) * 1_000_000, expected, rel_tol=FLOAT_REL_TOL, abs_tol=1)
    return int(server) == expected


def _shown(expected, domain, column) -> str:
    """The expected value in the server's units, for the message."""
    if expected is None:
        return "NULL"
    if domain == "numeric":
        return str(expected / 10**column.sql_type.scale)
    if domain in ("timestamp", "interval"):
        return str(expected / 1_000_000)
    return str(expected)


def _sql_of(key: str, name: str) -> str:
    return {"non_null": "COUNT", "length": "SUM(LENGTH)", "sum": "SUM", "min": "MIN", "max": "MAX"}[key] + f"({name})"
