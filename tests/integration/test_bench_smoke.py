"""The benchmark script keeps working: run it at a tiny size and check its table (not its numbers)."""

import subprocess
import sys

from tests.conftest import ROOT


def test_bench_script_prints_every_row(tmp_path):
    out = tmp_path / "bench.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--rows", "20000", "--row-api-rows", "2000",
         "--memory-rows", "20000", "--reps", "1", "--write", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text == proc.stdout
    for label in (
        "arrow insert, 1 worker vs hand staged COPY",
        "arrow insert, 2 workers vs server ceiling",
        "arrow insert, 2 workers vs staged-COPY limit (no client work)",
        "arrow insert, 2 workers vs pantab.frame_to_hyper",
        "rows insert, 1 worker vs bare add_row loop",
        "arrow full-scan fetch, 1 worker vs hand COPY TO + mmap",
        "arrow full-scan fetch, 1 worker vs pantab.frame_from_hyper",
        "small query p50, 1 worker vs bare loop",
        "startup to first barrier release, 4 workers",
        "sampler at 100 ms",
        "peak RSS, worker",
        "peak RSS, coordinator",
    ):
        assert label in text, label
    table_rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert all(line.count("|") == 8 for line in table_rows), table_rows
