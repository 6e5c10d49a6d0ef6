"""Model building for :mod:`planning.siting`: checked arrays, exact reductions, cores.

The maths functions here never see a GeoDataFrame; the last section (the geo layer)
only turns GeoDataFrames into their arrays for the ``from_geodataframe`` builders. Every
model starts from a sparse demand × site matrix
of travel times in seconds (a stored entry means "reachable within the limit"), the
demand weights and per-site attributes, and becomes a *core*: the smallest exact MILP
over the free candidate sites, with the constants that map its objective back.

Reductions applied with ``reduce=True`` (each is exact; ``reduce=False`` keeps the full
model, and the tests solve both to check it):

* fixed sites (existing stations and forced candidates) are constants. In the coverage
  models (LSCP, MCLP, 1+N) the demand they cover is dropped and counted in the offset.
  In p-median each point keeps the time to its nearest fixed site (or the unserved
  penalty) as its base cost, and candidate times no better than that are dropped. In
  the capacitated model fixed sites stay as open columns, since their capacity is shared;
* demand that no free candidate reaches, or with zero weight, becomes a constant;
* demand points with identical rows are merged and their weights summed: the same
  candidate set (p-median: the same times and base cost; the same unit when equity
  constraints apply);
* dominated candidates are dropped in the coverage models only: ``j`` is dominated by
  ``k`` when ``k`` covers every merged point ``j`` covers (in every objective block),
  both are in the same kind group and unit cover group, and, under a budget, ``k``
  costs no more. Identical candidates keep the cheaper, then the earlier one. Putting
  ``k`` in place of ``j`` keeps any solution feasible and no worse, so the optimum is
  unchanged. Not applied to p-median or the capacitated model, where covering a subset
  says nothing about times or capacities.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from planning import settings
from planning._errors import InfeasibleError, InputError
from planning._validate import require_columns, require_unique, suggest
from planning.access import coverage_matrix, snap_points
from planning.network import Network
from planning.population import assign_units

log = logging.getLogger(__name__)

#: Smallest stored travel time in seconds (as in :mod:`planning.access`).
MIN_TIME_S = 1e-6
#: Relative tolerance on objective values: differences below it × total weight are ties.
REL_TOL = 1e-9
#: Dominance is skipped when the pairwise overlap count would cost more than this.
MAX_DOMINANCE_WORK = 3e8


def tolerance(total: float) -> float:
    """Return the absolute tolerance used for weights summing to `total`."""
    return REL_TOL * max(1.0, abs(total))


# --- checked input ---------------------------------------------------------------------


@dataclass
class SiteData:
    """Checked arrays shared by every model (sites are columns, demand points rows)."""

    times: sparse.csr_matrix
    weights: np.ndarray
    existing: np.ndarray
    forced: np.ndarray
    forbidden: np.ndarray
    costs: np.ndarray
    site_ids: np.ndarray
    demand_units: np.ndarray
    unit_names: np.ndarray
    budget: float | None
    equity: np.ndarray | None

    @property
    def free(self) -> np.ndarray:
        """Candidates that the solver may choose (not existing, forced or forbidden)."""
        return np.asarray(~self.existing & ~self.forced & ~self.forbidden)

    @property
    def fixed(self) -> np.ndarray:
        """Sites open in every solution (existing stations and forced candidates)."""
        return np.asarray(self.existing | self.forced)

    @property
    def budget_left(self) -> float | None:
        """Budget left for free candidates once the forced sites are paid."""
        if self.budget is None:
            return None
        return self.budget - float(self.costs[self.forced].sum())

    @property
    def total(self) -> float:
        """Total demand weight."""
        return float(self.weights.sum())

    @property
    def tol(self) -> float:
        """Absolute tolerance on weight sums."""
        return tolerance(self.total)

    def unit_sum(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Sum `values` over demand points per unit (points without a unit left out)."""
        unit = self.demand_units
        ok = unit >= 0 if mask is None else (unit >= 0) & mask
        return np.bincount(unit[ok], weights=values[ok], minlength=len(self.unit_names))


