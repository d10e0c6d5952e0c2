"""The arrow paths' 2-core proxy: what loadgen's insert costs the client per row, against a minimal hand-written
pipelined client doing the same canonical rows, and how long a phase takes to get its first COPY into hyperd.

On a many-core machine hyperd COPYing pre-staged Arrow files is the limit, and every CPU-second the client spends
per row is taken from hyperd (many workers) or sits on the critical path (one worker's single staging thread), and
every millisecond from the barrier's release to the first COPY is lost from a short phase. Neither depends on the
core count, so both can be checked here:

  worker CPU-s per M rows   loadgen's worker process (psutil, all its threads) from the phase's start to its end,
                            read inside loadgen's own run (1 worker, coordinator and sampler running) by
                            benchmarks/proxy_hook/sitecustomize.py; against the hand-written client's process over
                            the same rows, same record batches (16,384 rows), same COPY size (1M rows).
                            Floor: loadgen ≤ 1.15 × the hand-written client.
  hyperd CPU-s per M rows   hyperd's CPU over the same spans (no floor: what the client's way of sending costs the
                            server, which a many-core machine pays from the same cores).
  first COPY                the coordinator's release stamp → the first COPY's `query-begin` in hyperd's log (and,
                            for arrow_stream, its first CopyData message). Floor: ≤ 20 ms.

Hand-written clients (generation + Arrow IPC on one thread, COPY on the main thread):
  arrow         each 1M-row chunk written to /dev/shm as an IPC stream, then
                `COPY t FROM 'file' WITH (FORMAT arrowstream)` through tableauhyperapi; at most two files exist.
  arrow_stream  each batch serialised once (RecordBatch.serialize) and handed to psycopg's
                `COPY t FROM STDIN WITH (FORMAT arrowstream)` whole.
Every number is a median over --reps repetitions, loadgen and the hand-written client alternating, on one hyperd.

    python benchmarks/bench_arrow_proxy.py                  # 10M rows, 5 repetitions (~4 minutes on 2 cores)
    python benchmarks/bench_arrow_proxy.py --rows 1000000 --reps 1   # smoke size
"""

import argparse
import contextlib
import json
import os
import queue
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common  # benchmarks/common.py (a script's own folder is on sys.path)
import numpy as np
import psutil
import pyarrow as pa
from tableauhyperapi import Connection, CreateMode, HyperProcess, Telemetry, escape_string_literal

from loadgen.datagen import canonical, canonical_batches
from loadgen.engine import server
from loadgen.results.hyperlog import parse_ts

HOOK_DIR = Path(__file__).resolve().parent / "proxy_hook"
PER_COPY = 1_000_000
BATCH_ROWS = 16_384
METHODS = ("arrow", "arrow_stream")
CPU_FLOOR = 1.15  # loadgen's worker CPU per row ≤ this × the hand-written client's
FIRST_COPY_FLOOR_MS = 20.0
SHM = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # the IPC stream's end marker


# ------------------------------------------------------------------------------------ the canonical rows, by hand
def hand_batch(start: int, count: int) -> pa.RecordBatch:
    """The design's closed forms, written out: id, id % 10, id * 0.1, 1_700_000_000_000 + id * 1000."""
    ids = np.arange(start, start + count, dtype=np.int64)
    return pa.record_batch(
        [ids.astype(np.int32), (ids % 10).astype(np.int32), ids * 0.1, 1_700_000_000_000 + ids * 1000],
        schema=canonical_batches.ARROW_SCHEMA,
    )


def chunks(rows: int):
    """(start, count) of each COPY, and within it the batches: as loadgen splits a worker's rows."""
    for start in range(0, rows, PER_COPY):
        count = min(PER_COPY, rows - start)
        yield start, count, [(s, min(BATCH_ROWS, start + count - s)) for s in range(start, start + count, BATCH_ROWS)]


# --------------------------------------------------------------------------------------------------- measuring
def usage(pid: int | None = None) -> dict:
    cpu = psutil.Process(pid).cpu_times()
    out = {"user_s": cpu.user, "system_s": cpu.system}
    if pid is None:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        out["minflt"] = ru.ru_minflt
    return out


def delta(after: dict, before: dict) -> dict:
    return {k: after[k] - before[k] for k in after}


