"""What a real run writes and prints of user text, and what `report` and `compare` do with files they did not
write: an -o that names someone else's file or a run's data, a damaged run folder."""

import csv
import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import only_run_dir, write_scenario

FORMULA = '=HYPERLINK("http://evil.example","x")'
SCENARIO = """\
name: safety
workers: 1
rows: 1000
matrix:
  description: ['=HYPERLINK("http://evil.example","x")', "\\e]0;owned\\a\\e[31mred"]
phases:
  - {name: load, workload: insert, method: rows}
"""


def loadgen(*args, cwd, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "loadgen", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One real run (a matrix of two points) and what it printed."""
    folder = tmp_path_factory.mktemp("safety")
    path = write_scenario(folder / "s.yaml", SCENARIO)
    done = loadgen("run", path, "--results-dir", folder / "results", cwd=folder)
    assert done.returncode == 0, done.stderr
    return only_run_dir(folder / "results"), done


@pytest.fixture
def run_dir(finished, tmp_path):
    """A copy of the run folder to damage or report on, inside its own results folder."""
    copy = tmp_path / "results" / "safety" / finished[0].name
    shutil.copytree(finished[0], copy)
    shutil.copy(finished[0].parent.parent / "history.csv", tmp_path / "results" / "history.csv")
    return copy


def cells(path, column):
    with open(path, newline="", encoding="utf-8") as handle:
        return [row[column] for row in csv.DictReader(handle)]


def test_formula_text_of_a_matrix_is_neutralised_in_summary_and_history(finished):
    run, _ = finished
    neutral = ["'" + FORMULA, "\x1b]0;owned\x07\x1b[31mred"]
    assert cells(run / "summary.csv", "param:description") == neutral
    assert cells(run.parent.parent / "history.csv", "param:description") == neutral
    assert cells(run / "summary.csv", "parameters") == [f"description={FORMULA}", f"description={neutral[1]}"]


def test_the_run_prints_control_characters_of_its_parameters_escaped(finished):
    _, done = finished
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert r"point 2/2: description=\x1b]0;owned\x07\x1b[31mred" in done.stdout
    assert r"[description=\x1b]0;owned\x07\x1b[31mred]" in done.stdout  # the phase table (its name cell wraps)


def test_a_results_dir_with_markup_characters_is_printed_as_it_is(cli, tmp_path):
    path = write_scenario(
        tmp_path / "s.yaml", "name: marked\nworkers: 1\nrows: 1000\nphases:\n  - {name: load, workload: insert}\n"
    )
    results = tmp_path / "a[/]b [wip]"
    done = cli("run", path, "--results-dir", results)
    assert done.code == 0, done.stderr
    run = only_run_dir(results)
    assert f") → {run}\n" in done.stdout and done.stdout.endswith(f"results: {run}\n")
    assert json.loads((run / "run.json").read_text())["status"] == "ok"


def test_report_replaces_only_a_report_loadgen_wrote(run_dir, tmp_path):
    mine = tmp_path / "mine.html"
    mine.write_text("<html>my own notes</html>", encoding="utf-8")
    refused = loadgen("report", run_dir, "-o", mine, "--no-png", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr == f"error: {mine}: not a report loadgen wrote; not replaced (--force replaces it)\n"
    assert mine.read_text() == "<html>my own notes</html>"

    assert loadgen("report", run_dir, "-o", mine, "--no-png", "--force", cwd=tmp_path).returncode == 0
    again = loadgen("report", run_dir, "-o", mine, "--no-png", cwd=tmp_path)  # now it is loadgen's own
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"report: {mine}\n"

    default = run_dir / "report.html"
    default.write_text("a file of yours in the run folder", encoding="utf-8")
    assert loadgen("report", run_dir, "--no-png", cwd=tmp_path).returncode == 2
    assert default.read_text() == "a file of yours in the run folder"
    default.unlink()
    for _ in range(2):  # a report loadgen wrote is replaced by the next one
        assert loadgen("report", run_dir, "--no-png", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("name", ["summary.csv", "run.json", "scenario.yaml", "hyperd-0/new.json"])
def test_report_never_writes_into_a_runs_data_files(run_dir, tmp_path, name):
    target = run_dir / name
    before = target.read_bytes() if target.exists() else None
    res = loadgen("report", run_dir, "-o", target, "--no-png", "--force", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr == f"error: {target}: a data file of a run; the report goes elsewhere\n"
    assert (target.read_bytes() if target.exists() else None) == before
    assert loadgen("report", run_dir, "--no-png", cwd=tmp_path).returncode == 0


def test_report_never_writes_into_the_history_nor_through_a_link_to_run_data(run_dir, tmp_path):
    history = run_dir.parent.parent / "history.csv"
    link = tmp_path / "link.html"
    link.symlink_to(run_dir / "summary.csv")
    for target in (history, link):
        before = target.read_bytes()
        res = loadgen("report", run_dir, "-o", target, "--no-png", "--force", cwd=tmp_path)
        assert res.returncode == 2
        assert res.stderr == f"error: {target}: a data file of a run; the report goes elsewhere\n"
        assert target.read_bytes() == before
    assert link.is_symlink()


def drop_column(path, column):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, [c for c in rows[0] if c != column])
        writer.writeheader()
        writer.writerows({k: v for k, v in r.items() if k != column} for r in rows)


def replace_cell(path, column, value):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[0][column] = value
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def cut_last_row(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines[:2], lines[2].rsplit(",", 3)[0]]) + "\n", encoding="utf-8")


DAMAGES = {
    "summary without phase": ("summary.csv", lambda p: drop_column(p, "phase"), "no column 'phase'"),
    "workers without busy_s": ("workers.csv", lambda p: drop_column(p, "busy_s"), "no column 'busy_s'"),
    "timeseries row cut short": ("timeseries.csv", lambda p: cut_last_row(p), "row 3 has fewer cells than the header"),
    "latency not UTF-8": ("latency.csv", lambda p: p.write_bytes(b"\xff\xfe\x00\x81"), "not UTF-8 text"),
    "run.json cut short": ("run.json", lambda p: p.write_text('{"run_id": "safe'), "not valid JSON"),
    "environment.json a list": ("environment.json", lambda p: p.write_text("[1, 2]"), "not a JSON object"),
}  # fmt: skip


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_run_folder_is_an_error_naming_the_file(run_dir, finished, tmp_path, damage):
    name, spoil, reason = DAMAGES[damage]
    spoil(run_dir / name)
    report = loadgen("report", run_dir, "--no-png", cwd=tmp_path)
    assert report.returncode == 2, report.stderr
    assert report.stderr.startswith(f"error: {run_dir / name}: ") and reason in report.stderr
    assert report.stderr.count("\n") == 1  # one line, no traceback
    assert not (run_dir / "report.html").exists()
    compared = loadgen("compare", finished[0], run_dir, cwd=tmp_path)
    if name == "summary.csv":  # the only file compare reads
        assert (compared.returncode, compared.stderr) == (2, report.stderr)
    else:
        assert compared.returncode == 0, compared.stderr


def test_compare_names_the_file_of_a_metric_that_is_not_a_number(run_dir, finished, tmp_path):
    replace_cell(run_dir / "summary.csv", "rows_per_s", "lots")
    compared = loadgen("compare", finished[0], run_dir, cwd=tmp_path)
    assert compared.returncode == 2
    assert compared.stderr == f"error: {run_dir / 'summary.csv'}: column rows_per_s: 'lots' is not a number\n"
    assert loadgen("report", run_dir, "--no-png", cwd=tmp_path).returncode == 0  # the report leaves the cell empty
