"""Solving the siting cores: MILPs for HiGHS, heuristics, the driver, post-processing.

The driver always runs the heuristic first and hands its solution to HiGHS as the
starting incumbent (``setSolution``); the answer returned is the better of the two, so
it is never worse than the heuristic, even when the exact solve stops at its time limit.

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

Post-processing orders the chosen sites greedily (the largest newly covered weight
first) so that each site's ``added_demand`` is its marginal contribution in that order.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import pandas as pd
from scipy import sparse

from planning._errors import InfeasibleError
from planning.siting._cores import (
    Block,
    CapCore,
    CoverCore,
    MedianCore,
    SiteData,
    cap_core,
)

log = logging.getLogger(__name__)


# --- MILPs and HiGHS -------------------------------------------------------------------


@dataclass
class Milp:
    """A mixed-integer programme in HiGHS terms: bounds, rows, integrality, sense."""

    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    a: sparse.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    maximize: bool
    offset: float = 0.0


def stack_rows(
    parts: list[tuple[sparse.spmatrix, np.ndarray | float, np.ndarray | float]], n_cols: int
) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Stack constraint row blocks ``(matrix, lower, upper)`` into one matrix."""
    mats, lo, hi = [], [], []
    for mat, lower, upper in parts:
        r = mat.shape[0]
        if r == 0:
            continue
        mats.append(sparse.csr_matrix(mat))
        lo.append(np.broadcast_to(np.asarray(lower, dtype=float), (r,)))
        hi.append(np.broadcast_to(np.asarray(upper, dtype=float), (r,)))
    if not mats:
        return sparse.csr_matrix((0, n_cols)), np.zeros(0), np.zeros(0)
    return sparse.vstack(mats).tocsr(), np.concatenate(lo), np.concatenate(hi)


def place(n_rows: int, n_cols: int, *blocks: tuple[int, Any]) -> sparse.csr_matrix:
    """Return an ``n_rows × n_cols`` matrix holding each block at its column offset."""
    rows, cols, vals = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for offset, mat in blocks:
        c = sparse.coo_matrix(mat)
        rows.append(c.row.astype(np.int64))
        cols.append(c.col.astype(np.int64) + offset)
        vals.append(c.data.astype(float))
    shape = (n_rows, n_cols)
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape
    )


Rows = list[tuple[sparse.spmatrix, Any, Any]]


def _count_rows(cost: np.ndarray, budget: float | None, p_max: float, n_cols: int) -> Rows:
    """Return the cardinality and budget rows over the first ``len(cost)`` columns."""
    n = len(cost)
    parts: Rows = []
    if np.isfinite(p_max):
        parts.append((place(1, n_cols, (0, np.ones((1, n)))), -np.inf, p_max))
    if budget is not None:
        parts.append((place(1, n_cols, (0, cost.reshape(1, -1))), -np.inf, budget))
    return parts


def _unit_rows(
    unit: np.ndarray, vals: np.ndarray, rhs: np.ndarray, tol: float
) -> sparse.csr_matrix:
    """Return a units × entries matrix of `vals` for the units that need coverage."""
    ok = unit >= 0
    m = sparse.csr_matrix((vals[ok], (unit[ok], np.flatnonzero(ok))), shape=(len(rhs), len(unit)))
    return m[np.flatnonzero(rhs > tol)]


