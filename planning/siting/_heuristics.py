"""Heuristics for the siting cores (greedy + interchange), and cheap bounds.

Heuristics (deterministic: ties go to the earlier site):

* coverage (LSCP, MCLP, 1+N): satisfy the unit cover constraints (one centre per unit),
  then the equity deficits (the site closing most of the remaining deficits), then add
  the site of largest marginal gain (gain per cost under a budget) while any helps; then
  vertex substitution: for each chosen site, the best swap for an unchosen one, computed
  for all candidates at once from the points only that site covers, applied while it
  improves. LSCP instead adds until the target holds, then removes redundant sites;
* p-median: greedy on savings, then the fast interchange of Whitaker (1983), keeping
  each point's nearest and second-nearest open site;
* capacitated: greedy on ``min(capacity, unassigned demand in reach)`` with the exact
  assignment LP after each step, then swaps evaluated with the LP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from planning.siting._cores import CapCore, CoverCore, MedianCore
from planning.siting._milp import CapLP
from planning.siting._reductions import Block


def pick_best(mask: np.ndarray, keys: list[np.ndarray], tol: float) -> int:
    """Return the masked position with the lexicographically largest keys (-1 if none)."""
    idx = np.flatnonzero(mask)
    for key in keys:
        if len(idx) <= 1:
            break
        q = np.rint(key[idx] / tol)
        idx = idx[q == q.max()]
    return int(idx[0]) if len(idx) else -1


class _Cov:
    """Coverage counts of a block's rows under a changing choice of columns."""

    def __init__(self, blk: Block) -> None:
        self.m = blk.m.tocsr()
        self.mt = self.m.T.tocsr()
        self.w, self.unit = blk.w, blk.unit
        self.cnt = np.rint(blk.fixed).astype(np.int64)

    def rows(self, j: int) -> np.ndarray:
        return np.asarray(self.mt.indices[self.mt.indptr[j] : self.mt.indptr[j + 1]])

    def add(self, j: int, step: int = 1) -> None:
        self.cnt[self.rows(j)] += step

    def gain(self) -> np.ndarray:
        return np.asarray(self.mt @ (self.w * (self.cnt == 0)))

    def loss(self) -> np.ndarray:
        return np.asarray(self.mt @ (self.w * (self.cnt == 1)))

    def corr(self, j: int) -> np.ndarray:
        r = self.rows(j)
        r = r[self.cnt[r] == 1]
        return np.asarray(self.m[r].T @ self.w[r])

    def value(self) -> float:
        return float(self.w[self.cnt > 0].sum())

    def unit_cov(self, n_units: int) -> np.ndarray:
        ok = (self.cnt > 0) & (self.unit >= 0)
        return np.bincount(self.unit[ok], weights=self.w[ok], minlength=n_units)

    def equity_score(self, deficit: np.ndarray, tol: float) -> np.ndarray:
        """Return, per column, how much of the unit deficits it would close."""
        ok = (self.cnt == 0) & (self.unit >= 0) & (deficit[np.maximum(self.unit, 0)] > tol)
        rows = np.flatnonzero(ok)
        uw = sparse.csr_matrix(
            (self.w[rows], (self.unit[rows], rows)), shape=(len(deficit), len(self.w))
        )
        g = (uw @ self.m).tocoo()
        vals = np.minimum(g.data, deficit[g.row])
        return np.bincount(g.col, weights=vals, minlength=self.m.shape[1])


