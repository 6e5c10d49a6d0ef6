"""Coverage of older people by stations: per point, per station, per unit, gaps, targets.

Spatial coverage is the share of older people within T minutes on foot of a station;
administrative coverage is the share of units holding a station of a kind; capacity per
1,000 older people uses the two-step floating catchment area (2SFCA). Every table keeps
the accounting visible: for every unit and threshold, elderly = covered + uncovered
(reachable but beyond T) + unreachable (farther than ``max_snap_m`` from every road).

The parts: ``_result`` (:class:`CoverageResult`), ``_compute`` (:func:`compute_coverage`,
point and station tables, the accounting), ``_units`` (per-unit tables), ``_targets``
(targets and 2SFCA), ``_gaps`` (gap areas: contiguous uncovered demand per unit) and
``_spots`` (the best spot to close each gap, and the proposed sites that close gaps).
"""

from __future__ import annotations

from planning.coverage._columns import col_covered
from planning.coverage._compute import accounting, compute_coverage
from planning.coverage._gaps import (
    OUTSIDE_UNITS,
    REASON_NO_PATH,
    REASON_UNREACHABLE,
    gap_areas,
    reason_beyond,
)
from planning.coverage._result import CoverageResult
from planning.coverage._spots import best_spots, gap_sites
from planning.coverage._targets import evaluate_targets, two_step_fca
from planning.coverage._units import unit_table, weighted_quantile

__all__ = [
    "OUTSIDE_UNITS",
    "REASON_NO_PATH",
    "REASON_UNREACHABLE",
    "CoverageResult",
    "accounting",
    "best_spots",
    "col_covered",
    "compute_coverage",
    "evaluate_targets",
    "gap_areas",
    "gap_sites",
    "reason_beyond",
    "two_step_fca",
    "unit_table",
    "weighted_quantile",
]