def cover_milp(core: CoverCore, *, stage: int = 1, floor: float | None = None) -> Milp:
    """Return the coverage MILP: stage 1 the primary objective (or LSCP), 2 the secondary.

    Variables ``y`` (sites, binary) then ``z`` per primary row, then per secondary row
    (covered fraction, continuous in [0, 1]); ``z_k ≤ fixed_k + Σ_{j ∈ N_k} y_j``.
    """
    pb, sb = core.primary, core.secondary
    n, rp = core.n, len(pb.w)
    rs = len(sb.w) if sb is not None else 0
    nc = n + rp + rs
    parts: Rows = [(place(rp, nc, (0, -pb.m), (n, sparse.identity(rp))), -np.inf, pb.fixed)]
    if sb is not None:
        sub = (place(rs, nc, (0, -sb.m), (n + rp, sparse.identity(rs))), -np.inf, sb.fixed)
        parts.append(sub)
    groups = sparse.csr_matrix((np.ones(n), (core.group, np.arange(n))), (len(core.group_max), n))
    fin = np.flatnonzero(np.isfinite(core.group_max))
    parts.append((place(len(fin), nc, (0, groups[fin])), -np.inf, core.group_max[fin]))
    ok = core.cover_of >= 0
    covers = sparse.csr_matrix(
        (np.ones(int(ok.sum())), (core.cover_of[ok], np.flatnonzero(ok))), (core.n_covers, n)
    )
    parts.append((place(core.n_covers, nc, (0, covers)), 1.0, np.inf))
    parts += _count_rows(core.cost, core.budget, np.inf, nc)
    if len(core.equity_rhs):
        eq = _unit_rows(pb.unit, pb.w, core.equity_rhs, core.tol)
        need = core.equity_rhs[core.equity_rhs > core.tol]
        parts.append((place(eq.shape[0], nc, (n, eq)), need, np.inf))
    wrow = place(1, nc, (n, pb.w.reshape(1, -1)))
    if core.min_cover is not None:
        parts.append((wrow, core.min_cover, np.inf))
    if floor is not None:
        parts.append((wrow, floor, np.inf))
    a, lo, hi = stack_rows(parts, nc)
    cost = np.zeros(nc)
    if core.min_cover is not None:
        cost[:n] = 1.0
    elif stage == 1:
        cost[n : n + rp] = pb.w
    elif sb is not None:
        cost[n + rp :] = sb.w
    integer = np.arange(nc) < n
    maximize = core.min_cover is None
    return Milp(cost, np.zeros(nc), np.ones(nc), integer, a, lo, hi, maximize)


def cover_start(core: CoverCore, chosen: np.ndarray) -> np.ndarray:
    """Return the full MILP start vector of a choice of variables."""
    y = core.y(chosen)
    z = [core.primary.covered(y)]
    if core.secondary is not None:
        z.append(core.secondary.covered(y))
    return np.concatenate([y, *z])


def median_milp(core: MedianCore) -> Milp:
    """Return the p-median MILP (strong formulation, ``x_kj ≤ y_j`` per stored pair).

    Variables ``y`` (binary) and ``x_kj`` per stored pair (continuous in [0, 1]); each row
    pays ``c0_k + Σ_j (t_kj − c0_k) x_kj`` with ``Σ_j x_kj ≤ 1``.
    """
    n, t = core.n, core.t.tocoo()
    e = len(t.data)
    nc = n + e
    er, ec = t.row.astype(np.int64), t.col.astype(np.int64)
    assign = sparse.csr_matrix((np.ones(e), (er, np.arange(e))), (len(core.w), e))
    link = place(e, nc, (0, sparse.csr_matrix((-np.ones(e), (np.arange(e), ec)), (e, n))),
                 (n, sparse.identity(e)))  # fmt: skip
    parts: Rows = [(place(len(core.w), nc, (n, assign)), -np.inf, 1.0), (link, -np.inf, 0.0)]
    parts += _count_rows(core.cost, core.budget, core.p_max, nc)
    if len(core.equity_rhs):
        vals = np.where(core.fixed[er], 0.0, core.w[er])
        eq = _unit_rows(core.unit[er], vals, core.equity_rhs, core.tol)
        parts.append(
            (place(eq.shape[0], nc, (n, eq)), core.equity_rhs[core.equity_rhs > core.tol], np.inf)
        )
    a, lo, hi = stack_rows(parts, nc)
    cost = np.concatenate([np.zeros(n), core.w[er] * (t.data - core.c0[er])])
    integer = np.arange(nc) < n
    offset = float(core.w @ core.c0)
    return Milp(cost, np.zeros(nc), np.ones(nc), integer, a, lo, hi, False, offset)


