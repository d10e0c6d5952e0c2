"""The Arrow insert paths against a real hyperd: `arrow` stages its chunks in two files written over in turn, the
first one before the phase's barrier; `arrow_stream` hands psycopg each IPC message whole. Every row arrives."""

import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from tableauhyperapi import Connection, CreateMode, HyperProcess, TableName, Telemetry

from loadgen.datagen import canonical, canonical_batches
from loadgen.engine import server
from loadgen.engine.context import WorkerContext
from loadgen.engine.worker import StopFlag
from loadgen.results.recorder import Recorder
from loadgen.scenario.load import load_scenario
from loadgen.transfer import staging, writers
from loadgen.workloads.insert.workload import InsertWorkload
from tests.conftest import write_scenario


@pytest.fixture(scope="module")
def hyper():
    with tempfile.TemporaryDirectory() as folder:
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": folder}) as process:
            database = f"{folder}/arrow.hyper"
            with Connection(process.endpoint, database, CreateMode.CREATE_AND_REPLACE):
                pass
            yield process, database


def fresh_table(connection, name: str) -> TableName:
    table = TableName(name)
    connection.execute_command(f"DROP TABLE IF EXISTS {table}")
    connection.execute_command(f"CREATE TABLE {table} ({canonical.COLUMNS_SQL})")
    return table


def chunks_of(table: TableName, sizes: list[int], batch_rows: int = 1000):
    start = 0
    for size in sizes:
        batches = canonical_batches.iter_record_batches(canonical.RowRange(start, size), batch_rows)
        yield writers.Chunk(table, canonical_batches.ARROW_SCHEMA, batches)
        start += size


def assert_holds(connection, table: TableName, rows: int) -> None:
    want = canonical.expected(canonical.RowRange(0, rows))
    got = connection.execute_list_query(f"SELECT COUNT(*), SUM(id), SUM(sensor_id), SUM(timestamp) FROM {table}")[0]
    stamps = sum(canonical.TIMESTAMP_BASE + i * 1000 for i in range(rows))
    assert got == [want.count, want.sum_id, sum(i % canonical.SENSORS for i in range(rows)), stamps]


def staged_names(folder: Path) -> set[str]:
    return {name for name in os.listdir(folder) if name.startswith(staging.file_prefix())}


def test_staged_copies_write_two_files_over_and_remove_them(hyper, tmp_path):
    """Chunks of falling and rising sizes (a file written over by a shorter stream must end where that stream
    ends): every COPY reads one of two files, and none is left once the copies end."""
    process, database = hyper
    sizes = [30_000, 5_000, 12_000, 1, 20_000, 7_000]
    with Connection(process.endpoint, database) as connection:
        table = fresh_table(connection, "staged")
        read: list[set] = []

        def copying(sql: str):  # the files there while hyperd reads one
            read.append(staged_names(tmp_path))
            return execute(sql)

        execute = connection.execute_command
        connection.execute_command = copying
        sent = list(writers.staged_copies(connection, chunks_of(table, sizes), str(tmp_path)))
        connection.execute_command = execute
        assert [s.rows for s in sent] == sizes and [s.reported for s in sent] == sizes
        assert len(set().union(*read)) == 2 and all(len(names) <= 2 for names in read)
        assert staged_names(tmp_path) == set()
        assert_holds(connection, table, sum(sizes))


def test_stream_copies_write_each_batch_whole(hyper, monkeypatch):
    """One write per IPC message (the schema, each batch, the end marker): psycopg sends a CopyData message per
    write, and hyperd handles each (pyarrow's stream writer made ~7 per batch)."""
    process, database = hyper
    writes = []
    write = psycopg.Copy.write
    monkeypatch.setattr(psycopg.Copy, "write", lambda copy, data: writes.append(len(data)) or write(copy, data))
    sizes = [10_000, 2_500]
    with Connection(process.endpoint, database) as connection:
        table = fresh_table(connection, "streamed")
        pg = server.pg_connect(process.endpoint.connection_descriptor, database)
        try:
            sent = list(writers.stream_copies(pg, chunks_of(table, sizes), SimpleNamespace(sending=lambda rows: None)))
        finally:
            pg.close()
        assert [s.rows for s in sent] == sizes
        batches = sum(-(-size // 1000) for size in sizes)
        assert len(writes) == batches + 2 * len(sizes)
        assert_holds(connection, table, sum(sizes))


PHASE = """\
name: staged_first
workers: 1
rows: {rows}
phases:
  - {{name: load, workload: insert, method: arrow, rows_per_copy: 20000, batch_rows: 4096, staging_dir: "{folder}"}}
"""


def test_the_first_file_is_staged_before_the_barrier(hyper, tmp_path):
    """The canonical insert's setup stages its first chunk (the phase's clock starts at a COPY, not at staging);
    its run loads every row, and close removes the files."""
    process, database = hyper
    folder = tmp_path / "staging"
    folder.mkdir()
    phase = load_scenario(write_scenario(tmp_path / "s.yaml", PHASE.format(rows=50_000, folder=folder))).phases[0]
    with Connection(process.endpoint, database) as connection:
        never = SimpleNamespace(value=0)
        ctx = WorkerContext(
            worker=0, workers=1, connection=connection, table=TableName("first_staged"),
            endpoint=process.endpoint.connection_descriptor, database=database, stop=StopFlag(never),
            finish=StopFlag(never, 2), owns_database=True, run_dir=str(tmp_path),
        )  # fmt: skip
        workload = InsertWorkload(phase, ctx)
        workload.setup()
        staged = staged_names(folder)
        assert len(staged) == 1 and os.path.getsize(folder / staged.pop()) > 20_000 * canonical.BYTES_PER_ROW
        recorder = Recorder()
        workload.run(recorder)
        assert recorder.rows == 50_000
        assert workload.verify()["verified"] == "ok"
        workload.close()
        assert staged_names(folder) == set()
