"""`workload: python`: a user's Python class on loadgen's public API (loadgen/api.py), and workloads that installed
packages register under the entry-point group `loadgen.workloads`."""
