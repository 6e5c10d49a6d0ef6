"""Column names that carry their threshold."""

from __future__ import annotations


def col_covered(t_min: float) -> str:
    """Return the per-point column name for coverage within `t_min` minutes."""
    return f"covered_{_fmt(t_min)}min"


def _fmt(t_min: float) -> str:
    return f"{t_min:g}"
