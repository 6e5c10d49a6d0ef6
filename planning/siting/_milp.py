"""The siting cores as MILPs for HiGHS, and the HiGHS runs.

``cover_milp``, ``median_milp`` and ``cap_milp`` write a core as a :class:`Milp`; the
``*_start`` functions turn a choice of sites into a starting vector; :class:`CapLP`
re-solves the capacitated assignment LP for a fixed choice; :func:`run_highs` solves a
MILP from a starting incumbent within a time limit.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
from scipy import sparse

from planning.siting._cores import CapCore, CoverCore, MedianCore

log = logging.getLogger(__name__)


class _QuietHighs(highspy.Highs):  # type: ignore[misc]
    """A HiGHS instance that never writes to the console, not even its banner.

    ``highspy.Highs()`` enables its callbacks inside the constructor, and that first
    call prints the "Running HiGHS ..." banner while ``output_flag`` still has its
    default (true); setting the option afterwards is too late. Switching the output
    off just before the callbacks are enabled keeps the console clean.
    """

    def enableCallbacks(self) -> None:
        """Switch all output off, then enable highspy's callbacks."""
        self.setOptionValue("output_flag", False)
        self.setOptionValue("log_to_console", False)
        super().enableCallbacks()


# --- MILPs -------------------------------------------------------------------------------


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
        self.h = _QuietHighs()
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


# --- HiGHS -------------------------------------------------------------------------------


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
    h = _QuietHighs()
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
