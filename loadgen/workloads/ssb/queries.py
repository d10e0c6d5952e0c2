"""The 13 SSB queries (Q1.1–Q4.3) of the SSB specification (revision 3, section 3), with DATE named dwdate.

Flight 1 restricts one dimension (date) and the fact table's discount and quantity; flight 2 two dimensions
(part, supplier); flight 3 three (customer, supplier, date) with shrinking selectivity; flight 4 all four, as a
"what-if" of profit.
"""

QUERY_NAMES = ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3.1", "3.2", "3.3", "3.4", "4.1", "4.2", "4.3")

_FLIGHT1 = """select sum(lo_extendedprice * lo_discount) as revenue
from lineorder, dwdate
where lo_orderdate = d_datekey and {where}"""

_FLIGHT2 = """select sum(lo_revenue) as revenue, d_year, p_brand1
from lineorder, dwdate, part, supplier
where lo_orderdate = d_datekey and lo_partkey = p_partkey and lo_suppkey = s_suppkey and {where}
group by d_year, p_brand1
order by d_year, p_brand1"""

_FLIGHT3 = """select c_{a}, s_{a}, d_year, sum(lo_revenue) as revenue
from customer, lineorder, supplier, dwdate
where lo_custkey = c_custkey and lo_suppkey = s_suppkey and lo_orderdate = d_datekey and {where}
group by c_{a}, s_{a}, d_year
order by d_year asc, revenue desc"""

_FLIGHT4_FROM = """from dwdate, customer, supplier, part, lineorder
where lo_custkey = c_custkey and lo_suppkey = s_suppkey and lo_partkey = p_partkey and lo_orderdate = d_datekey"""

_UK = "(c_city = 'UNITED KI1' or c_city = 'UNITED KI5') and (s_city = 'UNITED KI1' or s_city = 'UNITED KI5')"

QUERIES = {
    "1.1": _FLIGHT1.format(where="d_year = 1993 and lo_discount between 1 and 3 and lo_quantity < 25"),
    "1.2": _FLIGHT1.format(
        where="d_yearmonthnum = 199401 and lo_discount between 4 and 6 and lo_quantity between 26 and 35"
    ),
    "1.3": _FLIGHT1.format(
        where="d_weeknuminyear = 6 and d_year = 1994 and lo_discount between 5 and 7 and lo_quantity between 26 and 35"
    ),
    "2.1": _FLIGHT2.format(where="p_category = 'MFGR#12' and s_region = 'AMERICA'"),
    "2.2": _FLIGHT2.format(where="p_brand1 between 'MFGR#2221' and 'MFGR#2228' and s_region = 'ASIA'"),
    "2.3": _FLIGHT2.format(where="p_brand1 = 'MFGR#2239' and s_region = 'EUROPE'"),
    "3.1": _FLIGHT3.format(
        a="nation", where="c_region = 'ASIA' and s_region = 'ASIA' and d_year >= 1992 and d_year <= 1997"
    ),
    "3.2": _FLIGHT3.format(
        a="city",
        where="c_nation = 'UNITED STATES' and s_nation = 'UNITED STATES' and d_year >= 1992 and d_year <= 1997",
    ),
    "3.3": _FLIGHT3.format(a="city", where=f"{_UK} and d_year >= 1992 and d_year <= 1997"),
    "3.4": _FLIGHT3.format(a="city", where=f"{_UK} and d_yearmonth = 'Dec1997'"),
    "4.1": f"""select d_year, c_nation, sum(lo_revenue - lo_supplycost) as profit
{_FLIGHT4_FROM}
  and c_region = 'AMERICA' and s_region = 'AMERICA' and (p_mfgr = 'MFGR#1' or p_mfgr = 'MFGR#2')
group by d_year, c_nation
order by d_year, c_nation""",
    "4.2": f"""select d_year, s_nation, p_category, sum(lo_revenue - lo_supplycost) as profit
{_FLIGHT4_FROM}
  and c_region = 'AMERICA' and s_region = 'AMERICA' and (d_year = 1997 or d_year = 1998)
  and (p_mfgr = 'MFGR#1' or p_mfgr = 'MFGR#2')
group by d_year, s_nation, p_category
order by d_year, s_nation, p_category""",
    "4.3": f"""select d_year, s_city, p_brand1, sum(lo_revenue - lo_supplycost) as profit
{_FLIGHT4_FROM}
  and c_region = 'AMERICA' and s_nation = 'UNITED STATES' and (d_year = 1997 or d_year = 1998)
  and p_category = 'MFGR#14'
group by d_year, s_city, p_brand1
order by d_year, s_city, p_brand1""",
}
