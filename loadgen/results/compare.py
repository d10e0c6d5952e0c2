"""`loadgen compare RUN_A RUN_B …` (or one run of several matrix points): per phase and metric, each side's value,
and each side's change against the first side (the baseline) with a verdict that takes the metric's direction and
the repetitions' spread into account (results/judge.py: `judge_change`).

A side is a run, or — for one run of several matrix points — a point. Sides of different hyperd versions are
grouped by version (the baseline's first), and every side carries what a reader must know before trusting a
number: its hyperd version, the run's status and its thresholds' verdict.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from loadgen import columns
from loadgen.errors import NotARunFolder, ScenarioError
from loadgen.results import files
from loadgen.results.judge import LEVEL, MIN_REPS, Verdict, describe_change, judge_change
from loadgen.results.run_folder import RunFolder
from loadgen.results.tables import final_rows, is_aggregate

METRICS = columns.HEADLINE  # the metrics compared (loadgen/columns.py)
RESOURCE = columns.RESOURCE  # shown with their change, judged only on request
SPEED = ("rows_per_s", "ops_per_s")  # a phase's speed: rows/s when it moves rows, else operations/s


@dataclass
class Side:
    """One side of a comparison: a run, or one matrix point of a run."""

    run_id: str
    source: str = ""  # the run folder as given
    parameters: str = ""
    hyperd_version: str = ""
    status: str = ""  # the run's: ok | failed | interrupted | running ("" when run.json is missing)
    thresholds: str = ""  # "" (none) | ok | missed: …
    final: dict = field(default_factory=dict)  # phase → its final row
    repetitions: dict = field(default_factory=dict)  # phase → its measured ok rows
    plans: dict = field(default_factory=dict)  # (phase, statement) → its plan's shape (`explain: true`)

    @property
    def label(self) -> str:
        return f"{self.run_id} [{self.parameters}]" if self.parameters else self.run_id

    def header(self) -> str:
        """`run-b [server.hyperd=…] · hyperd 0.0.24457 · ok · thresholds missed: …`"""
        parts = [self.label, f"hyperd {short_version(self.hyperd_version)}" if self.hyperd_version else ""]
        parts += [self.status, f"thresholds {self.thresholds}" if self.thresholds else ""]
        return " · ".join(p for p in parts if p)

    def samples(self, phase: str, metric: str) -> list[float]:
        return [r.number(metric) for r in self.repetitions.get(phase, []) if r.get(metric) not in ("", None)]


@dataclass
class Comparison:
    sides: list[Side]
    rows: list[dict]  # per phase and metric: values (one per side), judged (a Verdict per side after the first)

    @property
    def ids(self) -> list[str]:
        return [s.label for s in self.sides]

    @property
    def baseline(self) -> Side:
        return self.sides[0]

    def plan_changes(self) -> list[str]:
        """The statements whose plan shape differs from the baseline's (phases with `explain: true`)."""
        out = []
        for side in self.sides[1:]:
            formats = {s.plans[k][0] for s in (self.baseline, side) for k in s.plans}
            if len(formats) > 1:  # another release's EXPLAIN format: its operators have other names
                out.append(f"plans of {name_of(side, self.baseline)} and {name_of(self.baseline, side)} are in "
                           "different EXPLAIN formats: their shapes cannot be compared")  # fmt: skip
                continue
            for key, base_shape in self.baseline.plans.items():
                theirs = side.plans.get(key)
                if theirs is not None and theirs != base_shape:
                    longest = max(len(base_shape), len(theirs))
                    mine, other = (base_shape + [""] * longest)[:longest], (theirs + [""] * longest)[:longest]
                    first = next(i for i, (a, b) in enumerate(zip(mine, other, strict=True)) if a != b)
                    was, seen = mine[first].strip() or "nothing", other[first].strip() or "nothing"
                    out.append(f"{key[0]} {key[1]}: plan changed on {name_of(side, self.baseline)} "
                               f"(operator {first}: {was} → {seen})")  # fmt: skip
        return out

    def phase_lines(self) -> list[str]:
        """Per phase and side: which is faster and by how much, in words, from the phase's speed metric."""
        out = []
        for row in self.rows:
            if row["metric"] != row["speed"]:
                continue
            for side, verdict in zip(self.sides[1:], row["judged"], strict=True):
                out.append(f"{row['phase']} ({row['metric']}): {speed_words(side, self.baseline, verdict)}")
        return out


def short_version(reported: str) -> str:
    """`0.0.24457` from what hyperd reports (`Hyper 9.1.0 emulation, hyper version main.0.0.24457.rc36858b6`): the
    release number, the last of the dotted triples."""
    found = re.findall(r"\d+\.\d+\.\d+", reported)
    return found[-1] if found else reported


def speed_words(side: Side, base: Side, v: Verdict) -> str:
    """`hyperd 0.0.24457 is 23.0 % slower than hyperd 0.0.26963, 95 % interval 18.1–27.9 %` (a speed metric:
    higher is faster)."""
    who, than = name_of(side, base), name_of(base, side)
    word = "faster" if v.change_pct >= 0 else "slower"
    said = f"{who} is {abs(v.change_pct):.1f} % {word} than {than}"
    if v.interval is None:
        return f"{said}: {v.verdict}"
    if v.verdict == "within noise":
        return f"{who} and {than}: within noise ({describe_change(v.change_pct, v.interval)})"
    small, large = sorted(abs(x) for x in v.interval)
    return f"{said}, {LEVEL} interval {small:.1f}–{large:.1f} %"


