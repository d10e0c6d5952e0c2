"""Column generators: values, distributions, nulls and reproducibility, without hyperd."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from loadgen.datagen import facts as facts_of
from loadgen.datagen import generate, vector
from loadgen.datagen.arrow import arrow_schema
from loadgen.datagen.definitions import TableDefinition
from loadgen.datagen.kinds import WORDS


def table(*columns) -> TableDefinition:
    return TableDefinition.model_validate({"columns": list(columns)})


def col(name, sql_type, generator, **extra):
    return {"name": name, "type": sql_type, "generator": generator, **extra}


ORDERS = table(
    col("id", "BIGINT", {"kind": "sequence", "start": 1, "step": 2}, nullable=False),
    col("customer", "INT", {"kind": "zipf", "n": 1000, "s": 1.5}),
    col("status", "TEXT", {"kind": "choice", "values": ["a", "b", "c"], "weights": [6, 3, 1]}),
    col("amount", "NUMERIC(10,2)", {"kind": "lognormal", "mean": 3, "sigma": 1, "low": 1, "high": 500}),
    col("qty", "SMALLINT", {"kind": "uniform", "low": -5, "high": 5}),
    col("score", "DOUBLE PRECISION", {"kind": "normal", "mean": 0, "stddev": 1, "low": -1, "high": 1}),
    col("flag", "BOOL", {"kind": "bool", "p": 0.25}),
    col("day", "DATE", {"kind": "uniform", "low": "2024-01-01", "high": "2024-01-31"}),
    col("at", "TIMESTAMP", {"kind": "sequence", "start": "2024-01-01 00:00:00", "step": 0.5}),
    col("at_tz", "TIMESTAMPTZ", {"kind": "uniform", "low": "2024-01-01T00:00:00Z", "high": "2024-01-02T00:00:00Z"}),
    col("notes", "TEXT", {"kind": "words", "min_words": 2, "max_words": 4}, null_fraction=0.3),
    col("code", "TEXT", {"kind": "random", "min_length": 3, "max_length": 6, "alphabet": "digits"}),
    col("sku", "TEXT", {"kind": "pattern", "pattern": "SKU-###-??"}),
    col("region", "INT", {"kind": "constant", "value": 7}),
)
N = 20_000


def batch(worker=0, first_row=0, count=N, seed=1, definition=ORDERS):
    return generate.record_batch(definition, "orders", seed, worker, first_row, count)


def test_schema_is_derived_from_the_sql_types_exactly():
    schema = arrow_schema(ORDERS)
    assert schema.field("id").type == pa.int64() and not schema.field("id").nullable
    assert schema.field("customer").type == pa.int32()
    assert schema.field("amount").type == pa.decimal128(10, 2)
    assert schema.field("qty").type == pa.int16()
    assert schema.field("day").type == pa.date32()
    assert schema.field("at").type == pa.timestamp("us")
    assert schema.field("at_tz").type == pa.timestamp("us", tz="UTC")
    assert schema.field("flag").type == pa.bool_() and schema.field("notes").type == pa.string()
    assert batch(count=10).schema == schema


def test_same_seed_same_bytes_other_seed_or_worker_other_data():
    def ipc(b):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, b.schema) as writer:
            writer.write_batch(b)
        return sink.getvalue().to_pybytes()

    assert ipc(batch()) == ipc(batch())
    assert ipc(batch()) != ipc(batch(seed=2))
    assert batch(worker=0).column("customer") != batch(worker=1, first_row=N).column("customer")


def test_sequence_keys_never_repeat_across_workers_and_batches():
    ids = pa.chunked_array([batch(w, w * N + o, 5000).column("id") for w in range(3) for o in range(0, N, 5000)])
    assert pc.count_distinct(ids).as_py() == 3 * N
    assert batch(count=3).column("id").to_pylist() == [1, 3, 5]
    assert batch(first_row=10, count=1).column("id").to_pylist() == [21]


def test_ranges_are_respected():
    b = batch()
    assert pc.min_max(b.column("qty")).as_py() == {"min": -5, "max": 5}
    score = pc.min_max(b.column("score")).as_py()
    assert -1 <= score["min"] and score["max"] <= 1
    amount = b.column("amount").to_pylist()
    assert min(amount) >= 1 and max(amount) <= 500
    days = pc.min_max(b.column("day")).as_py()
    assert str(days["min"]) >= "2024-01-01" and str(days["max"]) <= "2024-01-31"
    assert b.column("at").to_pylist()[:2][1].microsecond == 500_000
    assert set(b.column("region").to_pylist()) == {7}


def test_distributions_zipf_choice_bool_nulls():
    b = batch()
    customers = np.asarray(b.column("customer"))
    assert customers.min() >= 1 and customers.max() <= 1000
    # zipf s=1.5 over 1..1000: key 1 has 1/H(1000, 1.5) ≈ 39% of the rows; uniform would give 0.1%
    assert 0.35 < np.mean(customers == 1) < 0.43
    status = pc.value_counts(b.column("status")).to_pylist()
    share = {s["values"]: s["counts"] / N for s in status}
    assert abs(share["a"] - 0.6) < 0.02 and abs(share["c"] - 0.1) < 0.02
    assert abs(np.mean(np.asarray(b.column("flag"))) - 0.25) < 0.02
    assert abs(b.column("notes").null_count / N - 0.3) < 0.02


def test_text_generators():
    b = batch(count=1000)
    words = pc.list_value_length(pc.split_pattern(b.column("notes").drop_null(), " ")).to_numpy()
    assert words.min() == 2 and words.max() == 4
    assert all(w in WORDS for w in " ".join(b.column("notes").drop_null().to_pylist()).split())
    codes = b.column("code").to_pylist()
    assert all(c.isdigit() and 3 <= len(c) <= 6 for c in codes)
    skus = b.column("sku").to_pylist()
    assert all(len(s) == 10 and s[:4] == "SKU-" and s[4:7].isdigit() and s[8:].isalpha() for s in skus)
    assert len(set(skus)) > 900


def test_facts_are_exact_for_integers_and_decimals():
    big = table(col("v", "BIGINT", {"kind": "uniform", "low": 2**62, "high": 2**63 - 1}))
    b = generate.record_batch(big, "t", 1, 0, 0, 10_000)
    facts = facts_of.batch_facts(big, b)["v"]
    assert facts["sum"] == sum(b.column("v").to_pylist())  # past int64: numpy alone would overflow
    facts = facts_of.batch_facts(ORDERS, batch(count=500))
    amounts = batch(count=500).column("amount").to_pylist()
    assert facts["amount"]["sum"] == sum(int(a * 100) for a in amounts if a is not None)
    assert facts["notes"]["length"] == sum(len(t) for t in batch(count=500).column("notes").to_pylist() if t)
    assert facts["flag"]["sum"] == sum(batch(count=500).column("flag").to_pylist())


def test_facts_merge_over_batches_and_workers():
    one = facts_of.batch_facts(ORDERS, batch(count=2 * N))
    two = facts_of.merge_facts(facts_of.batch_facts(ORDERS, batch(count=N)), {})
    facts_of.merge_facts(two, facts_of.batch_facts(ORDERS, batch(first_row=N, count=N)))
    assert two["id"] == {"non_null": 2 * N, "sum": sum(range(1, 4 * N, 2)), "min": 1, "max": 4 * N - 1}
    assert one["id"] == two["id"]


@pytest.mark.parametrize("rows", [0, 1, 7])
def test_tiny_batches(rows):
    assert batch(count=rows).num_rows == rows


def test_file_units_split_row_groups_so_no_row_is_read_twice(tmp_path):
    import pyarrow.parquet as pq

    from loadgen.transfer.files import file_units, read_unit

    paths = []
    for number, rows in enumerate((5, 12, 1)):
        paths.append(str(tmp_path / f"p{number}.parquet"))
        pq.write_table(pa.table({"id": pa.array(range(number * 100, number * 100 + rows), pa.int64())}), paths[-1],
                       row_group_size=4)  # fmt: skip
    schema = pa.schema([pa.field("id", pa.int64())])
    seen = []
    for worker in range(3):
        units = file_units(paths, "parquet", 3, worker, by_row_group=True)
        assert len(units) == 2  # 2 + 3 + 1 row groups over 3 workers
        seen += [v for unit in units for b in read_unit(unit, "parquet", schema, 2) for v in b.column(0).to_pylist()]
    assert sorted(seen) == list(range(5)) + list(range(100, 112)) + [200]
    assert [len(file_units(paths, "parquet", 2, w, by_row_group=False)) for w in (0, 1)] == [2, 1]


def test_strings_from_slices_match_python_slicing_short_long_and_null():
    rng = np.random.default_rng(3)
    body = rng.integers(32, 127, size=300, dtype=np.uint16).astype(np.uint8)
    starts = rng.integers(0, 280, size=500)
    lengths = np.minimum(rng.integers(0, 30, size=500), 300 - starts)
    lengths[:26] = np.arange(26)  # every inline length 0..12 and the first out-of-line ones
    starts[:26] = np.arange(26) * 2
    mask = rng.random(500) < 0.2
    lengths[mask] = 0
    array = vector.strings_from_slices(vector.padded(body.tobytes(), len(body)), starts, lengths, mask)
    array.validate(full=True)
    assert array.type == pa.string() and array.null_count == mask.sum()
    offsets = np.frombuffer(array.buffers()[1], np.int32, 501)
    assert (np.diff(offsets) == lengths).all()  # a null row is an empty slot
    data, rows = array.buffers()[2].to_pybytes(), zip(starts, lengths, strict=True)
    assert all(data[offsets[i] : offsets[i + 1]] == body[s : s + n].tobytes() for i, (s, n) in enumerate(rows))
    views = vector.string_views(vector.padded(body.tobytes(), len(body)), starts, lengths, mask)
    inline = np.frombuffer(views.buffers()[1], np.uint8).reshape(-1, 16)[lengths <= 12, 4:]
    assert not inline[np.arange(12) >= lengths[lengths <= 12, None]].any()  # zero-padded, as Arrow's format says


def test_words_rows_are_word_aligned_slices_of_the_batch_pool():
    """Re-derive every row from the column's draws: row = the drawn count of pool words from the drawn first word."""
    words = table(col("w", "TEXT", {"kind": "words", "min_words": 1, "max_words": 5}, null_fraction=0.25))
    b = generate.record_batch(words, "t", 9, 2, 100, 3000)
    rng = generate.batch_rng(9, "t", 2, 100, 0)
    mask = rng.random(3000) < 0.25
    per_row = rng.integers(1, 5, size=3000, endpoint=True, dtype=np.int32)
    first = rng.integers(0, 3000, size=3000, dtype=np.int32)
    pool = [WORDS[i] for i in rng.integers(0, len(WORDS), size=3000 + 4, dtype=np.uint16)]
    expected = [None if null else " ".join(pool[f : f + k]) for null, f, k in zip(mask, first, per_row, strict=True)]
    assert b.column("w").to_pylist() == expected
    assert np.bincount(per_row[~mask])[1:].min() > 0.18 * (~mask).sum()  # 1..5 words, each about a fifth
    offsets = np.frombuffer(b.column("w").buffers()[1], np.int32, 3001)
    assert (np.diff(offsets)[mask] == 0).all()


