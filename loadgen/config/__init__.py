"""The vocabulary scenarios are written in: field types and their messages, the sections every scenario has
(server, sampling, timeouts, output, ray), threshold expressions, the phase options every workload extends, and
YAML read with its line numbers. pydantic and PyYAML only: validating a scenario loads no runtime library."""