def median_start(core: MedianCore, chosen: np.ndarray) -> np.ndarray:
    """Return the MILP start: each row assigned to its nearest open candidate if useful."""
    y = np.zeros(core.n)
    y[chosen] = 1.0
    t = core.t.tocoo()
    x = np.zeros(len(t.data))
    open_ = y[t.col] > 0
    order = np.lexsort((t.col, t.data, ~open_, t.row))
    first = order[np.r_[True, t.row[order][1:] != t.row[order][:-1]]] if len(order) else order
    good = open_[first] & (
        (t.data[first] < core.c0[t.row[first]])
        | (~core.fixed[t.row[first]] & (t.data[first] <= core.c0[t.row[first]]))
    )
    x[first[good]] = 1.0
    return np.concatenate([y, x])


def cap_milp(core: CapCore, *, constrained: bool = True) -> Milp:
    """Return the capacitated MILP (``constrained=False`` drops equity and full assignment).

    Variables ``y`` (binary) and ``x_kj`` ≥ 0 per reachable pair: the weight of row ``k``
    served by column ``j``; ``Σ_j x_kj ≤ w_k``, ``Σ_k x_kj ≤ cap_j y_j`` and
    ``x_kj ≤ w_k y_j`` (a valid tightening).
    """
    n, no, m = core.n, core.n_open, core.m.tocoo()
    e = len(m.data)
    nc = n + e
    er, ec = m.row.astype(np.int64), m.col.astype(np.int64)
    rows = len(core.w)
    served = place(rows, nc, (n, sparse.csr_matrix((np.ones(e), (er, np.arange(e))), (rows, e))))
    full = constrained and core.require_full
    lower = np.where(np.bincount(er, minlength=rows) > 0, core.w, 0.0) if full else -np.inf
    cap_y = sparse.csr_matrix((-core.cap[no:], (np.arange(no, no + n), np.arange(n))), (no + n, n))
    load = sparse.csr_matrix((np.ones(e), (ec, np.arange(e))), (no + n, e))
    cap_hi = np.concatenate([core.cap[:no], np.zeros(n)])
    var = np.flatnonzero(ec >= no)
    tight = place(
        len(var),
        nc,
        (
            0,
            sparse.csr_matrix(
                (-core.w[er[var]], (np.arange(len(var)), ec[var] - no)), (len(var), n)
            ),
        ),
        (n, sparse.csr_matrix((np.ones(len(var)), (np.arange(len(var)), var)), (len(var), e))),
    )
    parts: Rows = [
        (served, lower, core.w),
        (place(no + n, nc, (0, cap_y), (n, load)), -np.inf, cap_hi),
        (tight, -np.inf, 0.0),
    ]
    parts += _count_rows(core.cost, core.budget, core.p_max, nc)
    if constrained and len(core.equity_rhs):
        eq = _unit_rows(core.unit[er], np.ones(e), core.equity_rhs, core.tol)
        parts.append(
            (place(eq.shape[0], nc, (n, eq)), core.equity_rhs[core.equity_rhs > core.tol], np.inf)
        )
    a, lo, hi = stack_rows(parts, nc)
    cost = np.concatenate([np.zeros(n), np.ones(e)])
    upper = np.concatenate([np.ones(n), core.w[er]])
    return Milp(cost, np.zeros(nc), upper, np.arange(nc) < n, a, lo, hi, True)


class CapLP:
    """The capacitated LP for a fixed choice of sites, re-solved warm with HiGHS."""

    def __init__(self, core: CapCore, *, constrained: bool = True) -> None:
        self.core = core
        milp = cap_milp(core, constrained=constrained)
        milp.integer = np.zeros(len(milp.cost), dtype=bool)
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.passModel(_highs_lp(milp))
        self.idx = np.arange(core.n, dtype=np.int32)
        self.evaluations = 0

    def evaluate(self, chosen: np.ndarray) -> tuple[float, np.ndarray | None]:
        """Return the most weight assignable with `chosen` open and the x values."""
        y = np.zeros(self.core.n)
        y[np.asarray(chosen, dtype=np.int64)] = 1.0
        if self.core.n:
            self.h.changeColsBounds(self.core.n, self.idx, y, y)
        self.h.run()
        self.evaluations += 1
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return -math.inf, None
        x = np.asarray(self.h.getSolution().col_value)[self.core.n :]
        return float(x.sum()), x