def test_text_length_counts_characters_of_valid_rows_whatever_the_buffers():
    def reference(array):
        return sum(len(v) for v in array.to_pylist() if v is not None)

    offsets = np.array([0, 3, 8, 10, 10], np.int32)  # row 1 is null but its slot holds 5 bytes
    held = pa.Array.from_buffers(pa.string(), 4, [vector.validity(np.array([False, True, False, False])),
                                                  pa.py_buffer(offsets), pa.py_buffer(b"abcXXXXXde")])  # fmt: skip
    cases = [
        held,
        held.slice(1, 2),
        pa.array(["é", None, "naïve", "plain"]),  # multi-byte characters: counted as characters
        pa.array(["ab", None, "cde", "f", "gh"]).slice(1, 3),
        pa.array([], pa.string()),
        pa.array([None, None], pa.string()),
        pa.array(["x", "yz"], pa.large_string()),
    ]
    for array in cases:
        assert facts_of.text_length(array) == reference(array), array
    definition = table(col("t", "TEXT", {"kind": "choice", "values": ["ä", "bb"]}, null_fraction=0.3))
    b = generate.record_batch(definition, "t", 1, 0, 0, 1000)
    assert facts_of.batch_facts(definition, b)["t"]["length"] == reference(b.column("t"))


def test_facts_sums_of_large_and_small_int64_are_exact():
    for low, high in ((-(2**63), 2**63 - 1), (-(2**40), 2**40), (0, 10)):
        big = table(col("v", "BIGINT", {"kind": "uniform", "low": low, "high": high}, null_fraction=0.1))
        b = generate.record_batch(big, "t", 3, 0, 0, 5000)
        facts = facts_of.batch_facts(big, b)["v"]
        values = [v for v in b.column("v").to_pylist() if v is not None]
        assert (facts["sum"], facts["min"], facts["max"]) == (sum(values), min(values), max(values))


