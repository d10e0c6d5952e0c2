"""CSV cells a spreadsheet would run as formulas: neutralised by loadgen's one writer, read back as they were by its
readers; numbers stay numbers."""

import csv

from loadgen import results
from loadgen.cli import main

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+SUM(A1:A9)", "-2+3", "@cmd", "\t=1", "\r=1"]


def raw_cells(path, column):
    with open(path, newline="", encoding="utf-8") as handle:
        return [row[column] for row in csv.DictReader(handle)]


def summary_row(run_id, parameters="", **extra):
    return {
        "run_id": run_id, "scenario": "demo", "point": 0, "parameters": parameters, "phase": "load",
        "repetition": 1, "workload": "insert", "method": "rows", "workers": 1, "status": "ok", "wall_s": 0.5,
        "rows": 1000, "rows_per_s": 2000.0, "ops": 2, "ops_per_s": 4.0, "p50_ms": 1.25, "p99_ms": 2.5, **extra,
    }  # fmt: skip


def write_run(folder, rows, columns=()):
    folder.mkdir(parents=True)
    results.write_csv(folder / "summary.csv", results.SUMMARY_COLUMNS + list(columns), rows)
    return folder


def test_text_a_spreadsheet_would_run_as_a_formula_gets_a_leading_quote(tmp_path):
    path = tmp_path / "x.csv"
    texts = [*FORMULAS, "plain", "'quoted", "a=b"]
    results.write_csv(path, ["run_id", "note"], [{"run_id": "r", "note": t} for t in texts])
    assert raw_cells(path, "note") == [*("'" + f for f in FORMULAS), "plain", "''quoted", "a=b"]


def test_numbers_stay_numbers_a_spreadsheet_reads_negative_ones_included(tmp_path):
    path = tmp_path / "x.csv"
    numbers = {"a": -1.5, "b": -2, "c": "-1.5", "d": "+3", "e": "-1e-3", "f": ".5", "g": 0.25}
    results.write_csv(path, list(numbers), [numbers])
    assert list(csv.reader(path.open(newline="")))[1] == ["-1.5", "-2", "-1.5", "+3", "-1e-3", ".5", "0.25"]


def test_every_reader_of_loadgen_gets_text_back_as_it_was(tmp_path):
    texts = [*FORMULAS, "'quoted", "''twice"]
    path = tmp_path / "x.csv"
    results.write_csv(path, ["run_id", "note"], [{"run_id": "r", "note": t} for t in texts])
    assert [r["note"] for r in results.read_csv(path)[1]] == texts


def test_history_keeps_text_cells_as_they_were_across_appends(tmp_path):
    texts = {"param:description": FORMULAS[0], "param:label": "'quoted", "param:offset": "-1.5"}
    for run in ("a", "b", "c"):
        assert results.append_history(str(tmp_path), [summary_row(run, **texts)]) is None
    history = tmp_path / "history.csv"
    assert raw_cells(history, "param:description") == ["'" + FORMULAS[0]] * 3  # neutralised once, not again
    assert raw_cells(history, "param:label") == ["''quoted"] * 3
    assert raw_cells(history, "param:offset") == ["-1.5"] * 3
    assert [{k: r[k] for k in texts} for r in results.read_csv(history)[1]] == [texts] * 3


def test_compare_shows_the_text_the_run_wrote(tmp_path, capsys):
    label = "=HYPERLINK(1)"
    a = write_run(tmp_path / "a", [summary_row("a", label)])
    b = write_run(tmp_path / "b", [summary_row("b", label, rows_per_s=3000.0)])
    assert raw_cells(a / "summary.csv", "parameters") == ["'" + label]
    assert main(["compare", str(a), str(b), "--format", "csv"]) == 0
    phases = {line[0] for line in csv.reader(capsys.readouterr().out.splitlines()[1:])}
    assert phases == {"load [=HYPERLINK(1)]"}
