"""Open a report in headless Chromium over the DevTools protocol (--remote-debugging-pipe): wait until the page
says every chart is drawn, and collect what the tests and the README screenshot need — the page's own render
record (points per chart), every console error, uncaught exception and failed load, the time to render, and
optionally a PNG screenshot.

No library: the pipe protocol is JSON messages separated by NUL bytes on file descriptors 3 (to Chromium) and 4
(from Chromium).
"""

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
    "--mute-audio",
]  # fmt: skip


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Browser:
    def __init__(self, executable: str | None = None, width: int = 1300, height: int = 900):
        executable = executable or chromium_path()
        if not executable:
            raise RuntimeError("no Chromium found (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="loadgen-chromium-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def fds():  # in the child: the pipe ends as fds 3 and 4 (via spare numbers, they may be 3 or 4 already)
            high_r, high_w = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
             "--remote-debugging-pipe", "about:blank"],
            preexec_fn=fds, pass_fds=(3, 4),  # subprocess closes every other fd after preexec_fn
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_child_r)
        os.close(from_child_w)
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []
        self.session = None

    def send(self, method: str, params: dict | None = None, session: bool = True, timeout_s: float = 30) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_child], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_event(self, method: str, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            self.events.append(self._read(deadline))

    def attach(self) -> None:
        targets = self.send("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True},
                                 session=False)["sessionId"]  # fmt: skip
        for domain in ("Page", "Runtime", "Log", "Performance", "Network"):
            self.send(f"{domain}.enable")

    def close(self) -> None:
        for fd in (self.to_child, self.from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def requests(self) -> list[str]:
        """Every URL the page asked for (a self-contained report asks for nothing but itself)."""
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and failed loads seen so far."""
        out = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                out.append(
                    "console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
                )
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                out.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                out.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
        return out


def open_report(
    path: Path,
    screenshot: Path | None = None,
    timeout_s: float = 60,
    width: int = 1300,
    evaluate: str = "",
    max_height: int = 0,
    pdf: Path | None = None,
) -> dict:
    """{'render': the page's render record, 'problems': [...], 'load_s': navigation → every chart drawn,
    'page_ms': the page's own performance.now() at that moment, 'requests': every URL loaded,
    'metrics': Performance.getMetrics (ThreadTime: the main thread's CPU seconds),
    'evaluated': the value of the JS expression `evaluate`, run afterwards}."""
    browser = Browser(width=width)
    try:
        browser.attach()
        started = time.monotonic()
        browser.send("Page.navigate", {"url": Path(path).resolve().as_uri()})
        browser.wait_event("Page.loadEventFired", timeout_s)
        waited = browser.send(
            "Runtime.evaluate",
            {"expression": RENDERED_JS % int(timeout_s * 1000), "awaitPromise": True, "returnByValue": True},
            timeout_s=timeout_s + 5,
        )
        load_s = time.monotonic() - started
        render = waited.get("result", {}).get("value")
        # the page's main-thread time: what opening it costs on an idle machine, whatever else runs here
        metrics = {m["name"]: m["value"] for m in browser.send("Performance.getMetrics")["metrics"]}
        evaluated = None
        if evaluate:
            reply = browser.send("Runtime.evaluate", {"expression": evaluate, "returnByValue": True})
            if "exceptionDetails" in reply:
                raise RuntimeError(f"evaluate: {reply['exceptionDetails']}")
            evaluated = reply["result"].get("value")
        if pdf is not None:  # as printed: print media, the page size of its @page rule
            printed = browser.send("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})
            Path(pdf).write_bytes(base64.b64decode(printed["data"]))
        if screenshot is not None:
            layout = browser.send("Page.getLayoutMetrics")
            size = layout.get("cssContentSize") or layout["contentSize"]
            shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": min(size["height"], max_height or size["height"]),
                         "scale": 1}})  # fmt: skip
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        return {"render": render, "problems": browser.problems(), "load_s": load_s,
                "page_ms": (render or {}).get("ms"), "metrics": metrics, "evaluated": evaluated,
                "requests": browser.requests()}  # fmt: skip
    finally:
        browser.close()


# resolves with the page's render record once it is there (or null after the timeout)
RENDERED_JS = """new Promise(resolve => {
  const deadline = Date.now() + %d;
  (function poll() {
    if (window.loadgenRender) return resolve(window.loadgenRender);
    if (Date.now() > deadline) return resolve(null);
    setTimeout(poll, 10);
  })();
})"""


if __name__ == "__main__":  # python -m loadgen.report_browser REPORT.html [SHOT.png [MAX_HEIGHT]]: figures as JSON
    import sys

    shot = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    result = open_report(Path(sys.argv[1]), shot, max_height=int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    print(json.dumps(result, indent=1))