@dataclass
class HighsOutcome:
    """What HiGHS returned: status, solution (or None), objective and dual bound."""

    status: str
    x: np.ndarray | None
    objective: float
    bound: float
    time_s: float


def run_highs(
    milp: Milp,
    *,
    start: np.ndarray | None,
    time_limit_s: float,
    mip_rel_gap: float = 0.0,
    threads: int | None = None,
) -> HighsOutcome:
    """Solve `milp` with HiGHS, giving `start` as the incumbent, within the time limit."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("time_limit", max(float(time_limit_s), 0.0))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    h.passModel(_highs_lp(milp))
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=float).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    t0 = time.perf_counter()
    h.run()
    elapsed = time.perf_counter() - t0
    status = h.getModelStatus()
    info = h.getInfo()
    feasible = info.primal_solution_status == highspy.kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value) if feasible else None
    mip = bool(milp.integer.any())
    bound = float(info.mip_dual_bound) if mip else float(info.objective_function_value)
    if not np.isfinite(bound) or abs(bound) >= highspy.kHighsInf:
        bound = math.nan
    ms = highspy.HighsModelStatus
    if status == ms.kOptimal:
        label = "optimal"
    elif status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
        label = "infeasible"
    elif status in (ms.kTimeLimit, ms.kIterationLimit, ms.kInterrupt, ms.kSolutionLimit):
        label = "time_limit"
    else:
        label = "error"
        log.warning("HiGHS stopped with status %s", h.modelStatusToString(status))
    obj = float(info.objective_function_value) if x is not None else math.nan
    return HighsOutcome(label, x, obj, bound, elapsed)


def _highs_lp(milp: Milp) -> highspy.HighsLp:
    n = len(milp.cost)
    a = sparse.csc_matrix(milp.a)
    a.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = a.shape[0]
    lp.col_cost_ = np.asarray(milp.cost, dtype=float)
    lp.col_lower_ = np.asarray(milp.lower, dtype=float)
    lp.col_upper_ = np.asarray(milp.upper, dtype=float)
    inf = highspy.kHighsInf
    lp.row_lower_ = np.where(np.isfinite(milp.row_lower), milp.row_lower, -inf)
    lp.row_upper_ = np.where(np.isfinite(milp.row_upper), milp.row_upper, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(float)
    kinds = [highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger]
    lp.integrality_ = [kinds[int(b)] for b in milp.integer]
    lp.sense_ = highspy.ObjSense.kMaximize if milp.maximize else highspy.ObjSense.kMinimize
    lp.offset_ = float(milp.offset)
    return lp


# --- heuristics ------------------------------------------------------------------------


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


# --- driver ------------------------------------------------------------------------------


@dataclass
class CoreResult:
    """What the driver found, in the core's own terms."""

    status: str
    chosen: np.ndarray
    bound: float
    heuristic: np.ndarray | None
    timings_s: dict[str, float]


def _drive(
    milp: Milp,
    n: int,
    heur: np.ndarray | None,
    start: np.ndarray | None,
    key: object,
    *,
    exact: bool,
    time_limit_s: float,
    mip_rel_gap: float,
    threads: int | None,
    tol: float,
    infeasible: str,
) -> tuple[str, np.ndarray | None, float]:
    """Run HiGHS from the heuristic's start; return status, best choice and dual bound."""
    assert callable(key)
    if not exact:
        return "heuristic", heur, math.nan
    out = run_highs(
        milp, start=start, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, threads=threads
    )
    if out.status == "infeasible":
        raise InfeasibleError(infeasible)
    options = [] if out.x is None else [np.flatnonzero(out.x[:n] > 0.5)]
    options += [] if heur is None else [heur]
    if not options:
        msg = (
            f"No feasible choice was found within time_limit_s={time_limit_s:g} s (the "
            "heuristic found none either): raise time_limit_s or relax the constraints."
        )
        raise InfeasibleError(msg)
    best = 0
    for i in range(1, len(options)):
        if _better(key(options[i]), key(options[best]), tol):
            best = i
    status = {"optimal": "optimal", "time_limit": "time_limit"}.get(out.status, "heuristic")
    return status, options[best], out.bound


