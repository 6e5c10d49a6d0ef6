"""The models that assign demand to sites: p-median and capacitated coverage."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from planning._errors import InputError
from planning.siting._base import _SitingModel
from planning.siting._cores import CapCore, MedianCore, cap_core, median_core, nearest_open
from planning.siting._data import (
    SiteData,
    check_p,
    check_site_values,
    constraint_params,
    maths_data,
    pattern,
    within,
)
from planning.siting._geo import GeoInput
from planning.siting._result import SitingResult
from planning.siting._solve import prefix_gains, sequence, site_loads, solve_cap, solve_median


class PMedian(_SitingModel):
    """p-median: ``p`` new sites minimising the weighted time to the nearest station.

    From GeoDataFrames the times are computed up to ``max_time_min`` (default 30);
    ``max_time_min=None`` computes every pair, so memory grows with demand × sites.
    """

    name = "pmedian"
    maximize = False

    def __init__(self, data: SiteData, params: dict[str, Any], pat: sparse.csr_matrix) -> None:
        super().__init__(data, params, pat)
        self.core: MedianCore = median_core(
            data, p_max=params["p"] - int(data.forced.sum()),
            penalty_s=params["unserved_penalty_s"], reduce=params["reduce"],
        )  # fmt: skip

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: Any,
        weights: Any,
        *,
        p: int,
        max_time_s: float | None = None,
        unserved_penalty_s: float | None = None,
        reduce: bool = True,
        **constraints: Any,
    ) -> PMedian:
        """Build the model from arrays (the rest as in :meth:`MCLP.from_cost_matrix`).

        Parameters
        ----------
        cost_matrix, weights
            As for :meth:`MCLP.from_cost_matrix`; times beyond `max_time_s` are ignored.
        p : int
            Number of new sites.
        max_time_s : float, optional
            Maximum travel time in seconds; default: every stored entry.
        unserved_penalty_s : float, optional
            Seconds counted for demand no station reaches within the maximum time
            (reported as ``unserved_demand`` in ``model_size``); at least `max_time_s`,
            its default (without a maximum: the largest stored time).
        reduce : bool
            Apply the exact reductions.
        **constraints
            As for :meth:`MCLP.from_cost_matrix`.

        Returns
        -------
        PMedian

        """
        data, _ = maths_data(cost_matrix, weights, max_time_s, **constraints)
        check_p(p, data)
        top = float(data.times.data.max()) if data.times.nnz else 0.0
        limit = None if max_time_s is None else float(max_time_s)
        penalty = float(unserved_penalty_s if unserved_penalty_s is not None else (limit or top))
        if limit is not None and penalty < limit:
            msg = (
                f"unserved_penalty_s={penalty:g} is below max_time_s={limit:g}: demand beyond "
                "the maximum time must cost at least the maximum time. Raise the penalty."
            )
            raise InputError(msg)
        if limit is None:
            data.times = within(data.times, penalty)
        params = {"p": p, "max_time_s": limit, "unserved_penalty_s": penalty, "reduce": reduce,
                  **constraint_params(data)}  # fmt: skip
        return cls(data, params, pattern(data.times))

    @classmethod
    def _limits(cls, threshold_min: float, options: dict[str, Any]) -> list[float]:
        top = options.get("max_time_min", 30.0)
        return [np.inf if top is None else top * 60.0]

    @classmethod
    def _from_arrays(
        cls, geo: GeoInput, arrays: dict[str, Any], t_min: float, opts: dict[str, Any]
    ) -> PMedian:
        top = opts.pop("max_time_min", 30.0)
        pen = opts.pop("unserved_penalty_min", None)
        return cls.from_cost_matrix(
            max_time_s=None if top is None else top * 60.0,
            unserved_penalty_s=None if pen is None else pen * 60.0, **arrays, **opts,
        )  # fmt: skip

    def _solve(self, **kw: Any) -> SitingResult:
        core, d = self.core, self.data
        r = solve_median(core, **kw)
        new = self._new(core.var_sites, r.chosen)
        assert new is not None
        order, added = sequence(self.pat, d.weights, d.existing, new, d.tol)
        heur = self._weighted_time(self._new(core.var_sites, r.heuristic))
        unserved = float(d.weights[~np.isfinite(nearest_open(d, new))].sum())
        size = {**core.size, "unserved_demand": unserved}
        obj = self._weighted_time(new)
        return self._result(r, order, obj, core.offset + r.bound, heur, added, size)

    def _weighted_time(self, new: np.ndarray | None) -> float:
        if new is None:
            return float("nan")
        t = np.minimum(nearest_open(self.data, new), self.params["unserved_penalty_s"])
        return float(self.data.weights @ t)


class CapacitatedCoverage(_SitingModel):
    """Capacitated coverage: ``p`` new sites maximising the demand served within capacity."""

    name = "capacitated"
    _needs_capacity = True

    def __init__(self, data: SiteData, params: dict[str, Any], pat: sparse.csr_matrix) -> None:
        super().__init__(data, params, pat)
        self.capacity = np.asarray(params.pop("capacities"))
        self.core: CapCore = cap_core(
            data, pat, self.capacity, p_max=params["p"] - int(data.forced.sum()),
            require_full=params["require_full"], reduce=params["reduce"],
        )  # fmt: skip

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: Any,
        weights: Any,
        *,
        p: int,
        capacities: Any,
        threshold_s: float | None = None,
        require_full: bool = False,
        reduce: bool = True,
        **constraints: Any,
    ) -> CapacitatedCoverage:
        """Build the model from arrays (the rest as in :meth:`MCLP.from_cost_matrix`).

        Parameters
        ----------
        cost_matrix, weights
            As for :meth:`MCLP.from_cost_matrix`.
        p : int
            Number of new sites.
        capacities : array-like
            Demand weight each site can serve (existing stations too), ≥ 0.
        threshold_s : float, optional
            Assignment threshold in seconds.
        require_full : bool
            Every point within reach of an existing station or allowed candidate must
            be fully served (else maximise what is served).
        reduce : bool
            Apply the exact reductions.
        **constraints
            As for :meth:`MCLP.from_cost_matrix`.

        Returns
        -------
        CapacitatedCoverage

        """
        data, pat = maths_data(cost_matrix, weights, threshold_s, **constraints)
        check_p(p, data)
        cap = check_site_values(capacities, data.site_ids, "capacity", 0.0)
        params = {"p": p, "threshold_s": threshold_s, "require_full": require_full,
                  "reduce": reduce, "capacities": cap, **constraint_params(data)}  # fmt: skip
        return cls(data, params, pat)

    @classmethod
    def _from_arrays(
        cls, geo: GeoInput, arrays: dict[str, Any], t_min: float, opts: dict[str, Any]
    ) -> CapacitatedCoverage:
        scale = float(opts.pop("demand_per_place", 1.0))
        cap = geo.sites["capacity"].to_numpy(float) * scale
        return cls.from_cost_matrix(threshold_s=t_min * 60.0, capacities=cap, **arrays, **opts)

    def _solve(self, **kw: Any) -> SitingResult:
        core, d = self.core, self.data
        r, lp = solve_cap(core, **kw)
        new = self._new(core.var_sites, r.chosen)
        assert new is not None
        obj, x = lp.evaluate(r.chosen)
        heur = lp.evaluate(r.heuristic)[0] if r.heuristic is not None else float("nan")
        load = site_loads(core, x, r.chosen, len(self.capacity))
        load[(d.fixed | np.isin(np.arange(len(load)), new)) & np.isnan(load)] = 0.0
        order, _ = sequence(self.pat, d.weights, d.existing, new, d.tol)
        added = prefix_gains(d, self.pat, self.capacity, order)
        return self._result(
            r, order, obj, r.bound, heur, added, core.size, covered=obj, site_load=load
        )