@dataclass
class _Choice:
    """A choice of variables with its group, cover and budget bookkeeping."""

    core: CoverCore | MedianCore | CapCore
    sel: np.ndarray
    gcount: np.ndarray
    ccount: np.ndarray
    spent: float = 0.0
    order: list[int] = field(default_factory=list)

    @classmethod
    def empty(cls, core: CoverCore | MedianCore | CapCore) -> _Choice:
        groups = len(core.group_max) if isinstance(core, CoverCore) else 1
        covers = core.n_covers if isinstance(core, CoverCore) else 0
        return cls(core, np.zeros(core.n, bool), np.zeros(groups), np.zeros(covers, np.int64))

    def _group(self) -> np.ndarray:
        c = self.core
        return c.group if isinstance(c, CoverCore) else np.zeros(c.n, dtype=np.int64)

    def _cover(self) -> np.ndarray:
        c = self.core
        return c.cover_of if isinstance(c, CoverCore) else np.full(c.n, -1)

    def _gmax(self) -> np.ndarray:
        c = self.core
        return c.group_max if isinstance(c, CoverCore) else np.array([float(c.p_max)])

    def toggle(self, j: int, step: int) -> None:
        self.sel[j] = step > 0
        self.gcount[self._group()[j]] += step
        if self._cover()[j] >= 0:
            self.ccount[self._cover()[j]] += step
        self.spent += step * float(self.core.cost[j])
        if step > 0:
            self.order.append(j)
        else:
            self.order.remove(j)

    def room(self) -> float:
        b = self.core.budget
        return math.inf if b is None else b - self.spent + 1e-9 * max(1.0, b)

    def addable(self) -> np.ndarray:
        g, cov = self._group(), self._cover()
        ok = ~self.sel & (self.gcount[g] < self._gmax()[g] - 0.5) & (self.core.cost <= self.room())
        if len(self.ccount):
            ok &= (cov < 0) | (self.ccount[np.maximum(cov, 0)] == 0)
        return np.asarray(ok)

    def swappable(self, j: int) -> np.ndarray:
        """Return the columns that may replace `j` (groups, covers and budget kept)."""
        g, cov = self._group(), self._cover()
        ok = ~self.sel & ((g == g[j]) | (self.gcount[g] < self._gmax()[g] - 0.5))
        ok &= self.core.cost - self.core.cost[j] <= self.room()
        ok &= (cov < 0) | ((cov[j] >= 0) & (cov == cov[j]))
        if cov[j] >= 0 and self.ccount[cov[j]] == 1:
            ok &= cov == cov[j]
        return np.asarray(ok)

    def chosen(self) -> np.ndarray:
        return np.asarray(self.order, dtype=np.int64)


# --- coverage ----------------------------------------------------------------------------


def _equity_ok(core: CoverCore | MedianCore, pc: _Cov) -> bool:
    rhs = core.equity_rhs
    return not len(rhs) or bool((rhs - pc.unit_cov(len(rhs)) <= core.tol).all())


def _fix_equity(core: CoverCore | MedianCore, ch: _Choice, pc: _Cov, extra: _Cov | None) -> bool:
    """Add sites closing the unit deficits; return False when none can."""
    while not _equity_ok(core, pc):
        deficit = core.equity_rhs - pc.unit_cov(len(core.equity_rhs))
        score = pc.equity_score(deficit, core.tol)
        j = pick_best(ch.addable() & (score > core.tol), [score, pc.gain()], core.tol)
        if j < 0:
            return False
        ch.toggle(j, 1)
        pc.add(j)
        if extra is not None:
            extra.add(j)
    return True


def cover_heuristic(core: CoverCore, initial: np.ndarray | None = None) -> np.ndarray | None:
    """Return a feasible choice of variables for the coverage core, or None."""
    ch = _Choice.empty(core)
    pc = _Cov(core.primary)
    sc = _Cov(core.secondary) if core.secondary is not None else None

    def add(j: int, step: int = 1) -> None:
        ch.toggle(j, step)
        pc.add(j, step)
        if sc is not None:
            sc.add(j, step)

    def keys() -> list[np.ndarray]:
        gp = pc.gain()
        if core.budget is not None and core.min_cover is None:
            gp = gp / np.maximum(core.cost, 1e-12)
        return [gp, sc.gain() if sc is not None else np.zeros(core.n)]

    for j in [] if initial is None else initial:
        if ch.addable()[j]:
            add(int(j))
    while (ch.ccount == 0).any():
        j = pick_best(ch.addable() & (core.cover_of >= 0), keys(), core.tol)
        if j < 0:
            return None
        add(j)
    if not _fix_equity(core, ch, pc, sc):
        return None
    if core.min_cover is not None:
        return _finish_lscp(core, ch, pc, add)
    while True:
        k = keys()
        j = pick_best(ch.addable() & ((k[0] > core.tol) | (k[1] > core.tol)), k, core.tol)
        if j < 0:
            break
        add(j)
    _swap_cover(core, ch, pc, sc)
    return ch.chosen()


def _finish_lscp(core: CoverCore, ch: _Choice, pc: _Cov, add: object) -> np.ndarray | None:
    assert core.min_cover is not None and callable(add)
    while pc.value() < core.min_cover - core.tol:
        g = pc.gain()
        j = pick_best(ch.addable() & (g > core.tol), [g], core.tol)
        if j < 0:
            return None
        add(j)
    for j in list(reversed(ch.order)):
        add(j, -1)
        ok = pc.value() >= core.min_cover - core.tol and _equity_ok(core, pc)
        if not ok or (ch.ccount == 0).any():
            add(j, 1)
    return np.sort(ch.chosen())


