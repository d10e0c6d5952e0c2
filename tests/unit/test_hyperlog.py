"""hyperlog.Tail: hyperd's JSON log lines, read while they are written, across rotated files, by phase window."""

import json

from loadgen.results.hyperlog import Tail, parse_ts

START = "2026-11-27T10:00:00.000000"


def line(ts: str, kind: str, **v) -> str:
    return json.dumps({"ts": ts, "pid": 1, "k": kind, "v": v}, separators=(",", ":")) + "\n"


def query(ts: str, statement="SELECT", elapsed=0.002, rows=1) -> str:
    return line(ts, "query-end", statement=statement, elapsed=elapsed, rows=rows)


def test_lines_are_read_once_across_rotation_and_a_half_written_line_waits(tmp_path):
    tail = Tail(tmp_path, "run-1")
    first = tmp_path / "hyperd_2026_11_27_10_00_00.log"
    first.write_text(query("2026-11-27T10:00:01.000000") + line("2026-11-27T10:00:01.5", "other"))
    tail.begin("load", 1, parse_ts("2026-11-27T10:00:00.500000"))
    tail.poll()
    half = query("2026-11-27T10:00:02.000000")
    with open(first, "a") as handle:
        handle.write(half[:20])  # hyperd is in the middle of writing this line
    tail.poll()
    assert tail.queries[("load", 1, "SELECT")]["count"] == 1
    with open(first, "a") as handle:
        handle.write(half[20:])
    second = tmp_path / "hyperd_2026_11_27_10_00_00_1.log"  # rotated: a new file
    second.write_text(query("2026-11-27T10:00:03.000000", rows=5))
    tail.end(parse_ts("2026-11-27T10:00:03.500000"))
    first.unlink()  # hyperd removed the oldest file: what was read stays counted
    second.write_text(second.read_text() + query("2026-11-27T10:00:09.000000"))  # after the phase: setup
    tail.poll()
    stats = {(r["phase"], r["statement"]): r for r in tail.query_stats()}
    assert stats[("load", "SELECT")]["count"] == 3 and stats[("load", "SELECT")]["rows_total"] == 7
    assert stats[("setup", "SELECT")]["count"] == 1


def test_resource_metrics_rows_carry_phase_and_a_spreadsheet_timestamp(tmp_path):
    tail = Tail(tmp_path, "run-1")
    (tmp_path / "hyperd.log").write_text(
        line("2026-11-27T10:00:01.123456", "resource-metrics", memory={"process_physical_memory_mb": 300})
        + "not json at all\n"
    )
    tail.begin("scan", 2, parse_ts(START))
    tail.poll()
    [row] = tail.metrics
    assert (row["phase"], row["repetition"], row["process_memory_mib"]) == ("scan", 2, 300)
    assert row["utc"] == "2026-11-27T10:00:01.123"
