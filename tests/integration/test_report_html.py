"""`loadgen report` writes a self-contained HTML report that renders in headless Chromium."""

import shutil
import subprocess

from tests.conftest import only_run_dir, write_scenario

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def test_report_renders_in_chromium(cli, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "the HTML report test needs Chromium: apt-get install chromium (make test installs it)"
    path = write_scenario(
        tmp_path / "r.yaml",
        """\
name: reported
workers: 2
rows: 200000
sampling: {interval_ms: 50}
phases:
  - {name: load, workload: insert, method: arrow, rows_per_copy: 50000}
  - {name: scan, workload: query, shape: filtered, method: arrow, duration_s: 1.5}
""",
    )
    assert cli("run", path, "--results-dir", tmp_path / "results").code == 0
    run_dir = only_run_dir(tmp_path / "results")
    res = cli("report", run_dir)
    assert res.code == 0, res.stderr
    report = run_dir / "report.html"
    assert res.stdout.strip() == f"report: {report}"
    for name in ("throughput", "latency", "resources", "workers"):
        assert (run_dir / "charts" / f"{name}.png").stat().st_size > 5000
    text = report.read_text()
    assert text.count('src="data:image/png;base64,') == 4 and 'src="http' not in text  # self-contained
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=5000",
         "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    assert '<body data-rendered="yes">' in dom  # every chart image decoded with a real size
    assert "loadgen run reported-" in dom and "<td>scan</td>" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium2'}", "--window-size=1000,1500",
         f"--screenshot={shot}", report.as_uri()],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert shot.stat().st_size > 20000


def test_report_of_a_folder_that_is_not_a_run(cli, tmp_path):
    res = cli("report", tmp_path)
    assert res.code == 2
    assert res.stderr.strip() == f"error: {tmp_path}: not a run folder (no summary.csv)"
