"""The coverage models: MCLP (with its coverage curve), LSCP and 1+N."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from tqdm.auto import tqdm

from planning import settings
from planning._errors import InputError
from planning.siting._base import _SitingModel
from planning.siting._cores import CoverCore, cover_core, one_plus_n_core
from planning.siting._data import (
    SiteData,
    as_times,
    check_p,
    constraint_params,
    maths_data,
    pattern,
    within,
)
from planning.siting._geo import GeoInput
from planning.siting._result import SitingResult
from planning.siting._solve import covered_weight, curve_row, curve_sites, sequence, solve_cover


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
