"""Optimal siting of new stations beside existing ones: LSCP, MCLP, p-median, capacitated, 1+N."""

from __future__ import annotations

from planning.siting._covering import (
    LSCP,
    MCLP,
    CapacitatedCoverage,
    OnePlusN,
    PMedian,
    SitingResult,
    coverage_curve,
    generate_candidates,
    plot_coverage_curve,
    site_stations,
)

__all__ = [
    "LSCP",
    "MCLP",
    "CapacitatedCoverage",
    "OnePlusN",
    "PMedian",
    "SitingResult",
    "coverage_curve",
    "generate_candidates",
    "plot_coverage_curve",
    "site_stations",
]
