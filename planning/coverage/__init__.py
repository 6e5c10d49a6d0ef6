"""Coverage of older people by stations: per point, per station, per unit, gaps, targets.

Spatial coverage is the share of older people within T minutes on foot of a station;
administrative coverage is the share of units holding a station of a kind; capacity per
1,000 older people uses the two-step floating catchment area (2SFCA). Every table keeps
the accounting visible: for every unit and threshold, elderly = covered + uncovered
(reachable but beyond T) + unreachable (farther than ``max_snap_m`` from every road).

The parts: ``_compute`` (:func:`compute_coverage`, point and station tables, the
accounting), ``_units`` (per-unit tables), ``_targets`` (targets and 2SFCA) and
``_gaps`` (uncovered areas).
"""

from __future__ import annotations

from planning.coverage._columns import col_covered
from planning.coverage._compute import CoverageResult, accounting, compute_coverage
from planning.coverage._gaps import gap_clusters
from planning.coverage._targets import evaluate_targets, two_step_fca
from planning.coverage._units import unit_table, weighted_quantile

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
