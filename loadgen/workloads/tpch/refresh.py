"""TPC-H refresh data sets for RF1 (new sales) and RF2 (old sales), which tpchgen-cli does not generate.

The specification (clauses 2.6, 2.7, 4.2.4): RF1 inserts SF × 1,500 new orders, each with 1 to 7 lineitems; RF2
deletes SF × 1,500 existing orders and their lineitems; the sets come from `dbgen -U`. Orders keys are sparse:
of each 32 consecutive keys the base data uses the first 8.

Keys follow dbgen exactly (build.c mk_sparse, driver.c, print.c pr_drange). For refresh set u = 1, 2, … and
n = ⌊SF × 1,500⌋, the rows are the order indexes i = (u − 1)·n + 1 … u·n, and

    key(i, seq) = ((i >> 3) << 2 | seq) << 3 | (i & 7)      (seq 0 is the base data: tpchgen-cli's keys)
    RF1 inserts key(i, 1 + u // 1000)                         (the second 8 of each 32, for u < 1000)
    RF2 deletes key(i, u // 1000)                             (the base orders i, for u < 1000)

so RF1's keys never collide with the base data's and RF2 deletes the oldest orders first ("the rows being
deleted begin with the first row of each of the two targeted tables"). After 1,000 pairs the key space has
moved one slot on, as the specification describes (clause 4.2.4.2): sets 1,000 … 1,999 delete what sets 1 … 999
inserted, so the sets must be applied in order. Set 3,000 would need a fifth slot: the sets end at 2,999.

Values follow the rules of clause 4.2.3 with numpy's PCG64 generator seeded by (SF, u), so a set is the same on
every run and machine, but they are not dbgen's values (dbgen continues its own random streams past the base
data; tpchgen-cli cannot be asked for rows past the end). Exactly as dbgen: the custkey rule (never a multiple
of 3), L_SUPPKEY from L_PARTKEY (dbgen's PART_SUPP_BRIDGE, so every (partkey, suppkey) is in PARTSUPP),
L_EXTENDEDPRICE = quantity × the part's retail price (dbgen's closed form), O_TOTALPRICE with dbgen's integer
rounding, the date, status and flag rules. Different: O_COMMENT and L_COMMENT are drawn from the base data's
comments (same grammar and length distribution, but not new text, so a comment can repeat), and the random
draws are uniform where dbgen's are too but from another generator.
"""

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ORDERS_PER_SF = 1_500  # rows of one refresh set per unit of scale factor (dbgen: 10 % of 1 % of ORDERS)
SEED = 20_260_417  # with the scale factor and the set number: the whole seed of a set

START, END, CURRENT = dt.date(1992, 1, 1), dt.date(1998, 12, 31), dt.date(1995, 6, 17)
PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]
INSTRUCTIONS = ["DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"]
MODES = ["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"]
EPOCH = dt.date(1970, 1, 1)


def rows_per_set(scale_factor: float) -> int:
    return int(ORDERS_PER_SF * scale_factor)


def sparse_key(index: np.ndarray, seq: int) -> np.ndarray:
    """dbgen's mk_sparse: the orders key of order index `index` (1-based) in key group `seq`."""
    index = np.asarray(index, dtype=np.int64)
    return ((((index >> 3) << 2) + seq) << 3) + (index & 7)


# insert slot 1 + u // 1000 must stay inside a group of 32 keys (slots 0…3): sets 1 … 2,999
LAST_SET = 2_999


def set_indexes(scale_factor: float, set_number: int) -> np.ndarray:
    if not 1 <= set_number <= LAST_SET:
        raise ValueError(f"refresh set numbers are 1 … {LAST_SET} (past that RF1's keys leave the sparse key space), "
                         f"got {set_number}")  # fmt: skip
    n = rows_per_set(scale_factor)
    return np.arange((set_number - 1) * n + 1, set_number * n + 1, dtype=np.int64)


