"""TPC-DS on Hyper: the schema of the 24 tables (data from tpcgen-cli), the 99 queries with the specification's
qualification substitutions, and the comparison of Hyper's answers with DuckDB's over the same Parquet files.

Not wired into loadgen's workloads yet: docs/tpcds.md says what runs and how it compares. Nothing here imports
tableauhyperapi.
"""