def _swap_cover(core: CoverCore, ch: _Choice, pc: _Cov, sc: _Cov | None, rounds: int = 50) -> None:
    """Vertex substitution: apply the best improving swap of each chosen site in turn."""
    zeros = np.zeros(core.n)
    for _ in range(rounds):
        swapped_any = False
        gp, lp = pc.gain(), pc.loss()
        gs, ls = (sc.gain(), sc.loss()) if sc is not None else (zeros, zeros)
        for j in list(ch.order):
            dp = np.rint((gp + pc.corr(j) - lp[j]) / core.tol)
            ds = np.rint((gs + sc.corr(j) - ls[j]) / core.tol) if sc is not None else zeros
            mask = ch.swappable(j) & ((dp > 0) | ((dp == 0) & (ds > 0)))
            if _try_swaps(core, ch, pc, sc, j, mask, [dp, ds]):
                swapped_any = True
                gp, lp = pc.gain(), pc.loss()
                gs, ls = (sc.gain(), sc.loss()) if sc is not None else (zeros, zeros)
        if not swapped_any:
            return


def _try_swaps(
    core: CoverCore,
    ch: _Choice,
    pc: _Cov,
    sc: _Cov | None,
    j: int,
    mask: np.ndarray,
    keys: list[np.ndarray],
) -> bool:
    """Apply the best of up to three improving swaps out of `j` that keeps equity."""
    blocks = [b for b in (pc, sc) if b is not None]
    for _ in range(3):
        k = pick_best(mask, keys, 1.0)
        if k < 0:
            return False
        for blk in blocks:
            blk.add(j, -1)
            blk.add(k, 1)
        if _equity_ok(core, pc):
            ch.toggle(j, -1)
            ch.toggle(k, 1)
            return True
        for blk in blocks:
            blk.add(k, -1)
            blk.add(j, 1)
        mask[k] = False
    return False


def cover_bound(core: CoverCore, chosen: np.ndarray) -> float:
    """Return a cheap valid bound (submodularity: value + best gains per group)."""
    if core.min_cover is not None:
        g = _Cov(core.primary).gain()
        top = float(g.max()) if len(g) else 0.0
        return 0.0 if core.min_cover <= core.tol or top <= 0 else math.ceil(core.min_cover / top)
    pc = _Cov(core.primary)
    for j in chosen:
        pc.add(int(j))
    g = pc.gain()
    g[chosen] = 0.0
    total = pc.value()
    for grp, cap in enumerate(core.group_max):
        vals = np.sort(g[core.group == grp])[::-1]
        total += float(vals[: int(cap)].sum() if np.isfinite(cap) else vals.sum())
    return min(total, float(core.primary.w.sum()))


# --- p-median ----------------------------------------------------------------------------


