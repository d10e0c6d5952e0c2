"""The data loadgen writes: the canonical rows and their closed forms, the `data:` table definitions (SQL types,
generator kinds), the generated rows of a definition (in blocks, on threads), their facts and the table checks.
The definition modules (sqltypes, kinds, definitions, canonical) are pydantic and plain Python; the rest uses
numpy and pyarrow."""
