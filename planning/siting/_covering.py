"""Optimal siting of new stations beside existing ones: LSCP, MCLP, p-median, capacitated, 1+N.

Each model is a class in the spopt style: ``from_cost_matrix`` takes arrays (a sparse
demand × site matrix of travel times in seconds, weights, site attributes) and never sees
a GeoDataFrame; ``from_geodataframe`` only builds those arrays on the network (snapping
with :func:`planning.access.snap_points`, reach with
:func:`planning.access.coverage_matrix`); ``.solve()`` returns a :class:`SitingResult`.
Sites are the columns: existing stations (always open, their coverage counts) and
candidates. ``y_j`` is 1 when candidate ``j`` is opened, ``N_i`` the sites within the
threshold of demand point ``i`` and ``w_i`` its weight (older people by default).

* **LSCP**: minimise ``Σ y_j`` subject to ``Σ_i w_i z_i ≥ s · W_reach`` with
  ``z_i ≤ Σ_{j ∈ N_i} y_j`` and ``0 ≤ z_i ≤ 1``, where ``W_reach`` is the demand any site
  (existing or candidate) reaches and ``s`` the target share (default 1).
* **MCLP**: maximise ``Σ_i w_i z_i`` with the same ``z`` and ``Σ y_j ≤ p``.
* **p-median**: minimise ``Σ_i w_i (c0_i + Σ_j (t_ij − c0_i) x_ij)`` with ``Σ_j x_ij ≤ 1``
  and ``x_ij ≤ y_j`` over the stored pairs (times up to ``max_time``), ``Σ y_j ≤ p``. The
  base cost ``c0_i`` is the time to the nearest existing station, or the *unserved
  penalty* (default: the maximum time) when none is within the maximum time: demand no
  open site reaches within it is counted at the penalty and reported as unserved.
* **Capacitated coverage**: maximise ``Σ x_ij`` (weight served) with ``Σ_j x_ij ≤ w_i``,
  ``Σ_i x_ij ≤ cap_j y_j`` (existing: ``≤ cap_j``), ``x_ij ≤ w_i y_j`` and ``Σ y_j ≤ p``.
  A point's demand may be split between stations within reach (each person goes to at
  most one station); ``require_full=True`` makes ``Σ_j x_ij = w_i`` for reachable points.
* **1+N**: at least one centre of kind A in every unit (``Σ_{j ∈ A_u} y_j ≥ 1`` for each
  unit without an existing centre, one new centre per such unit) plus ``Σ_{j ∈ B} y_j ≤ N``
  stations of kind B; maximise demand covered by kind B within its threshold (kind A too
  with ``a_counts_for_b=True``), then, among those optima, demand covered by kind A
  within its own threshold (a second, lexicographic solve).

Side constraints for every model: forced sites (fixed open), forbidden sites (removed),
a budget ``Σ cost_j y_j ≤ B`` (forced sites included), and a minimum covered share in
every unit (equity): covered weight of unit ``u`` ≥ share × total weight of ``u``
(all its points, reachable or not; for p-median "covered" means within the maximum
time, for the capacitated model "assigned").

Solving: a greedy + interchange heuristic runs first and is handed to HiGHS as the
starting incumbent; the answer is never worse than the heuristic, even at the time
limit (see :mod:`planning._siting_heuristics`). Before that the model is shrunk exactly
(see :mod:`planning._siting_models`; ``reduce=False`` keeps the full model): fixed sites
and unreachable or weightless demand become constants, demand points with the same
candidate set are merged, and in the coverage models dominated candidates are dropped.
Objectives count every station (existing ones included), as spopt's do, and the gap is
relative to that objective. Results are deterministic: ties go to the earlier site and
HiGHS runs with a fixed seed.

Examples
--------
>>> from planning import io, network, population, siting
>>> net = network.read_network("data/wuhan_roads.gpkg")
>>> units = io.read_units("data/wuhan_units.gpkg")
>>> demand = population.demand_from_rasters(
...     ["data/wuhan_elderly_60plus.tif"], ["data/wuhan_population_20plus.tif"],
...     crs=net.crs, units=units)
>>> stations = io.read_stations("data/wuhan_stations.gpkg")
>>> sites = io.read_stations("data/wuhan_candidates.gpkg", id_col="site_id")
>>> res = siting.site_stations(net, demand, stations, sites, model="mclp", p=5,
...                            threshold_min=15, max_snap_m=500)  # doctest: +SKIP
>>> res.status, res.siting[["rank", "site_id", "elderly_newly_covered"]]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from planning import settings
from planning._errors import InputError
from planning._validate import suggest
from planning.access import nearest_times, snap_points
from planning.network import Network
from planning.siting._cores import (
    CapCore,
    CoverCore,
    GeoInput,
    MedianCore,
    SiteData,
    as_times,
    build_geo,
    cap_core,
    check_p,
    check_site_values,
    constraint_params,
    cover_core,
    locations,
    maths_data,
    median_core,
    nearest_open,
    one_plus_n_core,
    pattern,
    thin,
    within,
)
from planning.siting._heuristics import (
    CoreResult,
    covered_weight,
    curve_row,
    curve_sites,
    gap,
    prefix_gains,
    sequence,
    site_loads,
    solve_cap,
    solve_cover,
    solve_median,
)

log = logging.getLogger(__name__)

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


class MCLP(_SitingModel):
    """Maximal covering location: ``p`` new sites maximising the covered demand."""

    name = "mclp"

    def __init__(self, data: SiteData, params: dict[str, Any], pat: sparse.csr_matrix) -> None:
        super().__init__(data, params, pat)
        n = pat.shape[1]
        self.core: CoverCore = cover_core(
            data, pat, var_mask=np.ones(n, bool), group_of_site=np.zeros(n, np.int64),
            group_max=np.array([float(params["p"] - int(data.forced.sum()))]),
            reduce=params["reduce"],
        )  # fmt: skip

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: Any,
        weights: Any,
        *,
        p: int,
        threshold_s: float | None = None,
        reduce: bool = True,
        **constraints: Any,
    ) -> MCLP:
        """Build the model from arrays.

        Parameters
        ----------
        cost_matrix : scipy.sparse matrix or numpy.ndarray
            Demand × site travel times in seconds; a stored (sparse) or finite (dense)
            entry means reachable.
        weights : array-like
            Demand weight per row (e.g. older people).
        p : int
            Number of new sites (forced sites included).
        threshold_s : float, optional
            Coverage threshold in seconds; default: every stored entry covers.
        reduce : bool
            Apply the exact reductions (False: solve the full model).
        **constraints
            ``existing`` (mask or positions of the existing-station columns),
            ``site_ids``, ``costs``, ``forced``, ``forbidden`` (site ids), ``budget``,
            ``demand_units`` (unit label per row), ``equity_share`` (float or
            ``{unit: share}``).

        Returns
        -------
        MCLP

        """
        data, pat = maths_data(cost_matrix, weights, threshold_s, **constraints)
        check_p(p, data)
        params = {"p": p, "threshold_s": threshold_s, "reduce": reduce, **constraint_params(data)}
        return cls(data, params, pat)

    @classmethod
    def _from_arrays(
        cls, geo: GeoInput, arrays: dict[str, Any], t_min: float, opts: dict[str, Any]
    ) -> MCLP:
        return cls.from_cost_matrix(threshold_s=t_min * 60.0, **arrays, **opts)

    def _solve(self, initial: np.ndarray | None = None, **kw: Any) -> SitingResult:
        core, d = self.core, self.data
        r = solve_cover(core, initial=initial, **kw)
        new = self._new(core.var_sites, r.chosen)
        assert new is not None
        order, added = sequence(self.pat, d.weights, d.existing, new, d.tol)
        heur = covered_weight(self.pat, d, self._new(core.var_sites, r.heuristic))
        obj, bound = covered_weight(self.pat, d, new), core.primary.offset + r.bound
        return self._result(r, order, obj, bound, heur, added, core.size)

    def curve(
        self, p_max: int, *, time_limit_s: float = 30.0, progress: bool | None = None, **kw: Any
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Solve for every p from the number of forced sites to `p_max`.

        See :func:`coverage_curve`; the sites table is a layer when the model was
        built from GeoDataFrames.

        Returns
        -------
        curve : pandas.DataFrame
        sites : pandas.DataFrame or geopandas.GeoDataFrame

        """
        d, core = self.data, self.core
        check_p(p_max, d)
        n_forced = int(d.forced.sum())
        pool = np.flatnonzero(~d.existing & ~d.forbidden)
        greedy, _ = sequence(self.pat, d.weights, d.existing, pool, d.tol)
        rows: list[dict[str, Any]] = []
        member: dict[int, list[int]] = {}
        prev, covered = None, covered_weight(self.pat, d, np.zeros(0, np.int64))
        show = settings.progress if progress is None else progress
        for p in tqdm(range(n_forced, p_max + 1), desc="coverage curve", disable=not show):
            core.group_max = np.array([float(p - n_forced)])
            res = self._solve(initial=prev, time_limit_s=time_limit_s, **kw)
            free = np.setdiff1d(res.selected, np.flatnonzero(d.forced))
            prev = np.searchsorted(core.var_sites, free)
            for s in res.selected:
                member.setdefault(int(s), []).append(p)
            rows.append(curve_row(p, res, covered))
            covered = res.objective
        core.group_max = np.array([float(self.params["p"] - n_forced)])
        sites = curve_sites(greedy[:p_max], member, d)
        return pd.DataFrame(rows), self.geo.site_layer(sites) if self.geo else sites


