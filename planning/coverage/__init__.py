"""The coverage stage."""

from __future__ import annotations

from planning.coverage._compute import (
    CoverageResult,
    accounting,
    col_covered,
    compute_coverage,
    evaluate_targets,
    gap_clusters,
    two_step_fca,
    unit_table,
    weighted_quantile,
)

__all__ = [
    "CoverageResult",
    "accounting",
    "col_covered",
    "compute_coverage",
    "evaluate_targets",
    "gap_clusters",
    "two_step_fca",
    "unit_table",
    "weighted_quantile",
]
