"""`explain: true` on a query or tpch_query phase: Hyper's plan of each distinct statement, run once after the timed
part (worker 0, the phase's first session), saved in the run folder as plans/point-P/PHASE/STATEMENT.json with the
plan's shape; `loadgen compare` lists the statements whose shape differs between two sides.

Hyper's syntax differs between releases (tried on both): 0.0.26963 wants `EXPLAIN (FORMAT JSON, ANALYZE,
EXPAND_VIEWS) stmt` (with ANALYZE it refuses its default `EXPAND_VIEWS false`) and writes {"tree": operator,
"pipelines": …}, each operator {"operator", "type", "method", "statistics", "inputs": […]}; 0.0.24457 knows no
EXPAND_VIEWS ("unknown explain option"), takes `EXPLAIN (FORMAT JSON, ANALYZE) stmt` and writes its older format:
operators {"operator", "method", "cardinality", "input": {…}} or "left"/"right", with other operator names
(`executiontarget`, `tablescan`). A shape is compared only with a shape of the same format. The statement really
runs (ANALYZE: the plan carries the rows each operator produced).
"""

import json

EXPLAIN = "EXPLAIN (FORMAT JSON, ANALYZE, EXPAND_VIEWS) "
EXPLAIN_OLDER = "EXPLAIN (FORMAT JSON, ANALYZE) "  # releases without EXPAND_VIEWS
FOLDER = "plans"
# what names an operator in the shape; statistics (estimates, rows, memory), ids and timings are left out
NAMING_KEYS = ("operator", "type", "method")


def explain(connection, statements: dict[str, str]) -> dict[str, dict]:
    """name → {"sql", "plan"} (or {"sql", "error"}: a statement Hyper cannot explain does not fail the phase)."""
    out = {}
    prefix = EXPLAIN
    for name, sql in statements.items():
        try:
            try:
                rows = connection.execute_list_query(prefix + sql)
            except Exception as exc:
                if prefix is EXPLAIN_OLDER or "unknown explain option" not in str(exc):
                    raise
                prefix = EXPLAIN_OLDER
                rows = connection.execute_list_query(prefix + sql)
            out[name] = {"sql": sql, "plan": json.loads("\n".join(str(row[0]) for row in rows))}
        except Exception as exc:  # noqa: BLE001 - said in the plan's file instead; the measurement stands
            out[name] = {"sql": sql, "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    return out


def plan_format(plan: dict) -> str:
    return "tree" if "tree" in plan else "older"


def children(node: dict) -> list[dict]:
    found = node.get("inputs") or [node.get(k) for k in ("input", "left", "right")]
    return [c for c in found if isinstance(c, dict) and "operator" in c]


def shape(plan: dict) -> list[str]:
    """The operator tree, one indented line per operator: its kind, type and method, and what a scan reads (its
    columns, or the table in the older format: what tells two inputs of a join apart); no costs, timings or
    cardinalities."""
    lines: list[str] = []

    def walk(node: dict, depth: int) -> None:
        words = [str(node[k]) for k in NAMING_KEYS if isinstance(node.get(k), str)]
        reads = [a["name"] for a in node.get("attributes", []) if isinstance(a, dict) and "name" in a]
        reads += [node["debugName"]] if isinstance(node.get("debugName"), str) else []
        lines.append("  " * depth + " ".join(words) + (f" [{', '.join(reads)}]" if reads else ""))
        for child in children(node):
            walk(child, depth + 1)

    walk(plan.get("tree", plan), 0)
    return lines


def write(output, point, phase: str, plans: dict[str, dict]) -> None:
    """Each statement's plan, once per run and point (a later repetition keeps the first)."""
    for name, entry in plans.items():
        if "plan" in entry:
            entry = dict(entry, format=plan_format(entry["plan"]), shape=shape(entry["plan"]))
        output.write_text(f"{FOLDER}/point-{point}/{phase}/{name}.json", json.dumps(entry, indent=1), replace=False)