class LSCP(_SitingModel):
    """Location set covering: fewest new sites covering a target share of reachable demand."""

    name = "lscp"
    maximize = False

    def __init__(self, data: SiteData, params: dict[str, Any], pat: sparse.csr_matrix) -> None:
        super().__init__(data, params, pat)
        n = pat.shape[1]
        self.core: CoverCore = cover_core(
            data, pat, var_mask=np.ones(n, bool), group_of_site=np.zeros(n, np.int64),
            group_max=np.array([np.inf]), min_share=params["target_share"],
            reduce=params["reduce"],
        )  # fmt: skip

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: Any,
        weights: Any,
        *,
        target_share: float = 1.0,
        threshold_s: float | None = None,
        reduce: bool = True,
        **constraints: Any,
    ) -> LSCP:
        """Build the model from arrays (the rest as in :meth:`MCLP.from_cost_matrix`).

        Parameters
        ----------
        cost_matrix, weights
            As for :meth:`MCLP.from_cost_matrix`.
        target_share : float
            Share (0–1] of the demand reachable by any site that must be covered.
        threshold_s : float, optional
            Coverage threshold in seconds.
        reduce : bool
            Apply the exact reductions.
        **constraints
            As for :meth:`MCLP.from_cost_matrix`.

        Returns
        -------
        LSCP

        """
        if not 0 < target_share <= 1:
            msg = f"target_share must be a share in (0, 1], got {target_share}."
            raise InputError(msg)
        data, pat = maths_data(cost_matrix, weights, threshold_s, **constraints)
        params = {"target_share": float(target_share), "threshold_s": threshold_s,
                  "reduce": reduce, **constraint_params(data)}  # fmt: skip
        return cls(data, params, pat)

    @classmethod
    def _from_arrays(
        cls, geo: GeoInput, arrays: dict[str, Any], t_min: float, opts: dict[str, Any]
    ) -> LSCP:
        return cls.from_cost_matrix(threshold_s=t_min * 60.0, **arrays, **opts)

    def _solve(self, **kw: Any) -> SitingResult:
        core, d = self.core, self.data
        r = solve_cover(core, **kw)
        new = self._new(core.var_sites, r.chosen)
        assert new is not None
        n_forced = int(d.forced.sum())
        heur = len(r.heuristic) + n_forced if r.heuristic is not None else float("nan")
        order, added = sequence(self.pat, d.weights, d.existing, new, d.tol)
        return self._result(r, order, len(new), n_forced + r.bound, heur, added, core.size)


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


