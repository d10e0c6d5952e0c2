"""What `loadgen run` prints, end to end with a real hyperd: on an 80-column terminal the results fit and end with
a verdict line per phase."""

from tests.conftest import ROOT


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
