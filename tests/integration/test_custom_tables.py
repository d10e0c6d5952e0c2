"""Your own tables (data: definitions) through every insert method against a real hyperd, at small sizes: every
type written and verified, what the server holds checked against the generators' promises, byte-identical data
for the same seed, and a lost batch caught by the column checks."""

import csv
import tempfile
from decimal import Decimal

import pyarrow as pa
import pytest
import yaml
from tableauhyperapi import Connection, CreateMode, HyperProcess, Telemetry

from loadgen.datagen import generate
from loadgen.datagen.arrow import arrow_schema
from loadgen.datagen.checks import check_table
from loadgen.datagen.definitions import TableDefinition
from loadgen.datagen.facts import batch_facts, merge_facts
from tests.conftest import only_run_dir, write_scenario

COLUMNS = [
    {"name": "id", "type": "BIGINT", "nullable": False, "generator": {"kind": "sequence", "start": 1}},
    {"name": "customer", "type": "INT", "generator": {"kind": "zipf", "n": 1000, "s": 1.5}},
    {"name": "status", "type": "TEXT",
     "generator": {"kind": "choice", "values": ["a", "b", "c"], "weights": [6, 3, 1]}},
    {"name": "amount", "type": "NUMERIC(12,2)", "null_fraction": 0.2,
     "generator": {"kind": "lognormal", "mean": 3, "sigma": 1, "low": 0.5, "high": 9999}},
    {"name": "qty", "type": "SMALLINT", "generator": {"kind": "uniform", "low": 1, "high": 20}},
    {"name": "score", "type": "DOUBLE PRECISION", "generator": {"kind": "normal", "mean": 0, "stddev": 1}},
    {"name": "flag", "type": "BOOL", "generator": {"kind": "bool", "p": 0.25}},
    {"name": "day", "type": "DATE", "generator": {"kind": "uniform", "low": "2024-01-01", "high": "2024-12-31"}},
    {"name": "at", "type": "TIMESTAMP", "null_fraction": 0.1,
     "generator": {"kind": "sequence", "start": "2024-01-01 00:00:00", "step": 1.5}},
    {"name": "at_tz", "type": "TIMESTAMPTZ",
     "generator": {"kind": "uniform", "low": "2024-01-01T00:00:00Z", "high": "2024-02-01T00:00:00Z"}},
    {"name": "notes", "type": "TEXT", "null_fraction": 0.3,
     "generator": {"kind": "words", "min_words": 1, "max_words": 5}},
    {"name": "code", "type": "TEXT", "generator": {"kind": "random", "min_length": 0, "max_length": 6}},
    {"name": "sku", "type": "TEXT", "generator": {"kind": "pattern", "pattern": "SKU-#####"}},
    {"name": "region", "type": "INT", "generator": {"kind": "constant", "value": 7}},
]  # fmt: skip
ROWS = 30_000


def scenario(tmp_path, db_dir, phases, name="orders_{worker}", extra_columns=(), seed=5):
    text = yaml.safe_dump({
        "name": "custom", "workers": 2, "seed": seed,
        "server": {"database_dir": str(db_dir), "keep_database": True},
        "data": {"orders": {"name": name, "columns": COLUMNS + list(extra_columns)}},
        "phases": phases,
    }, sort_keys=False)  # fmt: skip
    return write_scenario(tmp_path / f"s{seed}.yaml", text)


