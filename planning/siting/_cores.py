"""The cores of the siting models: each model reduced to its smallest exact form.

Every model starts from a sparse demand × site matrix of travel times in seconds (a
stored entry means "reachable within the limit"), the demand weights and per-site
attributes (:class:`planning.siting._data.SiteData`), and becomes a *core*: the smallest
exact MILP over the free candidate sites, with the constants that map its objective
back (the reductions are described in :mod:`planning.siting._reductions`).
:class:`CoverCore` serves LSCP, MCLP and 1+N, :class:`MedianCore` the p-median and
:class:`CapCore` the capacitated model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from planning._errors import InfeasibleError
from planning.siting._data import SiteData
from planning.siting._reductions import (
    Block,
    dominated,
    equity_rhs,
    key_codes,
    make_block,
    merge_rows,
)

# --- coverage: LSCP, MCLP, 1+N -----------------------------------------------------------


@dataclass
class CoverCore:
    """Exact reduced model of LSCP, MCLP and 1+N: binary y over `var_sites`."""

    var_sites: np.ndarray
    cost: np.ndarray
    group: np.ndarray
    group_max: np.ndarray
    cover_of: np.ndarray
    n_covers: int
    budget: float | None
    primary: Block
    secondary: Block | None
    equity_rhs: np.ndarray
    min_cover: float | None
    tol: float
    size: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of free variables."""
        return len(self.var_sites)

    def y(self, chosen: np.ndarray) -> np.ndarray:
        """Return the 0/1 vector of the chosen variables."""
        out = np.zeros(self.n)
        out[chosen] = 1.0
        return out

    def values(self, chosen: np.ndarray) -> tuple[float, float]:
        """Return (primary, secondary) covered weights of the reduced rows."""
        y = self.y(chosen)
        sec = self.secondary.value(y) if self.secondary is not None else 0.0
        return self.primary.value(y), sec


def cover_core(
    data: SiteData,
    primary: sparse.csr_matrix,
    *,
    var_mask: np.ndarray,
    group_of_site: np.ndarray,
    group_max: np.ndarray,
    cover_of_site: np.ndarray | None = None,
    secondary: sparse.csr_matrix | None = None,
    min_share: float | None = None,
    reduce: bool = True,
) -> CoverCore:
    """Build the coverage core (see :class:`CoverCore`); patterns are demand × site 0/1."""
    var_sites = np.flatnonzero(data.free & var_mask)
    by_unit = data.equity is not None
    blk = make_block(data, primary, var_sites, reduce=reduce, by_unit=by_unit)
    sec = None
    if secondary is not None:
        sec = make_block(data, secondary, var_sites, reduce=reduce, by_unit=False)
    cover_of = np.full(len(var_sites), -1) if cover_of_site is None else cover_of_site[var_sites]
    group, cost = group_of_site[var_sites], data.costs[var_sites]
    size = {"demand_points": int(primary.shape[0]), "candidates": int(data.free.sum())}
    if reduce and len(var_sites):
        key = key_codes(group, cover_of)
        mats = [blk.m] + ([sec.m] if sec is not None else [])
        dom = dominated(mats, cost, key, use_cost=data.budget is not None)
        keep = ~dom
        size["dominated"] = int(dom.sum())
        if dom.any():
            blk = blk.drop_columns(keep, by_unit)
            sec = sec.drop_columns(keep, False) if sec is not None else None
            var_sites, cover_of, group, cost = (
                var_sites[keep],
                cover_of[keep],
                group[keep],
                cost[keep],
            )
    n_covers = int(cover_of.max()) + 1 if len(cover_of) and cover_of.max() >= 0 else 0
    if cover_of_site is not None:
        n_covers = max(n_covers, int(cover_of_site.max()) + 1)
    reachable_rows = blk.fixed + np.asarray(blk.m.getnnz(axis=1)) > 0
    rhs = equity_rhs(
        data,
        blk.unit_offset,
        np.bincount(
            blk.unit[(blk.unit >= 0) & reachable_rows],
            weights=blk.w[(blk.unit >= 0) & reachable_rows],
            minlength=len(data.unit_names),
        ),
        "within the coverage threshold",
    )
    min_cover = None
    if min_share is not None:
        min_cover = _lscp_need(data, primary, blk, reachable_rows, min_share)
    size.update({"rows": int(blk.m.shape[0]), "variables": len(var_sites), "nnz": blk.m.nnz})
    return CoverCore(
        var_sites, cost, group, group_max, cover_of, n_covers, data.budget_left, blk, sec, rhs,
        min_cover, data.tol, size,
    )  # fmt: skip


