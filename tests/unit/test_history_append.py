"""history.csv under concurrency, with files this version did not write, and as a symlink; atomic writes that fail."""

import csv
import errno
import multiprocessing

import pytest

from loadgen import results
from loadgen.errors import ScenarioError


def read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def row(run_id, phase="load", **extra):
    return {"run_id": run_id, "scenario": "demo", "phase": phase, "status": "ok", "rows_per_s": 1.5e6, **extra}


def append_ten(folder: str, process: int) -> list:
    return [results.append_history(folder, [row(f"run-{process}-{i}")]) for i in range(10)]


def test_twenty_processes_appending_together_keep_every_row(tmp_path):
    with multiprocessing.get_context("fork").Pool(20) as pool:
        warnings = pool.starmap(append_ten, [(str(tmp_path), p) for p in range(20)], chunksize=1)
    assert warnings == [[None] * 10] * 20
    columns, rows = read(tmp_path / "history.csv")
    assert columns == results.HISTORY_COLUMNS
    assert sorted(r["run_id"] for r in rows) == sorted(f"run-{p}-{i}" for p in range(20) for i in range(10))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".history.csv.lock", "history.csv"]  # no temp files


def test_matrix_param_columns_are_kept_and_added_to_the_header(tmp_path):
    results.append_history(str(tmp_path), [row("a")])
    results.append_history(str(tmp_path), [row("b", point=1, **{"param:workers": 2})])
    results.append_history(str(tmp_path), [row("c", point=0, **{"param:load.method": "rows"})])
    columns, rows = read(tmp_path / "history.csv")
    assert columns == results.HISTORY_COLUMNS + ["param:workers", "param:load.method"]
    assert [(r["run_id"], r["param:workers"], r["param:load.method"]) for r in rows] == [
        ("a", "", ""),
        ("b", "2", ""),
        ("c", "", "rows"),
    ]
    assert rows[0]["rows_per_s"] == "1500000"


def test_columns_this_version_does_not_know_are_kept(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("run_id,phase,future_metric\nold,load,42\n", encoding="utf-8")
    assert results.append_history(str(tmp_path), [row("new")]) is None
    columns, rows = read(history)
    assert columns[:3] == ["run_id", "phase", "future_metric"]
    assert set(results.HISTORY_COLUMNS) <= set(columns)
    assert [(r["run_id"], r["future_metric"], r["scenario"]) for r in rows] == [("old", "42", ""), ("new", "", "demo")]


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"\xff\xfe\x00garbage", "cannot be read as CSV"),
        (b"just some notes\nnothing else\n", "not a loadgen history"),
        (b"run_id,phase\nr,load,surplus\n", "row 2 has more cells than the header"),
    ],
)
def test_a_garbled_history_is_left_alone_with_a_warning(tmp_path, content, reason):
    history = tmp_path / "history.csv"
    history.write_bytes(content)
    warning = results.append_history(str(tmp_path), [row("new")])
    assert warning.startswith(f"{history}: ") and reason in warning and "left as it is" in warning
    assert history.read_bytes() == content


def test_a_history_that_cannot_be_written_is_a_warning_not_an_error(tmp_path):
    folder = tmp_path / "gone"  # the output folder disappeared: nothing to lock or write in
    assert results.append_history(str(folder), [row("new")]).startswith(f"{folder / 'history.csv'}: not updated")


def test_a_failed_write_leaves_no_temp_file(tmp_path, monkeypatch):
    def disk_full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        results.write_atomic(tmp_path / "summary.csv", "a,b\n")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_leaves_no_temp_file(tmp_path):
    (tmp_path / "summary.csv").mkdir()  # os.replace cannot put a file over a folder
    with pytest.raises(OSError):
        results.write_atomic(tmp_path / "summary.csv", "a,b\n")
    assert [p.name for p in tmp_path.iterdir()] == ["summary.csv"]


def test_temp_names_are_unique_per_process_and_call(tmp_path, monkeypatch):
    seen = []
    real_replace = results.os.replace
    monkeypatch.setattr(results.os, "replace", lambda src, dst: seen.append(src) or real_replace(src, dst))
    results.write_atomic(tmp_path / "x.csv", "1")
    results.write_atomic(tmp_path / "x.csv", "2")
    assert len(set(seen)) == 2 and all(f".x.csv.{results.os.getpid()}-" in str(s) for s in seen)


def test_a_file_where_the_scenario_folder_belongs_is_a_scenario_error(tmp_path):
    (tmp_path / "demo").write_text("not a folder")
    with pytest.raises(ScenarioError) as info:
        results.create_run_dir(str(tmp_path), "demo")
    assert info.value.exit_code == 2
    assert info.value.problems == [
        f"output.dir: {tmp_path / 'demo'} is a file, not a folder; move it away or use --results-dir"
    ]


def append_through(link: str, process: int) -> list:
    return [results.append_history(link, [row(f"run-{process}-{i}")]) for i in range(5)]


def test_a_history_that_is_a_symlink_gets_the_rows_and_stays_a_link(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    assert results.append_history(str(shared), [row("first")]) is None
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
        (folder / "history.csv").symlink_to(shared / "history.csv")
    # two results folders that share one history through links: their appends take turns on one lock
    with multiprocessing.get_context("fork").Pool(8) as pool:
        warnings = pool.starmap(append_through, [(str(folders[p % 2]), p) for p in range(8)], chunksize=1)
    assert warnings == [[None] * 5] * 8
    for folder in folders:
        assert (folder / "history.csv").is_symlink()
        assert [p.name for p in folder.iterdir() if not p.name.startswith(".history.csv.lock")] == ["history.csv"]
    run_ids = [r["run_id"] for r in read(shared / "history.csv")[1]]
    assert sorted(run_ids) == sorted(["first", *(f"run-{p}-{i}" for p in range(8) for i in range(5))])
    assert sorted(p.name for p in shared.iterdir()) == [".history.csv.lock", "history.csv"]  # no temp files


def test_a_history_link_to_a_missing_folder_is_a_warning_and_stays(tmp_path):
    link = tmp_path / "history.csv"
    link.symlink_to(tmp_path / "gone" / "history.csv")
    warning = results.append_history(str(tmp_path), [row("r")])
    assert warning.startswith(f"{link}: not updated")
    assert link.is_symlink() and not (tmp_path / "gone").exists()