class OnePlusN(_SitingModel):
    """The "1+N" model: one centre (kind A) in every unit plus ``N`` stations (kind B)."""

    name = "1+n"
    _needs_site_units = True

    def __init__(
        self, data: SiteData, params: dict[str, Any], pat: sparse.csr_matrix,
        pat_a: sparse.csr_matrix, kinds: np.ndarray, site_units: np.ndarray,
    ) -> None:  # fmt: skip
        super().__init__(data, params, pat)
        self.pat_a = pat_a
        self.core: CoverCore = one_plus_n_core(data, pat, pat_a, kinds, site_units, params)

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix_b: Any,
        cost_matrix_a: Any,
        weights: Any,
        *,
        n_b: int,
        kinds: Sequence[Any],
        site_units: Sequence[Any],
        kind_a: str = "centre",
        kind_b: str = "station",
        threshold_b_s: float | None = None,
        threshold_a_s: float | None = None,
        a_counts_for_b: bool = False,
        required_units: Sequence[Any] | None = None,
        reduce: bool = True,
        **constraints: Any,
    ) -> OnePlusN:
        """Build the model from arrays (the rest as in :meth:`MCLP.from_cost_matrix`).

        Parameters
        ----------
        cost_matrix_b, cost_matrix_a : sparse matrix or numpy.ndarray
            Demand × site times in seconds for kind-B and kind-A coverage.
        weights : array-like
            Demand weight per row.
        n_b : int
            Number of new kind-B stations (N).
        kinds : sequence
            Kind of every site column; sites of other kinds are ignored.
        site_units : sequence
            Unit of every site column (None outside every unit).
        kind_a, kind_b : str
            The two kinds.
        threshold_b_s, threshold_a_s : float, optional
            Coverage thresholds in seconds.
        a_counts_for_b : bool
            Kind-A sites also count for kind-B coverage (within the B threshold).
        required_units : sequence, optional
            Units that need a centre; default: every unit of the sites or demand.
        reduce : bool
            Apply the exact reductions.
        **constraints
            As for :meth:`MCLP.from_cost_matrix`.

        Returns
        -------
        OnePlusN

        """
        data, _ = maths_data(cost_matrix_b, weights, threshold_b_s, **constraints)
        times_a = as_times(cost_matrix_a, len(data.weights))
        times_a = times_a if threshold_a_s is None else within(times_a, threshold_a_s)
        kind = np.asarray([str(k) for k in kinds], dtype=object)
        units = np.asarray([None if u is None or u != u else str(u) for u in site_units], object)
        if not len(kind) == len(units) == data.times.shape[1] == times_a.shape[1]:
            msg = f"kinds, site_units and both matrices need one entry per site ({len(kind)})."
            raise InputError(msg)
        check_p(n_b, data, "n_b", pool=~data.existing & (kind == kind_b))
        if required_units is None:
            names = [str(u) for u in data.unit_names] + [u for u in units if u is not None]
            required_units = sorted(set(names))
        cols_b = (kind == kind_b) | ((kind == kind_a) & a_counts_for_b)
        params = {
            "p": n_b, "kind_a": kind_a, "kind_b": kind_b, "threshold_b_s": threshold_b_s,
            "threshold_a_s": threshold_a_s, "a_counts_for_b": a_counts_for_b,
            "required_units": [str(u) for u in required_units], "reduce": reduce,
            **constraint_params(data),
        }  # fmt: skip
        pat_b, pat_a = pattern(data.times, cols_b), pattern(times_a, kind == kind_a)
        return cls(data, params, pat_b, pat_a, kind, units)

    @classmethod
    def _limits(cls, threshold_min: float, options: dict[str, Any]) -> list[float]:
        return [threshold_min * 60.0, (options.get("threshold_a_min") or threshold_min) * 60.0]

    @classmethod
    def _from_arrays(
        cls, geo: GeoInput, arrays: dict[str, Any], t_min: float, opts: dict[str, Any]
    ) -> OnePlusN:
        lim_b, lim_a = t_min * 60.0, (opts.pop("threshold_a_min", None) or t_min) * 60.0
        times = arrays.pop("cost_matrix")
        return cls.from_cost_matrix(
            within(times, lim_b), within(times, lim_a), kinds=geo.sites["kind"].tolist(),
            site_units=geo.sites["unit_id"].tolist(), required_units=geo.unit_ids,
            **arrays, **opts,
        )  # fmt: skip

    def _solve(self, **kw: Any) -> SitingResult:
        core, d = self.core, self.data
        r = solve_cover(core, **kw)
        new = self._new(core.var_sites, r.chosen)
        assert new is not None
        order, added = sequence(self.pat, d.weights, d.existing, new, d.tol, self.pat_a)
        heur = covered_weight(self.pat, d, self._new(core.var_sites, r.heuristic))
        obj, bound = covered_weight(self.pat, d, new), core.primary.offset + r.bound
        return self._result(
            r, order, obj, bound, heur, added, core.size,
            secondary_objective=covered_weight(self.pat_a, d, new),
        )  # fmt: skip