def _lscp_need(
    data: SiteData,
    primary: sparse.csr_matrix,
    blk: Block,
    reachable_rows: np.ndarray,
    share: float,
) -> float:
    reach = float(data.weights[primary.getnnz(axis=1) > 0].sum())
    need = share * reach
    best = blk.offset + float(blk.w[reachable_rows].sum())
    if need > best + data.tol:
        n_forbidden = int(data.forbidden.sum())
        msg = (
            f"LSCP target_share {share:.1%} cannot be met: existing stations and all "
            f"allowed candidates cover at best {best:,.1f} of the {reach:,.1f} demand that "
            f"any site reaches ({best / reach:.2%}); {n_forbidden} site(s) are forbidden. "
            f"Lower target_share to at most {math.floor(best / reach * 1e4) / 1e4:.4f} or "
            "allow more sites."
        )
        raise InfeasibleError(msg)
    return need - blk.offset


def one_plus_n_core(
    data: SiteData,
    pat_b: sparse.csr_matrix,
    pat_a: sparse.csr_matrix,
    kinds: np.ndarray,
    site_units: np.ndarray,
    params: dict[str, Any],
) -> CoverCore:
    """Build the 1+N core: groups A (one per unit lacking a centre) and B (at most N)."""
    is_a, is_b = kinds == params["kind_a"], kinds == params["kind_b"]
    have = {str(u) for u in site_units[data.fixed & is_a] if u is not None}
    lacking = [u for u in params["required_units"] if u not in have]
    params["units_lacking_a"] = lacking
    code = {u: i for i, u in enumerate(lacking)}
    cover_of = np.array(
        [code.get(str(u), -1) if a else -1 for u, a in zip(site_units, is_a, strict=True)]
    )
    allowed = data.free & is_a & (cover_of >= 0)
    missing = [u for u in lacking if not allowed[cover_of == code[u]].any()]
    if missing:
        msg = (
            f"{len(missing)} unit(s) have no centre of kind '{params['kind_a']}' and no "
            f"allowed candidate of that kind: {', '.join(map(str, missing[:5]))}. Add a "
            "candidate centre in each (or allow a forbidden one)."
        )
        raise InfeasibleError(msg)
    n_b = params["p"] - int((data.forced & is_b).sum())
    return cover_core(
        data, pat_b, var_mask=is_b | (cover_of >= 0),
        group_of_site=np.where(is_a, 0, np.where(is_b, 1, -1)),
        group_max=np.array([float(len(lacking)), float(n_b)]), cover_of_site=cover_of,
        secondary=pat_a, reduce=params["reduce"],
    )  # fmt: skip


# --- p-median ----------------------------------------------------------------------------


@dataclass
class MedianCore:
    """Exact reduced p-median: rows pay ``c0`` unless an open candidate is nearer."""

    var_sites: np.ndarray
    cost: np.ndarray
    p_max: int
    budget: float | None
    t: sparse.csr_matrix
    c0: np.ndarray
    w: np.ndarray
    fixed: np.ndarray
    unit: np.ndarray
    offset: float
    equity_rhs: np.ndarray
    tol: float
    size: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of free variables."""
        return len(self.var_sites)

    def row_costs(self, chosen: np.ndarray) -> np.ndarray:
        """Return each row's time to its nearest open site (``c0`` when none is nearer)."""
        best = self.c0.copy()
        sub = self.t.tocsc()[:, np.asarray(chosen, dtype=np.int64)].tocoo()
        np.minimum.at(best, sub.row, sub.data)
        return best

    def value(self, chosen: np.ndarray) -> float:
        """Return the weighted time of the rows (without the offset)."""
        return float(self.w @ self.row_costs(chosen))


def row_min(m: sparse.csr_matrix) -> np.ndarray:
    """Return the smallest stored value of each row (inf for empty rows)."""
    out = np.full(m.shape[0], np.inf)
    coo = m.tocoo()
    np.minimum.at(out, coo.row, coo.data)
    return out