def name_of(side: Side, other: Side) -> str:
    """The shortest name that tells two sides apart: their hyperd versions when they differ, else the label."""
    mine, theirs = short_version(side.hyperd_version), short_version(other.hyperd_version)
    if mine and mine != theirs:
        return f"hyperd {mine}"
    return side.parameters or side.label


def phase_label(row: dict) -> str:
    """The phase, with its matrix point's parameters when there are any: `load [workers=2]`."""
    return f"{row['phase']} [{row['parameters']}]" if row.get("parameters") else row["phase"]


def run_outcome(run: RunFolder) -> tuple[str, dict]:
    """The run's status and its thresholds, from run.json (a run folder without one still compares)."""
    try:
        run_json = files.read_run_json(run.dir / "run.json")
    except NotARunFolder:  # the summary is what compare needs; the header says the rest is unknown
        return "status unknown (run.json unreadable)", {}
    return str(run_json.get("status", "")), run_json


def thresholds_verdict(run_json: dict, final: list[dict], parameters: str) -> str:
    """ok / missed: which — from the summary's `thresholds` column when the run has one, else run.json."""
    marks = [r.get("thresholds", "") for r in final if r.get("thresholds", "") not in ("", None)]
    if marks:
        missed = [m for m in marks if m != "ok"]
        return "; ".join(missed) if missed else "ok"
    where = f" [{parameters}]" if parameters else ""
    mine = [t for t in run_json.get("thresholds", []) if not where or str(t.get("threshold", "")).endswith(where)]
    missed = [str(t.get("threshold", "")).removesuffix(where) for t in mine if not t.get("passed")]
    return ("missed: " + "; ".join(missed)) if missed else ("ok" if mine else "")


def sides_of(paths: list[str]) -> list[Side]:
    """One side per run; one run of several matrix points: one side per point (its phases without parameters)."""
    runs = [RunFolder.read(p, summary_only=True) for p in paths]
    sources = dict(zip(map(id, runs), paths, strict=True))
    points_of_one = len(runs) == 1 and len({str(r.get("point", "")) for r in runs[0].summary}) > 1
    if len(runs) == 1 and not points_of_one:
        raise ScenarioError(f"{paths[0]}: one run of one point; compare needs two runs or a run of a matrix")
    sides = []
    for run in runs:
        status, run_json = run_outcome(run)
        groups: dict[str, list[dict]] = {}
        for r in run.summary:
            groups.setdefault(str(r.get("point", "")) if points_of_one else "", []).append(r)
        for rows in groups.values():
            final = final_rows(rows)
            parameters = rows[0].get("parameters", "") if points_of_one else ""
            label = (lambda r: r["phase"]) if points_of_one else phase_label
            version = next((r["hyperd_version"] for r in rows if r.get("hyperd_version")), "")
            side = Side(run.run_id, sources[id(run)], parameters, version, status,
                        thresholds_verdict(run_json, final, parameters), {label(r): r for r in final})  # fmt: skip
            for r in rows:
                if not is_aggregate(r) and r.get("status") == "ok":
                    side.repetitions.setdefault(label(r), []).append(r)
            side.plans = plan_shapes(run.dir, final, label)
            sides.append(side)
    versions = list(dict.fromkeys(short_version(s.hyperd_version) for s in sides))
    if len(versions) > 1:  # grouped by version, the baseline's first; the order given within a version
        sides.sort(key=lambda s: versions.index(short_version(s.hyperd_version)))
    return sides


def plan_shapes(folder: Path, final: list[dict], label) -> dict[tuple[str, str], list[str]]:
    """(phase label, statement) → the shape saved by `explain: true` (plans/point-P/PHASE/STATEMENT.json)."""
    out = {}
    for row in final:
        for path in sorted((folder / "plans" / f"point-{row.get('point', 0) or 0}" / row["phase"]).glob("*.json")):
            try:
                saved = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise NotARunFolder(f"{path}: not a plan loadgen saved (damaged?)") from None
            if isinstance(saved, dict) and saved.get("shape"):  # the format first: shapes of two formats never match
                out[(label(row), path.stem)] = [f"format {saved.get('format', 'tree')}", *saved["shape"]]
    return out


def compare(paths: list[str], judge_resources: bool = False) -> Comparison:
    """A row per phase and metric: each side's value (its final row: the median when repeated), and each other
    side's verdict against the first."""
    sides = sides_of(paths)
    base = sides[0]
    out = []
    for phase in base.final:
        if not all(phase in side.final for side in sides):
            continue
        speed = next((m for m in SPEED if numbers_of(sides, phase, m) and any(numbers_of(sides, phase, m))), "")
        for metric in METRICS:
            values = numbers_of(sides, phase, metric)
            if values is None:
                continue
            resource = metric in RESOURCE and not judge_resources
            column = columns.by_name()[metric]
            judged = [judge_change(column, base.samples(phase, metric), s.samples(phase, metric), resource)
                      for s in sides[1:]]  # fmt: skip
            out.append({"phase": phase, "metric": metric, "values": values, "judged": judged,
                        "resource": metric in RESOURCE, "speed": speed})  # fmt: skip
    if not out:
        raise ScenarioError("the runs have no phase in common")
    return Comparison(sides, out)


def numbers_of(sides: list[Side], phase: str, metric: str) -> list[float] | None:
    if any(side.final[phase].get(metric) in ("", None) for side in sides):
        return None
    return [side.final[phase].number(metric) for side in sides]


__all__ = ["MIN_REPS", "Comparison", "Side", "compare"]
