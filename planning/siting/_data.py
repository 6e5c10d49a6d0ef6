"""Checked arrays of the siting models: :class:`SiteData` and the checks of every input.

The maths layer starts here. A model's ``from_cost_matrix`` hands its arrays (a sparse
demand × site matrix of travel times in seconds, where a stored entry means "reachable
within the limit", the demand weights and per-site attributes) to :func:`maths_data`,
which checks and converts them; nothing below this point sees a GeoDataFrame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from planning._errors import InfeasibleError, InputError
from planning._validate import suggest

#: Smallest stored travel time in seconds (as in :mod:`planning.access`).
MIN_TIME_S = 1e-6
#: Relative tolerance on objective values: differences below it × total weight are ties.
REL_TOL = 1e-9


def tolerance(total: float) -> float:
    """Return the absolute tolerance used for weights summing to `total`."""
    return REL_TOL * max(1.0, abs(total))


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


# --- checks and parameters shared by the model classes -----------------------------------


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
