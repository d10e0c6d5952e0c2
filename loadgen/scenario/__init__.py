"""The scenario: its model (assembled from the sections of loadgen/config, the `data:` definitions and the
workloads' options), and loading a file with its --set overrides and matrix points into validated scenarios."""
