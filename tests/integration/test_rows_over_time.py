"""A load that runs over several intervals of the time series counts its rows in each of them (with a real hyperd):
a staged COPY over the seconds the statement ran, the row API's rows as they were added, with no stall and then a
burst in timeseries.csv."""

import csv
import html

import pytest

from tests.conftest import only_run_dir, write_scenario

ONE_LOAD = """\
name: one_load
workers: 1
rows: {rows}
sampling: {{timeseries_interval_s: {interval_s}}}
phases:
  - {{name: load, workload: insert, method: {method}, rows_per_copy: {rows}, batch_rows: 2000}}
"""


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# the staged COPY's rows are spread over the statement: every interval has some. The row API's are counted as they
# are added, so an interval in which a loaded machine stalled the worker may truly have none: half have some
# sized so that even a quiet, fast machine spends over ten intervals on each load (3M staged rows ~0.3 s, 200,000
# API rows, one Inserter load, ~0.45 s here): the assertions need two whole intervals inside the statement and none
# holding half the rows
CASES = [("arrow", 3_000_000, "copy", 0.01, 1.0), ("rows", 200_000, "execute", 0.02, 0.5)]


@pytest.mark.parametrize(("method", "rows", "operation", "interval_s", "share"), CASES)
def test_a_load_over_several_intervals_has_rows_in_each(cli, tmp_path, method, rows, operation, interval_s, share):
    text = ONE_LOAD.format(method=method, rows=rows, interval_s=interval_s)
    scenario = write_scenario(tmp_path / "s.yaml", text)
    res = cli("run", scenario, "--results-dir", tmp_path / "r", "--quiet")
    assert res.code == 0, res.stdout + res.stderr
    run_dir = only_run_dir(tmp_path / "r")
    [summary] = read(run_dir / "summary.csv")
    [worker] = read(run_dir / "workers.csv")
    [statement] = [r for r in read(run_dir / "latency.csv") if r["operation"] == operation]
    assert statement["count"] == "1"  # one statement: one COPY, or one Inserter load committed once
    # seconds after the release: the worker's timed part, and the part of it its rows were sent in (the staged
    # COPY: the statement; the row API: all of it, rows added 2,000 at a time as they are made)
    begin = float(worker["start_offset_ms"]) / 1000
    end = begin + float(worker["busy_s"])
    sending = end - float(statement["max_ms"]) / 1000 if method == "arrow" else begin
    series = read(run_dir / "timeseries.csv")
    starts = [float(r["t_s"]) for r in series]
    inside = [r for r, t in zip(series, starts, strict=True) if sending <= t and t + interval_s <= end]
    assert len(inside) >= 2, (sending, end, starts)  # the load spans several whole intervals
    carrying = [r for r in inside if float(r["rows_per_s"]) > 0]
    assert len(carrying) >= share * len(inside), [r["rows_per_s"] for r in series]
    assert max(float(r["rows_per_s"]) for r in series) * interval_s < rows / 2  # no interval holds most of the rows
    # Σ rows/s × covered seconds is still the phase's rows (a row covers up to the next row; the last to the end)
    covered = [
        b - a for a, b in zip([begin, *starts[1:]], [*starts[1:], begin + float(summary["wall_s"])], strict=True)
    ]
    total = sum(float(r["rows_per_s"]) * c for r, c in zip(series, covered, strict=True))
    assert total == pytest.approx(rows, rel=0.01) and int(summary["rows"]) == rows


def test_the_throughput_chart_says_where_rows_are_counted(cli, tmp_path):
    scenario = write_scenario(tmp_path / "s.yaml", ONE_LOAD.format(method="arrow", rows=20_000, interval_s=0.1))
    assert cli("run", scenario, "--results-dir", tmp_path / "r", "--quiet").code == 0
    run_dir = only_run_dir(tmp_path / "r")
    res = cli("report", run_dir, "--no-png")
    assert res.code == 0, res.stdout + res.stderr
    page = html.unescape((run_dir / "report.html").read_text(encoding="utf-8"))
    assert "its rows where they were sent" in page and "a staged COPY's spread over the seconds it ran" in page
