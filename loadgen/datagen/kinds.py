"""The generator kinds of a `data:` column (`generator: {kind: …}`): their keys, the SQL domains each fits and the
checks of its values against the column's type. The values themselves are made in loadgen/datagen/generate.py."""

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from loadgen.config.fields import Count, NestedModel, excerpt
from loadgen.datagen.sqltypes import MAX_INTERVAL_US, SqlType, interval_us, to_domain

MAX_ZIPF_N = 10_000_000  # the cumulative distribution is kept in memory (8 bytes per key)

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


class Sequence(NestedModel):
    kind: Literal["sequence"]
    start: Scalar = 0
    step: int | float = 1  # DATE: days, TIMESTAMP: seconds


class Uniform(NestedModel):
    kind: Literal["uniform"]
    low: Scalar
    high: Scalar


class Normal(NestedModel):
    kind: Literal["normal"]
    mean: float
    stddev: float = Field(gt=0)
    low: float | None = None  # values are clipped to [low, high]
    high: float | None = None


class LogNormal(NestedModel):
    kind: Literal["lognormal"]
    mean: float = 0.0  # of the underlying normal
    sigma: float = Field(default=1.0, gt=0)
    low: float | None = None
    high: float | None = None


class Zipf(NestedModel):
    kind: Literal["zipf"]
    n: Count = Field(ge=1, le=MAX_ZIPF_N, description="Keys 1..n; key k has weight k^-s.")
    s: float = Field(default=1.1, ge=0, le=10)


class Choice(NestedModel):
    kind: Literal["choice"]
    values: list[Scalar] = Field(min_length=1, max_length=100_000)
    weights: list[float] | None = None


class Bool(NestedModel):
    kind: Literal["bool"]
    p: float = Field(default=0.5, ge=0, le=1, description="Probability of true.")


class Constant(NestedModel):
    kind: Literal["constant"]
    value: Scalar


class Words(NestedModel):
    kind: Literal["words"]
    min_words: Count = Field(default=1, ge=1, le=1000)
    max_words: Count = Field(default=8, ge=1, le=1000)


class RandomText(NestedModel):
    kind: Literal["random"]
    min_length: Count = Field(default=1, ge=0, le=100_000)
    max_length: Count = Field(default=16, ge=0, le=100_000)
    alphabet: Literal["letters", "digits", "alnum"] = "alnum"


class Pattern(NestedModel):
    kind: Literal["pattern"]
    pattern: str = Field(min_length=1, max_length=1000, description="'#' a digit, '?' a letter A-Z, else literal.")


GENERATOR_KINDS = ("sequence", "uniform", "normal", "lognormal", "zipf", "choice", "bool", "constant", "words",
                   "random", "pattern")  # fmt: skip


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
# which generators fit which domain
FITS = {
    "int": ("sequence", "uniform", "normal", "lognormal", "zipf", "choice", "constant"),
    "float": ("sequence", "uniform", "normal", "lognormal", "zipf", "choice", "constant"),
    "numeric": ("sequence", "uniform", "normal", "lognormal", "zipf", "choice", "constant"),
    "date": ("sequence", "uniform", "choice", "constant"),
    "timestamp": ("sequence", "uniform", "choice", "constant"),
    "interval": ("sequence", "uniform", "choice", "constant"),
    "bool": ("bool", "choice", "constant"),
    "text": ("words", "random", "pattern", "choice", "constant"),
}


def check_generator(gen, sql: SqlType) -> None:
    """Values convertible to the type, ranges in order, weights matching values."""
    if gen.kind == "sequence":
        to_domain(gen.start, sql)
        if gen.step == 0:
            raise ValueError("sequence step must not be 0 (two rows would get the same key)")
        if sql.domain == "interval":
            interval_us(gen.step)
        if sql.domain in ("int", "date") and gen.step != int(gen.step):
            raise ValueError(f"sequence step {gen.step} must be a whole number for {sql.sql}")
    elif gen.kind == "uniform":
        low, high = to_domain(gen.low, sql), to_domain(gen.high, sql)
        if low > high:
            raise ValueError(f"uniform low {excerpt(gen.low)} > high {excerpt(gen.high)}")
    elif gen.kind in ("normal", "lognormal"):
        if gen.low is not None and gen.high is not None and gen.low > gen.high:
            raise ValueError(f"{gen.kind} low {gen.low} > high {gen.high}")
        for bound in (gen.low, gen.high):
            if bound is not None:
                to_domain(bound, sql)
    elif gen.kind == "zipf":
        to_domain(gen.n, sql)
    elif gen.kind == "choice":
        for value in gen.values:
            to_domain(value, sql)
        if gen.weights is not None:
            if len(gen.weights) != len(gen.values):
                raise ValueError(f"{len(gen.weights)} weights for {len(gen.values)} values; give one weight per value")
            if any(w < 0 for w in gen.weights) or sum(gen.weights) <= 0:
                raise ValueError("weights must be >= 0 and add up to more than 0")
    elif gen.kind == "constant":
        to_domain(gen.value, sql)
    elif gen.kind == "words" and gen.min_words > gen.max_words:
        raise ValueError(f"words min_words {gen.min_words} > max_words {gen.max_words}")
    elif gen.kind == "random" and gen.min_length > gen.max_length:
        raise ValueError(f"random min_length {gen.min_length} > max_length {gen.max_length}")


def sequence_end_problem(column, rows: int) -> str:
    """An INTERVAL sequence must stay within ±100 years over the phase's rows ('' when it does)."""
    gen, sql = column.generator, column.sql_type
    if gen is None or gen.kind != "sequence" or sql.domain != "interval":
        return ""
    last = to_domain(gen.start, sql) + (rows - 1) * interval_us(gen.step)
    if abs(last) <= MAX_INTERVAL_US:
        return ""
    return f"the sequence reaches {last / 86_400_000_000:,.0f} days at row {rows - 1}, beyond ±100 years"


def text_max_length(gen) -> int | None:
    """The longest text a generator can make (None: not a text generator)."""
    if gen.kind == "words":
        return gen.max_words * (max(len(w) for w in WORDS) + 1) - 1
    if gen.kind == "random":
        return gen.max_length
    if gen.kind == "pattern":
        return len(gen.pattern)
    if gen.kind == "choice":
        return max(len(str(v)) for v in gen.values)
    if gen.kind == "constant":
        return len(str(gen.value))
    return None