def median_core(data: SiteData, *, p_max: int, penalty_s: float, reduce: bool = True) -> MedianCore:
    """Build the p-median core from `data.times` (entries beyond the max time removed)."""
    var_sites = np.flatnonzero(data.free)
    tf = row_min(data.times[:, np.flatnonzero(data.fixed)])
    c0 = np.minimum(penalty_s, tf)
    fixed = np.isfinite(tf)
    t = data.times[:, var_sites].tocoo()
    w, unit = data.weights, data.demand_units
    equity = data.equity is not None
    offset = 0.0
    if reduce:
        keep = (t.data < c0[t.row]) | (equity & ~fixed[t.row] & (t.data <= c0[t.row]))
        tr = sparse.csr_matrix((t.data[keep], (t.row[keep], t.col[keep])), shape=t.shape)
        rows = (tr.getnnz(axis=1) > 0) & (w > 0)
        offset = float(w[~rows] @ c0[~rows])
        key = key_codes(unit[rows] if equity else np.zeros(int(rows.sum())), fixed[rows], c0[rows])
        tm, ww, first, _ = merge_rows(tr[rows], w[rows], key, values=True)
        idx = np.flatnonzero(rows)[first]
    else:
        tm, ww, idx = t.tocsr(), w.copy(), np.arange(len(w))
    coverable = (~fixed[idx]) & (tm.getnnz(axis=1) > 0)
    rhs = equity_rhs(
        data,
        data.unit_sum(w, fixed),
        np.bincount(
            unit[idx][coverable & (unit[idx] >= 0)],
            weights=ww[coverable & (unit[idx] >= 0)],
            minlength=len(data.unit_names),
        ),
        "within the maximum time",
    )
    size = {
        "demand_points": len(w),
        "candidates": int(data.free.sum()),
        "rows": len(ww),
        "variables": len(var_sites),
        "nnz": tm.nnz,
    }
    return MedianCore(
        var_sites, data.costs[var_sites], p_max, data.budget_left, tm, c0[idx], ww, fixed[idx],
        unit[idx], offset, rhs, data.tol, size,
    )  # fmt: skip


def nearest_open(data: SiteData, new: np.ndarray) -> np.ndarray:
    """Return each demand point's time to the nearest open site (inf when none)."""
    open_ = data.existing.copy()
    open_[new] = True
    return row_min(data.times[:, np.flatnonzero(open_)])


# --- capacitated -------------------------------------------------------------------------


@dataclass
class CapCore:
    """Exact reduced capacitated coverage: columns are open fixed sites, then variables."""

    var_sites: np.ndarray
    open_sites: np.ndarray
    cost: np.ndarray
    cap: np.ndarray
    p_max: int
    budget: float | None
    m: sparse.csr_matrix
    w: np.ndarray
    unit: np.ndarray
    require_full: bool
    equity_rhs: np.ndarray
    tol: float
    size: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of free variables."""
        return len(self.var_sites)

    @property
    def n_open(self) -> int:
        """Number of open fixed columns."""
        return len(self.open_sites)


def cap_core(
    data: SiteData,
    pat: sparse.csr_matrix,
    capacity: np.ndarray,
    *,
    p_max: int,
    require_full: bool = False,
    reduce: bool = True,
) -> CapCore:
    """Build the capacitated core; `capacity` is in demand-weight units per site."""
    open_sites = np.flatnonzero(data.fixed)
    var_sites = np.flatnonzero(data.free)
    if reduce:
        reach = pat.getnnz(axis=0) > 0
        open_sites = open_sites[(capacity[open_sites] > 0) & reach[open_sites]]
        var_sites = var_sites[(capacity[var_sites] > 0) & reach[var_sites]]
    cols = np.concatenate([open_sites, var_sites])
    m = pat[:, cols].tocsr()
    w, unit = data.weights, data.demand_units
    equity = data.equity is not None
    if reduce:
        rows = (m.getnnz(axis=1) > 0) & (w > 0)
        m, w2, first, _ = merge_rows(m[rows], w[rows], unit[rows] if equity else None)
        unit2 = unit[rows][first]
    else:
        w2, unit2 = w.copy(), unit.copy()
    reachable = m.getnnz(axis=1) > 0
    if require_full:
        _check_capacity(data, w2[reachable].sum(), capacity[open_sites], capacity[var_sites], p_max)
    ok_u = reachable & (unit2 >= 0)
    rhs = equity_rhs(
        data,
        np.zeros(len(data.unit_names)),
        np.bincount(unit2[ok_u], weights=w2[ok_u], minlength=len(data.unit_names)),
        "within the threshold, ignoring capacities",
    )
    size = {
        "demand_points": len(w),
        "candidates": int(data.free.sum()),
        "rows": len(w2),
        "variables": len(var_sites),
        "open_columns": len(open_sites),
        "nnz": m.nnz,
    }
    return CapCore(
        var_sites, open_sites, data.costs[var_sites], capacity[cols], p_max, data.budget_left, m,
        w2, unit2, require_full, rhs, data.tol, size,
    )  # fmt: skip


def _check_capacity(
    data: SiteData, demand: float, cap_open: np.ndarray, cap_free: np.ndarray, p_max: int
) -> None:
    best = float(cap_open.sum() + np.sort(cap_free)[::-1][:p_max].sum())
    if best + data.tol < demand:
        msg = (
            f"Full assignment is impossible: the reachable demand is {demand:,.1f} but the "
            f"existing and forced sites plus the {p_max} largest candidates hold at most "
            f"{best:,.1f}; capacity falls short by {demand - best:,.1f}. Raise p, add "
            "capacity, or set require_full=False."
        )
        raise InfeasibleError(msg)
