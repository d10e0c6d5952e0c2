from loadgen.datagen import canonical, canonical_batches
from loadgen.workloads.query.digest import Digest, expected_digest_problems


def digest_of(shape, start, count):
    ids, sensors, values, _ = canonical_batches.columns(start, count)
    d = Digest()
    if shape == "full_scan":
        for i in ids.tolist():
            d.add_python_row((i,))
    elif shape == "filtered":
        for i in ids[sensors == 5].tolist():
            d.add_python_row((i,))
    else:
        for s in range(10):
            d.add_python_row((s, int((sensors == s).sum()), float(values[sensors == s].sum())))
    return d


def test_correct_results_pass_for_every_shape():
    rows = canonical.RowRange(1000, 5003)
    for shape in ("full_scan", "filtered", "aggregation"):
        assert expected_digest_problems(shape, rows, digest_of(shape, 1000, 5003)) == ""


def test_a_lost_row_is_noticed_for_every_shape():
    rows = canonical.RowRange(1000, 5003)
    for shape in ("full_scan", "filtered", "aggregation"):
        short = digest_of(shape, 1000, 5003 - 10)  # ten fewer ids: every sensor loses one
        assert expected_digest_problems(shape, rows, short) != "", shape


def test_arrow_batches_and_python_rows_give_the_same_digest():
    from_rows = digest_of("full_scan", 0, 300)
    from_batches = Digest()
    for batch in canonical_batches.iter_record_batches(canonical.RowRange(0, 300), 4):  # 75 batches: more than one sum
        from_batches.add_batch(batch)
    from_batches.finish()
    assert (from_rows.rows, from_rows.first_sum) == (from_batches.rows, from_batches.first_sum)


def test_text_and_other_first_columns_are_digested_without_failing():
    import pyarrow as pa

    from loadgen.workloads.query.digest import hyper_kind

    text = Digest()
    text.add_batch(pa.record_batch([pa.array(["ab", None, "cde"])], names=["t"]))
    assert (text.finish().rows, text.first_sum, text.first_kind) == (3, 5, "text")
    padded = Digest(trim=True)  # CHAR(n): the padding is not counted, as LENGTH does not count it
    padded.add_batch(pa.record_batch([pa.array(["ab  ", "c   "])], names=["c"]))
    assert padded.finish().first_sum == 3
    days = Digest()
    days.add_batch(pa.record_batch([pa.array([1, 2], pa.date32())], names=["d"]))
    assert (days.finish().rows, days.first_kind) == (2, None)
    # the rows path takes the kind from the result's type: a NULL first value does not switch the checksum off
    rows = Digest(first_kind=hyper_kind("BIG_INT"))
    for value in (None, 5, 7):
        rows.add_python_row((value,))
    assert (rows.first_kind, rows.first_sum) == ("number", 12)


def test_nan_reads_agree():
    from loadgen.workloads.query.digest import same_number

    assert same_number(float("nan"), float("nan")) and not same_number(float("nan"), 1.0)
    assert same_number(1.0, 1.0 + 1e-12) and not same_number(3, 4) and same_number(float("inf"), float("inf"))
