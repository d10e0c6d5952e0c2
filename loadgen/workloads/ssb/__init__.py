"""The Star Schema Benchmark (SSB) on Hyper, built from TPC-H data: the SQL that derives SSB's five tables from
the eight TPC-H tables (in Hyper from loaded tables, in DuckDB from tpchgen-cli's Parquet files) and the 13
queries. Not wired into loadgen's workloads yet: docs/ssb.md says what runs and how it compares.
"""