class _Med:
    """Nearest and second-nearest open sites of every row of a p-median core."""

    def __init__(self, core: MedianCore) -> None:
        self.core = core
        self.t = core.t.tocsr()
        self.tc = self.t.tocsc()
        self.er = np.repeat(np.arange(self.t.shape[0]), np.diff(self.t.indptr))

    def two_best(self, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self.core
        chosen = np.asarray(chosen, dtype=np.int64)
        sub = self.tc[:, chosen].tocoo()
        n_rows = len(c.w)
        rows = np.concatenate([sub.row, np.arange(n_rows)])
        vals = np.concatenate([sub.data, c.c0])
        who = np.concatenate([chosen[sub.col], np.full(n_rows, -1)])
        order = np.lexsort((who, vals, rows))
        ro = rows[order]
        pos = np.flatnonzero(np.r_[True, ro[1:] != ro[:-1]])
        nxt = pos + 1
        has2 = nxt < len(order)
        has2[has2] = ro[nxt[has2]] == ro[pos[has2]]
        best2 = np.full(n_rows, np.inf)
        best2[has2] = vals[order[nxt[has2]]]
        return vals[order[pos]], who[order[pos]], best2

    def gains(self, best1: np.ndarray) -> np.ndarray:
        vals = self.core.w[self.er] * np.maximum(0.0, best1[self.er] - self.t.data)
        return np.bincount(self.t.indices, weights=vals, minlength=self.core.n)

    def column(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.tc.indptr[j], self.tc.indptr[j + 1]
        return self.tc.indices[a:b], self.tc.data[a:b]


def _median_pattern(core: MedianCore) -> _Cov:
    """Coverage of the rows no fixed site covers (the rows the equity rows count)."""
    m = core.t.copy()
    m.data = np.ones_like(m.data)
    w = np.where(core.fixed, 0.0, core.w)
    return _Cov(Block(m, w, core.unit, np.zeros(len(w)), 0.0, np.zeros(0)))


def median_heuristic(core: MedianCore, rounds: int = 50) -> np.ndarray | None:
    """Return a feasible choice for the p-median core (greedy + fast interchange)."""
    med, ch, pc = _Med(core), _Choice.empty(core), _median_pattern(core)
    if not _fix_equity(core, ch, pc, None):
        return None
    best1 = med.two_best(ch.chosen())[0]
    while True:
        g = med.gains(best1)
        j = pick_best(ch.addable() & (g > core.tol), [g], core.tol)
        if j < 0:
            break
        ch.toggle(j, 1)
        pc.add(j)
        rows, vals = med.column(j)
        best1[rows] = np.minimum(best1[rows], vals)
    for _ in range(rounds):
        if not _median_swap_round(core, med, ch, pc):
            break
    return ch.chosen()


def _median_swap_round(core: MedianCore, med: _Med, ch: _Choice, pc: _Cov) -> bool:
    improved = False
    best1, who1, best2 = med.two_best(ch.chosen())
    g = med.gains(best1)
    for j in list(ch.order):
        rows = np.flatnonzero(who1 == j)
        sub = med.t[rows].tocoo()
        b1, b2, wr = best1[rows][sub.row], best2[rows][sub.row], core.w[rows][sub.row]
        delta = wr * (np.maximum(0.0, b2 - sub.data) - np.maximum(0.0, b1 - sub.data))
        corr = np.bincount(sub.col, weights=delta, minlength=core.n)
        loss = float(core.w[rows] @ (best2[rows] - best1[rows]))
        d = np.rint((g + corr - loss) / core.tol)
        mask = ch.swappable(j) & (d > 0)
        k = pick_best(mask, [d], 1.0)
        if k < 0:
            continue
        pc.add(j, -1)
        pc.add(k, 1)
        if not _equity_ok(core, pc):
            pc.add(k, -1)
            pc.add(j, 1)
            continue
        ch.toggle(j, -1)
        ch.toggle(k, 1)
        improved = True
        best1, who1, best2 = med.two_best(ch.chosen())
        g = med.gains(best1)
    return improved


def median_bound(core: MedianCore, chosen: np.ndarray) -> float:
    """Return a valid lower bound: value minus the p largest savings at the solution."""
    med = _Med(core)
    best1 = med.two_best(chosen)[0]
    g = med.gains(best1)
    return float(core.w @ best1) - float(np.sort(g)[::-1][: core.p_max].sum())


# --- capacitated -------------------------------------------------------------------------


def cap_heuristic(
    core: CapCore, relaxed: CapLP, exact: CapLP, *, top_k: int = 8
) -> np.ndarray | None:
    """Return a feasible choice for the capacitated core, or None."""
    ch = _Choice.empty(core)
    mt = core.m[:, core.n_open :].T.tocsr()
    er = np.repeat(np.arange(core.m.shape[0]), np.diff(core.m.tocsr().indptr))

    def score(chosen: np.ndarray) -> np.ndarray:
        _, x = relaxed.evaluate(chosen)
        served = np.bincount(er, weights=x, minlength=len(core.w)) if x is not None else 0.0
        return np.asarray(
            np.minimum(core.cap[core.n_open :], mt @ np.maximum(core.w - served, 0.0))
        )

    while True:
        s = score(ch.chosen())
        j = pick_best(ch.addable() & (s > core.tol), [s], core.tol)
        if j < 0:
            break
        ch.toggle(j, 1)
    value = exact.evaluate(ch.chosen())[0]
    budget_evals = 40 + 10 * core.p_max
    improved = True
    while improved and exact.evaluations < budget_evals:
        improved = False
        s = score(ch.chosen())
        for j in list(ch.order):
            mask = ch.swappable(j)
            for k in np.flatnonzero(mask)[np.argsort(-s[mask], kind="stable")][:top_k]:
                trial = np.array([i for i in ch.order if i != j] + [int(k)])
                v = exact.evaluate(trial)[0]
                if v > value + core.tol:
                    ch.toggle(j, -1)
                    ch.toggle(int(k), 1)
                    value, improved = v, True
                    break
            if improved or exact.evaluations >= budget_evals:
                break
    return ch.chosen() if np.isfinite(value) else None
