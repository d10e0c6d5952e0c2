"""SSB's tables as SQL over TPC-H's: one CREATE TABLE … AS SELECT per table, in a dialect Hyper and DuckDB both
run, with `{tpch}` standing for where the TPC-H tables are (`"public".` when SSB is built into a schema of the
Hyper database that holds TPC-H, `"tpch"."public".` for an attached one, `tpch.` for a DuckDB schema).

The Star Schema Benchmark (P. O'Neil, E. O'Neil, X. Chen, S. Revilak: "The Star Schema Benchmark and Augmented
Fact Table Indexing", TPCTC 2009; the specification is "Star Schema Benchmark", revision 3, June 2009) defines
its tables as a reworking of TPC-H's: LINEORDER merges LINEITEM and ORDERS, CUSTOMER and SUPPLIER absorb NATION
and REGION and gain a CITY, PART gains CATEGORY, BRAND1 and COLOR, PARTSUPP is dropped (its SUPPLYCOST moves
into LINEORDER), and a DATE dimension keyed by yyyymmdd is added. Its generator (ssb-dbgen) draws the new
columns at random; here they are derived from the TPC-H rows deterministically, so both engines build the same
tables from the same files:

- lineorder: one row per lineitem, joined with its order and its partsupp row; lo_orderdate / lo_commitdate are
  yyyymmdd keys; lo_discount and lo_tax are percent integers (0–10, 0–8), lo_quantity an integer, as in SSB;
  lo_revenue = l_extendedprice × (1 − l_discount) kept exact (ssb-dbgen truncates it to the cent);
  lo_supplycost = ps_supplycost (ssb-dbgen: 60 % of the retail price);
- customer / supplier: c_city / s_city = the first 9 characters of the nation name, blank-padded, plus the
  key's last digit (ssb-dbgen: a random digit), so 'UNITED KI1' exists as in SSB;
- part: p_mfgr 'MFGR#m' from TPC-H's 'Manufacturer#m', p_category 'MFGR#mn' from TPC-H's 'Brand#mn',
  p_brand1 = p_category followed by 1 + partkey mod 40 (SSB: 40 brands per category, 1,000 in all); p_color the
  first word of p_name; p_name itself is TPC-H's (SSB shortens it to two colours);
- dwdate (SSB's DATE; renamed because DATE is a reserved word): every day of 1992–1998, 2,557 rows, with
  ssb-dbgen's formulas (d_weeknuminyear = day of year ÷ 7 + 1, the selling seasons, the holidays), except that
  the day of week is the true one (ssb-dbgen's names are shifted by one day) and the flags are integers.

Cardinalities stay TPC-H's (customer SF × 150,000, supplier SF × 10,000, part SF × 200,000, lineorder = lineitem)
where SSB scales customer to SF × 30,000, supplier to SF × 2,000 and part to 200,000 × ⌊1 + log2 SF⌋.
"""

TABLE_ORDER = ("dwdate", "customer", "supplier", "part", "lineorder")

_MONTHS = " ".join(
    f"WHEN {i} THEN '{name}'"
    for i, name in enumerate(
        ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
         "November", "December"), start=1)
)  # fmt: skip
_DAYS = " ".join(
    f"WHEN {i} THEN '{name}'"
    for i, name in enumerate(("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"))
)
# ssb-dbgen's holidays (month, day)
_HOLIDAYS = " OR ".join(
    f"(m = {m} AND dd = {d})" for m, d in ((12, 24), (1, 1), (2, 20), (4, 20), (5, 20), (7, 20), (8, 20), (9, 20),
                                          (10, 20), (11, 20))
)  # fmt: skip


def _datekey(column: str) -> str:
    return (
        f"(CAST(EXTRACT(YEAR FROM {column}) AS INT) * 10000 + CAST(EXTRACT(MONTH FROM {column}) AS INT) * 100"
        f" + CAST(EXTRACT(DAY FROM {column}) AS INT))"
    )


def _city(nation: str, key: str) -> str:
    return f"SUBSTR({nation} || '         ', 1, 9) || CAST({key} % 10 AS TEXT)"


