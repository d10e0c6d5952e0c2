"""The generator kinds of a `data:` column (`generator: {kind: …}`). Each kind is one class: its keys (pydantic
fields), the SQL domains it fits, the checks of its values against the column's type, and how it makes values —
a plan of constants once per column, then a batch's values from the batch's random stream.

A kind makes its values through `draw` (loadgen/datagen/generate.py's Draw: the batch's count, first row, random
stream and null mask, and `vector`, the module of vectorised numpy/pyarrow helpers), so this module itself imports
neither numpy nor pyarrow: validating a scenario checks these very classes without loading them. Values are in the
column's domain (loadgen/datagen/sqltypes.py): non-text kinds return numpy arrays (values), text kinds Arrow
string arrays (text).
"""

import datetime as dt
from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field

from loadgen.config.fields import Count, StrictModel, excerpt
from loadgen.datagen.sqltypes import MAX_INTERVAL_US, SqlType, interval_us, to_domain

MAX_ZIPF_N = 10_000_000  # the cumulative distribution is kept in memory (8 bytes per key)
US_PER_S = 1_000_000

# A built-in word list for `words` (lorem-ipsum-like, ASCII): short and long words for a realistic mix of lengths.
WORDS = tuple(
    """lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore
    magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo consequat
    duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint occaecat
    cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum order customer delivery late
    early priority express standard return refund gift fragile warehouse shipped pending invoice payment card cash
    please call before leave at door backyard office reception weekend morning evening urgent thanks""".split()
)
Scalar = int | float | str | bool
NUMBERS = ("int", "float", "numeric")
TIMES = ("date", "timestamp", "interval")
EVERY_DOMAIN = (*NUMBERS, *TIMES, "bool", "text")


class Kind(StrictModel):
    fits: ClassVar[tuple[str, ...]] = ()  # the SQL domains whose columns it can fill
    repeats: ClassVar[bool] = False  # all its batches of one size are the same array (made once, without nulls)

    def check(self, sql: SqlType) -> None:
        """Its values against the column's type; ValueError naming what does not fit."""

    def max_text_length(self) -> int | None:
        """The longest text it makes (None: it makes no text)."""
        return None

    def nominal_text_bytes(self) -> int:
        """The average length of its text, for the nominal row width (MiB/s)."""
        return self.max_text_length() or 0

    def plan(self, sql: SqlType, vector):
        """What every batch of a column shares (pools, distributions, bounds in the column's domain)."""
        return None

    def column_values(self, plan, draw):
        """A batch's values in the column's domain: a numpy array (int64, float64 or bool)."""
        raise ValueError(f"generator {self.kind} does not fit {draw.sql.sql}")

    def column_text(self, plan, draw):
        """A batch's text: an Arrow string array; a null row (draw.mask True) is an empty slot whose draws are spent
        all the same, so the other rows do not depend on the null fraction."""
        raise ValueError(f"generator {self.kind} does not make text")

    def interleaved(self, stream: int, streams: int) -> "Kind":
        """This kind for one of `streams` sessions drawing parameters, such that no two sessions draw the same
        value where it matters (a sequence's keys)."""
        return self


