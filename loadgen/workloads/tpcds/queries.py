"""The 99 TPC-DS queries with the qualification substitutions of the specification's Appendix B.

queries/qNN.sql are DuckDB's texts, byte for byte (queries/SOURCE says from where and how they differ from the
TPC's templates). queries/hyper/qNN.sql, where present, is a rewrite with the same meaning for a query whose
standard text Hyper does not run as written (each file says why); Hyper runs it and its answer is still compared
with DuckDB's answer to the standard text.
"""

from pathlib import Path

QUERY_NUMBERS = tuple(range(1, 100))
FOLDER = Path(__file__).with_name("queries")


def standard_text(number: int) -> str:
    return (FOLDER / f"q{number:02d}.sql").read_text()


def hyper_text(number: int) -> str:
    """The text Hyper runs for query `number`: its Hyper variant if it has one, else the standard text."""
    variant = FOLDER / "hyper" / f"q{number:02d}.sql"
    return variant.read_text() if variant.exists() else standard_text(number)


def has_hyper_variant(number: int) -> bool:
    return (FOLDER / "hyper" / f"q{number:02d}.sql").exists()