# --- public functions --------------------------------------------------------------------

_MODELS: dict[str, type[_SitingModel]] = {
    "lscp": LSCP,
    "mclp": MCLP,
    "pmedian": PMedian,
    "capacitated": CapacitatedCoverage,
    "1+n": OnePlusN,
}


def site_stations(
    network: Network,
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | None,
    candidates: gpd.GeoDataFrame | None = None,
    *,
    model: str = "mclp",
    p: int | None = None,
    threshold_min: float = 15.0,
    weight: str = "elderly",
    time_limit_s: float = 60.0,
    candidate_spacing_m: float = 300.0,
    **options: Any,
) -> SitingResult:
    """Site new stations on the network with one of the models, exactly where possible.

    Parameters
    ----------
    network : Network
    demand : geopandas.GeoDataFrame
        Demand points with the `weight` column (and ``unit_id`` for equity or 1+N).
    stations : geopandas.GeoDataFrame or None
        Existing stations (``station_id``, ``kind``; ``capacity`` for the capacitated
        model); always open.
    candidates : geopandas.GeoDataFrame, optional
        Candidate sites (``site_id``, ``kind``, optional ``cost``, ``capacity``,
        ``unit_id``); generated with :func:`generate_candidates` when omitted.
    model : {"mclp", "lscp", "pmedian", "capacitated", "1+n"}
        The model.
    p : int
        New sites (MCLP, p-median, capacitated) or new kind-B stations (1+N).
    threshold_min : float
        Walking-time threshold in minutes.
    weight : str
        Demand column to weight by (default ``elderly``).
    time_limit_s : float
        Seconds allowed to HiGHS.
    candidate_spacing_m : float
        Spacing of generated candidates in metres.
    **options
        Model options (``target_share``, ``max_time_min``, ``capacity_col``,
        ``demand_per_place``, ``require_full``, ``threshold_a_min``, ``kind_a``,
        ``kind_b``, ``a_counts_for_b``) and common ones: ``forced``, ``forbidden``
        (site ids), ``budget`` (with per-site ``cost_col``, default ``cost``),
        ``equity_share`` (float or ``{unit_id: share}``), ``units``, ``unit_level``,
        ``unit_col``, ``max_snap_m``, ``reduce``; solver ones: ``mip_rel_gap``,
        ``threads``, ``exact``.

    Returns
    -------
    SitingResult
        With ``siting``: the new sites as a layer in the network CRS.

    """
    key = model.lower().replace("-", "").replace("_", "")
    key = {"1plusn": "1+n", "oneplusn": "1+n", "1n": "1+n"}.get(key, key)
    if key not in _MODELS:
        hint = suggest(key, list(_MODELS))
        msg = f"Unknown siting model {model!r}.{hint} Use one of {list(_MODELS)}."
        raise InputError(msg)
    if candidates is None:
        candidates = generate_candidates(
            network, demand, stations, threshold_min=threshold_min, weight=weight,
            spacing_m=candidate_spacing_m, max_snap_m=options.get("max_snap_m"),
        )  # fmt: skip
    solve_opts = {k: options.pop(k) for k in ("mip_rel_gap", "threads", "exact") if k in options}
    if key != "lscp":
        if p is None:
            msg = f"The {key} model needs `p`, the number of new sites."
            raise InputError(msg)
        options["n_b" if key == "1+n" else "p"] = p
    built = _MODELS[key].from_geodataframe(
        network, demand, stations, candidates, threshold_min=threshold_min, weight=weight,
        **options,
    )  # fmt: skip
    return built.solve(time_limit_s=time_limit_s, **solve_opts)