class Sequence(Kind):
    kind: Literal["sequence"]
    start: Scalar = Field(default=0, description="The first value (table-wide row 0).")
    step: int | float = Field(
        default=1,
        description="Added per row (DATE: days, TIMESTAMP and INTERVAL: seconds): row i gets start + i·step, so no "
        "two workers write the same key.",
    )
    fits: ClassVar = (*NUMBERS, *TIMES)

    def check(self, sql: SqlType) -> None:
        to_domain(self.start, sql)
        if self.step == 0:
            raise ValueError("sequence step must not be 0 (two rows would get the same key)")
        if sql.domain == "interval":
            interval_us(self.step)
        if sql.domain in ("int", "date") and self.step != int(self.step):
            raise ValueError(f"sequence step {self.step} must be a whole number for {sql.sql}")

    def end_problem(self, sql: SqlType, rows: int) -> str:
        """An INTERVAL sequence must stay within ±100 years over the phase's rows ('' when it does)."""
        if sql.domain != "interval":
            return ""
        last = to_domain(self.start, sql) + (rows - 1) * interval_us(self.step)
        if abs(last) <= MAX_INTERVAL_US:
            return ""
        return f"the sequence reaches {last / 86_400_000_000:,.0f} days at row {rows - 1}, beyond ±100 years"

    def plan(self, sql: SqlType, vector):
        step = self.step
        if sql.domain == "numeric":
            step = to_domain(step, sql)
        elif sql.domain == "timestamp":
            step = round(step * US_PER_S)
        elif sql.domain == "interval":
            step = interval_us(step)
        return to_domain(self.start, sql), step

    def column_values(self, plan, draw):
        """The rows' global index (the worker's first row + offset) times the step: two workers never write the
        same key."""
        start, step = plan
        index = draw.vector.np.arange(draw.first_row, draw.first_row + draw.count, dtype="int64")
        return start + index * step if draw.domain != "float" else start + index * float(step)

    def interleaved(self, stream: int, streams: int) -> "Sequence":
        """The sessions' sequences interleaved: session k of S starts k steps later and steps S times as far."""
        return self.model_copy(update={"start": self._shifted(stream), "step": self.step * streams})

    def _shifted(self, steps: int):
        """The start moved by `steps` steps (dates and timestamps step in days and seconds)."""
        start = self.start
        if isinstance(start, int | float) and not isinstance(start, bool):
            return start + steps * self.step
        if isinstance(start, dt.datetime):
            return start + dt.timedelta(seconds=steps * self.step)
        if isinstance(start, dt.date):
            return start + dt.timedelta(days=steps * self.step)
        text = str(start)
        try:
            return (dt.date.fromisoformat(text) + dt.timedelta(days=steps * self.step)).isoformat()
        except ValueError:
            pass
        try:
            stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return (stamp + dt.timedelta(seconds=steps * self.step)).isoformat()
        except ValueError:  # an INTERVAL ('90 minutes'): as seconds
            return interval_us(text) / 1_000_000 + steps * self.step


class Uniform(Kind):
    kind: Literal["uniform"]
    low: Scalar = Field(description="The lowest value (inclusive).")
    high: Scalar = Field(description="The highest value (inclusive for integers, dates, timestamps and intervals).")
    fits: ClassVar = (*NUMBERS, *TIMES)

    def check(self, sql: SqlType) -> None:
        low, high = to_domain(self.low, sql), to_domain(self.high, sql)
        if low > high:
            raise ValueError(f"uniform low {excerpt(self.low)} > high {excerpt(self.high)}")

    def plan(self, sql: SqlType, vector):
        return to_domain(self.low, sql), to_domain(self.high, sql)

    def column_values(self, plan, draw):
        low, high = plan
        if draw.domain == "float":
            return draw.rng.uniform(low, high, draw.count)
        return draw.rng.integers(low, high, size=draw.count, endpoint=True)


class _Bell(Kind):
    """normal and lognormal: drawn, clipped to [low, high], scaled and rounded for whole-number domains."""

    fits: ClassVar = NUMBERS

    def check(self, sql: SqlType) -> None:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"{self.kind} low {self.low} > high {self.high}")
        for bound in (self.low, self.high):
            if bound is not None:
                to_domain(bound, sql)

    def raw(self, draw):
        raise NotImplementedError

    def column_values(self, plan, draw):
        np, raw = draw.vector.np, self.raw(draw)
        if self.low is not None or self.high is not None:
            low = self.low if self.low is not None else -np.inf
            np.clip(raw, low, self.high if self.high is not None else np.inf, raw)
        if draw.domain == "numeric":
            raw *= 10**draw.sql.scale
        return np.round(raw, out=raw).astype(np.int64) if draw.domain != "float" else raw


class Normal(_Bell):
    kind: Literal["normal"]
    mean: float = Field(description="The mean.")
    stddev: float = Field(gt=0, description="The standard deviation.")
    low: float | None = Field(default=None, description="Values below are clipped to it.")
    high: float | None = Field(default=None, description="Values above are clipped to it.")

    def raw(self, draw):
        return draw.rng.normal(self.mean, self.stddev, draw.count)


class LogNormal(_Bell):
    kind: Literal["lognormal"]
    mean: float = Field(default=0.0, description="The mean of the underlying normal.")
    sigma: float = Field(default=1.0, gt=0, description="The standard deviation of the underlying normal.")
    low: float | None = Field(default=None, description="Values below are clipped to it.")
    high: float | None = Field(default=None, description="Values above are clipped to it.")

    def raw(self, draw):
        return draw.rng.lognormal(self.mean, self.sigma, draw.count)


