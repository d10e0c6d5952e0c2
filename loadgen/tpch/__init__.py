"""TPC-H on Hyper: data generation and cache (tpchgen-cli), schema, the 22 queries with the specification's
substitution parameters, DuckDB reference answers and the specification's metrics.

Nothing here imports tableauhyperapi: the workloads in loadgen/workloads/tpch.py do the talking to hyperd.
"""
