"""The solve driver of the siting cores, and the post-processing of its answer.

The driver always runs the heuristic first and hands its solution to HiGHS as the
starting incumbent (``setSolution``); the answer returned is the better of the two, so
it is never worse than the heuristic, even when the exact solve stops at its time limit.

Post-processing orders the chosen sites greedily (the largest newly covered weight
first) so that each site's ``added_demand`` is its marginal contribution in that order.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from planning._errors import InfeasibleError
from planning.siting._cores import CapCore, CoverCore, MedianCore, cap_core
from planning.siting._data import SiteData
from planning.siting._heuristics import (
    cap_heuristic,
    cover_bound,
    cover_heuristic,
    median_bound,
    median_heuristic,
    pick_best,
)
from planning.siting._milp import (
    CapLP,
    Milp,
    cap_milp,
    cover_milp,
    cover_start,
    median_milp,
    median_start,
    run_highs,
)


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