def read_workers(run_dir):
    with open(run_dir / "workers.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def query(db_path, *sqls):
    with tempfile.TemporaryDirectory() as logs:
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": logs}) as hyper:
            with Connection(hyper.endpoint, str(db_path), CreateMode.NONE) as connection:
                return [connection.execute_list_query(sql) for sql in sqls]


def test_every_type_through_every_method_and_what_the_server_holds(cli, tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    phases = [
        {"name": f"load_{m}", "workload": "insert", "table": "orders", "method": m, "rows": ROWS,
         "batch_rows": 4000, "rows_per_copy": 9000}
        for m in ("arrow", "arrow_stream", "rows")
    ] + [{"name": "scan", "workload": "query", "table": "orders", "method": "arrow"}]  # fmt: skip
    waits = [  # INTERVAL (not in COLUMNS: Parquet files cannot hold Arrow's month_day_nano intervals)
        {"name": "wait", "type": "INTERVAL", "null_fraction": 0.1,
         "generator": {"kind": "uniform", "low": "1 minute", "high": "2 hours"}},
        {"name": "step", "type": "INTERVAL", "generator": {"kind": "sequence", "start": "00:00:01", "step": 0.5}},
    ]  # fmt: skip
    res = cli("run", scenario(tmp_path, db, phases, extra_columns=waits), "--results-dir", tmp_path / "results",
              "--quiet")  # fmt: skip
    assert res.code == 0, res.stderr
    workers = read_workers(only_run_dir(tmp_path / "results"))
    assert len(workers) == 8 and all(w["verified"] == "ok" for w in workers), workers
    assert {w["counted_rows"] for w in workers if w["phase"].startswith("load")} == {str(ROWS // 2)}
    # the last load (rows) is in the kept database: check the generators' promises server-side
    (top, count), (nulls,), (status,), ranges = [rows[0] for rows in query(
        db / "loadgen.hyper",
        'SELECT MAX(n), SUM(n) FROM (SELECT COUNT(*) AS n FROM "orders_0" GROUP BY customer) g',
        'SELECT AVG(CASE WHEN notes IS NULL THEN 1.0 ELSE 0.0 END) FROM "orders_0"',
        'SELECT COUNT(*) FILTER (WHERE status = \'a\') * 1.0 / COUNT(*) FROM "orders_0"',
        'SELECT MIN(qty), MAX(qty), MIN(day), MAX(day), MIN(amount), MAX(amount), COUNT(DISTINCT region) '
        'FROM "orders_0"',
    )]  # fmt: skip
    ((wmin, wmax, wnulls, first_step, last_step),) = query(
        db / "loadgen.hyper",
        "SELECT MIN(EXTRACT(EPOCH FROM wait)), MAX(EXTRACT(EPOCH FROM wait)), COUNT(*) - COUNT(wait), "
        'MIN(EXTRACT(EPOCH FROM step)), MAX(EXTRACT(EPOCH FROM step)) FROM "orders_0"',
    )[0]
    assert 60 <= wmin < 70 and 7190 < wmax <= 7200 and 0.07 < wnulls / (ROWS // 2) < 0.13
    assert (first_step, last_step) == (1, 1 + 0.5 * (ROWS // 2 - 1))  # worker 0: rows 0 … ROWS/2 - 1
    assert 0.35 < top / count < 0.43  # zipf s=1.5 over 1..1000: key 1 has ~39%
    assert 0.27 < float(nulls) < 0.33
    assert 0.57 < float(status) < 0.63
    qmin, qmax, dmin, dmax, amin, amax, regions = ranges
    assert (qmin, qmax, regions) == (1, 20, 1)
    assert str(dmin) >= "2024-01-01" and str(dmax) <= "2024-12-31"
    assert float(amin) >= 0.5 and float(amax) <= 9999


def test_shared_table_and_varchar_with_rows(cli, tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    phases = [
        {"name": "load", "workload": "insert", "table": "orders", "method": "rows", "rows": 8000, "batch_rows": 999},
        {"name": "scan", "workload": "query", "table": "orders", "method": "rows"},
    ]
    extra = [
        {"name": "short_code", "type": "VARCHAR(9)", "generator": {"kind": "pattern", "pattern": "AB-###"}},
        {"name": "fixed", "type": "CHAR(3)", "generator": {"kind": "choice", "values": ["x", "yz", "abc"]}},
    ]
    res = cli("run", scenario(tmp_path, db, phases, name="orders", extra_columns=extra), "--results-dir",
              tmp_path / "results", "--quiet")  # fmt: skip
    assert res.code == 0, res.stderr
    workers = read_workers(only_run_dir(tmp_path / "results"))
    assert all(w["verified"] == "ok" for w in workers), workers
    checked = [w for w in workers if w["phase"] == "load" and w["counted_rows"]]
    assert [c["counted_rows"] for c in checked] in (["8000"], ["8000", "8000"])  # the last to finish checks all
    ((count, distinct),) = query(db / "loadgen.hyper", 'SELECT COUNT(*), COUNT(DISTINCT id) FROM "orders"')[0]
    assert count == distinct == 8000  # two workers, one table, no key twice


def test_same_seed_writes_identical_data(cli, tmp_path):
    """Whatever the method, batch size, COPY size and generator threads: the same seed, the same rows. A wide
    column makes the blocks 16,384 rows (loadgen.datagen.blocks.block_rows), so each worker's 20,000 rows span two:
    the block made ahead, and a block cut by COPYs and batches, are in it."""
    wide = {"name": "wide", "type": "TEXT", "generator": {"kind": "random", "min_length": 1000, "max_length": 2000}}
    load = {"name": "load", "workload": "insert", "table": "orders", "rows": 40_000}
    attempts = [
        (9, {"method": "arrow_stream"}),
        (9, {"method": "arrow", "batch_rows": 700, "rows_per_copy": 7000, "generator_threads": 3}),
        (9, {"method": "rows", "batch_rows": 500, "generator_threads": 1}),
        (10, {"method": "arrow_stream"}),
    ]
    dumps = []
    for attempt, (seed, settings) in enumerate(attempts):
        db = tmp_path / f"db{attempt}"
        db.mkdir()
        res = cli("run", scenario(tmp_path, db, [{**load, **settings}], extra_columns=[wide], seed=seed),
                  "--results-dir", tmp_path / f"r{attempt}", "--quiet")  # fmt: skip
        assert res.code == 0, res.stderr
        dumps.append(query(db / "loadgen.hyper", 'SELECT * FROM "orders_1" ORDER BY id')[0])
    assert dumps[0] == dumps[1] == dumps[2] and len(dumps[0]) == 20_000
    assert dumps[0] != dumps[3]


@pytest.fixture(scope="module")
def connection():
    with tempfile.TemporaryDirectory() as folder:
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": folder}) as hyper:
            with Connection(hyper.endpoint, f"{folder}/t.hyper", CreateMode.CREATE_AND_REPLACE) as conn:
                yield conn


def test_a_lost_batch_is_caught_and_the_column_named(connection, tmp_path):
    definition = TableDefinition.model_validate({"columns": COLUMNS})
    connection.execute_command('DROP TABLE IF EXISTS "t"')
    connection.execute_command(definition.create_sql('"t"'))
    facts: dict = {}
    for first in range(0, 3000, 1000):
        batch = generate.record_batch(definition, "orders", 1, 0, first, 1000)
        merge_facts(facts, batch_facts(definition, batch))
        if first == 1000:
            continue  # lost on the way: generated and counted, never written
        path = tmp_path / f"{first}.arrows"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        connection.execute_command(f"COPY \"t\" FROM '{path}' WITH (FORMAT arrowstream)")
    result = check_table(connection, '"t"', definition, {"rows": 3000, "columns": facts})
    assert result["verified"] == "failed" and result["counted_rows"] == 2000
    assert "COUNT(*) = 2000, expected 3000" in result["detail"]
    assert "amount: SUM(amount)" in result["detail"] and "notes: SUM(LENGTH)(notes)" in result["detail"]
    # the same facts without the lost batch match exactly
    kept: dict = {}
    for first in (0, 2000):
        batch = generate.record_batch(definition, "orders", 1, 0, first, 1000)
        merge_facts(kept, batch_facts(definition, batch))
    assert check_table(connection, '"t"', definition, {"rows": 2000, "columns": kept})["verified"] == "ok"


def test_files_split_over_three_workers_client_and_server_side(cli, tmp_path):
    import pyarrow.parquet as pq

    definition = TableDefinition.model_validate({"columns": COLUMNS})
    folder = tmp_path / "files"
    folder.mkdir()
    for number, rows in enumerate((5000, 3000, 700, 4100)):  # 3, 2, 1 and 3 row groups of at most 2000
        start = number * 10_000
        batches = [generate.record_batch(definition, "f", 1, 0, first, min(2000, start + rows - first))
                   for first in range(start, start + rows, 2000)]  # fmt: skip
        pq.write_table(pa.Table.from_batches(batches), folder / f"part-{number}.parquet", row_group_size=2000)
    db = tmp_path / "db"
    db.mkdir()
    source = {"path": str(folder / "*.parquet"), "table": "from_files"}
    phases = [
        {"name": f"load_{m}", "workload": "insert", "method": m, "batch_rows": 999, "source": source}
        for m in ("arrow", "arrow_stream", "rows")
    ] + [{"name": "load_hyperd", "workload": "insert", "source": {**source, "read_by": "hyperd"}}]
    text = yaml.safe_dump({"name": "files", "workers": 3,
                           "server": {"database_dir": str(db), "keep_database": True}, "phases": phases})  # fmt: skip
    res = cli("run", write_scenario(tmp_path / "files.yaml", text), "--results-dir", tmp_path / "results", "--quiet")
    assert res.code == 0, res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    workers = read_workers(run_dir)
    assert all(w["verified"] == "ok" for w in workers), workers
    # 9 row groups over 3 workers: each reads 3 (client side); 4 whole files for hyperd: 2, 1, 1
    by_phase = {p: sorted(int(w["rows"]) for w in workers if w["phase"] == p) for p in ("load_arrow", "load_hyperd")}
    assert sum(by_phase["load_arrow"]) == 12_800 and len(by_phase["load_arrow"]) == 3
    assert by_phase["load_hyperd"] == sorted([5000 + 4100, 3000, 700])
    with open(run_dir / "summary.csv", newline="") as handle:
        assert [r["method"] for r in csv.DictReader(handle)] == ["arrow", "arrow_stream", "rows", "external"]
    ((count, distinct),) = query(db / "loadgen.hyper", 'SELECT COUNT(*), COUNT(DISTINCT id) FROM "from_files"')[0]
    assert count == distinct == 12_800  # no row read twice


def _as_other_file_types(batch: pa.RecordBatch) -> pa.Table:
    """The batch as a file from another tool might hold it: other column order, narrower or other Arrow types
    that load into the declared columns, and a column the definition does not have."""
    cast = {
        "id": pa.int32(), "customer": pa.int64(), "amount": pa.decimal128(10, 2), "qty": pa.int8(),
        "score": pa.float32(), "at": pa.timestamp("ns"), "at_tz": pa.timestamp("us", tz="Europe/Berlin"),
        "notes": pa.large_string(), "code": pa.string_view(),
    }  # fmt: skip
    arrays = {}
    for field, array in zip(batch.schema, batch.columns, strict=True):
        if field.name == "status":
            arrays[field.name] = array.dictionary_encode()
        elif field.name in cast:
            arrays[field.name] = array.cast(cast[field.name])
        else:
            arrays[field.name] = array
    arrays["not_declared"] = pa.array(["x"] * batch.num_rows)
    names = list(reversed(arrays))
    return pa.table([arrays[n] for n in names], names=names)


def test_files_mapped_onto_a_declared_table_every_method(cli, tmp_path):
    """`table: KEY` with `source:`: the files' columns are found by name (other order, a column too many) and
    cast into the declared types by the client (arrow, arrow_stream, rows) or by hyperd, every load verified, and
    the table holds the declared types and the files' values."""
    import pyarrow.parquet as pq

    definition = TableDefinition.model_validate({"columns": COLUMNS})
    folder, db = tmp_path / "files", tmp_path / "db"
    folder.mkdir(), db.mkdir()
    originals = []
    for number, rows in enumerate((4000, 2500)):
        batch = generate.record_batch(definition, "f", 3, 0, number * 10_000, rows)
        originals.append(batch)
        pq.write_table(_as_other_file_types(batch), folder / f"part-{number}.parquet", row_group_size=1000)
    source = {"path": str(folder / "*.parquet")}
    phases = [
        {"name": f"load_{m}", "workload": "insert", "method": m, "table": "orders", "source": source}
        for m in ("arrow", "arrow_stream", "rows")
    ] + [{"name": "load_hyperd", "workload": "insert", "table": "orders", "source": {**source, "read_by": "hyperd"}}]
    res = cli("run", scenario(tmp_path, db, phases, name="orders"), "--results-dir", tmp_path / "results", "--quiet")
    assert res.code == 0, res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    workers = read_workers(run_dir)
    assert [w["verified"] for w in workers] == ["ok"] * 8, workers
    assert {w["rows"] for w in workers if w["phase"] == "load_hyperd"} == {"4000", "2500"}
    with tempfile.TemporaryDirectory() as logs:
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": logs}) as hyper:
            with Connection(hyper.endpoint, str(db / "loadgen.hyper"), CreateMode.NONE) as connection:
                table = connection.catalog.get_table_definition("orders")
                sums = connection.execute_list_query(
                    'SELECT COUNT(*), SUM("customer"), SUM("amount"), SUM(LENGTH("code")), MIN("at"), '
                    'COUNT("status") FROM "orders"'
                )
    hyperapi_names = {"BIGINT": "BIG_INT", "INT": "INT", "SMALLINT": "SMALL_INT", "DOUBLE PRECISION": "DOUBLE",
                      "NUMERIC(12,2)": "NUMERIC(12, 2)", "TIMESTAMPTZ": "TIMESTAMP_TZ"}  # fmt: skip
    declared = [(c["name"], hyperapi_names.get(c["type"], c["type"])) for c in COLUMNS]
    assert [(c.name.unescaped, str(c.type)) for c in table.columns] == declared
    everything = pa.Table.from_batches(originals)
    count, customers, amounts, code_length, first_at, statuses = sums[0]
    assert count == 6500 and statuses == 6500
    assert customers == pa.compute.sum(everything["customer"]).as_py()
    assert amounts == pa.compute.sum(everything["amount"]).as_py()
    assert code_length == pa.compute.sum(pa.compute.utf8_length(everything["code"])).as_py()
    assert str(first_at) == str(pa.compute.min(everything["at"]).as_py())


def test_csv_is_read_into_the_declared_types(cli, tmp_path):
    """A CSV column of zero-padded codes declared TEXT keeps its zeros (pyarrow's inference would make it an
    integer), a declared NUMERIC is parsed exactly, booleans may be t/f, and an unquoted empty field is NULL while
    a quoted one is an empty string — as hyperd reads the same file, so both store the same rows."""
    db = tmp_path / "db"
    db.mkdir()
    path = tmp_path / "codes.csv"
    path.write_text('zip,price,open,city\n01234,10.05,t,A\n00420,0.10,f,\n99999,1234.56,,""\n')
    columns = [
        {"name": "zip", "type": "TEXT", "nullable": False},
        {"name": "price", "type": "NUMERIC(8,2)"},
        {"name": "open", "type": "BOOL"},
        {"name": "city", "type": "TEXT"},
    ]
    text = yaml.safe_dump({
        "name": "csv", "workers": 1,
        "server": {"database_dir": str(db), "keep_database": True},
        "data": {"by_client": {"name": "by_client", "columns": columns},
                 "by_hyperd": {"name": "by_hyperd", "columns": columns}},
        "phases": [
            {"name": "client", "workload": "insert", "table": "by_client", "source": {"path": str(path)}},
            {"name": "server", "workload": "insert", "table": "by_hyperd",
             "source": {"path": str(path), "read_by": "hyperd"}},
        ],
    }, sort_keys=False)  # fmt: skip
    res = cli("run", write_scenario(tmp_path / "csv.yaml", text), "--results-dir", tmp_path / "r", "--quiet")
    assert res.code == 0, res.stderr
    assert [w["verified"] for w in read_workers(only_run_dir(tmp_path / "r"))] == ["ok", "ok"]
    sqls = [f'SELECT * FROM "{table}" ORDER BY "zip"' for table in ("by_client", "by_hyperd")]
    client, server = query(db / "loadgen.hyper", *sqls)
    assert client == [
        ["00420", Decimal("0.10"), False, None],
        ["01234", Decimal("10.05"), True, "A"],
        ["99999", Decimal("1234.56"), None, ""],
    ]
    assert server == client


def test_special_floats_char_padding_and_hyperd_errors(cli, tmp_path):
    """NaN and infinities in a DOUBLE column load and verify (Hyper orders NaN above every number); a table whose
    first column is CHAR(n) is read back and checked (its values arrive padded); an error of hyperd reading a
    file names the file."""
    import pyarrow.parquet as pq

    folder, db = tmp_path / "files", tmp_path / "db"
    folder.mkdir(), db.mkdir()
    values = pa.array([1.5, float("nan"), float("inf"), -2.0, None], pa.float64())
    pq.write_table(pa.table({"code": ["ab", "c", "defg", "h", "ij"], "v": values}), folder / "special.parquet")
    pq.write_table(pa.table({"code": ["x"], "v": pa.array([None], pa.float64())}), folder / "null.parquet")
    columns = [{"name": "code", "type": "CHAR(4)"}, {"name": "v", "type": "DOUBLE PRECISION"}]
    strict = [{"name": "code", "type": "CHAR(4)"}, {"name": "v", "type": "DOUBLE PRECISION", "nullable": False}]
    special = {"path": str(folder / "special.parquet")}
    text = yaml.safe_dump({
        "name": "special", "workers": 1,
        "server": {"database_dir": str(db), "keep_database": True},
        "data": {"t": {"name": "t", "columns": columns}, "strict": {"name": "strict", "columns": strict}},
        "phases": [
            {"name": "client", "workload": "insert", "method": "rows", "table": "t", "source": special},
            {"name": "read_rows", "workload": "query", "table": "t", "method": "rows"},
            {"name": "read_arrow", "workload": "query", "table": "t", "method": "arrow_stream"},
            {"name": "server", "workload": "insert", "table": "t", "source": {**special, "read_by": "hyperd"}},
            {"name": "refused", "workload": "insert", "table": "strict",
             "source": {"path": str(folder / "null.parquet"), "read_by": "hyperd"}},
        ],
    }, sort_keys=False)  # fmt: skip
    res = cli("run", write_scenario(tmp_path / "s.yaml", text), "--results-dir", tmp_path / "r", "--quiet")
    assert res.code == 1, res.stderr
    assert f"hyperd reading {folder / 'null.parquet'} into" in res.stderr
    workers = {w["phase"]: w for w in read_workers(only_run_dir(tmp_path / "r"))}
    assert [workers[p]["verified"] for p in ("client", "read_rows", "read_arrow", "server")] == ["ok"] * 4, workers


def test_interval_parameters_and_results_over_psycopg(cli, tmp_path):
    """INTERVAL parameters bind (as timedeltas), and INTERVAL results, which Hyper sends in ISO 8601 and psycopg
    cannot parse, come back as text that feeds the next operation."""
    text = yaml.safe_dump({
        "name": "intervals", "workers": 1,
        "phases": [{
            "name": "waits", "workload": "mix", "iterations": 40, "preload_rows": 0,
            "operations": {"shift": 1, "again": 1},
            "sql_operations": {
                "shift": {"sql": "SELECT %s + INTERVAL '1 second', %s", "params": [
                    {"type": "INTERVAL", "generator": {"kind": "uniform", "low": "1 minute", "high": "2 hours"}},
                    {"type": "INTERVAL", "generator": {"kind": "sequence", "start": "1 hour", "step": 60}},
                ]},
                "again": {"sql": "SELECT CAST(%s AS INTERVAL) > INTERVAL '1 minute'",
                          "params": [{"from": "shift", "column": 0}]},
            },
        }],
    }, sort_keys=False)  # fmt: skip
    res = cli("run", write_scenario(tmp_path / "iv.yaml", text), "--results-dir", tmp_path / "r", "--quiet")
    assert res.code == 0, res.stderr
    with open(only_run_dir(tmp_path / "r") / "latency.csv", newline="") as handle:
        rows = {r["operation"]: r for r in csv.DictReader(handle)}
    assert int(rows["shift"]["count"]) + int(rows["again"]["count"]) == 40
    assert rows["shift"]["errors"] == rows["again"]["errors"] == "0"


@pytest.mark.parametrize("first", ["id", "notes", "day"])
def test_a_read_of_a_definition_table_is_checked_against_the_server(connection, tmp_path, first):
    """A query phase reading a data: table compares what it read (rows, Σ of a number first column, Σ LENGTH of
    a text one) with the server's aggregates; a read missing a batch is caught, whatever the first column's type
    (a TEXT or DATE first column used to stop the phase: pyarrow has no sum of strings)."""
    from loadgen.workloads.query.digest import Digest, read_vs_server

    columns = sorted(COLUMNS, key=lambda c: c["name"] != first)  # `first` leads
    definition = TableDefinition.model_validate({"columns": columns})
    connection.execute_command('DROP TABLE IF EXISTS "r"')
    connection.execute_command(definition.create_sql('"r"'))
    path = tmp_path / "r.arrows"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, arrow_schema(definition)) as writer:
        for start in range(0, 3000, 1000):
            writer.write_batch(generate.record_batch(definition, "r", 2, 0, start, 1000))
    connection.execute_command(f"COPY \"r\" FROM '{path}' WITH (FORMAT arrowstream)")
    out = tmp_path / "out.arrows"
    connection.execute_command(f"COPY (SELECT * FROM \"r\") TO '{out}' WITH (FORMAT arrowstream)")
    whole, short, by_rows = Digest(), Digest(), Digest()
    with pa.memory_map(str(out)) as source, pa.ipc.open_stream(source) as reader:
        table = reader.read_all()
    for number, batch in enumerate(table.to_batches(max_chunksize=500)):
        whole.add_batch(batch)
        if number != 2:
            short.add_batch(batch)  # one batch lost on the way
    with connection.execute_query('SELECT * FROM "r"') as result:
        for row in result:
            by_rows.add_python_row(row)
    whole.finish(), short.finish()
    assert read_vs_server(connection, '"r"', first, whole) == ""
    assert read_vs_server(connection, '"r"', first, by_rows) == ""
    assert "read 2500 rows" in read_vs_server(connection, '"r"', first, short)
    if first != "day":  # numbers and text are summed, so a changed value is caught too
        whole.first_sum += 1
        assert "the server has 3000" in read_vs_server(connection, '"r"', first, whole)
