"""What every siting model shares: the geo builder, ``solve()`` and the result assembly."""

from __future__ import annotations

import logging
import time
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
from scipy import sparse

from planning.network import Network
from planning.siting._data import SiteData
from planning.siting._geo import GeoInput, build_geo
from planning.siting._result import SitingResult
from planning.siting._solve import CoreResult, covered_weight, gap

log = logging.getLogger(__name__)


_M = TypeVar("_M", bound="_SitingModel")


class _SitingModel:
    """Shared solve, result assembly and geo builder; subclasses build a core."""

    name = ""
    maximize = True
    _needs_capacity = False
    _needs_site_units = False

    def __init__(self, data: SiteData, params: dict[str, Any], pat: sparse.csr_matrix) -> None:
        self.data = data
        self.params = params
        self.pat = pat
        self.geo: GeoInput | None = None

    @classmethod
    def from_geodataframe(
        cls: type[_M],
        network: Network,
        demand: gpd.GeoDataFrame,
        stations: gpd.GeoDataFrame | None,
        candidates: gpd.GeoDataFrame,
        *,
        threshold_min: float = 15.0,
        weight: str = "elderly",
        **options: Any,
    ) -> _M:
        """Build the arrays on the network, then the model with ``from_cost_matrix``.

        Sites are the stations (always open), then the candidates, snapped within
        `max_snap_m`; candidates off the network are listed in the result's
        ``excluded`` (an error when none is left). Reach comes from
        :func:`planning.access.coverage_matrix`: sparse, memory grows with the
        reachable pairs, never with demand × sites.

        Parameters
        ----------
        network : Network
        demand : geopandas.GeoDataFrame
            Demand points with the `weight` column (and ``unit_id`` for equity).
        stations : geopandas.GeoDataFrame or None
            Existing stations: ``station_id``, ``kind`` (and ``capacity``).
        candidates : geopandas.GeoDataFrame
            Candidate sites: ``site_id``, ``kind``, optional ``cost``, ``capacity``,
            ``unit_id``.
        threshold_min : float
            Walking-time threshold in minutes (kind B for 1+N; unused by p-median).
        weight : str
            Demand column used as weight.
        **options
            The model's own options, as in its ``from_cost_matrix`` (``p``,
            ``target_share``, ``n_b``, ...), with times in minutes where the geo layer
            computes them (``max_time_min``, ``unserved_penalty_min``,
            ``threshold_a_min``), ``capacity_col`` and ``demand_per_place`` (capacitated),
            the constraints (``forced``, ``forbidden``, ``budget`` with ``cost_col``,
            ``equity_share``), the units (``units`` with ``unit_level``, or
            ``unit_col``), ``max_snap_m`` and ``reduce``.

        Returns
        -------
        The model, ready to ``solve()``.

        """
        geo_keys = ("max_snap_m", "units", "unit_level", "unit_col", "cost_col")
        geo_opts = {k: options.pop(k) for k in geo_keys if k in options}
        if cls._needs_capacity:
            geo_opts["capacity_col"] = options.pop("capacity_col", "capacity")
        geo, arrays = build_geo(
            network, demand, stations, candidates, cls._limits(threshold_min, options),
            weight=weight, need_site_units=cls._needs_site_units,
            equity=options.get("equity_share") is not None, **geo_opts,
        )  # fmt: skip
        model = cls._from_arrays(geo, arrays, threshold_min, options)
        model.geo = geo
        return model

    @classmethod
    def _limits(cls, threshold_min: float, options: dict[str, Any]) -> list[float]:
        return [threshold_min * 60.0]

    @classmethod
    def _from_arrays(
        cls: type[_M], geo: GeoInput, arrays: dict[str, Any], t_min: float, opts: dict[str, Any]
    ) -> _M:
        raise NotImplementedError

    def solve(
        self,
        *,
        time_limit_s: float = 60.0,
        mip_rel_gap: float = 0.0,
        threads: int | None = None,
        exact: bool = True,
    ) -> SitingResult:
        """Run the heuristic, then HiGHS from it; return the better answer.

        Parameters
        ----------
        time_limit_s : float
            Seconds allowed to HiGHS (the reduction and heuristic run first, uncounted).
        mip_rel_gap : float
            Relative gap at which HiGHS stops; 0 proves optimality.
        threads : int, optional
            HiGHS threads.
        exact : bool
            False returns the heuristic answer with a cheap bound.

        Returns
        -------
        SitingResult

        """
        t0 = time.perf_counter()
        opts = {"time_limit_s": time_limit_s, "mip_rel_gap": mip_rel_gap, "threads": threads}
        res = self._solve(exact=exact, **opts)
        res.solve_time_s = time.perf_counter() - t0
        if self.geo is not None:
            res.excluded = self.geo.excluded
            res.siting = self.geo.siting(res)
        log.info(
            "%s: %s, objective %.6g (bound %.6g, heuristic %.6g), %d new sites, %.2f s",
            self.name, res.status, res.objective, res.best_bound, res.heuristic_objective,
            len(res.selected), res.solve_time_s,
        )  # fmt: skip
        return res

    def _solve(self, **kw: Any) -> SitingResult:
        raise NotImplementedError

    def _new(self, var_sites: np.ndarray, chosen: np.ndarray | None) -> np.ndarray | None:
        if chosen is None:
            return None
        return np.sort(np.concatenate([np.flatnonzero(self.data.forced), var_sites[chosen]]))

    def _result(
        self,
        r: CoreResult,
        new: np.ndarray,
        objective: float,
        bound: float,
        heuristic_objective: float,
        added: np.ndarray,
        size: dict[str, Any],
        **extra: Any,
    ) -> SitingResult:
        d = self.data
        covered = extra.pop("covered", covered_weight(self.pat, d, new))
        return SitingResult(
            model=self.name,
            params=self.params,
            status=r.status,
            objective=float(objective),
            best_bound=float(bound),
            gap=gap(objective, bound, self.maximize),
            solve_time_s=0.0,
            heuristic_objective=float(heuristic_objective),
            selected=new,
            selected_ids=[d.site_ids[i] for i in new],
            added_demand=added,
            covered_demand=covered,
            total_demand=d.total,
            existing_covered=covered_weight(self.pat, d, np.zeros(0, np.int64)),
            model_size=size,
            timings_s=r.timings_s,
            **extra,
        )