def insert_keys(scale_factor: float, set_number: int) -> np.ndarray:
    return sparse_key(set_indexes(scale_factor, set_number), 1 + set_number // 1000)


def delete_keys(scale_factor: float, set_number: int) -> np.ndarray:
    return sparse_key(set_indexes(scale_factor, set_number), set_number // 1000)


def retail_cents(partkey: np.ndarray) -> np.ndarray:
    """P_RETAILPRICE in cents (clause 4.2.3; dbgen's rpb_routine)."""
    return 90_000 + (partkey // 10) % 20_001 + 100 * (partkey % 1_000)


def supplier_of(partkey: np.ndarray, i: np.ndarray, suppliers: int) -> np.ndarray:
    """The i-th (0…3) supplier of a part (clause 4.2.3; dbgen's PART_SUPP_BRIDGE)."""
    return (partkey + i * (suppliers // 4 + (partkey - 1) // suppliers)) % suppliers + 1


def _days(day: dt.date) -> int:
    return (day - EPOCH).days


def _money(cents: np.ndarray) -> pa.Array:
    """Integer cents as exact DECIMAL(15,2): the unscaled values written straight into a decimal128 buffer."""
    cents = np.asarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0], words[:, 1] = cents, cents >> 63  # little-endian 128-bit two's complement
    return pa.Array.from_buffers(pa.decimal128(15, 2), len(cents), [None, pa.py_buffer(words.tobytes())])


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32())


def _sample(rng, column: pa.ChunkedArray, count: int) -> pa.Array:
    if pa.types.is_string_view(column.type):  # Arrow's take has no string_view kernel
        column = column.cast(pa.string())
    return column.take(pa.array(rng.integers(0, len(column), size=count)))


def generate(
    scale_factor: float,
    set_number: int,
    comments: tuple[pa.ChunkedArray, pa.ChunkedArray],
    schemas: tuple[pa.Schema, pa.Schema],
):
    """(orders, lineitem, delete) of refresh set `set_number` as Arrow tables.

    comments: the base data's o_comment and l_comment columns (what the new rows' comments are drawn from);
    schemas: the base orders and lineitem files' schemas (the output's column types and nullability)."""
    n = rows_per_set(scale_factor)
    if n < 1:
        raise ValueError(f"scale factor {scale_factor} has no refresh rows (SF × {ORDERS_PER_SF} < 1)")
    rng = np.random.default_rng([SEED, int(round(scale_factor * 1_000_000)), set_number])
    customers, parts = int(150_000 * scale_factor), int(200_000 * scale_factor)
    suppliers, clerks = int(10_000 * scale_factor), max(int(1_000 * scale_factor), 1_000)

    keys = insert_keys(scale_factor, set_number)
    custkey = rng.integers(1, customers + 1, size=n)
    bad = custkey % 3 == 0  # every third customer has no orders: dbgen steps to a neighbour
    custkey[bad] = np.where(custkey[bad] + 1 <= customers, custkey[bad] + 1, custkey[bad] - 1)
    orderdate = rng.integers(_days(START), _days(END) - 151 + 1, size=n)
    priority = np.array(PRIORITIES)[rng.integers(0, len(PRIORITIES), size=n)]
    clerk = np.char.add("Clerk#", np.char.zfill(rng.integers(1, clerks + 1, size=n).astype(str), 9))
    lines = rng.integers(1, 8, size=n)

    total = int(lines.sum())
    order_of_line = np.repeat(np.arange(n), lines)
    first_line = np.repeat(np.cumsum(lines) - lines, lines)
    linenumber = np.arange(total) - first_line + 1
    partkey = rng.integers(1, parts + 1, size=total)
    suppkey = supplier_of(partkey, rng.integers(0, 4, size=total), suppliers)
    quantity = rng.integers(1, 51, size=total)
    price = quantity * retail_cents(partkey)
    discount = rng.integers(0, 11, size=total)  # percent
    tax = rng.integers(0, 9, size=total)
    shipdate = orderdate[order_of_line] + rng.integers(1, 122, size=total)
    commitdate = orderdate[order_of_line] + rng.integers(30, 91, size=total)
    receiptdate = shipdate + rng.integers(1, 31, size=total)
    returned = np.where(rng.integers(0, 2, size=total) == 0, "R", "A")
    returnflag = np.where(receiptdate <= _days(CURRENT), returned, "N")
    open_line = shipdate > _days(CURRENT)
    linestatus = np.where(open_line, "O", "F")
    instruct = np.array(INSTRUCTIONS)[rng.integers(0, len(INSTRUCTIONS), size=total)]
    mode = np.array(MODES)[rng.integers(0, len(MODES), size=total)]

    # dbgen's O_TOTALPRICE: per line ((price × (100 − discount)) / 100 × (100 + tax)) / 100, integer cents
    line_total = (price * (100 - discount) // 100) * (100 + tax) // 100
    order_total = np.add.reduceat(line_total, np.cumsum(lines) - lines)
    open_lines = np.add.reduceat(open_line.astype(np.int64), np.cumsum(lines) - lines)
    status = np.where(open_lines == 0, "F", np.where(open_lines == lines, "O", "P"))

    orders = pa.table({
        "o_orderkey": keys, "o_custkey": custkey, "o_orderstatus": status, "o_totalprice": _money(order_total),
        "o_orderdate": _dates(orderdate), "o_orderpriority": priority, "o_clerk": clerk,
        "o_shippriority": np.zeros(n, dtype=np.int32), "o_comment": _sample(rng, comments[0], n),
    })  # fmt: skip
    lineitem = pa.table({
        "l_orderkey": keys[order_of_line], "l_partkey": partkey, "l_suppkey": suppkey,
        "l_linenumber": linenumber.astype(np.int32), "l_quantity": _money(quantity * 100),
        "l_extendedprice": _money(price), "l_discount": _money(discount), "l_tax": _money(tax),
        "l_returnflag": returnflag, "l_linestatus": linestatus, "l_shipdate": _dates(shipdate),
        "l_commitdate": _dates(commitdate), "l_receiptdate": _dates(receiptdate), "l_shipinstruct": instruct,
        "l_shipmode": mode, "l_comment": _sample(rng, comments[1], total),
    })  # fmt: skip
    delete = pa.table({"o_orderkey": delete_keys(scale_factor, set_number)})
    return _like(orders, schemas[0]), _like(lineitem, schemas[1]), delete


def _like(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with the column types and nullability of the base file's schema (so the same load path serves)."""
    fields = [schema.field(name) for name in table.column_names]
    columns = [table[f.name].cast(f.type) for f in fields]
    return pa.Table.from_arrays(columns, schema=pa.schema([f.remove_metadata() for f in fields]))


def base_files(data_dir: Path, table: str) -> list[Path]:
    """A TPC-H table's Parquet files: tpchgen-cli's DIR/<table>.parquet or loadgen's cache DIR/<table>/*.parquet."""
    data_dir = Path(data_dir)
    single = data_dir / f"{table}.parquet"
    files = [single] if single.exists() else sorted((data_dir / table).glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{data_dir}: no Parquet file for TPC-H table {table}")
    return files


def read_base(data_dir: Path) -> tuple[tuple, tuple]:
    """(comments, schemas) of the base ORDERS and LINEITEM files, as generate() takes them."""
    comments = tuple(
        pq.read_table(base_files(data_dir, table), columns=[column])[column].cast(pa.string())  # once, not per set
        for table, column in (("orders", "o_comment"), ("lineitem", "l_comment"))
    )
    schemas = tuple(pq.read_schema(base_files(data_dir, table)[0]) for table in ("orders", "lineitem"))
    return comments, schemas


def write_set(
    data_dir: Path, scale_factor: float, set_number: int, out_dir: Path, base: tuple | None = None
) -> dict[str, Path]:
    """Write refresh set `set_number` as out_dir/u<set>/{orders,lineitem,delete}.parquet; their paths.
    `base`: read_base(data_dir) when several sets are written (reading 6M comments per SF costs seconds)."""
    comments, schemas = base or read_base(data_dir)
    orders, lineitem, delete = generate(scale_factor, set_number, comments, schemas)
    folder = Path(out_dir) / f"u{set_number}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in (("orders", orders), ("lineitem", lineitem), ("delete", delete)):
        path = folder / f"{name}.parquet"
        temp = path.with_name(f".{path.name}.tmp")
        pq.write_table(table, temp)
        temp.replace(path)  # a reader sees a whole file or none
        paths[name] = path
    return paths


# ------------------------------------------------------------------------------------------ RF1 / RF2 on Hyper
def next_set(connection, orders_sql: str, scale_factor: float) -> int:
    """The refresh set the database is at (clause 2.8: a run continues where the last refresh stopped), read from
    its data: RF2 of sets 1 … u−1 deleted the base orders with indexes 1 … (u−1)·n, the oldest first, so the
    smallest base key left (base keys are those whose key mod 32 < 8) gives u. Valid for sets below 1,000."""
    key = connection.execute_scalar_query(f"SELECT MIN(o_orderkey) FROM {orders_sql} WHERE o_orderkey % 32 < 8")
    if key is None:
        raise RuntimeError(f"{orders_sql} holds no base orders: no refresh set can be chosen")
    index = (key // 32) * 8 + key % 32  # sparse_key inverted (seq 0)
    return (index - 1) // rows_per_set(scale_factor) + 1


class RefreshPairs:
    """RF1 and RF2 of consecutive refresh sets on one connection, each function one transaction that hyperd runs
    from the set's Parquet files (INSERT … SELECT FROM external(), DELETE … WHERE key IN (SELECT … FROM external())).
    The sets are written beforehand (untimed); each function's effect is checked by row counts outside its time."""

    def __init__(self, data_dir: Path, scale_factor: float, first_set: int, pairs: int, out_dir: Path, tables: dict):
        if first_set + pairs - 1 >= 1000:
            raise RuntimeError(f"refresh sets {first_set} … {first_set + pairs - 1}: loadgen runs sets below 1,000")
        self.scale_factor, self.tables = scale_factor, tables  # tables: orders / lineitem → quoted SQL name
        base = read_base(data_dir)
        self.sets = {
            u: write_set(data_dir, scale_factor, u, out_dir, base) for u in range(first_set, first_set + pairs)
        }
        self.problems: list[str] = []

    def _count(self, connection, table: str) -> int:
        return connection.execute_scalar_query(f"SELECT COUNT(*) FROM {self.tables[table]}")

    def rf1(self, connection, u: int) -> int:
        """Insert set u's orders and lineitems; the nanoseconds the transaction took."""
        paths, before = self.sets[u], {t: self._count(connection, t) for t in ("orders", "lineitem")}
        t0 = time.perf_counter_ns()
        connection.execute_command("BEGIN TRANSACTION")
        for table in ("orders", "lineitem"):
            source = _literal(paths[table])
            connection.execute_command(f"INSERT INTO {self.tables[table]} SELECT * FROM external({source})")
        connection.execute_command("COMMIT")
        elapsed = time.perf_counter_ns() - t0
        for table in ("orders", "lineitem"):
            added = pq.read_metadata(paths[table]).num_rows
            if self._count(connection, table) != before[table] + added:
                self.problems.append(f"RF1 of set {u}: {table} did not grow by {added} rows")
        return elapsed

    def rf2(self, connection, u: int) -> int:
        """Delete set u's old orders and their lineitems; the nanoseconds the transaction took."""
        paths, before = self.sets[u], self._count(connection, "orders")
        keys = f"(SELECT o_orderkey FROM external({_literal(paths['delete'])}))"
        t0 = time.perf_counter_ns()
        connection.execute_command("BEGIN TRANSACTION")
        connection.execute_command(f"DELETE FROM {self.tables['lineitem']} WHERE l_orderkey IN {keys}")
        connection.execute_command(f"DELETE FROM {self.tables['orders']} WHERE o_orderkey IN {keys}")
        connection.execute_command("COMMIT")
        elapsed = time.perf_counter_ns() - t0
        gone = rows_per_set(self.scale_factor)
        if self._count(connection, "orders") != before - gone:
            self.problems.append(f"RF2 of set {u}: orders did not shrink by {gone} rows")
        left = connection.execute_scalar_query(
            f"SELECT COUNT(*) FROM {self.tables['lineitem']} WHERE l_orderkey IN {keys}"
        )
        if left:
            self.problems.append(f"RF2 of set {u}: {left} lineitems of deleted orders are left")
        return elapsed


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
