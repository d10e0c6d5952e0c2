"""Files as an insert phase's source, end to end with a real hyperd: the file named is the file loaded (even with
glob characters in its name), and what the run folder's scenario.yaml says was read."""

import csv

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from tests.conftest import only_run_dir, write_scenario


def read_summary(run_dir) -> list[dict]:
    with open(run_dir / "summary.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_file_named_like_a_glob_is_the_file_loaded(cli, tmp_path):
    pq.write_table(pa.table({"id": pa.array(range(1000), pa.int64())}), tmp_path / "x[1].parquet")
    pq.write_table(pa.table({"id": pa.array(range(5), pa.int64())}), tmp_path / "x1.parquet")  # what x[1] globs to
    path = write_scenario(
        tmp_path / "s.yaml",
        "name: bracket\nphases:\n"
        "  - {name: load, workload: insert, method: arrow_stream, source: {path: 'x[1].parquet'}}\n",
    )
    res = cli("run", path, "--results-dir", tmp_path / "r", "--quiet")
    assert res.code == 0, res.stderr
    run_dir = only_run_dir(tmp_path / "r")
    (load,) = read_summary(run_dir)
    assert (load["rows"], load["verified"]) == ("1000", "ok")
    recorded = yaml.safe_load((run_dir / "scenario.yaml").read_text())["phases"][0]["source"]["path"]
    assert recorded == [str(tmp_path / "x[1].parquet")]
