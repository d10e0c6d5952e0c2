import csv

import pytest

from loadgen.errors import ScenarioError
from loadgen.results import environment as run_environment
from loadgen.results import files as run_files
from loadgen.results import tables as run_tables


def test_run_folders_are_never_reused(tmp_path):
    first = run_files.create_run_dir(str(tmp_path), "demo")
    second = run_files.create_run_dir(str(tmp_path), "demo")
    assert first[1] != second[1]
    assert first[1].parent == tmp_path / "demo"
    assert second[0].startswith("demo-")


def test_csv_has_fixed_columns_and_plain_numbers(tmp_path):
    path = tmp_path / "x.csv"
    run_files.write_csv(
        path,
        ["run_id", "rows", "rows_per_s", "note"],
        [{"run_id": "r", "rows": 1234567, "rows_per_s": 1.5e6, "note": "a,b"}],
    )
    rows = list(csv.reader(path.open()))
    assert rows == [["run_id", "rows", "rows_per_s", "note"], ["r", "1234567", "1500000", "a,b"]]
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]  # no temp file left


def test_unknown_column_is_a_bug_not_silently_dropped(tmp_path):
    with pytest.raises(ValueError):
        run_files.write_csv(tmp_path / "x.csv", ["a"], [{"a": 1, "b": 2}])


def test_results_dir_under_a_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ScenarioError, match="is not a folder"):
        run_files.check_writable(str(blocker / "results"), "output.dir")
    assert not (blocker.parent / "results").exists()


def test_environment_names_the_versions():
    env = run_environment.environment("run", ["loadgen"])
    assert env["packages"]["tableauhyperapi"] and env["cpu_logical"] >= 1 and env["memory_total_mib"] > 0


def test_final_rows_prefer_median_then_failure_then_last():
    rows = [
        {"phase": "a", "repetition": 1, "status": "ok"},
        {"phase": "b", "repetition": 1, "status": "ok"},
        {"phase": "a", "repetition": 2, "status": "ok"},
        {"phase": "b", "repetition": 2, "status": "failed"},
        {"phase": "a", "repetition": "median", "status": "ok"},
    ]
    assert [(r["phase"], r["repetition"]) for r in run_tables.final_rows(rows)] == [("a", "median"), ("b", 2)]


def test_staged_files_of_a_dead_worker_are_removed_from_a_configured_folder(tmp_path):
    from loadgen.transfer import staging

    (tmp_path / "loadgen-staged-999999-3.arrows").write_bytes(b"x")
    (tmp_path / "loadgen-staged-123-1.arrows").write_bytes(b"x")  # another worker's: stays
    assert staging.remove_leftovers(999999, [str(tmp_path)]) == ["loadgen-staged-999999-3.arrows"]
    assert [p.name for p in tmp_path.iterdir()] == ["loadgen-staged-123-1.arrows"]
