"""User text on the terminal (paths, names, descriptions, matrix values, messages): never read as rich markup,
control characters shown escaped."""

import io

import pytest
from rich.console import Console

from loadgen.cli import main
from loadgen.report import terminal
from loadgen.results import files, tables


def summary_row(run_id, parameters="", **extra):
    return {
        "run_id": run_id, "scenario": "demo", "point": 0, "parameters": parameters, "phase": "load",
        "repetition": 1, "workload": "insert", "method": "rows", "workers": 1, "status": "ok", "wall_s": 0.5,
        "rows": 1000, "rows_per_s": 2000.0, "ops": 2, "ops_per_s": 4.0, "p50_ms": 1.25, "p99_ms": 2.5, **extra,
    }  # fmt: skip


def write_run(folder, rows, columns=()):
    folder.mkdir(parents=True)
    files.write_csv(folder / "summary.csv", tables.SUMMARY_COLUMNS + list(columns), rows)
    return folder


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m"  # sets the window title, clears the screen, turns text red
CONTROLS = {"\x1b", "\x07", "\x9b"}


def test_list_shows_control_characters_of_a_description_escaped(tmp_path, capsys):
    (tmp_path / "evil.yaml").write_text(
        'name: evil\ndescription: "\\e]0;owned\\a\\e[2J\\x9b31mhello"\nphases: []\n', encoding="utf-8"
    )
    assert main(["list", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert not CONTROLS & set(out)
    assert "evil" in out and r"\x1b]0;owned\x07\x1b[2J\x9b31mhello" in out


def test_error_lines_show_control_characters_escaped(tmp_path, capsys):
    path = tmp_path / f"{ESCAPES}.yaml"
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert not CONTROLS & set(err)
    assert r"\x1b]0;owned\x07\x1b[2J\x9b31m.yaml" in err


def test_usage_errors_show_control_characters_escaped(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["list", f"--{ESCAPES}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert not CONTROLS & set(err)
    assert r"unrecognized arguments: --\x1b]0;owned\x07\x1b[2J\x9b31m" in err


def test_the_phase_table_shows_control_characters_escaped():
    row = {**summary_row("r", f"description={ESCAPES}"), "verified": "ok"}
    out = io.StringIO()
    Console(file=out, width=300).print(terminal.phase_tables([row])[0])
    assert not CONTROLS & set(out.getvalue())
    assert r"[description=\x1b]0;owned\x07\x1b[2J\x9b31m]" in out.getvalue()


def test_validate_prints_paths_with_brackets_as_they_are(tmp_path, capsys):
    paths = [tmp_path / "x[/]y.yaml", tmp_path / "[wip].yaml", tmp_path / "[bold red]z.yaml"]
    for path in paths:
        path.parent.mkdir(exist_ok=True)
        path.write_text("name: demo\nrows: 100\nphases:\n  - {name: load, workload: insert}\n", encoding="utf-8")
    assert main(["validate", *map(str, paths)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"ok: {p} (demo: 1 phase, 1 worker)" for p in paths]


def test_the_compare_table_shows_brackets_as_they_are(tmp_path, capsys):
    a = write_run(tmp_path / "a[/]", [summary_row("a[wip]", "x[/]y [bold]")])
    b = write_run(tmp_path / "b", [summary_row("b", "x[/]y [bold]")])
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "load [x[/]y [bold]]" in out and "a[wip]" in out


def test_validate_counts_in_words_that_agree_with_the_number(tmp_path, capsys):
    one = tmp_path / "one.yaml"
    one.write_text("name: one\nrows: 100\nphases:\n  - {name: load, workload: insert}\n", encoding="utf-8")
    two = tmp_path / "two.yaml"
    two.write_text(
        "name: two\nrows: 100\nworkers: 2\nmatrix: {workers: [1, 2]}\nphases:\n"
        "  - {name: load, workload: insert}\n  - {name: scan, workload: query, shape: full_scan}\n",
        encoding="utf-8",
    )
    assert main(["validate", str(one), str(two)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"ok: {one} (one: 1 phase, 1 worker)",
        f"ok: {two} (two: 2 phases, 2 workers, 2 matrix points)",
    ]


def test_list_fits_its_descriptions_to_an_80_column_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    long = " ".join(["a long description word"] * 30)
    (tmp_path / "wordy.yaml").write_text(f"name: wordy\ndescription: {long}. Second sentence.\nphases: []\n")
    assert main(["list", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert out.startswith("wordy") and "Second sentence" not in out
    assert out.replace("word.", "word").split().count("word") == 30  # the first sentence whole, wrapped
