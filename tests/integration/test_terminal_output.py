"""What `loadgen run` prints, end to end with a real hyperd: on an 80-column terminal the results fit and end with
a verdict line per phase; a query that returned nothing says so, and its MiB/s is unknown, not 0."""

import csv

from tests.conftest import ROOT, only_run_dir, write_scenario


def result_lines(stdout: str) -> list[str]:
    """The lines of the results: after `run … → FOLDER`, before `results: FOLDER` (paths are as long as they are)."""
    lines = stdout.splitlines()
    return lines[1 : next(i for i, line in enumerate(lines) if line.startswith("results: "))]


def test_the_first_command_fits_80_columns_and_ends_with_verdicts(cli, tmp_path):
    res = cli("run", ROOT / "scenarios" / "parallel_insert.yaml", "--results-dir", tmp_path / "results", "--quiet",
              "--set", "insert_arrow.rows=40000", "--set", "insert_rows.rows=8000",
              env={"COLUMNS": "80"})  # fmt: skip
    assert res.code == 0, res.stdout + res.stderr
    lines = result_lines(res.stdout)
    assert lines and all(len(line) <= 80 for line in lines), "\n".join(lines)
    assert "…" not in res.stdout
    verdicts = [line for line in lines if line.startswith(("insert_arrow: ", "insert_rows: "))]
    assert [v.split(":")[0] for v in verdicts] == ["insert_arrow", "insert_rows"]
    assert all(v.endswith(" rows/s over 4 workers, verified") and ": ok, " in v for v in verdicts), verdicts
    assert lines[-2:] == verdicts  # the output ends with them


USER_SQL = """\
name: nothing_found
workers: 1
rows: 10000
phases:
  - {name: load, workload: insert}
  - {name: lookup, workload: query, sql: "SELECT * FROM {table} WHERE id < 0", iterations: 3}
"""


def test_a_query_that_returns_nothing_gets_a_hint_and_no_mib_per_s(cli, tmp_path):
    path = write_scenario(tmp_path / "s.yaml", USER_SQL)
    res = cli("run", path, "--results-dir", tmp_path / "results", "--quiet")
    assert res.code == 0, res.stdout + res.stderr
    assert "hint: lookup: its 3 queries returned no rows" in res.stdout
    with open(only_run_dir(tmp_path / "results") / "summary.csv", newline="") as handle:
        summary = {row["phase"]: row for row in csv.DictReader(handle)}
    assert summary["lookup"]["rows"] == "0" and summary["lookup"]["mib_per_s"] == ""
    assert float(summary["load"]["mib_per_s"]) > 0