class HyperdLog:
    """hyperd's JSON log lines (the bench's own hyperd, so every COPY in it is the bench's)."""

    KINDS = ('"query-begin"', '"query-end"', '"request-header-received-during-copy"')

    def __init__(self, folder: Path):
        self.folder = folder

    def lines_since(self, epoch_s: float):
        for path in sorted(self.folder.glob("hyperd*.log")):
            with open(path, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if not any(kind in line for kind in self.KINDS):
                        continue
                    with contextlib.suppress(ValueError, KeyError):
                        entry = json.loads(line)
                        ts = parse_ts(entry["ts"])
                        if ts >= epoch_s:
                            yield ts, entry

    def copies(self, epoch_s: float, table: str, expected: int) -> dict:
        """The COPYs into `table` from `epoch_s` on, in the session of the first: when the first began and when
        its first CopyData arrived (epoch seconds), and the gaps between one COPY's end and the next one's begin.
        hyperd writes its log asynchronously: waits up to 5 s for the last COPY's end."""
        deadline = time.monotonic() + 5
        while True:
            found = {"begun": None, "first_data": None, "gaps_ms": [], "ends": 0, "commit_ms": [], "messages": 0}
            session, last_end, copying = None, None, False
            for ts, entry in self.lines_since(epoch_s):
                kind, query = entry["k"], entry.get("v", {}).get("query", "")
                if session is None:
                    if kind == "query-begin" and query.startswith(f"COPY {table}"):
                        session, found["begun"], copying = entry.get("sess"), ts, True
                    continue
                if entry.get("sess") != session:
                    continue
                if kind == "request-header-received-during-copy":
                    found["messages"] += 1
                    found["first_data"] = found["first_data"] or ts
                elif kind == "query-end" and copying:  # the session's other statements (checks) are not COPYs
                    last_end = ts
                    found["ends"] += 1
                    found["commit_ms"].append(entry["v"].get("commit-time", 0) * 1e3)
                elif kind == "query-begin":
                    copying = query.startswith("COPY")
                    if copying and last_end is not None:
                        found["gaps_ms"].append((ts - last_end) * 1e3)
            if found["ends"] >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


# ------------------------------------------------------------------------------------- hand-written clients
def hand_arrow(conn, table: str, rows: int) -> None:
    """Stage on a helper thread, COPY on this one; at most two staged files exist, as in loadgen."""
    staged: queue.Queue = queue.Queue()
    room = threading.Semaphore(2)
    failure: list[BaseException] = []

    def stage() -> None:
        try:
            for n, (_, _, batches) in enumerate(chunks(rows)):
                room.acquire()
                path = os.path.join(SHM, f"bench-proxy-{os.getpid()}-{n}.arrows")
                with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, canonical_batches.ARROW_SCHEMA) as writer:
                    for start, size in batches:
                        writer.write_batch(hand_batch(start, size))
                staged.put(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the COPY thread
            failure.append(exc)
        finally:
            staged.put(None)

    stager = threading.Thread(target=stage, daemon=True)
    stager.start()
    try:
        while (path := staged.get()) is not None:
            conn.execute_command(f"COPY {table} FROM {escape_string_literal(path)} WITH (FORMAT arrowstream)")
            os.unlink(path)
            room.release()
    finally:
        stager.join()
    if failure:
        raise failure[0]


def prestaged(conn, table: str, rows: int) -> list[str]:
    """The limit's files: every COPY's file written before the clock (1M rows each, batches of 16,384)."""
    paths = []
    for n, (_, _, batches) in enumerate(chunks(rows)):
        path = os.path.join(SHM, f"bench-proxy-{os.getpid()}-{n}.arrows")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, canonical_batches.ARROW_SCHEMA) as writer:
            for start, size in batches:
                writer.write_batch(hand_batch(start, size))
        paths.append(path)
    return paths


def copy_prestaged(conn, table: str, paths: list[str]) -> None:
    """The limit as it is measured on the 16-core machine: one COPY after the other, the files removed after the
    clock."""
    for path in paths:
        conn.execute_command(f"COPY {table} FROM {escape_string_literal(path)} WITH (FORMAT arrowstream)")


