"""A plan's shape in both of Hyper's EXPLAIN formats (trimmed from real output of 0.0.26963 and 0.0.24457), the
older syntax tried when the newer is refused, and compare's listing of changed and incomparable plans."""

import json

from loadgen.results import compare
from loadgen.workloads import plans
from tests.unit.test_compare_verdicts import FIVE, NEW, OLD, write_points

TREE = {
    "tree": {"operator": "result-sink", "operator-id": 1, "statistics": {"estimated-rows": 1}, "inputs": [
        {"operator": "join", "type": "inner", "method": "hash", "statistics": {"output-rows": 1000}, "inputs": [
            {"operator": "scan", "type": "native", "statistics": {"estimated-rows": 1000},
             "attributes": [{"defines": {"id": "scan_id"}, "name": "id"}]},
            {"operator": "table-function", "inputs": [{"operator": "table-construction"}]}]}]},
    "pipelines": [{"id": 0, "statistics": {"query-metrics": {"wall-clock": 1.2e-05}}}],
}  # fmt: skip
OLDER = {
    "operator": "executiontarget", "operatorId": 1, "cardinality": 1, "input": {
        "operator": "join", "operatorId": 3, "cardinality": 1000, "method": "hash",
        "left": {"operator": "tablescan", "debugName": "t", "cardinality": 1000},
        "right": {"operator": "tablefunction", "input": {"operator": "tableconstruction"}}},
}  # fmt: skip


def test_the_shape_keeps_operators_and_what_scans_read_and_drops_numbers():
    assert plans.shape(TREE) == [
        "result-sink", "  join inner hash", "    scan native [id]", "    table-function", "      table-construction",
    ]  # fmt: skip
    assert plans.shape(OLDER) == [
        "executiontarget", "  join hash", "    tablescan [t]", "    tablefunction", "      tableconstruction",
    ]  # fmt: skip
    assert (plans.plan_format(TREE), plans.plan_format(OLDER)) == ("tree", "older")


class Refusing:
    """A connection that refuses the newer EXPLAIN options, as 0.0.24457 does."""

    def __init__(self):
        self.asked = []

    def execute_list_query(self, sql):
        self.asked.append(sql)
        if "EXPAND_VIEWS" in sql:
            raise RuntimeError("unknown explain option 'expand_views': ")
        return [[json.dumps(OLDER)]]


def test_a_release_without_the_newer_options_is_asked_in_the_older_syntax_once():
    connection = Refusing()
    out = plans.explain(connection, {"q01": "SELECT 1", "q02": "SELECT 2"})
    assert out["q01"]["plan"] == OLDER and out["q02"]["plan"] == OLDER
    assert connection.asked == [plans.EXPLAIN + "SELECT 1", plans.EXPLAIN_OLDER + "SELECT 1",
                                plans.EXPLAIN_OLDER + "SELECT 2"]  # fmt: skip


class Folder:
    def __init__(self, root):
        self.root = root

    def write_text(self, name, text, replace=True):
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_compare_lists_a_changed_plan_and_says_when_formats_differ(tmp_path):
    run = write_points(tmp_path / "run", [("rows=1", NEW, FIVE), ("rows=2", NEW, FIVE), ("rows=3", OLD, FIVE)])
    flipped = json.loads(json.dumps(TREE))
    join = flipped["tree"]["inputs"][0]
    join["inputs"].reverse()
    for point, plan in enumerate((TREE, flipped, OLDER)):
        plans.write(Folder(run), point, "load", {"query": {"sql": "SELECT …", "plan": plan}})
    lines = compare.compare([str(run)]).plan_changes()
    assert lines[0] == "load query: plan changed on rows=2 (operator 3: scan native [id] → table-function)"
    assert lines[1] == (
        "plans of hyperd 0.0.24457 and hyperd 0.0.26963 are in different EXPLAIN formats: their shapes cannot be "
        "compared"
    )
