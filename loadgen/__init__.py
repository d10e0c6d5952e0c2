"""loadgen: a multiprocess load generator for the Hyper database."""

__version__ = "0.1.0"
