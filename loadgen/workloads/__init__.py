"""The workloads: one package per workload, each an options model (config.py, pydantic only) and a runtime class
(imported by the workers that run it); the contract they follow (contract.py) and the registry that names them
(registry.py)."""
