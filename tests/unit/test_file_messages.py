"""Files the client reads: a CSV cell of several MB (beyond pyarrow's default 1 MiB block) is read, at validation
and when loading; a CSV without rows and a damaged Parquet file get messages that name the file and say what to
do."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loadgen.errors import ScenarioError
from loadgen.file_source import read_unit
from loadgen.scenario import load_scenario

DECLARED = """\
name: t
data:
  d:
    name: d
    columns: [{{name: id, type: BIGINT}}, {{name: txt, type: TEXT}}]
phases:
  - {{name: inferred, workload: insert, source: {{path: '{path}', read_by: {by}}}}}
  - {{name: declared, workload: insert, table: d, source: {{path: '{path}', read_by: {by}}}}}
"""
BIG = 5_000_000  # characters in one cell: five of pyarrow's default blocks


def big_csv(path, small_rows: int):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("id,txt\n" + "".join(f"{i},small\n" for i in range(small_rows)))
        handle.write(f"{small_rows},{'x' * BIG}\n{small_rows + 1},last\n")
    return path


@pytest.mark.parametrize("by", ["client", "hyperd"])
@pytest.mark.parametrize("small_rows", [0, 100_000])  # the big cell first, or after a few blocks
def test_a_csv_cell_of_several_mb_passes_validation(tmp_path, by, small_rows):
    path = big_csv(tmp_path / "big.csv", small_rows)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(DECLARED.format(path=path, by=by), encoding="utf-8")
    assert [p.source.read_by for p in load_scenario(scenario).phases] == [by, by]


def test_a_csv_cell_of_several_mb_is_read_with_every_row(tmp_path):
    path = big_csv(tmp_path / "big.csv", 100_000)
    schema = pa.schema([("id", pa.int64()), ("txt", pa.string())])
    table = pa.Table.from_batches(list(read_unit((str(path), None), "csv", schema, 4096)), schema)
    assert table.num_rows == 100_002
    assert table.column("id").to_pylist() == list(range(100_002))  # none lost or read twice on the way
    assert [len(v) for v in table.column("txt").to_pylist()[-3:]] == [5, BIG, 4]


def test_a_csv_without_rows_says_so_and_what_to_do(tmp_path):
    (tmp_path / "empty.csv").write_text("id,txt\n", encoding="utf-8")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        f"name: t\nphases:\n  - {{name: load, workload: insert, source: {{path: '{tmp_path / 'empty.csv'}'}}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario)
    assert caught.value.problems == [
        f"{scenario}:3: phases[0].source.path: {tmp_path / 'empty.csv'} has no rows, so the types of its columns "
        "cannot be inferred: declare the table in data: (column names and types) and load the file into it with "
        "table: KEY, or give the file rows"
    ]


def test_a_damaged_parquet_file_is_named_with_what_to_do(tmp_path):
    path = tmp_path / "damaged.parquet"
    pq.write_table(pa.table({"id": pa.array(range(100_000), pa.int64())}), path, compression="snappy")
    data = bytearray(path.read_bytes())
    for i in range(1000, len(data) // 2, 7):  # the pages, not the footer: the schema still reads
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    schema = pa.schema([("id", pa.int64())])
    assert pq.read_schema(path) == schema
    with pytest.raises(ValueError) as caught:
        list(read_unit((str(path), 0), "parquet", schema, 4096))
    assert str(caught.value).startswith(f"{path}: cannot read row group 0 (Corrupt snappy compressed data.)")
    assert str(caught.value).endswith("the file is damaged: write it again, or leave it out of source.path")