def hand_stream(pg, table: str, rows: int) -> None:
    """Serialise each batch on a helper thread, write it whole into the COPY on this one."""
    pieces: queue.Queue = queue.Queue(maxsize=16)
    failure: list[BaseException] = []
    schema = canonical_batches.ARROW_SCHEMA.serialize()

    def produce() -> None:
        try:
            for _, _, batches in chunks(rows):
                for start, size in batches:
                    pieces.put(hand_batch(start, size).serialize())
                pieces.put(EOS)
        except BaseException as exc:  # noqa: BLE001 - handed to the COPY thread
            failure.append(exc)
        finally:
            pieces.put(None)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    sql = f"COPY {table} FROM STDIN WITH (FORMAT arrowstream)"
    try:
        with pg.cursor() as cursor:
            for _ in chunks(rows):
                with cursor.copy(sql) as copy:
                    copy.write(schema)
                    while (piece := pieces.get()) is not EOS:
                        if piece is None:
                            raise failure[0] if failure else RuntimeError("the producer ended early")
                        copy.write(piece)
                    copy.write(EOS)
    finally:
        while producer.is_alive():  # let a producer blocked on a full queue finish
            with contextlib.suppress(queue.Empty):
                pieces.get(timeout=0.1)
        producer.join()


def fresh_table(conn, name: str) -> str:
    table = f'"{name}"'
    conn.execute_command(f"DROP TABLE IF EXISTS {table}")
    conn.execute_command(f"CREATE TABLE {table} ({canonical.COLUMNS_SQL})")
    return table


def check_table(conn, table: str, rows: int) -> None:
    want = canonical.expected(canonical.RowRange(0, rows))
    count, sum_id = conn.execute_list_query(f"SELECT COUNT(*), SUM(id) FROM {table}")[0]
    assert (count, sum_id) == (want.count, want.sum_id), f"{table}: {count} rows, SUM(id) {sum_id}; expected {want}"


def run_hand(method: str, endpoint: str, hyperd_pid: int, log: HyperdLog, rows: int, folder: Path) -> dict:
    """The hand-written client in a process of its own, fresh like a loadgen worker (cold memory, nothing cached),
    measured from its clock's start to its end."""
    command = [sys.executable, __file__, "--hand", method, "--endpoint", endpoint, "--database",
               str(folder / "hand.hyper"), "--rows", str(rows), "--hyperd-pid", str(hyperd_pid)]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"hand-written {method} client failed ({proc.returncode}): {proc.stderr[-2000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    copies = log.copies(r["start_epoch"], f'"hand_{method}"', -(-rows // PER_COPY))
    return outcome(rows, r["wall_s"], r["used"], r["hyperd_used"], copies, r["start_epoch"])


def hand_client(args) -> None:
    """One hand-written run (`--hand METHOD`): connect and create the table, one tiny untimed batch through the
    same calls (pyarrow's first conversion of a numpy array imports pandas: ~0.2 s that is nobody's COPY), then the
    clock. Prints one JSON line."""
    from tableauhyperapi import Endpoint

    with Connection(Endpoint(args.endpoint, "bench"), args.database, CreateMode.CREATE_IF_NOT_EXISTS) as conn:
        table = fresh_table(conn, f"hand_{args.hand}")
        pg = server.pg_connect(args.endpoint, args.database) if args.hand == "arrow_stream" else None
        with pa.ipc.new_stream(pa.BufferOutputStream(), canonical_batches.ARROW_SCHEMA) as writer:
            writer.write_batch(hand_batch(0, 1))
        hand_batch(0, 1).serialize()
        paths = prestaged(conn, table, args.rows) if args.hand == "limit" else []
        start_epoch = time.time()
        before, hyperd_before = usage(), usage(args.hyperd_pid)
        t0 = time.perf_counter_ns()
        if args.hand == "limit":
            copy_prestaged(conn, table, paths)
        elif args.hand == "arrow":
            hand_arrow(conn, table, args.rows)
        else:
            hand_stream(pg, table, args.rows)
            pg.close()
        wall_s = (time.perf_counter_ns() - t0) / 1e9
        used, hyperd_used = delta(usage(), before), delta(usage(args.hyperd_pid), hyperd_before)
        for path in paths:
            os.unlink(path)
        check_table(conn, table, args.rows)
        conn.execute_command(f"DROP TABLE {table}")
    print(json.dumps({"start_epoch": start_epoch, "wall_s": wall_s, "used": used, "hyperd_used": hyperd_used}))


