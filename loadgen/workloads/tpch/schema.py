"""The eight TPC-H tables: SQL types, row counts of the specification, the columns the load checksums.

Types follow the specification (clause 1.3/1.4): identifiers BIGINT (tpchgen-cli writes them as int64, and
o_orderkey exceeds INT beyond SF 300), integers INT, money and quantities NUMERIC(15,2), dates DATE. Text
columns are TEXT rather than CHAR(n)/VARCHAR(n): Hyper stores and compares all three the same way apart from
CHAR's blank padding, and TEXT keeps the answers comparable with DuckDB's (which has no padded CHAR). Every
column is NOT NULL, as the specification requires and as tpchgen-cli's Parquet files declare: Hyper's Arrow
COPY needs the nullability of the Arrow schema and the table to agree.
"""

K, N, M, D, T = "BIGINT", "INT", "NUMERIC(15,2)", "DATE", "TEXT"  # key, integer, money, date, text

# table → [(column, SQL type)] in the order of tpchgen-cli's files (and of the specification)
TABLES: dict[str, list[tuple[str, str]]] = {
    "region": [("r_regionkey", K), ("r_name", T), ("r_comment", T)],
    "nation": [("n_nationkey", K), ("n_name", T), ("n_regionkey", K), ("n_comment", T)],
    "supplier": [
        ("s_suppkey", K), ("s_name", T), ("s_address", T), ("s_nationkey", K), ("s_phone", T), ("s_acctbal", M),
        ("s_comment", T),
    ],
    "customer": [
        ("c_custkey", K), ("c_name", T), ("c_address", T), ("c_nationkey", K), ("c_phone", T), ("c_acctbal", M),
        ("c_mktsegment", T), ("c_comment", T),
    ],
    "part": [
        ("p_partkey", K), ("p_name", T), ("p_mfgr", T), ("p_brand", T), ("p_type", T), ("p_size", N),
        ("p_container", T), ("p_retailprice", M), ("p_comment", T),
    ],
    "partsupp": [("ps_partkey", K), ("ps_suppkey", K), ("ps_availqty", N), ("ps_supplycost", M), ("ps_comment", T)],
    "orders": [
        ("o_orderkey", K), ("o_custkey", K), ("o_orderstatus", T), ("o_totalprice", M), ("o_orderdate", D),
        ("o_orderpriority", T), ("o_clerk", T), ("o_shippriority", N), ("o_comment", T),
    ],
    "lineitem": [
        ("l_orderkey", K), ("l_partkey", K), ("l_suppkey", K), ("l_linenumber", N), ("l_quantity", M),
        ("l_extendedprice", M), ("l_discount", M), ("l_tax", M), ("l_returnflag", T), ("l_linestatus", T),
        ("l_shipdate", D), ("l_commitdate", D), ("l_receiptdate", D), ("l_shipinstruct", T), ("l_shipmode", T),
        ("l_comment", T),
    ],
}  # fmt: skip

# The load checks COUNT(*), SUM(key) and SUM(money) of every table against the files' (region and nation have
# no money column: the second sum is of their other key)
CHECKSUM_COLUMNS = {
    "region": ("r_regionkey", None),
    "nation": ("n_nationkey", "n_regionkey"),
    "supplier": ("s_suppkey", "s_acctbal"),
    "customer": ("c_custkey", "c_acctbal"),
    "part": ("p_partkey", "p_retailprice"),
    "partsupp": ("ps_partkey", "ps_supplycost"),
    "orders": ("o_orderkey", "o_totalprice"),
    "lineitem": ("l_orderkey", "l_extendedprice"),
}

# rows per unit of scale factor (clause 4.2.5); nation and region are fixed; lineitem is not linear (1 to 7
# lines per order), so its expected count comes from the generated files
ROWS_PER_SF = {"supplier": 10_000, "customer": 150_000, "part": 200_000, "partsupp": 800_000, "orders": 1_500_000}
FIXED_ROWS = {"nation": 25, "region": 5}
LINEITEM_ROWS_SF1 = 6_001_215


def spec_rows(table: str, scale_factor: float) -> int | None:
    """The row count the specification gives for `table` at `scale_factor` (None for lineitem)."""
    if table in FIXED_ROWS:
        return FIXED_ROWS[table]
    if table in ROWS_PER_SF:
        return int(ROWS_PER_SF[table] * scale_factor)  # truncated, as tpchgen-cli does (SF 0.29: 434,999 orders)
    return LINEITEM_ROWS_SF1 if scale_factor == 1 else None


def create_sql(table: str, table_sql: str) -> str:
    columns = ", ".join(f"{name} {sql_type} NOT NULL" for name, sql_type in TABLES[table])
    return f"CREATE TABLE {table_sql} ({columns})"


def hyper_arrow_schema(schema):
    """The Arrow schema Hyper accepts for a tpchgen-cli file: string_view → string (Hyper does no implicit casts
    on Arrow input and does not read string_view), field metadata dropped."""
    import pyarrow as pa

    fields = []
    for f in schema:
        kind = pa.string() if pa.types.is_string_view(f.type) or pa.types.is_large_string(f.type) else f.type
        fields.append(pa.field(f.name, kind, nullable=f.nullable))
    return pa.schema(fields)