def solve_cover(
    core: CoverCore,
    *,
    exact: bool = True,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    threads: int | None = None,
    initial: np.ndarray | None = None,
) -> CoreResult:
    """Solve a coverage core (LSCP, MCLP, 1+N); 1+N is lexicographic in two stages."""
    t0 = time.perf_counter()
    heur = cover_heuristic(core)
    if initial is not None:
        other = cover_heuristic(core, initial)
        if other is not None and (
            heur is None or _better(_cover_key(core, other), _cover_key(core, heur), core.tol)
        ):
            heur = other
    t1 = time.perf_counter()
    milp = cover_milp(core)
    start = cover_start(core, heur) if heur is not None else None
    status, best, bound = _drive(
        milp, core.n, heur, start, lambda c: _cover_key(core, c),
        exact=exact, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, threads=threads,
        tol=core.tol, infeasible=_infeasible_text(core.budget, core.equity_rhs),
    )  # fmt: skip
    if best is None:
        msg = "The heuristic found no choice meeting the constraints; run with exact=True."
        raise InfeasibleError(msg)
    if core.secondary is not None and status == "optimal":
        floor = core.values(best)[0] - core.tol
        left = max(time_limit_s - (time.perf_counter() - t1), 0.0)
        out = run_highs(
            cover_milp(core, stage=2, floor=floor), start=cover_start(core, best),
            time_limit_s=left, mip_rel_gap=mip_rel_gap, threads=threads,
        )  # fmt: skip
        if out.x is not None:
            alt = np.flatnonzero(out.x[: core.n] > 0.5)
            if _better(_cover_key(core, alt), _cover_key(core, best), core.tol):
                best = alt
        status = "optimal" if out.status == "optimal" else "time_limit"
    lscp = core.min_cover is not None
    value = float(len(best)) if lscp else core.values(best)[0]
    bound = _settle_bound(bound, value, not lscp, lambda: cover_bound(core, best))
    if status == "time_limit" and _closed(bound, value, core.tol, integral=lscp):
        status = "optimal"
    t2 = time.perf_counter()
    timings = {"heuristic_s": t1 - t0, "exact_s": t2 - t1}
    return CoreResult(status, best, bound, heur, timings)


def _better(a: tuple[float, ...], b: tuple[float, ...], tol: float) -> bool:
    """Return True when `a` beats `b` lexicographically by more than `tol`."""
    qa = tuple(np.rint(np.asarray(a, dtype=float) / tol))
    qb = tuple(np.rint(np.asarray(b, dtype=float) / tol))
    return qa > qb


def _cover_key(core: CoverCore, chosen: np.ndarray) -> tuple[float, float]:
    p, s = core.values(chosen)
    if core.min_cover is not None:
        return (-float(len(chosen)), p)
    return (p, s)


def _settle_bound(bound: float, value: float, maximize: bool, cheap: object) -> float:
    """Return the tighter of HiGHS's bound and the cheap one, never past `value`."""
    assert callable(cheap)
    other = float(cheap())
    both = [b for b in (bound, other) if np.isfinite(b)]
    if not both:
        return math.nan
    best = min(both) if maximize else max(both)
    return max(best, value) if maximize else min(best, value)


def _closed(bound: float, value: float, tol: float, *, integral: bool = False) -> bool:
    """Return True when the bound proves `value` optimal."""
    if integral:
        return bool(np.isfinite(bound) and math.ceil(bound - 1e-6) >= value)
    return bool(abs(bound - value) <= tol)


