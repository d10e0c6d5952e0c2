"""A real run's CSVs as a spreadsheet and pandas read them: time columns import as date-times in LibreOffice's
default CSV import, a missed threshold shows in summary.csv and history.csv, samples_wide.csv is samples.csv
pivoted to one row per instant."""

import csv
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from loadgen import columns
from tests.conftest import only_run_dir, tagged_processes, write_scenario

SCENARIO = """\
name: sheets
workers: 2
rows: 20000
sampling: {interval_ms: 20}
phases:
  - {name: load, workload: insert, method: arrow}
  - {name: agg, workload: query, shape: aggregation, method: rows, iterations: 3}
  - {name: scan, workload: query, shape: filtered, method: rows, duration_s: 0.5}  # 25 sampling intervals
thresholds:
  agg.ops: ">= 1"
  agg.query.p99_ms: "< 0.000001"
  scan.rows_per_s: "> 0"
"""
OLD_HISTORY_COLUMNS = [c for c in columns.SUMMARY_NAMES if c != "thresholds"]  # what earlier versions wrote
OLD_STAMP = "2026-11-01 10:00:00.123"  # and their time form
NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}


def read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One small run that misses a threshold, into a results folder whose history.csv an earlier version wrote."""
    tmp = tmp_path_factory.mktemp("sheets")
    (tmp / "results").mkdir()
    old_row = dict.fromkeys(OLD_HISTORY_COLUMNS, "")
    old_row.update(run_id="older-run", scenario="sheets", phase="load", status="ok", started_utc=OLD_STAMP)
    with open(tmp / "results" / "history.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, OLD_HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerow(old_row)
    scenario = write_scenario(tmp / "sheets.yaml", SCENARIO)
    tag = uuid.uuid4().hex  # the run's processes inherit it: none may outlive the run (as the cli fixture checks)
    proc = subprocess.run([sys.executable, "-m", "loadgen", "run", scenario, "--results-dir", tmp / "results"],
                          cwd=tmp, env={**os.environ, "LOADGEN_TEST_TAG": tag}, capture_output=True, text=True,
                          timeout=240)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr  # a threshold missed
    deadline = time.monotonic() + 5
    while tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not tagged_processes(tag)
    return tmp / "results", only_run_dir(tmp / "results")


def test_a_missed_threshold_shows_in_summary_and_history_appended_to_an_old_header(run):
    results, run_dir = run
    summary = {r["phase"]: r for r in read(run_dir / "summary.csv")[1]}
    assert [r["status"] for r in summary.values()] == ["ok", "ok", "ok"]
    assert summary["load"]["thresholds"] == ""  # no bound on it
    assert summary["scan"]["thresholds"] == "ok"
    missed = summary["agg"]["thresholds"]
    assert missed.startswith("missed: query.p99_ms<1e-06 (was ") and missed.endswith(")"), missed
    assert float(missed.removeprefix("missed: query.p99_ms<1e-06 (was ")[:-1]) > 0
    header, history = read(results / "history.csv")
    assert header == OLD_HISTORY_COLUMNS + ["thresholds"]  # the old header kept, the new column added at its end
    assert [(r["run_id"], r["phase"], r["thresholds"]) for r in history] == [
        ("older-run", "load", ""),
        *((summary[p]["run_id"], p, summary[p]["thresholds"]) for p in ("load", "agg", "scan")),
    ]
    assert history[0]["started_utc"] == OLD_STAMP  # rows of earlier versions are kept as they are


def fods_rows(path) -> list[list[ET.Element]]:
    """The cells of a flat ODF spreadsheet's first table, repeated cells and rows expanded."""
    table = ET.parse(path).getroot().find(".//table:table", NS)
    rows = []
    for row in table.iter(f"{{{NS['table']}}}table-row"):
        cells = []
        for cell in row.findall("table:table-cell", NS):
            cells += [cell] * int(cell.get(f"{{{NS['table']}}}number-columns-repeated", "1"))
        rows += [cells] * int(row.get(f"{{{NS['table']}}}number-rows-repeated", "1"))
    return rows


def cell_text(cell) -> str:
    return "\n".join("".join(p.itertext()) for p in cell.findall("text:p", NS))


