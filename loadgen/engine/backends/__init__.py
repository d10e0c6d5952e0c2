"""Where workers run: local processes (local.py) or Ray actors (ray.py), behind the interface of base.py."""