# -------------------------------------------------------------------------------------------------- loadgen
def run_loadgen(method: str, endpoint: str, hyperd_pid: int, log: HyperdLog, rows: int, folder: Path) -> dict:
    name = f"proxy_{method}"
    (folder / name).mkdir(exist_ok=True)  # an endpoint's database_dir must exist on its host
    stamps = folder / f"stamps-{name}"
    shutil.rmtree(stamps, ignore_errors=True)
    stamps.mkdir()
    text = (
        f"name: {name}\nworkers: 1\nrows: {rows}\n"
        f'server: {{endpoint: "{endpoint}", database_dir: "{folder / name}", replace_existing: true}}\n'
        f"phases:\n  - {{name: ins, workload: insert, method: {method}, rows_per_copy: {PER_COPY}, "
        f"batch_rows: {BATCH_ROWS}}}\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HOOK_DIR), os.environ.get("PYTHONPATH")])),
        "LOADGEN_PROXY_STAMPS": str(stamps),
        "LOADGEN_PROXY_HYPERD_PID": str(hyperd_pid),
    }
    path = folder / f"{name}.yaml"
    path.write_text(text)
    proc = subprocess.run(common.loadgen_command(path, folder), capture_output=True, text=True, timeout=900, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen failed ({proc.returncode}): {proc.stderr}\n{proc.stdout[-2000:]}")
    summary = common.read_csv(common.newest_run(folder, name) / "summary.csv")[0]
    assert summary["verified"] == "ok", summary
    lines = [json.loads(line) for f in stamps.glob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(lines) == 1, f"expected one worker phase stamped, got {len(lines)}: is the hook still in step?"
    s = lines[0]
    release_epoch = s["release_epoch_ns"] / 1e9
    copies = log.copies(release_epoch, '"measurements_0"', -(-rows // PER_COPY))
    used = {k: s[k] for k in ("user_s", "system_s", "minflt")}
    hyperd_used = {k: s["hyperd_" + k] for k in ("user_s", "system_s")}
    result = outcome(rows, (s["end_ns"] - s["start_ns"]) / 1e9, used, hyperd_used, copies, release_epoch)
    result["wake_ms"] = (s["start_ns"] - s["release_ns"]) / 1e6  # release → the workload's run begins
    result["issued_ms"] = (s["first_copy_ns"] - s["release_ns"]) / 1e6  # → the worker issues its first COPY
    result["summary_rows_per_s"] = float(summary["rows_per_s"])
    return result


def outcome(rows, wall_s, used, hyperd_used, copies, origin_epoch) -> dict:
    m = rows / 1e6
    begun, first_data = copies["begun"], copies["first_data"]
    return {
        "cpu_per_m": (used["user_s"] + used["system_s"]) / m,
        "user_per_m": used["user_s"] / m,
        "system_per_m": used["system_s"] / m,
        "minflt_per_m": used["minflt"] / m,
        "hyperd_cpu_per_m": (hyperd_used["user_s"] + hyperd_used["system_s"]) / m,
        "rows_per_s": rows / wall_s,
        "first_copy_ms": (begun - origin_epoch) * 1e3 if begun else float("nan"),
        "first_data_ms": (first_data - origin_epoch) * 1e3 if first_data else float("nan"),
        "gap_ms": statistics.median(copies["gaps_ms"]) if copies["gaps_ms"] else float("nan"),
        "copies": copies["ends"],
        "commit_ms": statistics.median(copies["commit_ms"]) if copies["commit_ms"] else float("nan"),
        "messages_per_m": copies["messages"] / m,
    }


# ----------------------------------------------------------------------------------------------------- report
SIDES = [("loadgen", "arrow"), ("hand", "arrow"), ("loadgen", "arrow_stream"), ("hand", "arrow_stream"),
         ("limit", "arrow")]  # fmt: skip
SIDE_NAMES = {"loadgen": "loadgen", "hand": "hand-written", "limit": "pre-staged limit"}


def render(results: dict, args, load_before: tuple, load_after: tuple) -> str:
    def values(side, method, key):
        return [r[key] for r in results[side, method] if r[key] == r[key]]  # NaN: not in hyperd's log

    def med(side, method, key):
        got = values(side, method, key)
        return statistics.median(got) if got else float("nan")

    def spread(side, method, key, fmt="{:.3f}"):
        got = values(side, method, key)
        return f"{fmt.format(min(got))}–{fmt.format(max(got))}" if got else "–"

    lines = [
        "## Arrow paths: the 2-core proxy (`benchmarks/bench_arrow_proxy.py`)",
        "",
        common.machine_line(),
        f"Load average (1/5/15 min) at the start {'/'.join(f'{x:.1f}' for x in load_before)}, at the end "
        f"{'/'.join(f'{x:.1f}' for x in load_after)}. {args.rows:,} rows per run, 1 worker, COPYs of "
        f"{PER_COPY:,} rows, batches of {BATCH_ROWS:,}; medians of {args.reps} repetitions (range in the note).",
        "",
        *common.RATIO_TABLE_HEAD,
    ]
    for method in METHODS:
        lg, hd = med("loadgen", method, "cpu_per_m"), med("hand", method, "cpu_per_m")
        ratio = lg / hd
        lines.append(
            f"| {method}: worker CPU-s per M rows vs hand-written pipelined client | {lg:.3f} | {hd:.3f} | "
            f"{ratio:.2f} | ≤ {CPU_FLOOR} | {'yes' if ratio <= CPU_FLOOR else '**no**'} | "
            f"loadgen {spread('loadgen', method, 'cpu_per_m')}, hand {spread('hand', method, 'cpu_per_m')} |"
        )
    for method, key, what in (("arrow", "first_copy_ms", "first COPY begun"),
                              ("arrow_stream", "first_data_ms", "first CopyData of the first COPY")):  # fmt: skip
        ms = med("loadgen", method, key)
        met = "yes" if ms <= FIRST_COPY_FLOOR_MS else "**no**"
        lines.append(
            f"| {method}: release → {what} in hyperd | {ms:.1f} ms | {med('hand', method, key):.1f} ms (hand, "
            f"from its clock's start) | | ≤ {FIRST_COPY_FLOOR_MS:g} ms | {met} | "
            f"{spread('loadgen', method, key, '{:.0f}')} ms; the worker issued the COPY "
            f"{med('loadgen', method, 'issued_ms'):.1f} ms after the release, its run began after "
            f"{med('loadgen', method, 'wake_ms'):.1f} ms |"
        )
    lines += [
        "",
        "| per M rows (medians) | client CPU-s | user | system | minor faults | hyperd CPU-s | first COPY ms "
        "| first data ms | gap between COPYs ms | COPYs | commit ms per COPY | CopyData messages | "
        "rows/s (context only) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for side, method in SIDES:
        if (side, method) not in results:
            continue

        def cell(key, fmt, side=side, method=method):
            return fmt.format(med(side, method, key))

        lines.append(
            f"| {method}, {SIDE_NAMES[side]} | {cell('cpu_per_m', '{:.3f}')} | {cell('user_per_m', '{:.3f}')} | "
            f"{cell('system_per_m', '{:.3f}')} | {cell('minflt_per_m', '{:,.0f}')} | "
            f"{cell('hyperd_cpu_per_m', '{:.3f}')} ({spread(side, method, 'hyperd_cpu_per_m')}) | "
            f"{cell('first_copy_ms', '{:.1f}')} | {cell('first_data_ms', '{:.1f}')} | {cell('gap_ms', '{:.2f}')} | "
            f"{cell('copies', '{:.0f}')} | {cell('commit_ms', '{:.1f}')} | {cell('messages_per_m', '{:.0f}')} | "
            f"{med(side, method, 'rows_per_s') / 1e6:.2f}M |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows per run (one worker)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--write", help="also write the markdown report to this file")
    parser.add_argument(
        "--hand", choices=(*METHODS, "limit"), help=argparse.SUPPRESS
    )  # one hand-written run (a subprocess)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--hyperd-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.hand:
        hand_client(args)
        return 0
    # the hand-written rows are loadgen's rows
    assert hand_batch(123_456, 1000).equals(canonical_batches.record_batch(123_456, 1000))

    folder = Path(tempfile.mkdtemp(prefix="loadgen-bench-proxy-"))
    (folder / "hyperd").mkdir()
    log = HyperdLog(folder / "hyperd")
    results: dict = {}
    load_before = os.getloadavg()
    try:
        with HyperProcess(
            Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(folder / "hyperd")}
        ) as hyper:
            endpoint = hyper.endpoint.connection_descriptor
            hyperd_pid = server.find_hyperd_pid()
            for rep in range(args.reps):
                for method in METHODS:
                    for side in ("loadgen", "hand") if rep % 2 == 0 else ("hand", "loadgen"):
                        print(f"repetition {rep + 1}/{args.reps}: {method}, {side}", file=sys.stderr, flush=True)
                        if side == "loadgen":
                            r = run_loadgen(method, endpoint, hyperd_pid, log, args.rows, folder)
                        else:
                            r = run_hand(method, endpoint, hyperd_pid, log, args.rows, folder)
                        results.setdefault((side, method), []).append(r)
                print(f"repetition {rep + 1}/{args.reps}: pre-staged limit", file=sys.stderr, flush=True)
                results.setdefault(("limit", "arrow"), []).append(
                    run_hand("limit", endpoint, hyperd_pid, log, args.rows, folder)
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    common.publish(render(results, args, load_before, os.getloadavg()), args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
