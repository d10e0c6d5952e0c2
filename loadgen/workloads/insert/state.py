"""What an insert phase tells the worker's later phases (ctx.shared): which rows its tables hold, so that reads can
check what they read."""

from dataclasses import dataclass, field

from loadgen.datagen.canonical import RowRange


@dataclass
class CanonicalTable:
    """The canonical rows the worker's own table holds (None: not a known set, e.g. after a mix changed it)."""

    rows: RowRange | None = None


@dataclass
class LoadedTables:
    """Rows of the tables insert phases loaded, by data: key (or a file source's table), as later reads expect."""

    rows: dict[str, int] = field(default_factory=dict)
