"""Where tpcgen-cli's TPC-DS Parquet files are, and DuckDB views over them for reference answers.

tpcgen-cli writes `DIR/<table>.parquet` without --parts and `DIR/<table>/<table>.<k>.parquet` with it (tables
under ~1M dsdgen rows are never split: part 1 holds them whole).
"""

from pathlib import Path

from loadgen.workloads.tpcds.schema import TABLES

# DuckDB sorts NULLs last in both directions by default; Hyper, like PostgreSQL, sorts them last ascending and
# first descending. The specification leaves NULL ordering to the implementation (clause 7.3.4.1), so the
# reference uses Hyper's.
DUCKDB_NULL_ORDER = "nulls_last_on_asc_first_on_desc"


def table_files(data_dir: Path, table: str) -> list[Path]:
    data_dir = Path(data_dir)
    single = data_dir / f"{table}.parquet"
    parts = sorted((data_dir / table).glob(f"{table}.*.parquet")) if (data_dir / table).is_dir() else []
    if single.exists() and parts:
        raise ValueError(f"{data_dir}: both {single.name} and {table}/ exist; which one is the table?")
    files = [single] if single.exists() else parts
    if not files:
        raise FileNotFoundError(f"{data_dir}: no Parquet file for table {table}")
    return files


def duckdb_connection(data_dir: Path, threads: int | None = None, null_order: str = DUCKDB_NULL_ORDER):
    """An in-memory DuckDB with one view per table over the Parquet files, NULLs ordered as Hyper orders them."""
    import duckdb

    con = duckdb.connect(":memory:")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET default_null_order = '{null_order}'")
    for table in TABLES:
        paths = ", ".join("'" + str(p).replace("'", "''") + "'" for p in table_files(data_dir, table))
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{paths}])")
    return con