def coverage_curve(
    network: Network,
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | None,
    candidates: gpd.GeoDataFrame,
    *,
    p_max: int,
    threshold_min: float = 15.0,
    weight: str = "elderly",
    time_limit_s: float = 30.0,
    **options: Any,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Solve MCLP for p = 0 … `p_max` new sites: the coverage curve and its sites.

    Each p is solved exactly within `time_limit_s` (else best known, with its gap); the
    heuristic of each p starts from the answer for p − 1, so the covered demand never
    decreases. Optimal solutions for different p need not be nested: a site chosen at
    p = 3 may leave at p = 4. The sites layer therefore gives both the greedy sequence
    (nested by construction) and every p at which a site is in the best solution.

    Parameters
    ----------
    network, demand, stations, candidates
        As for :func:`site_stations`.
    p_max : int
        Largest number of new sites.
    threshold_min : float
        Walking-time threshold in minutes.
    weight : str
        Demand column to weight by.
    time_limit_s : float
        Seconds allowed to HiGHS for each p.
    **options
        Common options of :func:`site_stations` (forced, forbidden, budget, ...).

    Returns
    -------
    curve : pandas.DataFrame
        One row per p: ``p``, ``covered``, ``share``, ``marginal_gain``, ``gap``,
        ``status``, ``best_bound``, ``solve_time_s``, ``selected_ids``.
    sites : geopandas.GeoDataFrame
        ``site_id``, ``p_greedy`` (p at which the site enters the greedy sequence),
        ``p_first_optimal``, ``optimal_at`` (the p whose best solution holds it), ``kind``,
        ``lon``, ``lat``, ``unit_id``, geometry.

    """
    solve_opts = {k: options.pop(k) for k in ("mip_rel_gap", "threads") if k in options}
    model = MCLP.from_geodataframe(
        network, demand, stations, candidates, p=p_max, threshold_min=threshold_min,
        weight=weight, **options,
    )  # fmt: skip
    curve, sites = model.curve(p_max, time_limit_s=time_limit_s, **solve_opts)
    assert isinstance(sites, gpd.GeoDataFrame)
    return curve, sites


def plot_coverage_curve(curve: pd.DataFrame, path: str | Path) -> Path:
    """Draw the coverage curve (share against p, marginal gains as bars) to a PNG file.

    Parameters
    ----------
    curve : pandas.DataFrame
        The table from :func:`coverage_curve`.
    path : str or Path
        Output PNG.

    Returns
    -------
    Path

    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    bars = ax.twinx()
    bars.bar(curve["p"], curve["marginal_gain"], color="#c7d7ea", width=0.7, zorder=1)
    bars.set_ylabel("marginal gain (weight)")
    ax.set_zorder(bars.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(curve["p"], curve["share"] * 100, color="#1f4e79", marker="o", zorder=3)
    odd = curve["status"] != "optimal"
    if odd.any():
        ax.scatter(curve.loc[odd, "p"], curve.loc[odd, "share"] * 100, color="#d62728",
                   zorder=4, label="not proved optimal")  # fmt: skip
        ax.legend(loc="lower right")
    ax.set_xlabel("new stations p")
    ax.set_ylabel("covered share of demand (%)")
    ax.set_title("Coverage curve")
    ax.grid(alpha=0.3)
    out = Path(path)
    fig.savefig(out, dpi=150, bbox_inches="tight")
    return out


def generate_candidates(
    network: Network,
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | None,
    *,
    threshold_min: float = 15.0,
    spacing_m: float = 300.0,
    step_m: float | None = None,
    weight: str = "elderly",
    max_snap_m: float | None = None,
    kind: str = "station",
    prefix: str = "G",
) -> gpd.GeoDataFrame:
    """Propose candidate sites in the areas existing stations leave uncovered.

    Locations are the network nodes, or points every `step_m` metres along every edge.
    A location qualifies when no existing station reaches it within `threshold_min`.
    Its score is the uncovered demand (demand points beyond the threshold of every
    station) within `spacing_m` metres (straight line). Locations are then thinned
    greedily: in order of descending score (ties by position), a location is kept when
    it is at least `spacing_m` from every location kept before; zero scores are dropped.

    Parameters
    ----------
    network : Network
    demand : geopandas.GeoDataFrame
    stations : geopandas.GeoDataFrame or None
    threshold_min : float
        Coverage threshold in minutes.
    spacing_m : float
        Minimum distance between candidates in metres (and scoring radius).
    step_m : float, optional
        Spacing of points along edges in metres; default: use the nodes.
    weight : str
        Demand column.
    max_snap_m : float, optional
        Snapping limit in metres.
    kind : str
        Kind given to the candidates.
    prefix : str
        Prefix of the generated ids (``G00001`` …).

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id``, ``kind``, ``cost`` (1.0), ``uncovered_nearby``,
        ``travel_time_s_nearest_station``, geometry (network CRS), best first.

    """
    if not spacing_m > 0:
        msg = f"spacing_m must be a positive distance in metres, got {spacing_m}."
        raise InputError(msg)
    xy = locations(network, step_m)
    locs = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=network.crs)
    limit = threshold_min * 60.0
    t_loc, t_dem = np.full(len(locs), np.inf), np.full(len(demand), np.inf)
    if stations is not None and len(stations):
        snap_s = snap_points(network, stations, max_snap_m=max_snap_m)
        t_loc = nearest_times(network, snap_s, snap_points(network, locs))[0]
        t_dem = nearest_times(network, snap_s, snap_points(network, demand, max_snap_m=max_snap_m))[
            0
        ]
    snap_d = snap_points(network, demand, max_snap_m=max_snap_m)
    unc = snap_d.ok & (t_dem > limit)
    dxy = np.column_stack(
        [demand.geometry.to_crs(network.crs).x, demand.geometry.to_crs(network.crs).y]
    )
    pairs = cKDTree(xy).sparse_distance_matrix(
        cKDTree(dxy[unc]), spacing_m, output_type="coo_matrix"
    )
    w = demand[weight].to_numpy(float)[unc]
    score = np.bincount(pairs.row, weights=w[pairs.col], minlength=len(xy))
    ok = (t_loc > limit) & (score > 0)
    keep = thin(xy, score, ok, spacing_m)
    out = gpd.GeoDataFrame(
        {
            "site_id": [f"{prefix}{i + 1:05d}" for i in range(len(keep))],
            "kind": kind,
            "cost": 1.0,
            "uncovered_nearby": score[keep],
            "travel_time_s_nearest_station": t_loc[keep],
        },
        geometry=locs.geometry.to_numpy()[keep],
        crs=network.crs,
    )
    log.info("generated %d candidate sites from %d locations", len(out), len(xy))
    return out
