"""The answer of a siting model: :class:`SitingResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd


@dataclass
class SitingResult:
    """The answer of a siting model, with everything needed to judge it.

    Attributes
    ----------
    model : str
        ``"lscp"``, ``"mclp"``, ``"pmedian"``, ``"capacitated"`` or ``"1+n"``.
    params : dict
        Parameters of the run (p, thresholds in seconds, constraints, reductions).
    status : str
        ``"optimal"`` (proved by HiGHS), ``"time_limit"`` (best known; see `gap`) or
        ``"heuristic"`` (no exact solve was run or it failed).
    objective : float
        Covered weight (MCLP, 1+N: by kind B; capacitated: assigned weight), number of
        new sites (LSCP) or weighted travel time in seconds (p-median), all stations
        counted.
    best_bound : float
        Best bound on the objective (HiGHS dual bound, or a cheap valid bound).
    gap : float
        ``|best_bound − objective| / |objective|``.
    solve_time_s : float
        Wall time of the solve (reduction, heuristic, exact), seconds.
    heuristic_objective : float
        Objective of the greedy + interchange solution that seeded the solver.
    selected : numpy.ndarray
        Positions (site columns) of the new sites, in selection order.
    selected_ids : list
        Their ids.
    added_demand : numpy.ndarray
        Weight newly covered by each new site in that order (greedy marginal order).
    covered_demand, total_demand, existing_covered : float
        Weight covered after siting, in total, and by existing stations alone.
    secondary_objective : float or None
        1+N: weight covered by kind A within its threshold.
    site_load : numpy.ndarray or None
        Capacitated: weight served by every site column (NaN when closed).
    model_size : dict
        Sizes before and after the exact reductions.
    timings_s : dict
        Heuristic and exact times.
    excluded : pandas.DataFrame
        Sites left out, with the reason (geo layer).
    siting : geopandas.GeoDataFrame or None
        New sites as a layer: ``rank``, ``site_id``, ``kind``, ``lon``, ``lat``,
        ``unit_id``, ``{weight}_newly_covered``, ``cumulative_share``, geometry.

    """

    model: str
    params: dict[str, Any]
    status: str
    objective: float
    best_bound: float
    gap: float
    solve_time_s: float
    heuristic_objective: float
    selected: np.ndarray
    selected_ids: list[Any]
    added_demand: np.ndarray
    covered_demand: float
    total_demand: float
    existing_covered: float
    secondary_objective: float | None = None
    site_load: np.ndarray | None = None
    model_size: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)
    siting: gpd.GeoDataFrame | None = None

    @property
    def covered_share(self) -> float:
        """Share of all demand weight covered after siting."""
        return self.covered_demand / self.total_demand if self.total_demand > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """Return the headline figures as a JSON-ready dict."""
        keys = ["model", "status", "objective", "best_bound", "gap", "solve_time_s"]
        out = {k: getattr(self, k) for k in keys}
        out.update(
            heuristic_objective=self.heuristic_objective,
            selected_ids=[str(s) for s in self.selected_ids],
            covered_share=self.covered_share,
            model_size=self.model_size,
        )
        return out
