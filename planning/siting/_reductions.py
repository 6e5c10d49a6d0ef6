"""Exact reductions of the siting models: constant rows, merged rows, dominated sites.

Reductions applied with ``reduce=True`` by the core builders of
:mod:`planning.siting._cores`, with the helpers here (each is exact; ``reduce=False``
keeps the full model, and the tests solve both to check it):

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
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from planning._errors import InfeasibleError
from planning.siting._data import SiteData

log = logging.getLogger(__name__)


#: Dominance is skipped when the pairwise overlap count would cost more than this.
MAX_DOMINANCE_WORK = 3e8


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
