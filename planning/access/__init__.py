"""The access stage."""

from __future__ import annotations

from planning.access._engine import (
    MIN_TIME_S,
    SNAP_NO_GEOMETRY,
    SNAP_OK,
    SNAP_TOO_FAR,
    Snapped,
    coverage_matrix,
    nearest_times,
    reachable_intervals,
    service_areas,
    snap_points,
)

__all__ = [
    "MIN_TIME_S",
    "SNAP_NO_GEOMETRY",
    "SNAP_OK",
    "SNAP_TOO_FAR",
    "Snapped",
    "coverage_matrix",
    "nearest_times",
    "reachable_intervals",
    "service_areas",
    "snap_points",
]
