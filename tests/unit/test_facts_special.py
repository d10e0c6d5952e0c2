"""Facts of values whose comparison is special: NaN (Hyper orders it above every number), CHAR padding."""

import math

import pyarrow as pa

from loadgen.datagen.definitions import TableDefinition
from loadgen.datagen.facts import batch_facts, merge_facts

DEFINITION = TableDefinition.model_validate(
    {"columns": [{"name": "v", "type": "DOUBLE PRECISION"}, {"name": "c", "type": "CHAR(4)"}]}
)


def facts_of(values, texts):
    batch = pa.record_batch([pa.array(values, pa.float64()), pa.array(texts)], names=["v", "c"])
    return batch_facts(DEFINITION, batch)


def test_nan_is_the_largest_value_as_hyper_orders_it():
    facts = facts_of([2.0, float("nan"), -1.0], ["a", "b", "c"])["v"]
    assert math.isnan(facts["max"]) and facts["min"] == -1.0 and math.isnan(facts["sum"])
    only_nan = facts_of([float("nan")], ["a"])["v"]
    assert math.isnan(only_nan["min"]) and math.isnan(only_nan["max"])


def test_merged_extremes_keep_nan_on_top_in_any_order():
    plain, with_nan = facts_of([5.0, 7.0], ["a", "b"]), facts_of([float("nan"), 1.0], ["a", "b"])
    for first, second in ((plain, with_nan), (with_nan, plain)):
        total = merge_facts(merge_facts({}, first), second)["v"]
        assert math.isnan(total["max"]) and total["min"] == 1.0


def test_char_padding_is_not_counted():
    assert facts_of([1.0, 2.0], ["ab  ", "abcd"])["c"]["length"] == 6