@pytest.mark.parametrize("alphabet", ["letters", "digits", "alnum"])
def test_random_text_uses_every_character_of_its_alphabet_uniformly_and_nulls_are_empty_slots(alphabet):
    definition = table(col("r", "TEXT", {"kind": "random", "min_length": 0, "max_length": 9, "alphabet": alphabet},
                           null_fraction=0.4))  # fmt: skip
    array = generate.record_batch(definition, "t", 5, 0, 0, 20_000).column("r")
    offsets = np.frombuffer(array.buffers()[1], np.int32, len(array) + 1)
    nulls = ~facts_of.valid_rows(array)
    assert abs(nulls.mean() - 0.4) < 0.02 and (np.diff(offsets)[nulls] == 0).all()
    assert np.bincount(np.diff(offsets)[~nulls], minlength=10).min() > 0.08 * (~nulls).sum()  # lengths 0..9
    chars = np.frombuffer(array.buffers()[2], np.uint8, offsets[-1])
    counts = np.bincount(chars, minlength=256)
    expected = vector.ALPHABETS[alphabet]
    assert set(np.flatnonzero(counts)) == set(expected)
    mean = len(chars) / len(expected)
    assert 0.85 * mean < counts[expected].min() and counts[expected].max() < 1.15 * mean


def test_pattern_pieces_every_position_uniform():
    definition = table(col("p", "TEXT", {"kind": "pattern", "pattern": "x##########-???????#?"}, null_fraction=0.1))
    array = generate.record_batch(definition, "t", 5, 0, 0, 20_000).column("p")
    assert [(begin, size) for begin, size, _ in vector.pattern_runs("x##########-???????#?")] == [
        (1, 4), (5, 4), (9, 2), (12, 2), (14, 2), (16, 2), (18, 1), (19, 1), (20, 1)]  # fmt: skip
    rows = np.frombuffer(array.buffers()[2], np.uint8).reshape(-1, 21)
    assert len(rows) == 20_000 - array.null_count and (rows[:, [0, 11]] == np.frombuffer(b"x-", np.uint8)).all()
    digits, letters = (*range(1, 11), 19), (*range(12, 19), 20)
    for position, pool in [(i, b"0123456789") for i in digits] + [(i, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ") for i in letters]:
        counts = np.bincount(rows[:, position], minlength=256)[np.frombuffer(pool, np.uint8)]
        assert counts.sum() == len(rows) and counts.min() > 0.8 * len(rows) / len(pool), position
    table_ = vector.piece_table(b"0123456789", 4)
    assert table_[[0, 7, 1234, 9999]].view(np.uint8).tobytes() == b"0000000712349999"


@pytest.mark.parametrize("weights", [[0, 3, 0, 1, 5, 0], [1] * 16, list(range(1, 18))])
def test_weighted_choice_indices_are_those_of_a_binary_search(weights):
    generator = {"kind": "choice", "values": list(range(len(weights))), "weights": weights}
    _, cdf = generate.plan(table(col("c", "INT", generator)).columns[0]).kind_plan
    indices = vector.choice_indices(cdf, len(weights), 50_000, np.random.default_rng(8))
    reference = np.searchsorted(cdf, np.random.default_rng(8).random(50_000), side="right")
    assert (indices == reference).all()
    assert not np.isin(indices, np.flatnonzero(np.asarray(weights) == 0)).any()


def test_constant_columns_of_any_size_with_and_without_nulls():
    definition = table(
        col("a", "INT", {"kind": "constant", "value": 3}),
        col("b", "TEXT", {"kind": "constant", "value": "é"}),
        col("c", "INT", {"kind": "constant", "value": 4}, null_fraction=0.5),
    )
    for count in (5, 5, 2, 0, 5):
        b = generate.record_batch(definition, "t", 1, 0, count, count)
        assert b.column("a").to_pylist() == [3] * count and b.column("b").to_pylist() == ["é"] * count
        assert set(b.column("c").to_pylist()) <= {4, None}
    assert 0.4 < generate.record_batch(definition, "t", 1, 0, 0, 1000).column("c").null_count / 1000 < 0.6


@pytest.mark.parametrize(
    ("n", "s"),
    [(100_000, 1.1), (1000, 1.5), (1, 1.1), (2, 0.5), (37, 3.0), (10**6, 1.01), (100_000, 0.5), (3, 8.0), (12345, 0)],
)
def test_zipf_keys_are_exactly_those_of_a_binary_search(n, s):
    u = np.random.default_rng(n).random(100_000)
    cdf = vector.zipf_cdf(n, s)
    u[:6] = [0.0, np.nextafter(1.0, 0), 0.5, cdf[0], np.nextafter(cdf[0], 0), 1.0]  # edges (1.0: rounding)
    picks = np.random.default_rng(2).integers(0, n, size=(2, 1000))
    u[6:1006], u[1006:2006], u[2006:3006] = picks[0] / n, cdf[picks[1]], np.nextafter(cdf[picks[1]], 0)  # buckets, keys
    u[3006:4006] = np.nextafter(picks[0] / n, 0)  # u * n may round up into the next bucket (s = 0: on a key's bound)
    keys = vector.zipf_keys(n, s, u)
    assert keys.dtype == np.int64 and (keys == np.minimum(np.searchsorted(cdf, u, side="right") + 1, n)).all()


@pytest.mark.parametrize(
    ("seed", "key", "worker", "first_row", "columns"),
    [(12, "orders", 0, 1000, 15), (0, "", 0, 0, 3), (2**40 + 5, "t", 7, 2**33 + 1, 40), (2**63 - 1, "x", 2**32, 1, 2)],
)
def test_batch_rngs_are_the_streams_of_batch_rng(seed, key, worker, first_row, columns):
    """batch_rngs re-implements SeedSequence's hashing (numpy's own algorithm, multi-word ints included)."""
    rngs = generate.batch_rngs(seed, key, worker, first_row, columns)
    assert len(rngs) == columns
    for column, rng in enumerate(rngs):
        expected = generate.batch_rng(seed, key, worker, first_row, column)
        assert rng.bit_generator.state == expected.bit_generator.state
        assert np.array_equal(rng.integers(0, 2**63, size=8), expected.integers(0, 2**63, size=8))


NO_PANDAS_PROBE = """
import sys
from loadgen.datagen import canonical_batches, generate
from loadgen.datagen.definitions import TableDefinition
sys.path.insert(0, "tests/unit")
from test_generators import ORDERS
generate.record_batch(ORDERS, "orders", 1, 0, 0, 5000).validate(full=True)
canonical_batches.record_batch(0, 5000).validate(full=True)
print("PANDAS:", "pandas" in sys.modules)
"""


def test_generating_batches_never_imports_pandas():
    """pyarrow's conversion of numpy arrays imports pandas (0.2 CPU-s, ~50 MiB) the first time in a process: the
    generators build their arrays from buffers instead, so a worker never pays for it."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", NO_PANDAS_PROBE], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.stdout.splitlines()[-1:] == ["PANDAS: False"], out.stdout[-500:] + out.stderr[-2000:]


@pytest.mark.parametrize(
    ("values", "arrow_type"),
    [
        (np.array([1, -2, 3], np.int64), pa.int64()),
        (np.array([1, -2, 3], np.int64), pa.int32()),
        (np.array([1, 2, 3], np.int16), pa.int16()),
        (np.array([0.5, -1.25, 1e300]), pa.float64()),
        (np.array([True, False, True, True, False, False, True, False, True]), pa.bool_()),
    ],
)
@pytest.mark.parametrize("with_nulls", [False, True])
def test_arrays_from_buffers_equal_pyarrows_conversion(values, arrow_type, with_nulls):
    mask = np.arange(len(values)) % 2 == 1 if with_nulls else None
    made = vector.from_numpy(values, arrow_type, mask)
    made.validate(full=True)
    assert made.equals(pa.array(values, arrow_type, mask=mask))
