"""The workloads: one module per `workload:` value; the registry that maps them is loadgen/workloads/registry.py.

Empty on purpose: a module that needs only the shared phase fields (workloads/base.py) must not import every
workload (the registry's imports would come back to it in a cycle).
"""