class Zipf(Kind):
    kind: Literal["zipf"]
    n: Count = Field(ge=1, le=MAX_ZIPF_N, description="Keys 1..n; key k has weight k^-s.")
    s: float = Field(default=1.1, ge=0, le=10, description="The skew: key k has weight k^-s.")
    fits: ClassVar = NUMBERS

    def check(self, sql: SqlType) -> None:
        to_domain(self.n, sql)

    def column_values(self, plan, draw):
        keys = draw.vector.zipf_keys(self.n, self.s, draw.rng.random(draw.count))
        if draw.domain == "numeric":
            return keys * 10**draw.sql.scale
        return keys if draw.domain != "float" else keys.astype("float64")


class Choice(Kind):
    kind: Literal["choice"]
    values: list[Scalar] = Field(min_length=1, max_length=100_000, description="The values to choose from.")
    weights: list[float] | None = Field(default=None, description="One weight per value (default: equal).")
    fits: ClassVar = EVERY_DOMAIN

    def check(self, sql: SqlType) -> None:
        for value in self.values:
            to_domain(value, sql)
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"{len(self.weights)} weights for {len(self.values)} values; give one weight per value"
                )
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be >= 0 and add up to more than 0")

    def max_text_length(self) -> int | None:
        return max(len(str(v)) for v in self.values)

    def plan(self, sql: SqlType, vector):
        """(pool, cumulative weights or None): the pool in the column's domain, an Arrow array for text."""
        if sql.domain == "text":
            pool = vector.text_pool([str(v) for v in self.values])
        else:
            pool = vector.np.array([to_domain(v, sql) for v in self.values])
        return pool, vector.cumulative(self.weights) if self.weights is not None else None

    def column_values(self, plan, draw):
        pool, cdf = plan
        return pool[draw.vector.choice_indices(cdf, len(self.values), draw.count, draw.rng)]

    def column_text(self, plan, draw):
        pool, cdf = plan
        indices = draw.vector.choice_indices(cdf, len(self.values), draw.count, draw.rng)
        return draw.vector.take(pool, indices, draw.mask)


class Bool(Kind):
    kind: Literal["bool"]
    p: float = Field(default=0.5, ge=0, le=1, description="Probability of true.")
    fits: ClassVar = ("bool",)

    def column_values(self, plan, draw):
        return draw.rng.random(draw.count) < self.p


class Constant(Kind):
    kind: Literal["constant"]
    value: Scalar = Field(description="The one value every row gets.")
    fits: ClassVar = EVERY_DOMAIN
    repeats: ClassVar = True

    def check(self, sql: SqlType) -> None:
        to_domain(self.value, sql)

    def max_text_length(self) -> int | None:
        return len(str(self.value))

    def plan(self, sql: SqlType, vector):
        return vector.text_pool([str(self.value)]) if sql.domain == "text" else to_domain(self.value, sql)

    def column_values(self, plan, draw):
        return draw.vector.np.full(draw.count, plan)

    def column_text(self, plan, draw):
        return draw.vector.take(plan, draw.vector.np.zeros(draw.count, dtype="int64"), draw.mask)


class Words(Kind):
    kind: Literal["words"]
    min_words: Count = Field(default=1, ge=1, le=1000, description="The fewest words of a value.")
    max_words: Count = Field(default=8, ge=1, le=1000, description="The most words of a value.")
    fits: ClassVar = ("text",)

    def check(self, sql: SqlType) -> None:
        if self.min_words > self.max_words:
            raise ValueError(f"words min_words {self.min_words} > max_words {self.max_words}")

    def max_text_length(self) -> int | None:
        return self.max_words * (max(len(w) for w in WORDS) + 1) - 1

    def nominal_text_bytes(self) -> int:
        return (self.min_words + self.max_words) * 7 // 2

    def column_text(self, plan, draw):
        """A pool of random words (each with its trailing space), one per row plus max_words - 1, then each row is
        the slice of the pool from a random word on, as many words as drawn for the row, without its last space
        (as TPC-H's dbgen takes its text from a pre-generated pool): one `take` of pool-many words per batch."""
        np, vector, rng, count = draw.vector.np, draw.vector, draw.rng, draw.count
        per_row = rng.integers(self.min_words, self.max_words, size=count, endpoint=True, dtype=np.int32)
        first = rng.integers(0, max(count, 1), size=count, dtype=np.int32)
        drawn = rng.integers(0, len(WORDS), size=max(count, 1) + self.max_words - 1, dtype=np.uint16)
        return vector.word_slices(drawn, first, per_row, draw.mask)