def test_every_time_column_imports_as_a_date_time_in_libreoffice_and_pandas(run, tmp_path):
    results, run_dir = run
    soffice = shutil.which("soffice")
    assert soffice, "this test imports CSVs in LibreOffice: apt-get install libreoffice-calc-nogui (make test does)"
    sheets = {p: p.relative_to(results) for p in [results / "history.csv", *run_dir.rglob("*.csv")]}
    converted = tmp_path / "fods"
    # each CSV under a name of its own (answers/q01.csv and a top-level one could share a name)
    for number, path in enumerate(sheets):
        (tmp_path / "csv").mkdir(exist_ok=True)
        shutil.copy(path, tmp_path / "csv" / f"{number}.csv")
    profile = (tmp_path / "profile").as_uri()  # its own: parallel runs of soffice must not share one
    subprocess.run(
        [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "fods", "--outdir", converted,
         *sorted((tmp_path / "csv").glob("*.csv"))],
        capture_output=True, timeout=180, check=True,
    )  # fmt: skip
    checked = set()
    for number, (path, name) in enumerate(sheets.items()):
        header, rows = read(path)
        time_columns = [c for c in header if c == "utc" or c.endswith("_utc")]
        if not time_columns or not rows:
            continue
        cells = fods_rows(converted / f"{number}.fods")
        assert [cell_text(c) for c in cells[0][: len(header)]] == header, name
        for column in time_columns:
            index = header.index(column)
            for row, sheet_row in zip(rows, cells[1:], strict=False):
                if not row[column] or row["run_id"] == "older-run":  # an earlier version's row, kept as it was
                    continue
                cell = sheet_row[index]
                assert cell.get(f"{{{NS['office']}}}value-type") == "date", (name, column, row[column])
                value = dt.datetime.fromisoformat(cell.get(f"{{{NS['office']}}}date-value"))
                assert abs((value - dt.datetime.fromisoformat(row[column])).total_seconds()) < 0.01, (name, column)
            checked.add((str(name), column))
            # history.csv mixes this version's rows with the older row's form: pandas then needs to be told ISO 8601
            iso = {"date_format": "ISO8601"} if name == Path("history.csv") else {}
            parsed = pd.read_csv(path, parse_dates=[column], **iso)
            assert pd.api.types.is_datetime64_any_dtype(parsed[column]), (name, column)
    assert {
        ("history.csv", "started_utc"),
        (f"{run_dir.relative_to(results)}/summary.csv", "started_utc"),
        (f"{run_dir.relative_to(results)}/samples.csv", "utc"),
        (f"{run_dir.relative_to(results)}/samples_wide.csv", "utc"),
    } <= checked
    summary = fods_rows(converted / f"{list(sheets.values()).index(run_dir.relative_to(results) / 'summary.csv')}.fods")
    column = read(run_dir / "summary.csv")[0].index("thresholds")
    assert cell_text(summary[2][column]).startswith("missed: query.p99_ms<1e-06 (was ")  # one cell, not split


def test_samples_wide_is_samples_with_a_row_per_instant_and_columns_per_process(run):
    _, run_dir = run
    _, long = read(run_dir / "samples.csv")
    header, wide = read(run_dir / "samples_wide.csv")
    roles = ["hyperd", "coordinator", "worker-0", "worker-1", "host"]
    assert {r["process"] for r in long} == set(roles)
    instant = ["run_id", "point", "t_s", "utc", "phase", "repetition"]
    assert header == instant + [f"{r}_cpu_pct" for r in roles] + [f"{r}_rss_mib" for r in roles]
    instants = list(dict.fromkeys((r["point"], r["t_s"]) for r in long))
    assert len(wide) == len(instants)
    assert [float(r["t_s"]) for r in wide] == sorted(float(t) for _, t in instants)
    by_instant = {(r["point"], r["t_s"]): r for r in wide}
    for sample in long:
        row = by_instant[(sample["point"], sample["t_s"])]
        assert [row[c] for c in instant] == [sample[c] for c in instant]
        assert (row[f"{sample['process']}_cpu_pct"], row[f"{sample['process']}_rss_mib"]) == (
            sample["cpu_pct"], sample["rss_mib"],
        )  # fmt: skip
    filled = sum(1 for r in wide for c in header if c.endswith("_cpu_pct") and r[c] != "")
    assert filled == len(long)  # nothing made up: one cell pair per sample
    phases = {r["phase"] for r in wide}
    assert phases == {r["phase"] for r in long}
    # a phase shorter than one sampling interval may have no sample (the load takes a few ms on a quiet machine):
    # only the half-second scan is sure to have its own
    assert phases <= {"setup", "load", "agg", "scan"} and {"setup", "scan"} <= phases, phases
