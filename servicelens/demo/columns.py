"""Per-row values drawn once for the whole organisation and referenced by name from expressions.

Texts and events are built from polars expressions. If those expressions embedded whole-length literal
series they could only be evaluated on all rows at once; instead every drawn array is registered here as a
column, the expressions refer to it with ``pl.col``, and :meth:`RowColumns.frame` slices the table, so the
same expressions evaluate chunk by chunk with exactly the values a single pass would give.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl


class RowColumns:
    """A growing table of per-row arrays (one entry per interaction) plus the generator that draws them."""

    def __init__(self, rng: np.random.Generator, n: int):
        self.rng = rng
        self.n = n
        self._columns: dict[str, pl.Series] = {}

    def add(self, values: Any, dtype: pl.DataType | None = None) -> pl.Expr:
        """Register a column of ``n`` values; returns the expression that reads it."""
        name = f"_r{len(self._columns)}"
        series = values.alias(name) if isinstance(values, pl.Series) else pl.Series(name, values, dtype=dtype)
        if series.len() != self.n:
            raise ValueError(f"row column {name} has {series.len()} values, expected {self.n}")
        self._columns[name] = series
        return pl.col(name)

    def flag(self, values: Any) -> pl.Expr:
        return self.add(np.asarray(values, dtype=bool), pl.Boolean())

    def pick(self, pool: tuple[str, ...]) -> pl.Expr:
        """A column of phrases drawn uniformly from ``pool`` (stored as small indices, decoded on use)."""
        index = self.rng.integers(0, len(pool), self.n)
        return pl.lit(pl.Series(pool)).gather(self.add(index.astype(np.uint16), pl.UInt16()))

    def frame(self, start: int = 0, length: int | None = None) -> pl.DataFrame:
        """Rows ``start`` to ``start + length`` of every registered column."""
        table = pl.DataFrame(list(self._columns.values()))
        return table.slice(start, length)
