"""A scenario file as YAML: parsed once into plain data and into a node tree that knows each value's line, so that
every mistake can be reported as FILE:LINE. Size and alias limits keep a hostile file from taking minutes or
memory; duplicate keys are errors."""

import yaml

from loadgen.config.fields import shorten
from loadgen.errors import ScenarioError


class Source:
    """Where values came from: the YAML node tree (for line numbers), any --set overrides, and the keys written
    under a deprecated name (their new location → the location as written)."""

    def __init__(self, path: str, root: yaml.Node | None, overrides: dict[tuple, str] | None = None):
        self.path = path
        self.root = root
        self.overrides = overrides or {}
        self.renamed: dict[tuple, tuple] = {}

    def original(self, loc: tuple) -> tuple:
        """A location as the file (or the --set) wrote it."""
        for new, old in self.renamed.items():
            if loc[: len(new)] == new:
                return old + loc[len(new) :]
        return loc

    def where(self, loc: tuple) -> str:
        loc = self.original(loc)
        for prefix, text in self.overrides.items():
            # inside what the override set, or a mapping the override created (--set a.b.c=1 makes `a`)
            if loc[: len(prefix)] == prefix or (prefix[: len(loc)] == loc and find_node(self.root, loc) is None):
                return f"{self.path}: {text}"
        return f"{self.path}:{locate_line(self.root, loc)}"


def find_node(node: yaml.Node | None, loc: tuple) -> yaml.Node | None:
    """The YAML node at `loc`, or None when the file does not have it."""
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return None
    return node


def locate_line(node: yaml.Node | None, loc: tuple) -> int:
    """1-based line of the deepest YAML node on the path `loc` (pydantic's error location).

    Parts that are not in the YAML (a union's tag, for example) are skipped. When the path ends on a key,
    the key's own line is returned.
    """
    if node is None:
        return 1
    line = node.start_mark.line
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                continue  # a tag or a missing key: stay on this mapping
            line = match[0].start_mark.line
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
    return line + 1


MAX_FILE_BYTES = 1 << 20  # a scenario is a page of YAML; a larger file is a mistake (or an attack)
MAX_ALIAS_NODES = 10_000  # nodes reachable through aliases: a few anchors are fine, an alias bomb is not


class BoundedLoader(yaml.SafeLoader):
    """Counts the nodes every alias expands to while composing, and refuses past MAX_ALIAS_NODES: a few hundred
    bytes of nested aliases ("billion laughs") would otherwise expand to billions of values. Recursive
    aliases are refused too (they make a value that contains itself)."""

    def __init__(self, text: str, path: str):
        super().__init__(text)
        self.path = path
        self.expanded = 0
        self.sizes: dict[int, int] = {}
        self.open_anchors: set[str] = set()

    def compose_node(self, parent, index):
        if not self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        event = self.peek_event()
        where = f"{self.path}:{event.start_mark.line + 1}"
        if event.anchor in self.open_anchors:
            raise ScenarioError(f"{where}: *{shorten(event.anchor)}: an alias inside its own anchor is not allowed")
        node = super().compose_node(parent, index)
        self.expanded += self.size(node)
        if self.expanded > MAX_ALIAS_NODES:
            raise ScenarioError(
                f"{where}: *{shorten(event.anchor)}: aliases expand to more than {MAX_ALIAS_NODES} values; "
                "a scenario does not need that many"
            )
        return node

    def size(self, node) -> int:
        if id(node) not in self.sizes:
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            else:
                children = node.value if isinstance(node, yaml.SequenceNode) else []
            self.sizes[id(node)] = 1 + sum(self.size(child) for child in children)
        return self.sizes[id(node)]

    def compose_sequence_node(self, anchor):
        return self._composing(anchor, super().compose_sequence_node)

    def compose_mapping_node(self, anchor):
        return self._composing(anchor, super().compose_mapping_node)

    def _composing(self, anchor, compose):
        if anchor is None:
            return compose(anchor)
        self.open_anchors.add(anchor)
        try:
            return compose(anchor)
        finally:
            self.open_anchors.discard(anchor)


def parse_yaml(text: str, path: str):
    """Parse once into (data, node tree, problems). Duplicate keys are problems (PyYAML would silently keep the
    last): returned, not raised, so that they are reported with the file's other mistakes."""
    try:
        loader = BoundedLoader(text, path)
        try:
            root = loader.get_single_node()
            if root is None:
                raise ScenarioError(f"{path}:1: the file is empty; a scenario needs at least name and phases")
            problems = list(duplicate_keys(root, path))
            data = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        plain = next((words for start, words in YAML_PROBLEMS if problem.startswith(start)), "")
        said = f"{plain} (YAML: {shorten(problem)})" if plain else shorten(problem)
        raise ScenarioError(f"{path}:{line}: YAML syntax error: {said}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: values are nested too deeply to be a scenario") from None
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{path}:{root.start_mark.line + 1}: a scenario must be a mapping of keys "
            f"(name, workers, phases, …), not a {type(data).__name__}"
        )
    return data, root, problems


def duplicate_keys(node: yaml.Node, path: str):
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    yield (
                        f"{path}:{key.start_mark.line + 1}: {shorten(key.value)}: duplicate key "
                        f"(first on line {seen[key.value]})"
                    )
                else:
                    seen[key.value] = key.start_mark.line + 1
            yield from duplicate_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from duplicate_keys(item, path)


# PyYAML's words for the mistakes people make most, said plainly (its own text follows in parentheses)
YAML_PROBLEMS = (
    ("expected <block end>", "this line is indented differently from the keys around it: line up the keys of one "
     "mapping (spaces only)"),
    ("mapping values are not allowed here", "a key where none can start: it is indented deeper than the key above it "
     "(line them up), or a value holding ': ' needs quotes"),
    ("found character '\\t' that cannot start any token", "a tab: YAML indents with spaces only"),
    ("could not find expected ':'", "a line without `key: value` inside a mapping (a missing ':' or an unclosed "
     "quote)"),
    ("found undefined alias", "`*name` refers to no `&name` anchor: quote a value that starts with '*'"),
)  # fmt: skip


def read_yaml(path: str):
    """(data, node tree, duplicate-key problems) of a scenario file; ScenarioError naming the file for what cannot
    be read."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ScenarioError(f"{path}: the file is larger than {MAX_FILE_BYTES} bytes (1 MiB), the limit")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {shorten(str(exc))}") from None
    return parse_yaml(text, path)


def line_order(problem: str) -> tuple:
    """Sort messages by their line number (FILE:LINE: …); --set messages last."""
    head = problem.split(": ", 1)[0]
    line = head.rpartition(":")[2]
    return (0, int(line)) if line.isdigit() else (1, 0)


def dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + shorten(str(part)))
    return out or "(top level)"