def _infeasible_text(budget: float | None, rhs: np.ndarray) -> str:
    parts = []
    if budget is not None:
        parts.append(f"budget={budget:g}")
    if len(rhs):
        parts.append("equity_share")
    extra = f" ({', '.join(parts)})" if parts else ""
    return (
        f"HiGHS proved that no choice of sites meets all the constraints{extra} with the "
        "given number of new sites: raise p or the budget, lower equity_share, or allow "
        "more candidates."
    )


def solve_median(
    core: MedianCore,
    *,
    exact: bool = True,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    threads: int | None = None,
) -> CoreResult:
    """Solve a p-median core."""
    t0 = time.perf_counter()
    heur = median_heuristic(core)
    t1 = time.perf_counter()
    start = median_start(core, heur) if heur is not None else None
    status, best, bound = _drive(
        median_milp(core), core.n, heur, start, lambda c: (-core.value(c),),
        exact=exact, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, threads=threads,
        tol=core.tol, infeasible=_infeasible_text(core.budget, core.equity_rhs),
    )  # fmt: skip
    if best is None:
        msg = "The heuristic found no choice meeting the constraints; run with exact=True."
        raise InfeasibleError(msg)
    value = core.value(best)
    bound = _settle_bound(bound, value, False, lambda: median_bound(core, best))
    if status == "time_limit" and _closed(bound, value, core.tol):
        status = "optimal"
    timings = {"heuristic_s": t1 - t0, "exact_s": time.perf_counter() - t1}
    return CoreResult(status, best, bound, heur, timings)


def solve_cap(
    core: CapCore,
    *,
    exact: bool = True,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    threads: int | None = None,
) -> tuple[CoreResult, CapLP]:
    """Solve a capacitated core; also return the exact LP used to evaluate choices."""
    t0 = time.perf_counter()
    exact_lp = CapLP(core)
    relaxed = (
        CapLP(core, constrained=False) if (core.require_full or len(core.equity_rhs)) else exact_lp
    )
    heur = cap_heuristic(core, relaxed, exact_lp)
    t1 = time.perf_counter()
    start = None
    if heur is not None:
        value, x = exact_lp.evaluate(heur)
        y = np.zeros(core.n)
        y[heur] = 1.0
        start = np.concatenate([y, x]) if x is not None else None
    status, best, bound = _drive(
        cap_milp(core), core.n, heur, start, lambda c: (exact_lp.evaluate(c)[0],),
        exact=exact, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, threads=threads,
        tol=core.tol, infeasible=_infeasible_text(core.budget, core.equity_rhs),
    )  # fmt: skip
    if best is None:
        msg = "The heuristic found no choice meeting the constraints; run with exact=True."
        raise InfeasibleError(msg)
    value = exact_lp.evaluate(best)[0]
    bound = _settle_bound(bound, value, True, lambda: math.nan)
    if status == "time_limit" and _closed(bound, value, core.tol):
        status = "optimal"
    timings = {"heuristic_s": t1 - t0, "exact_s": time.perf_counter() - t1}
    return CoreResult(status, best, bound, heur, timings), exact_lp


# --- post-processing ---------------------------------------------------------------------


def gap(objective: float, bound: float, maximize: bool) -> float:
    """Return ``|bound − objective| / |objective|`` (0 when closed, NaN without a bound)."""
    if not (np.isfinite(objective) and np.isfinite(bound)):
        return math.nan
    diff = max((bound - objective) if maximize else (objective - bound), 0.0)
    if diff <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    return diff / max(abs(objective), 1e-12)


def covered_rows(pat: sparse.csr_matrix, open_mask: np.ndarray) -> np.ndarray:
    """Return the rows reached by at least one open column."""
    return np.asarray(pat[:, np.flatnonzero(open_mask)].getnnz(axis=1) > 0)


def covered_weight(pat: sparse.csr_matrix, d: SiteData, new: np.ndarray | None) -> float:
    """Return the weight covered by the existing stations and the `new` sites."""
    if new is None:
        return math.nan
    open_ = d.existing.copy()
    open_[new] = True
    return float(d.weights[covered_rows(pat, open_)].sum())


