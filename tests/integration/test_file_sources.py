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


def test_a_csv_cell_of_several_mb_loads_whoever_reads_it(cli, tmp_path):
    """A 5 MB cell is beyond pyarrow's default CSV block: validation, the client's load and the client's read of
    the facts after hyperd's load read it with a bigger block."""
    with open(tmp_path / "big.csv", "w", encoding="utf-8") as handle:
        handle.write("id,txt\n" + "".join(f"{i},small\n" for i in range(50_000)) + f"50000,{'x' * 5_000_000}\n")
    text = yaml.safe_dump({
        "name": "big_cell",
        "phases": [
            {"name": "client", "workload": "insert", "method": "arrow_stream", "source": {"path": "big.csv"}},
            {"name": "server", "workload": "insert", "source": {"path": "big.csv", "read_by": "hyperd"}},
        ],
    }, sort_keys=False)  # fmt: skip
    res = cli("run", write_scenario(tmp_path / "s.yaml", text), "--results-dir", tmp_path / "r", "--quiet")
    assert res.code == 0, res.stderr
    summary = read_summary(only_run_dir(tmp_path / "r"))
    assert [(r["phase"], r["rows"], r["verified"]) for r in summary] == [
        ("client", "50001", "ok"),
        ("server", "50001", "ok"),
    ]


def test_a_damaged_parquet_file_is_named_in_the_error(cli, tmp_path):
    path = tmp_path / "damaged.parquet"
    pq.write_table(pa.table({"id": pa.array(range(100_000), pa.int64())}), path, compression="snappy")
    data = bytearray(path.read_bytes())
    for i in range(1000, len(data) // 2, 7):  # the pages, not the footer: validation (which reads it) passes
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    text = "name: damaged\nphases:\n  - {name: load, workload: insert, source: {path: damaged.parquet}}\n"
    res = cli("run", write_scenario(tmp_path / "s.yaml", text), "--results-dir", tmp_path / "r", "--quiet")
    assert res.code == 1, res.stderr
    assert f"{path}: cannot read row group 0 (Corrupt snappy compressed data.); the file is damaged" in res.stderr