SELECTS = {
    "dwdate": f"""SELECT y * 10000 + m * 100 + dd AS d_datekey,
  month_name || ' ' || CAST(dd AS TEXT) || ', ' || CAST(y AS TEXT) AS d_date,
  day_name AS d_dayofweek,
  month_name AS d_month,
  y AS d_year,
  y * 100 + m AS d_yearmonthnum,
  SUBSTR(month_name, 1, 3) || CAST(y AS TEXT) AS d_yearmonth,
  dow + 1 AS d_daynuminweek,
  dd AS d_daynuminmonth,
  doy AS d_daynuminyear,
  m AS d_monthnuminyear,
  CAST(FLOOR(doy / 7.0) AS INT) + 1 AS d_weeknuminyear,
  CASE WHEN m >= 11 THEN 'Christmas' WHEN m BETWEEN 5 AND 8 THEN 'Summer' WHEN m <= 3 THEN 'Winter'
    WHEN m = 4 THEN 'Spring' ELSE 'Fall' END AS d_sellingseason,
  CASE WHEN dow = 6 THEN 1 ELSE 0 END AS d_lastdayinweekfl,
  CASE WHEN CAST(EXTRACT(MONTH FROM next_day) AS INT) <> m THEN 1 ELSE 0 END AS d_lastdayinmonthfl,
  CASE WHEN {_HOLIDAYS} THEN 1 ELSE 0 END AS d_holidayfl,
  CASE WHEN dow BETWEEN 1 AND 5 THEN 1 ELSE 0 END AS d_weekdayfl
FROM (
  SELECT y, m, dd, dow, doy, next_day, CASE m {_MONTHS} END AS month_name, CASE dow {_DAYS} END AS day_name
  FROM (
    SELECT CAST(EXTRACT(YEAR FROM d) AS INT) AS y, CAST(EXTRACT(MONTH FROM d) AS INT) AS m,
      CAST(EXTRACT(DAY FROM d) AS INT) AS dd, CAST(EXTRACT(DOW FROM d) AS INT) AS dow,
      CAST(EXTRACT(DOY FROM d) AS INT) AS doy, d + 1 AS next_day
    FROM (SELECT DATE '1992-01-01' + CAST(i AS INT) AS d FROM generate_series(0, 2556) AS days(i)) AS dates
  ) AS parts
) AS named""",
    "customer": f"""SELECT c_custkey, c_name, c_address, {_city("n_name", "c_custkey")} AS c_city, n_name AS c_nation,
  r_name AS c_region, c_phone, c_mktsegment
FROM {{tpch}}customer JOIN {{tpch}}nation ON c_nationkey = n_nationkey
  JOIN {{tpch}}region ON n_regionkey = r_regionkey""",
    "supplier": f"""SELECT s_suppkey, s_name, s_address, {_city("n_name", "s_suppkey")} AS s_city, n_name AS s_nation,
  r_name AS s_region, s_phone
FROM {{tpch}}supplier JOIN {{tpch}}nation ON s_nationkey = n_nationkey
  JOIN {{tpch}}region ON n_regionkey = r_regionkey""",
    "part": """SELECT p_partkey, p_name, 'MFGR#' || SUBSTR(p_mfgr, 14) AS p_mfgr,
  'MFGR#' || SUBSTR(p_brand, 7) AS p_category,
  'MFGR#' || SUBSTR(p_brand, 7) || CAST(p_partkey % 40 + 1 AS TEXT) AS p_brand1,
  SUBSTR(p_name, 1, POSITION(' ' IN p_name) - 1) AS p_color, p_type, p_size, p_container
FROM {tpch}part""",
    "lineorder": f"""SELECT l_orderkey AS lo_orderkey, l_linenumber AS lo_linenumber, o_custkey AS lo_custkey,
  l_partkey AS lo_partkey, l_suppkey AS lo_suppkey, {_datekey("o_orderdate")} AS lo_orderdate,
  o_orderpriority AS lo_orderpriority, o_shippriority AS lo_shippriority, CAST(l_quantity AS INT) AS lo_quantity,
  l_extendedprice AS lo_extendedprice, o_totalprice AS lo_ordtotalprice,
  CAST(l_discount * 100 AS INT) AS lo_discount, CAST(l_extendedprice * (1 - l_discount) AS NUMERIC(18,4)) AS lo_revenue,
  ps_supplycost AS lo_supplycost, CAST(l_tax * 100 AS INT) AS lo_tax, {_datekey("l_commitdate")} AS lo_commitdate,
  l_shipmode AS lo_shipmode
FROM {{tpch}}lineitem JOIN {{tpch}}orders ON l_orderkey = o_orderkey
  JOIN {{tpch}}partsupp ON ps_partkey = l_partkey AND ps_suppkey = l_suppkey""",
}  # fmt: skip


def create_sql(table: str, tpch_prefix: str, table_sql: str | None = None) -> str:
    """CREATE TABLE `table_sql` (default: the SSB name) AS SELECT … FROM the TPC-H tables under `tpch_prefix`."""
    return f"CREATE TABLE {table_sql or table} AS {SELECTS[table].format(tpch=tpch_prefix)}"


def expected_rows(table: str, tpch_rows: dict[str, int]) -> int:
    """SSB rows from the TPC-H row counts: one per customer, supplier, part and lineitem; 2,557 days."""
    if table == "dwdate":
        return 2557
    return tpch_rows["lineitem" if table == "lineorder" else table]