def sequence(
    pat: sparse.csr_matrix,
    w: np.ndarray,
    base: np.ndarray,
    new: np.ndarray,
    tol: float,
    sec: sparse.csr_matrix | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Order `new` greedily by the weight each newly covers; return order and gains."""
    covered = covered_rows(pat, base)
    cov2 = covered_rows(sec, base) if sec is not None else np.zeros(len(w), bool)
    sub = pat[:, new].tocsc()
    sub2 = sec[:, new].tocsc() if sec is not None else sparse.csc_matrix((len(w), len(new)))
    left = np.ones(len(new), dtype=bool)
    order, gains = [], []
    for _ in range(len(new)):
        g = np.asarray(sub.T @ (w * ~covered))
        k = pick_best(left, [g, np.asarray(sub2.T @ (w * ~cov2))], tol)
        order.append(k)
        gains.append(float(g[k]))
        left[k] = False
        covered[sub.indices[sub.indptr[k] : sub.indptr[k + 1]]] = True
        cov2[sub2.indices[sub2.indptr[k] : sub2.indptr[k + 1]]] = True
    return np.asarray(new)[order].astype(np.int64), np.asarray(gains, dtype=float)


def prefix_gains(
    d: SiteData, pat: sparse.csr_matrix, cap: np.ndarray, order: np.ndarray
) -> np.ndarray:
    """Return the extra weight assigned as each new site opens in `order` (exact LPs)."""
    chosen = np.zeros(len(cap), bool)
    chosen[order] = True
    forbidden = ~d.existing & ~chosen
    d2 = SiteData(
        d.times, d.weights, d.existing, np.zeros_like(d.forced), forbidden, d.costs,
        d.site_ids, d.demand_units, d.unit_names, None, None,
    )  # fmt: skip
    core = cap_core(d2, pat, cap, p_max=len(order))
    lp = CapLP(core, constrained=False)
    pos = {int(s): i for i, s in enumerate(core.var_sites)}
    values, opened = [lp.evaluate(np.zeros(0, np.int64))[0]], []
    for s in order:
        if int(s) in pos:
            opened.append(pos[int(s)])
        values.append(lp.evaluate(np.asarray(opened, np.int64))[0])
    return np.diff(values)


def site_loads(core: CapCore, x: np.ndarray | None, chosen: np.ndarray, n_sites: int) -> np.ndarray:
    """Return the weight served by every site column (NaN when closed)."""
    load = np.full(n_sites, np.nan)
    cols = np.concatenate([core.open_sites, core.var_sites])
    open_col = np.r_[np.ones(core.n_open, bool), np.isin(np.arange(core.n), chosen)]
    per_col = np.zeros(len(cols))
    if x is not None:
        per_col[:] = np.bincount(core.m.tocoo().col, weights=x, minlength=len(cols))
    load[cols[open_col]] = per_col[open_col]
    return load


def curve_row(p: int, res: Any, prev_covered: float) -> dict[str, Any]:
    """Return one row of the coverage curve from a result."""
    return {
        "p": p,
        "covered": res.objective,
        "share": res.objective / res.total_demand if res.total_demand else 0.0,
        "marginal_gain": res.objective - prev_covered,
        "gap": res.gap,
        "status": res.status,
        "best_bound": res.best_bound,
        "solve_time_s": res.solve_time_s,
        "selected_ids": ",".join(map(str, res.selected_ids)),
    }


def curve_sites(greedy: np.ndarray, member: dict[int, list[int]], d: SiteData) -> pd.DataFrame:
    """Return the sites of a coverage curve: greedy entry p and the p they are optimal at."""
    sites = sorted(set(greedy.tolist()) | set(member))
    g_pos = {int(s): i + 1 for i, s in enumerate(greedy)}
    return pd.DataFrame(
        {
            "site": sites,
            "site_id": [d.site_ids[s] for s in sites],
            "p_greedy": [g_pos.get(s, np.nan) for s in sites],
            "p_first_optimal": [min(member[s]) if s in member else np.nan for s in sites],
            "optimal_at": [",".join(map(str, member.get(s, []))) for s in sites],
        }
    ).sort_values(["p_greedy", "p_first_optimal", "site"], ignore_index=True)
