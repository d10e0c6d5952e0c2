"""A trivial workload outside loadgen, to show what adding one takes: this package and one registry line."""