def as_times(cost_matrix: Any, n_demand: int) -> sparse.csr_matrix:
    """Return a demand × site CSR matrix of times (stored entries ≥ ``MIN_TIME_S``).

    A sparse input keeps its stored entries (explicit zeros included); a dense input
    keeps its finite entries.
    """
    if sparse.issparse(cost_matrix):
        coo = sparse.coo_matrix(cost_matrix)
        r, c, v = coo.row, coo.col, coo.data.astype(float)
    else:
        arr = np.asarray(cost_matrix, dtype=float)
        if arr.ndim != 2:
            msg = f"cost_matrix must be 2-D (demand × sites), got shape {arr.shape}."
            raise InputError(msg)
        r, c = np.nonzero(~np.isinf(arr))
        v = arr[r, c]
    shape = (int(cost_matrix.shape[0]), int(cost_matrix.shape[1]))
    if shape[0] != n_demand:
        msg = (
            f"cost_matrix has {shape[0]} rows but there are {n_demand} weights: rows are "
            "demand points and columns sites (transpose a site × demand matrix)."
        )
        raise InputError(msg)
    bad = np.isnan(v) | (v < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        msg = (
            f"cost_matrix holds {v[k]} at demand row {r[k]}, site column {c[k]}: travel "
            "times must be ≥ 0 (leave unreachable pairs out, or use inf in a dense matrix)."
        )
        raise InputError(msg)
    keep = np.isfinite(v)
    data = np.maximum(v[keep], MIN_TIME_S)
    return sparse.csr_matrix((data, (r[keep], c[keep])), shape=shape)


def within(times: sparse.csr_matrix, limit_s: float) -> sparse.csr_matrix:
    """Return `times` without the entries above `limit_s`."""
    out = times.copy()
    out.data = np.where(out.data <= limit_s, out.data, 0.0)
    out.eliminate_zeros()
    return out


def pattern(times: sparse.csr_matrix, columns: np.ndarray | None = None) -> sparse.csr_matrix:
    """Return the 0/1 reachability pattern, keeping only the `columns` mask if given."""
    out = times.copy()
    out.data = np.ones_like(out.data)
    if columns is not None:
        out = (out @ sparse.diags(columns.astype(float))).tocsr()
        out.eliminate_zeros()
    return out


def _site_positions(values: Sequence[Any], ids: np.ndarray, what: str) -> np.ndarray:
    lookup = {str(v): i for i, v in enumerate(ids.tolist())}
    out = []
    for v in values:
        if str(v) not in lookup:
            hint = suggest(str(v), list(lookup))
            msg = (
                f"{what} site {v!r} is not a known site id.{hint} Use the ids of the "
                "candidate sites (e.g. their `site_id`)."
            )
            raise InputError(msg)
        out.append(lookup[str(v)])
    return np.asarray(out, dtype=np.int64)


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[idx] = True
    return out


def _check_weights(weights: Any) -> np.ndarray:
    w = np.asarray(weights, dtype=float).ravel()
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        msg = f"Demand weight at row {k} is {w[k]}: weights must be finite and ≥ 0."
        raise InputError(msg)
    return w


def check_site_values(values: Any, ids: np.ndarray, name: str, default: float) -> np.ndarray:
    arr = np.full(len(ids), default) if values is None else np.asarray(values, dtype=float)
    if arr.shape != (len(ids),):
        msg = f"`{name}` must have one value per site ({len(ids)}), got shape {arr.shape}."
        raise InputError(msg)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        msg = (
            f"Site {ids[k]!r} has {name} {arr[k]}: {name} must be a number ≥ 0. Correct "
            f"the value (or drop the site)."
        )
        raise InputError(msg)
    return arr


def prepare(
    cost_matrix: Any,
    weights: Any,
    *,
    existing: Any = None,
    site_ids: Any = None,
    costs: Any = None,
    forced: Sequence[Any] = (),
    forbidden: Sequence[Any] = (),
    budget: float | None = None,
    demand_units: Any = None,
    equity_share: float | Mapping[Any, float] | None = None,
) -> SiteData:
    """Check and convert the arrays of any siting model (see the model classes)."""
    w = _check_weights(weights)
    times = as_times(cost_matrix, len(w))
    n = times.shape[1]
    ids = np.arange(n).astype(object) if site_ids is None else np.asarray(site_ids, object)
    if ids.shape != (n,):
        msg = f"site_ids must have one id per site column ({n}), got {ids.shape}."
        raise InputError(msg)
    dup = pd.Series(ids.astype(str)).duplicated(keep=False)
    if dup.any():
        first = ids[int(np.flatnonzero(dup)[0])]
        msg = (
            f"Site id {first!r} is used {int((ids.astype(str) == str(first)).sum())} "
            "times: every site (existing or candidate) needs its own id."
        )
        raise InputError(msg)
    ex = np.zeros(n, dtype=bool) if existing is None else np.asarray(existing)
    if ex.dtype != bool:
        ex = _mask(n, ex.astype(np.int64))
    if ex.shape != (n,):
        msg = f"`existing` must be a mask of {n} sites or a list of positions."
        raise InputError(msg)
    cost = check_site_values(costs, ids, "cost", 1.0)
    f_pos = _site_positions(forced, ids, "Forced")
    x_pos = _site_positions(forbidden, ids, "Forbidden")
    both = sorted(set(f_pos.tolist()) & set(x_pos.tolist()))
    if both:
        msg = (
            f"Site {ids[both[0]]!r} is both forced and forbidden: remove it from one of "
            "the two lists."
        )
        raise InputError(msg)
    for pos, what in [(f_pos, "forced"), (x_pos, "forbidden")]:
        hit = pos[ex[pos]]
        if len(hit):
            msg = (
                f"Site {ids[hit[0]]!r} is an existing station and cannot be {what}: "
                "existing stations are always open (drop it from the stations to close it)."
            )
            raise InputError(msg)
    units, names = _units(demand_units, len(w))
    data = SiteData(
        times, w, ex, _mask(n, f_pos), _mask(n, x_pos), cost, ids, units, names, None, None
    )
    if budget is not None:
        data.budget = _check_budget(float(budget), data)
    if equity_share is not None:
        data.equity = _equity_shares(equity_share, names)
    return data


def _units(demand_units: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    if demand_units is None:
        return np.full(n, -1, dtype=np.int64), np.array([], dtype=object)
    labels = pd.Series(np.asarray(demand_units, dtype=object))
    if len(labels) != n:
        msg = f"demand_units must have one unit per demand point ({n}), got {len(labels)}."
        raise InputError(msg)
    codes, names = pd.factorize(labels.where(labels.notna(), None), sort=True)
    return codes.astype(np.int64), np.asarray(names, dtype=object)


def _check_budget(budget: float, data: SiteData) -> float:
    if not np.isfinite(budget) or budget < 0:
        msg = f"budget must be a number ≥ 0, got {budget}."
        raise InputError(msg)
    need = float(data.costs[data.forced].sum())
    if need > budget + 1e-9 * max(1.0, budget):
        ids = ", ".join(map(str, data.site_ids[data.forced][:5]))
        msg = (
            f"The budget {budget:g} is below the cost of the forced sites, {need:g} "
            f"({ids}): raise the budget by at least {need - budget:g} or force fewer sites."
        )
        raise InfeasibleError(msg)
    return budget


def _equity_shares(share: float | Mapping[Any, float], names: np.ndarray) -> np.ndarray:
    if len(names) == 0:
        msg = "equity_share needs the unit of every demand point: pass `demand_units`."
        raise InputError(msg)
    if isinstance(share, Mapping):
        out = np.full(len(names), np.nan)
        lookup = {str(u): i for i, u in enumerate(names)}
        for unit, value in share.items():
            if str(unit) not in lookup:
                hint = suggest(str(unit), list(lookup))
                msg = f"equity_share names unit {unit!r}, which has no demand point.{hint}"
                raise InputError(msg)
            out[lookup[str(unit)]] = float(value)
    else:
        out = np.full(len(names), float(share))
    if (out[~np.isnan(out)] < 0).any() or (out[~np.isnan(out)] > 1).any():
        msg = f"equity_share must lie between 0 and 1 (a share, not a percentage), got {share}."
        raise InputError(msg)
    return out


# --- reductions ------------------------------------------------------------------------


def merge_rows(
    m: sparse.csr_matrix, w: np.ndarray, key: np.ndarray | None = None, *, values: bool = False
) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """Merge identical rows (same columns, same `key`, same values if asked), summing `w`.

    Returns the merged matrix, weights, the first original row of each merged row and
    the merged row of every original row.
    """
    m = m.tocsr(copy=True)
    m.sort_indices()
    ind, ptr, dat = m.indices, m.indptr, m.data
    k = np.zeros(m.shape[0], dtype=np.int64) if key is None else np.asarray(key, np.int64)
    seen: dict[tuple[int, bytes, bytes], int] = {}
    group = np.empty(m.shape[0], dtype=np.int64)
    for r in range(m.shape[0]):
        a, b = ptr[r], ptr[r + 1]
        sig = (int(k[r]), ind[a:b].tobytes(), dat[a:b].tobytes() if values else b"")
        group[r] = seen.setdefault(sig, len(seen))
    first = np.unique(group, return_index=True)[1]
    merged = np.bincount(group, weights=w, minlength=len(first))
    return m[first], merged, first, group


def key_codes(*columns: np.ndarray) -> np.ndarray:
    """Return one integer code per row for the combination of the given columns."""
    if not columns:
        return np.zeros(0, dtype=np.int64)
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    return np.unique(stacked, axis=0, return_inverse=True)[1].ravel().astype(np.int64)


def dominated(
    blocks: list[sparse.csr_matrix], cost: np.ndarray, key: np.ndarray, *, use_cost: bool
) -> np.ndarray:
    """Return the mask of dominated columns (see the module docstring)."""
    n = len(cost)
    if n == 0:
        return np.zeros(0, dtype=bool)
    b = sparse.vstack(blocks).tocsr()
    b.data = np.ones_like(b.data)
    work = float((np.diff(b.indptr).astype(float) ** 2).sum())
    if work > MAX_DOMINANCE_WORK:
        log.info("dominance check skipped: %.2g pair counts needed", work)
        return np.zeros(n, dtype=bool)
    size = np.asarray(b.getnnz(axis=0))
    c = (b.T @ b).tocoo()
    j, k, v = c.row, c.col, np.rint(c.data)
    ok = (j != k) & (v == size[j]) & (key[j] == key[k])
    if use_cost:
        ok &= cost[k] <= cost[j]
        tie = (cost[k] < cost[j]) | ((cost[k] == cost[j]) & (k < j))
    else:
        tie = k < j
    out = np.zeros(n, dtype=bool)
    out[j[ok & ((size[k] > size[j]) | ((size[k] == size[j]) & tie))]] = True
    idx = np.arange(n)
    for e in np.flatnonzero(size == 0):
        same = (key == key[e]) & (idx != e)
        if use_cost:
            same &= (cost <= cost[e]) & ((size > 0) | (cost < cost[e]) | (idx < e))
        else:
            same &= (size > 0) | (idx < e)
        out[e] = bool(same.any())
    return out


@dataclass
class Block:
    """Demand rows of one coverage objective over the free variables."""

    m: sparse.csr_matrix
    w: np.ndarray
    unit: np.ndarray
    fixed: np.ndarray
    offset: float
    unit_offset: np.ndarray

    def covered(self, y: np.ndarray) -> np.ndarray:
        """Return the covered fraction (0 or 1) of each row for the 0/1 vector `y`."""
        return np.asarray(np.minimum(1.0, self.fixed + self.m @ y))

    def value(self, y: np.ndarray) -> float:
        """Return the covered weight of the rows (without the offset)."""
        return float(self.w @ self.covered(y))

    def drop_columns(self, keep: np.ndarray, by_unit: bool) -> Block:
        """Return the block without the dropped columns, identical rows merged again."""
        m, w, first, _ = merge_rows(self.m[:, keep], self.w, self.unit if by_unit else None)
        return Block(m, w, self.unit[first], self.fixed[first], self.offset, self.unit_offset)


def make_block(
    data: SiteData,
    pat: sparse.csr_matrix,
    var_sites: np.ndarray,
    *,
    reduce: bool,
    by_unit: bool,
) -> Block:
    """Build a coverage block: rows covered by fixed sites are constants when reducing."""
    cov = pat[:, np.flatnonzero(data.fixed)].getnnz(axis=1) > 0
    m = pat[:, var_sites].tocsr()
    w, unit = data.weights, data.demand_units
    n_units = len(data.unit_names)
    if not reduce:
        return Block(m, w.copy(), unit.copy(), cov.astype(float), 0.0, np.zeros(n_units))
    keep = ~cov & (m.getnnz(axis=1) > 0) & (w > 0)
    mm, ww, first, _ = merge_rows(m[keep], w[keep], unit[keep] if by_unit else None)
    uk = unit[keep][first]
    return Block(mm, ww, uk, np.zeros(len(ww)), float(w[cov].sum()), data.unit_sum(w, cov))


def equity_rhs(
    data: SiteData, const_u: np.ndarray, coverable_u: np.ndarray, what: str
) -> np.ndarray:
    """Return the covered weight each unit still needs; raise when a share is out of reach.

    `const_u` is the weight covered whatever is chosen, `coverable_u` what the free
    candidates can add at best.
    """
    if data.equity is None:
        return np.zeros(0)
    total_u = data.unit_sum(data.weights)
    need = np.where(np.isnan(data.equity), 0.0, data.equity) * total_u
    best = const_u + coverable_u
    short = need > best + data.tol
    if short.any():
        rows = [
            f"{data.unit_names[u]!s}: at best {best[u] / total_u[u]:.1%} "
            f"({best[u]:,.1f} of {total_u[u]:,.1f})"
            for u in np.flatnonzero(short)[:5]
        ]
        msg = (
            f"equity_share cannot be met in {int(short.sum())} unit(s) even with every "
            f"allowed candidate open ({what}): {'; '.join(rows)}. Lower equity_share for "
            "these units, or add candidate sites that reach them."
        )
        raise InfeasibleError(msg)
    return np.asarray(need - const_u)


# --- cores -----------------------------------------------------------------------------


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


# --- model building shared by the classes ----------------------------------------------


def maths_data(
    cost_matrix: Any, weights: Any, threshold_s: float | None, **kw: Any
) -> tuple[SiteData, sparse.csr_matrix]:
    """Check the arrays, drop entries beyond `threshold_s`; return data and 0/1 pattern."""
    data = prepare(cost_matrix, weights, **kw)
    if threshold_s is not None:
        data.times = within(data.times, float(threshold_s))
    return data, pattern(data.times)


def check_p(p: int, data: SiteData, name: str = "p", pool: np.ndarray | None = None) -> int:
    """Return `p` after checking it against the candidates (and forced sites) of `pool`."""
    pool = ~data.existing if pool is None else pool
    n_cand = int((pool & ~data.forbidden).sum())
    n_forced = int((pool & data.forced).sum())
    if int(p) != p or p < 0:
        msg = f"{name} must be a whole number ≥ 0, got {p}."
        raise InputError(msg)
    if p > n_cand:
        forb = int((pool & data.forbidden).sum())
        msg = (
            f"{name}={p} is larger than the number of candidate sites that may be chosen "
            f"({n_cand}{f', after {forb} forbidden' if forb else ''}): lower {name} or add "
            "candidate sites."
        )
        raise InputError(msg)
    if p < n_forced:
        msg = f"{name}={p} but {n_forced} sites are forced: raise {name} or force fewer sites."
        raise InputError(msg)
    return int(p)


def constraint_params(data: SiteData) -> dict[str, Any]:
    """Return the side constraints of `data` for a result's ``params``."""
    equity = None
    if data.equity is not None:
        pairs = zip(data.unit_names, data.equity, strict=True)
        equity = {str(u): float(s) for u, s in pairs if not np.isnan(s)}
    return {
        "forced": [str(s) for s in data.site_ids[data.forced]],
        "forbidden": [str(s) for s in data.site_ids[data.forbidden]],
        "budget": data.budget,
        "equity_share": equity,
        "n_existing": int(data.existing.sum()),
        "n_candidates": int((~data.existing).sum()),
    }


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


def nearest_open(data: SiteData, new: np.ndarray) -> np.ndarray:
    """Return each demand point's time to the nearest open site (inf when none)."""
    open_ = data.existing.copy()
    open_[new] = True
    return row_min(data.times[:, np.flatnonzero(open_)])


# --- geo layer: arrays from GeoDataFrames (only the from_geodataframe builders use it) ---


@dataclass
class GeoInput:
    """Sites as a table (stations first, then candidates), for labels and layers."""

    sites: gpd.GeoDataFrame
    excluded: pd.DataFrame
    weight: str
    unit_ids: list[str] | None

    def siting(self, res: Any) -> gpd.GeoDataFrame:
        """Return the new sites of a result as a layer, in selection order."""
        s = self.sites.iloc[res.selected]
        cum = res.existing_covered + np.cumsum(res.added_demand)
        out = gpd.GeoDataFrame(
            {
                "rank": np.arange(1, len(s) + 1),
                "site_id": s["site_id"].to_numpy(),
                "kind": s["kind"].to_numpy(),
                "lon": s["lon"].to_numpy(),
                "lat": s["lat"].to_numpy(),
                "unit_id": s["unit_id"].to_numpy(),
                f"{self.weight}_newly_covered": res.added_demand,
                "cumulative_share": cum / res.total_demand if res.total_demand else cum * 0,
            },
            geometry=s.geometry.to_numpy(),
            crs=self.sites.crs,
        )
        if res.site_load is not None:
            out["capacity"] = s["capacity"].to_numpy()
            out["assigned"] = res.site_load[res.selected]
        return out

    def site_layer(self, table: pd.DataFrame) -> gpd.GeoDataFrame:
        """Return a table with a ``site`` position column as a layer."""
        s = self.sites.iloc[table["site"].to_numpy()]
        cols = {c: s[c].to_numpy() for c in ("kind", "lon", "lat", "unit_id")}
        out = table.drop(columns="site").assign(**cols)
        return gpd.GeoDataFrame(out, geometry=s.geometry.to_numpy(), crs=self.sites.crs)


def build_geo(
    network: Network,
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | None,
    candidates: gpd.GeoDataFrame,
    limits_s: list[float],
    *,
    weight: str = "elderly",
    max_snap_m: float | None = None,
    units: gpd.GeoDataFrame | None = None,
    unit_level: str | None = None,
    unit_col: str = "unit_id",
    cost_col: str = "cost",
    capacity_col: str | None = None,
    need_site_units: bool = False,
    equity: bool = False,
) -> tuple[GeoInput, dict[str, Any]]:
    """Snap, reach and label: return the site table and the ``from_cost_matrix`` arrays."""
    require_columns(demand, [weight], "demand")
    w = pd.to_numeric(demand[weight], errors="coerce").to_numpy(float)
    sites, excluded = site_table(network, stations, candidates, max_snap_m, cost_col, capacity_col)
    unit_ids, d_units = units_for(demand, sites, units, unit_level, unit_col, need_site_units)
    if equity and d_units is None:
        msg = (
            "equity_share needs the unit of every demand point: give demand a "
            f"'{unit_col}' column, or pass `units` (with `unit_level`)."
        )
        raise InputError(msg)
    snap_d = snap_points(network, demand, max_snap_m=max_snap_m)
    snap_s = snap_points(network, sites, max_snap_m=max_snap_m)
    times = coverage_matrix(network, snap_s, snap_d, limit_s=max(limits_s)).T.tocsr()
    arrays = {
        "cost_matrix": times, "weights": w, "existing": sites["existing"].to_numpy(bool),
        "site_ids": sites["site_id"].to_numpy(object), "costs": sites["cost"].to_numpy(float),
        "demand_units": d_units,
    }  # fmt: skip
    log.info("siting arrays: %d demand × %d sites, %d reachable pairs", *times.shape, times.nnz)
    return GeoInput(sites, excluded, weight, unit_ids), arrays


def site_table(
    network: Network,
    stations: gpd.GeoDataFrame | None,
    candidates: gpd.GeoDataFrame,
    max_snap_m: float | None,
    cost_col: str,
    capacity_col: str | None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    require_columns(candidates, ["site_id"], "candidates")
    require_unique(candidates["site_id"].astype(str), "site_id", "candidates")
    frames = []
    for layer, id_col, existing in ((stations, "station_id", True), (candidates, "site_id", False)):
        if layer is None or len(layer) == 0:
            continue
        require_columns(layer, [id_col], "stations" if existing else "candidates")
        t = layer.to_crs(network.crs).rename(columns={id_col: "site_id"})
        t["site_id"] = t["site_id"].astype(str)
        t["existing"] = existing
        t["kind"] = t["kind"].astype(str) if "kind" in t else "station"
        t["cost"] = pd.to_numeric(t[cost_col], errors="coerce") if cost_col in t else 1.0
        for col in ["capacity"] if capacity_col else []:
            if capacity_col not in t:
                name = "stations" if existing else "candidates"
                msg = f"The capacitated model needs a '{capacity_col}' column in {name}."
                raise InputError(msg)
            t[col] = pd.to_numeric(t[capacity_col], errors="coerce")
        frames.append(t)
    sites = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=network.crs)
    dup = sites["site_id"][sites["site_id"].duplicated()]
    if len(dup):
        msg = (
            f"Site id {dup.iloc[0]!r} is used by an existing station and a candidate site: "
            "give candidates ids of their own."
        )
        raise InputError(msg)
    for col in ["cost"] + (["capacity"] if capacity_col else []):
        bad = sites[col].isna() | (sites[col] < 0)
        if bad.any():
            row = sites[bad].iloc[0]
            msg = (
                f"Site {row['site_id']!r} has {col} {row[col]}: {col} must be a number ≥ 0. "
                f"Fix the '{col}' value of that site."
            )
            raise InputError(msg)
    return drop_unreachable(network, sites, max_snap_m)


def drop_unreachable(
    network: Network, sites: gpd.GeoDataFrame, max_snap_m: float | None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    snap = snap_points(network, sites, max_snap_m=max_snap_m)
    cand = ~sites["existing"].to_numpy(bool)
    if not snap.ok[cand].any():
        lim = settings.max_snap_m if max_snap_m is None else max_snap_m
        msg = (
            f"None of the {int(cand.sum())} candidate sites lies within max_snap_m={lim:g} m "
            "of the road network: are they in another CRS (e.g. GCJ-02: read them with "
            "`crs='gcj02'`), for another area, or is max_snap_m too small?"
        )
        raise InputError(msg)
    bad = ~snap.ok
    excluded = pd.DataFrame(
        {
            "site_id": sites.loc[bad, "site_id"].to_numpy(),
            "existing": sites.loc[bad, "existing"].to_numpy(),
            "reason": snap.status[bad],
        }
    )
    if bad.any():
        log.warning(
            "%d sites excluded (not on the network): %s", bad.sum(), list(excluded.site_id[:5])
        )
    sites = sites[~bad].reset_index(drop=True)
    ll = sites.geometry.to_crs(4326)
    sites["lon"], sites["lat"] = ll.x.round(7), ll.y.round(7)
    return sites, excluded


def units_for(
    demand: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None,
    unit_level: str | None,
    unit_col: str,
    need_site_units: bool,
) -> tuple[list[str] | None, np.ndarray | None]:
    """Label sites (``unit_id`` column, in place) and return unit ids and demand units."""
    if unit_level is not None:
        if units is None:
            msg = "unit_level needs the unit polygons: pass `units` (read with io.read_units)."
            raise InputError(msg)
        levels = sorted(units["level"].astype(str).unique()) if "level" in units else []
        if unit_level not in levels:
            msg = (
                f"Unit level {unit_level!r} does not exist in `units`: levels present are "
                f"{levels}.{suggest(unit_level, levels)} Pass one of them."
            )
            raise InputError(msg)
        units = units[units["level"].astype(str) == unit_level]
        sites["unit_id"] = assign_units(sites, units).to_numpy()
        return units["unit_id"].astype(str).tolist(), assign_units(demand, units).to_numpy()
    if unit_col in sites and sites[unit_col].notna().any():
        sites["unit_id"] = sites[unit_col].where(sites[unit_col].notna(), None)
    elif units is not None:
        sites["unit_id"] = assign_units(sites, units).to_numpy()
    elif need_site_units:
        msg = (
            f"The 1+N model needs the unit of every site: add a '{unit_col}' column to "
            "stations and candidates, or pass `units` (and `unit_level`)."
        )
        raise InputError(msg)
    else:
        sites["unit_id"] = None
    d_units = demand[unit_col].to_numpy(object) if unit_col in demand else None
    ids = units["unit_id"].astype(str).tolist() if units is not None else None
    return ids, d_units


def locations(network: Network, step_m: float | None) -> np.ndarray:
    """Return the node coordinates, or points every `step_m` metres along the edges."""
    if step_m is None:
        return np.asarray(network.nodes[["x", "y"]].to_numpy(float))
    geoms = network.edges.geometry.to_numpy()
    lengths = shapely.length(geoms)
    counts = np.maximum(np.floor(lengths / step_m).astype(int), 0) + 1
    idx = np.repeat(np.arange(len(geoms)), counts)
    offs = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) * step_m
    pts = shapely.line_interpolate_point(geoms[idx], offs)
    xy = shapely.get_coordinates(pts)
    return np.unique(np.round(xy, 2), axis=0)


def thin(xy: np.ndarray, score: np.ndarray, ok: np.ndarray, spacing: float) -> np.ndarray:
    """Keep locations by descending score, each `spacing` from those kept before."""
    order = np.flatnonzero(ok)[np.argsort(-score[ok], kind="stable")]
    cells: dict[tuple[int, int], list[int]] = {}
    kept = []
    for i in order:
        cx, cy = int(xy[i, 0] // spacing), int(xy[i, 1] // spacing)
        near = [
            k for dx in (-1, 0, 1) for dy in (-1, 0, 1) for k in cells.get((cx + dx, cy + dy), [])
        ]
        if near and (np.hypot(*(xy[near] - xy[i]).T) < spacing).any():
            continue
        cells.setdefault((cx, cy), []).append(int(i))
        kept.append(int(i))
    return np.asarray(kept, dtype=np.int64)