class RandomText(Kind):
    kind: Literal["random"]
    min_length: Count = Field(default=1, ge=0, le=100_000, description="The shortest value, in characters.")
    max_length: Count = Field(default=16, ge=0, le=100_000, description="The longest value, in characters.")
    alphabet: Literal["letters", "digits", "alnum"] = Field(default="alnum", description="The characters drawn.")
    fits: ClassVar = ("text",)

    def check(self, sql: SqlType) -> None:
        if self.min_length > self.max_length:
            raise ValueError(f"random min_length {self.min_length} > max_length {self.max_length}")

    def max_text_length(self) -> int | None:
        return self.max_length

    def nominal_text_bytes(self) -> int:
        return (self.min_length + self.max_length) // 2

    def column_text(self, plan, draw):
        np, vector, rng, count = draw.vector.np, draw.vector, draw.rng, draw.count
        lengths = rng.integers(self.min_length, self.max_length, size=count, endpoint=True, dtype=np.int32)
        alphabet = vector.ALPHABETS[self.alphabet]
        body = vector.alphabet_bytes(alphabet, rng.integers(0, len(alphabet), size=int(lengths.sum()), dtype=np.uint16))
        rows = vector.strings_from_buffers(lengths, body)
        return rows if draw.mask is None else rows.take(vector.valid_positions(draw.mask))  # nulls' bytes dropped


class Pattern(Kind):
    kind: Literal["pattern"]
    pattern: str = Field(min_length=1, max_length=1000, description="'#' a digit, '?' a letter A-Z, else literal.")
    fits: ClassVar = ("text",)

    def max_text_length(self) -> int | None:
        return len(self.pattern)

    def plan(self, sql: SqlType, vector):
        return vector.np.frombuffer(self.pattern.encode(), vector.np.uint8), vector.pattern_runs(self.pattern)

    def column_text(self, plan, draw):
        """A draw per row and piece of each run of '#' or '?' (1, 2 or 4 characters at a time), written into a grid
        of the template."""
        np, vector, rng, count, mask = draw.vector.np, draw.vector, draw.rng, draw.count, draw.mask
        template, runs = plan
        width = len(template)
        grid = np.tile(template, count)
        for begin, size, pool in runs if count else ():
            number = rng.integers(0, len(pool) ** size, size=count, dtype=np.uint16)
            into = np.ndarray((count,), f"<u{size}", grid, begin, (width,))  # the piece's bytes in every row
            into[:] = vector.piece_table(pool.tobytes(), size)[number]
        keep = None if mask is None else ~mask
        if keep is not None:
            grid = grid.reshape(count, width)[keep].reshape(-1)
        lengths = np.full(count, width) if keep is None else keep * width
        return vector.strings_from_buffers(lengths, grid, mask)


KINDS = (Sequence, Uniform, Normal, LogNormal, Zipf, Choice, Bool, Constant, Words, RandomText, Pattern)
GENERATOR_KINDS = tuple(k.model_fields["kind"].annotation.__args__[0] for k in KINDS)


def fitting(domain: str) -> list[str]:
    """The kinds that fit a domain, as messages list them: those made for a few domains first, then those for any."""
    special = [k for k in KINDS if domain in k.fits and k.fits != EVERY_DOMAIN]
    general = [k for k in KINDS if k.fits == EVERY_DOMAIN]
    return [k.model_fields["kind"].annotation.__args__[0] for k in special + general]


def _known_kind(value):
    """A missing or unknown `kind` as one message with the allowed kinds (pydantic's tag errors speak of
    workloads in this tool's messages)."""
    if isinstance(value, dict) and value.get("kind") not in GENERATOR_KINDS:
        got = f"unknown generator kind {excerpt(value['kind'])}" if "kind" in value else "generator needs a kind"
        raise ValueError(f"{got}; allowed: {', '.join(GENERATOR_KINDS)}")
    return value


Generator = Annotated[
    Sequence | Uniform | Normal | LogNormal | Zipf | Choice | Bool | Constant | Words | RandomText | Pattern,
    Field(discriminator="kind"),
    BeforeValidator(_known_kind),
]
