"""Numbers in the HTML report are for people; phase labels of short phases do not overlap."""

import pytest

from loadgen.report.html import fmt_count, fmt_rate, fmt_sig, table
from loadgen.report.model import Band, band_labels, spectrum_x


@pytest.mark.parametrize(
    ("value", "shown"),
    [(21757853.730113, "21.8M"), (512345, "512K"), (999960, "1M"), (1.5e9, "1.5G"), (950.2, "950"), (12.54, "12.5"),
     ("", ""), (None, "")],
)  # fmt: skip
def test_rates_use_k_m_g_with_three_significant_digits(value, shown):
    assert fmt_rate(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.012345, "0.0123"), (1.2345, "1.23"), (9.996, "10.0"), (12.345, "12.3"), (123.4, "123"), (4321.9, "4,322"),
     (0, "0"), ("147.583", "148")],
)  # fmt: skip
def test_milliseconds_keep_three_significant_digits(value, shown):
    assert fmt_sig(value) == shown


def test_counts_have_thousands_separators():
    assert fmt_count("6527356") == "6,527,356"


def test_sortable_tables_carry_the_raw_value_next_to_the_shown_one():
    text = table(
        [("phase", "text"), ("rows/s", "num")], [[("scan", "scan"), (fmt_rate(21757853.73), 21757853.73)]], "t"
    )
    assert '<td class="num" data-v="21757853.73">21.8M</td>' in text
    assert '<th data-kind="num"' in text


def test_labels_of_short_neighbouring_phases_go_on_separate_rows():
    bands = [Band(0, 0.2, "insert_arrow", "c"), Band(0.3, 0.5, "scan_filtered", "c"), Band(0.6, 30, "stress", "c"),
             Band(40, 60, "insert_rows", "c"), Band(0.25, 0.3, "warm", "c", warmup=True)]  # fmt: skip
    levels = {band.label: level for band, level in band_labels(bands, span=60)}
    assert "warm" not in levels  # warmup bands are shaded, not labelled
    assert levels["insert_arrow"] == 0 and levels["scan_filtered"] == 1 and levels["stress"] == 2
    assert levels["insert_rows"] == 0  # far enough from the others to go back to the first row


def test_the_percentile_axis_counts_nines():
    assert [spectrum_x(i) for i in range(7)] == [0.0, 0.301, 1.0, 1.301, 2.0, 3.0, 3.5]
