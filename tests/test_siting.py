"""Siting models against brute force, their errors, and one run on the Wuhan data."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from shapely.geometry import Point

from planning import siting
from planning._errors import InfeasibleError, InputError

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [0, 1, 2, 3, 4]
UNITS = np.array(["U0", "U1", "U2"])


def _instance(
    seed: int, nd: int = 40, ns: int = 10, n_exist: int = 2, centre_every: int = 3
) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    dem = rng.uniform(0, 1000, (nd, 2))
    sites = rng.uniform(0, 1000, (ns, 2))
    dist = np.hypot(dem[:, None, 0] - sites[None, :, 0], dem[:, None, 1] - sites[None, :, 1])
    existing = np.zeros(ns, bool)
    existing[:n_exist] = True
    return SimpleNamespace(
        dist=dist,
        w=rng.integers(1, 20, nd).astype(float),
        existing=existing,
        ids=np.array([f"S{j}" for j in range(ns)], dtype=object),
        cost=rng.choice([1.0, 1.0, 1.5, 2.0], ns),
        cap=rng.integers(10, 80, ns).astype(float),
        d_units=UNITS[np.minimum((dem[:, 0] // 334).astype(int), 2)],
        s_units=UNITS[np.minimum((sites[:, 0] // 334).astype(int), 2)],
        kinds=np.where(np.arange(ns) % centre_every == 0, "centre", "station"),
        cand=[j for j in range(ns) if not existing[j]],
    )


def _sparse(dist: np.ndarray, limit: float) -> sparse.csr_matrix:
    return sparse.csr_matrix(np.where(dist <= limit, np.maximum(dist, 1e-6), 0.0))


def _subsets(
    inst: SimpleNamespace, p: int, forced: tuple[int, ...] = (), forbidden: tuple[int, ...] = ()
):  # type: ignore[no-untyped-def]
    free = [c for c in inst.cand if c not in forced and c not in forbidden]
    for k in range(0, p - len(forced) + 1):
        for extra in combinations(free, k):
            yield tuple(forced) + extra


def _open(inst: SimpleNamespace, subset: tuple[int, ...]) -> np.ndarray:
    op = inst.existing.copy()
    op[list(subset)] = True
    return op


def _cov(inst: SimpleNamespace, op: np.ndarray, radius: float) -> np.ndarray:
    return np.asarray((inst.dist[:, op] <= radius).any(axis=1))


def _equity_ok(inst: SimpleNamespace, covered: np.ndarray, share: Any) -> bool:
    if share is None:
        return True
    shares = share if isinstance(share, dict) else dict.fromkeys(UNITS, share)
    for u, value in shares.items():
        m = inst.d_units == u
        if inst.w[m & covered].sum() < value * inst.w[m].sum() - 1e-9:
            return False
    return True


def _feasible(inst: SimpleNamespace, subset: tuple[int, ...], budget: float | None) -> bool:
    return budget is None or inst.cost[list(subset)].sum() <= budget + 1e-9


def _check_selection(res: siting.SitingResult, inst: SimpleNamespace, kw: dict[str, Any]) -> None:
    chosen = set(res.selected.tolist())
    ids = list(inst.ids)
    assert {ids.index(f) for f in kw.get("forced", [])} <= chosen
    assert not {ids.index(f) for f in kw.get("forbidden", [])} & chosen
    assert not chosen & set(np.flatnonzero(inst.existing).tolist())
    if kw.get("budget") is not None:
        assert inst.cost[list(chosen)].sum() <= kw["budget"] + 1e-9


def _constraint_kw(inst: SimpleNamespace, case: str) -> dict[str, Any]:
    kw: dict[str, Any] = {"existing": inst.existing, "site_ids": inst.ids, "costs": inst.cost}
    if case == "forced":
        kw.update(forced=[inst.ids[inst.cand[0]]], forbidden=[inst.ids[inst.cand[1]]])
    elif case == "budget":
        kw.update(budget=2.5, forced=[inst.ids[inst.cand[2]]])
    elif case == "equity":
        kw.update(demand_units=inst.d_units, equity_share=0.45)
    return kw


def _positions(
    inst: SimpleNamespace, kw: dict[str, Any]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    ids = list(inst.ids)
    return tuple(ids.index(f) for f in kw.get("forced", [])), tuple(
        ids.index(f) for f in kw.get("forbidden", [])
    )


CASES = ["plain", "forced", "budget"]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("reduce", [True, False])
def test_mclp_matches_brute_force(seed: int, case: str, reduce: bool) -> None:
    inst, radius, p = _instance(seed), 280.0, 3
    kw = _constraint_kw(inst, case)
    forced, forbidden = _positions(inst, kw)
    best = None
    for s in _subsets(inst, p, forced, forbidden):
        cov = _cov(inst, _open(inst, s), radius)
        if _feasible(inst, s, kw.get("budget")) and _equity_ok(inst, cov, kw.get("equity_share")):
            best = max(best or 0.0, float(inst.w[cov].sum()))
    model = lambda: siting.MCLP.from_cost_matrix(  # noqa: E731
        _sparse(inst.dist, radius), inst.w, p=p, reduce=reduce, **kw
    )
    if best is None:
        with pytest.raises(InfeasibleError):
            model().solve()
        return
    res = model().solve()
    assert res.status == "optimal"
    assert res.objective == pytest.approx(best, abs=1e-6)
    assert res.objective >= res.heuristic_objective - 1e-6
    assert res.gap == pytest.approx(0.0, abs=1e-9)
    assert len(res.selected) <= p
    _check_selection(res, inst, kw)
    cov = _cov(inst, _open(inst, tuple(res.selected)), radius)
    assert inst.w[cov].sum() == pytest.approx(res.objective)
    assert _equity_ok(inst, cov, kw.get("equity_share"))
    assert res.existing_covered + res.added_demand.sum() == pytest.approx(res.objective)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("target", [1.0, 0.8])
@pytest.mark.parametrize("case", ["plain", "forced"])
def test_lscp_matches_brute_force(seed: int, target: float, case: str) -> None:
    inst, radius = _instance(seed), 280.0
    kw = _constraint_kw(inst, case)
    forced, forbidden = _positions(inst, kw)
    reach = inst.w[(inst.dist <= radius).any(axis=1)].sum()
    best = None
    for s in _subsets(inst, len(inst.cand), forced, forbidden):
        cov = _cov(inst, _open(inst, s), radius)
        ok = inst.w[cov].sum() >= target * reach - 1e-9
        if ok and _equity_ok(inst, cov, kw.get("equity_share")):
            best = len(s) if best is None else min(best, len(s))
    model = lambda: siting.LSCP.from_cost_matrix(  # noqa: E731
        _sparse(inst.dist, radius), inst.w, target_share=target, **kw
    )
    if best is None:
        with pytest.raises(InfeasibleError):
            model().solve()
        return
    res = model().solve()
    assert res.status == "optimal"
    assert res.objective == best
    _check_selection(res, inst, kw)
    cov = _cov(inst, _open(inst, tuple(res.selected)), radius)
    assert inst.w[cov].sum() >= target * reach - 1e-9


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("max_time", [None, 300.0])
@pytest.mark.parametrize("case", ["plain", "forced", "budget"])
def test_pmedian_matches_brute_force(seed: int, max_time: float | None, case: str) -> None:
    inst, p = _instance(seed), 3
    kw = _constraint_kw(inst, case)
    forced, forbidden = _positions(inst, kw)
    limit = np.inf if max_time is None else max_time
    penalty = inst.dist.max() if max_time is None else max_time
    best = None
    for s in _subsets(inst, p, forced, forbidden):
        t = np.where(inst.dist[:, _open(inst, s)] <= limit, inst.dist[:, _open(inst, s)], np.inf)
        nearest = t.min(axis=1)
        if _feasible(inst, s, kw.get("budget")) and _equity_ok(
            inst, np.isfinite(nearest), kw.get("equity_share")
        ):
            val = float(inst.w @ np.minimum(nearest, penalty))
            best = val if best is None else min(best, val)
    matrix = _sparse(inst.dist, limit)
    model = lambda: siting.PMedian.from_cost_matrix(  # noqa: E731
        matrix, inst.w, p=p, max_time_s=max_time, **kw
    )
    if best is None:
        with pytest.raises(InfeasibleError):
            model().solve()
        return
    res = model().solve()
    unreduced = siting.PMedian.from_cost_matrix(
        matrix, inst.w, p=p, max_time_s=max_time, reduce=False, **kw
    ).solve()
    assert res.status == unreduced.status == "optimal"
    assert res.objective == pytest.approx(best, rel=1e-9)
    assert unreduced.objective == pytest.approx(best, rel=1e-9)
    assert res.objective <= res.heuristic_objective + 1e-6
    _check_selection(res, inst, kw)


EQUITY = [0.1, 0.15, 0.2, 0.3, {"U1": 0.35}, {"U2": 0.4, "U0": 0.1}]


def _equity_case(seed: int, radius: float, p: int, model: str, share: Any) -> str:
    """Solve one equity case and compare with brute force; return N(one), B(inding), =."""
    inst = _instance(seed)
    inst.w = np.where(inst.d_units == "U0", inst.w * 4, inst.w)  # skew to make equity bind
    reach = inst.w[(inst.dist <= radius).any(axis=1)].sum()
    best, plain = None, None
    for s in _subsets(inst, len(inst.cand) if model == "lscp" else p):
        op = _open(inst, s)
        cov = _cov(inst, op, radius)
        if model == "mclp":
            val = float(inst.w[cov].sum())
        elif model == "pmedian":
            t = np.where(inst.dist[:, op] <= radius, inst.dist[:, op], np.inf).min(axis=1)
            val = -float(inst.w @ np.minimum(t, radius))
        else:
            if inst.w[cov].sum() < 0.8 * reach - 1e-9:
                continue
            val = -float(len(s))
        plain = val if plain is None else max(plain, val)
        if _equity_ok(inst, cov, share):
            best = val if best is None else max(best, val)
    kw = {"existing": inst.existing, "demand_units": inst.d_units, "equity_share": share}
    mat = _sparse(inst.dist, radius)

    def build() -> Any:
        if model == "mclp":
            return siting.MCLP.from_cost_matrix(mat, inst.w, p=p, **kw)
        if model == "pmedian":
            return siting.PMedian.from_cost_matrix(mat, inst.w, p=p, max_time_s=radius, **kw)
        return siting.LSCP.from_cost_matrix(mat, inst.w, target_share=0.8, **kw)

    if best is None:
        with pytest.raises(InfeasibleError, match="equity_share"):
            build().solve()
        return "N"
    res = build().solve()
    assert res.status == "optimal"
    sign = 1.0 if model == "mclp" else -1.0
    assert sign * res.objective == pytest.approx(best, abs=1e-6)
    assert _equity_ok(inst, _cov(inst, _open(inst, tuple(res.selected)), radius), share)
    return "B" if best < plain - 1e-9 else "="


@pytest.mark.parametrize("model", ["mclp", "pmedian", "lscp"])
def test_equity_matches_brute_force(model: str) -> None:
    outcomes = [_equity_case(seed, 150.0, 2, model, share) for seed in SEEDS for share in EQUITY]
    # the constraint must matter: some cases bind, some are infeasible
    assert outcomes.count("B") >= 2 and "N" in outcomes


def _max_flow(inst: SimpleNamespace, op: np.ndarray, radius: float, full: bool = False) -> float:
    g = nx.DiGraph()
    for i in range(len(inst.w)):
        g.add_edge("s", ("d", i), capacity=int(inst.w[i]))
        for j in np.flatnonzero(op & (inst.dist[i] <= radius)):
            g.add_edge(("d", i), ("f", int(j)), capacity=10**9)
    for j in np.flatnonzero(op):
        g.add_edge(("f", int(j)), "t", capacity=int(inst.cap[j]))
    if "t" not in g:
        return 0.0
    return float(nx.maximum_flow_value(g, "s", "t"))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", ["plain", "forced", "budget"])
@pytest.mark.parametrize("reduce", [True, False])
def test_capacitated_matches_brute_force(seed: int, case: str, reduce: bool) -> None:
    inst, radius, p = _instance(seed, nd=30, ns=9), 300.0, 3
    kw = _constraint_kw(inst, case)
    forced, forbidden = _positions(inst, kw)
    best = max(
        _max_flow(inst, _open(inst, s), radius)
        for s in _subsets(inst, p, forced, forbidden)
        if _feasible(inst, s, kw.get("budget"))
    )
    res = siting.CapacitatedCoverage.from_cost_matrix(
        _sparse(inst.dist, radius), inst.w, p=p, capacities=inst.cap, reduce=reduce, **kw
    ).solve()
    assert res.status == "optimal"
    assert res.objective == pytest.approx(best, abs=1e-6)
    assert res.objective >= res.heuristic_objective - 1e-6
    _check_selection(res, inst, kw)
    op = _open(inst, tuple(res.selected))
    assert _max_flow(inst, op, radius) == pytest.approx(res.objective, abs=1e-6)
    assert res.site_load is not None
    load = res.site_load
    assert np.all(load[op] <= inst.cap[op] + 1e-6)  # never over capacity
    assert np.isnan(load[~op]).all()
    assert np.nansum(load) == pytest.approx(res.objective, abs=1e-6)
    assert res.existing_covered >= 0 and res.added_demand.sum() >= -1e-9


def _cap_lp(
    inst: SimpleNamespace, op: np.ndarray, radius: float, share: Any = None, full: bool = False
) -> float | None:
    """Most weight assignable (scipy linprog), per-unit minimum shares, or None."""
    from scipy.optimize import linprog

    pairs = [
        (i, j) for i in range(len(inst.w)) for j in np.flatnonzero(op) if inst.dist[i, j] <= radius
    ]
    if not pairs:
        return 0.0 if share is None else None
    rows, cols = np.array(pairs).T
    n = len(pairs)
    a_ub = [sparse.csr_matrix((np.ones(n), (rows, np.arange(n))), (len(inst.w), n))]
    b_ub = [inst.w]
    a_ub.append(sparse.csr_matrix((np.ones(n), (cols, np.arange(n))), (len(inst.cap), n)))
    b_ub.append(inst.cap)
    if share is not None:
        units = inst.d_units[rows]
        a_ub.append(
            -sparse.csr_matrix((np.ones(n), (np.searchsorted(UNITS, units), np.arange(n))), (3, n))
        )
        b_ub.append(-np.array([share * inst.w[inst.d_units == u].sum() for u in UNITS]))
    a_eq = b_eq = None
    if full:  # every point any site reaches must be fully served
        reach = np.flatnonzero((inst.dist <= radius).any(axis=1))
        if not np.isin(reach, rows).all():
            return None
        a_eq = sparse.csr_matrix(
            (np.ones(n), (np.searchsorted(reach, rows), np.arange(n))), (len(reach), n)
        )
        b_eq = inst.w[reach]
    out = linprog(-np.ones(n), A_ub=sparse.vstack(a_ub), b_ub=np.concatenate(b_ub), A_eq=a_eq,
                  b_eq=b_eq, bounds=(0, None), method="highs")  # fmt: skip
    return float(-out.fun) if out.status == 0 else None


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("share", "full"), [(0.2, False), (0.35, False), (None, True)])
def test_capacitated_equity_and_full_match_brute_force(seed: int, share: Any, full: bool) -> None:
    inst, radius, p = _instance(seed, nd=30, ns=9), 300.0, 3
    inst.cap = inst.cap * (3 if full else 1)
    p = 5 if full else p
    best = None
    for s in _subsets(inst, p):
        val = _cap_lp(inst, _open(inst, s), radius, share, full)
        if val is not None:
            best = val if best is None else max(best, val)
    kw = {"demand_units": inst.d_units, "equity_share": share} if share else {}
    model = lambda: siting.CapacitatedCoverage.from_cost_matrix(  # noqa: E731
        _sparse(inst.dist, radius), inst.w, p=p, capacities=inst.cap, existing=inst.existing,
        require_full=full, **kw,
    )  # fmt: skip
    if best is None:
        with pytest.raises(InfeasibleError):
            model().solve()
        return
    res = model().solve()
    assert res.status == "optimal"
    assert res.objective == pytest.approx(best, abs=1e-6)
    assert res.site_load is not None
    op = _open(inst, tuple(res.selected))
    assert np.all(res.site_load[op] <= inst.cap[op] + 1e-6)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("a_counts", [False, True])
@pytest.mark.parametrize("case", ["plain", "budget"])
def test_one_plus_n_matches_brute_force(seed: int, a_counts: bool, case: str) -> None:
    inst, r_b, r_a, n_b = _instance(seed, ns=14, centre_every=2), 250.0, 400.0, 2
    kw = _constraint_kw(inst, case)
    kw.pop("forced", None)
    kw["budget"] = 4.0 if case == "budget" else None
    is_a = inst.kinds == "centre"
    have = set(inst.s_units[inst.existing & is_a])
    lacking = [u for u in UNITS if u not in have]
    a_opts = [[j for j in inst.cand if is_a[j] and inst.s_units[j] == u] for u in lacking]
    b_cands = [j for j in inst.cand if not is_a[j]]
    best: tuple[float, float] | None = None
    if all(a_opts):
        for a_pick in _product(a_opts):
            for k in range(n_b + 1):
                for b_pick in combinations(b_cands, k):
                    s = tuple(a_pick) + b_pick
                    if not _feasible(inst, s, kw["budget"]):
                        continue
                    op = _open(inst, s)
                    cols_b = op & (~is_a | a_counts)
                    val = (
                        float(inst.w[(inst.dist[:, cols_b] <= r_b).any(axis=1)].sum()),
                        float(inst.w[(inst.dist[:, op & is_a] <= r_a).any(axis=1)].sum()),
                    )
                    best = val if best is None or val > best else best
    model = lambda: siting.OnePlusN.from_cost_matrix(  # noqa: E731
        _sparse(inst.dist, r_b), _sparse(inst.dist, r_a), inst.w, n_b=n_b, kinds=inst.kinds,
        site_units=inst.s_units, demand_units=inst.d_units, a_counts_for_b=a_counts, **kw,
    )  # fmt: skip
    if best is None:
        with pytest.raises(InfeasibleError, match=r"no centre|no choice|budget"):
            model().solve()
        return
    res = model().solve()
    assert res.status == "optimal"
    assert (res.objective, res.secondary_objective) == pytest.approx(best, abs=1e-6)
    chosen = res.selected
    assert sum(1 for j in chosen if not is_a[j]) <= n_b
    for u in UNITS:  # one centre in every unit
        assert ((inst.existing | np.isin(np.arange(14), chosen)) & is_a & (inst.s_units == u)).any()


def _product(options: list[list[int]]):  # type: ignore[no-untyped-def]
    if not options:
        yield ()
        return
    for first in options[0]:
        for rest in _product(options[1:]):
            yield (first, *rest)


def _mid_instance(seed: int = 11, nd: int = 4000, ns: int = 400) -> tuple[Any, np.ndarray]:
    rng = np.random.default_rng(seed)
    dem = rng.uniform(0, 10_000, (nd, 2))
    sites = rng.uniform(0, 10_000, (ns, 2))
    from scipy.spatial import cKDTree

    m = cKDTree(dem).sparse_distance_matrix(cKDTree(sites), 700.0, output_type="coo_matrix")
    mat = sparse.csr_matrix((np.maximum(m.data, 1e-6), (m.row, m.col)), shape=(nd, ns))
    return mat, rng.integers(1, 30, nd).astype(float)


def test_time_limit_never_worse_than_heuristic() -> None:
    mat, w = _mid_instance()
    res = siting.MCLP.from_cost_matrix(mat, w, p=25).solve(time_limit_s=1e-3)
    assert res.status in ("time_limit", "heuristic")
    assert res.objective >= res.heuristic_objective - 1e-9
    assert res.best_bound >= res.objective - 1e-6
    assert np.isfinite(res.gap)
    quick = siting.PMedian.from_cost_matrix(mat, w, p=25).solve(time_limit_s=1e-3)
    assert quick.status in ("time_limit", "heuristic")
    assert quick.objective <= quick.heuristic_objective + 1e-6
    heur = siting.MCLP.from_cost_matrix(mat, w, p=25).solve(exact=False)
    assert heur.status == "heuristic" and heur.objective == pytest.approx(res.heuristic_objective)


def test_reduction_is_exact_on_a_larger_instance() -> None:
    mat, w = _mid_instance(seed=5, nd=1500, ns=120)
    existing = np.zeros(120, bool)
    existing[:10] = True
    kw = {"p": 6, "existing": existing}
    a = siting.MCLP.from_cost_matrix(mat, w, **kw)
    b = siting.MCLP.from_cost_matrix(mat, w, reduce=False, **kw)
    assert a.core.size["rows"] < b.core.size["rows"]
    assert a.core.size["variables"] < b.core.size["variables"]
    ra, rb = a.solve(), b.solve()
    assert ra.status == rb.status == "optimal"
    assert ra.objective == pytest.approx(rb.objective, rel=1e-12)


def test_coverage_curve_is_monotone_and_plots(tmp_path: Path) -> None:
    mat, w = _mid_instance(seed=3, nd=1200, ns=80)
    existing = np.zeros(80, bool)
    existing[:5] = True
    model = siting.MCLP.from_cost_matrix(mat, w, p=8, existing=existing)
    curve, sites = model.curve(8, progress=False)
    assert list(curve["p"]) == list(range(9))
    assert (curve["status"] == "optimal").all()
    assert (np.diff(curve["covered"]) >= -1e-9).all()
    assert curve["marginal_gain"].iloc[1:].sum() == pytest.approx(
        curve["covered"].iloc[-1] - curve["covered"].iloc[0]
    )
    for p in (3, 8):  # each point of the curve is the MCLP optimum
        single = siting.MCLP.from_cost_matrix(mat, w, p=p, existing=existing).solve()
        assert curve["covered"].iloc[p] == pytest.approx(single.objective)
    assert {"site_id", "p_greedy", "p_first_optimal", "optimal_at"} <= set(sites.columns)
    png = siting.plot_coverage_curve(curve, tmp_path / "curve.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


# --- infeasible requests -----------------------------------------------------------------


def test_lscp_target_above_reachable_says_what_is_reachable() -> None:
    inst = _instance(0)
    top = inst.dist[:, inst.cand].argmin(axis=1)
    forbid = [inst.ids[inst.cand[k]] for k in np.unique(top)[:3]]
    with pytest.raises(
        InfeasibleError, match=r"at best [\d,.]+ of the [\d,.]+ demand .*\(\d+\.\d+%\)"
    ):
        siting.LSCP.from_cost_matrix(
            _sparse(inst.dist, 280.0), inst.w, existing=inst.existing, site_ids=inst.ids,
            forbidden=forbid,
        )  # fmt: skip


def test_capacity_shortfall_gives_the_amount() -> None:
    inst = _instance(0)
    with pytest.raises(InfeasibleError, match=r"capacity falls short by [\d,]+\.\d"):
        siting.CapacitatedCoverage.from_cost_matrix(
            _sparse(inst.dist, 2000.0), inst.w, p=1, capacities=np.ones(10),
            existing=inst.existing, require_full=True,
        )  # fmt: skip


def test_budget_below_forced_cost() -> None:
    inst = _instance(0)
    with pytest.raises(InfeasibleError, match=r"budget 1 is below the cost of the forced sites, 3"):
        siting.MCLP.from_cost_matrix(
            _sparse(inst.dist, 280.0), inst.w, p=3, site_ids=inst.ids,
            costs=np.full(10, 1.5), forced=["S3", "S4"], budget=1.0,
        )  # fmt: skip


def test_equity_impossible_names_the_unit_and_its_best_share() -> None:
    inst = _instance(0)
    with pytest.raises(InfeasibleError, match=r"U\d: at best \d+\.\d%"):
        siting.MCLP.from_cost_matrix(
            _sparse(inst.dist, 150.0), inst.w, p=3, demand_units=inst.d_units,
            equity_share=0.99,
        )  # fmt: skip


def test_one_plus_n_unit_without_centre_candidate() -> None:
    inst = _instance(0, ns=12)
    kinds = np.array(["station"] * 12)
    with pytest.raises(InfeasibleError, match="no centre of kind 'centre'"):
        siting.OnePlusN.from_cost_matrix(
            _sparse(inst.dist, 250.0), _sparse(inst.dist, 400.0), inst.w, n_b=2, kinds=kinds,
            site_units=inst.s_units,
        )  # fmt: skip


# --- bad input ---------------------------------------------------------------------------


def test_bad_arrays_raise_clear_errors() -> None:
    inst = _instance(0)
    mat = _sparse(inst.dist, 280.0)
    with pytest.raises(InputError, match=r"Site id 'S1' is used 2 times"):
        siting.MCLP.from_cost_matrix(mat, inst.w, p=2, site_ids=["S0", "S1", "S1", *inst.ids[3:]])
    with pytest.raises(
        InputError, match=r"p=9 is larger than the number of candidate sites .* \(8"
    ):
        siting.MCLP.from_cost_matrix(mat, inst.w, p=9, existing=inst.existing)
    with pytest.raises(InputError, match=r"Site 'S4' has capacity -5"):
        cap = inst.cap.copy()
        cap[4] = -5
        siting.CapacitatedCoverage.from_cost_matrix(
            mat, inst.w, p=2, capacities=cap, site_ids=inst.ids
        )
    with pytest.raises(InputError, match=r"Site 'S5' has cost -1"):
        cost = np.ones(10)
        cost[5] = -1
        siting.MCLP.from_cost_matrix(mat, inst.w, p=2, site_ids=inst.ids, costs=cost)
    with pytest.raises(InputError, match=r"Forced site 'S99' is not a known site id"):
        siting.MCLP.from_cost_matrix(mat, inst.w, p=2, site_ids=inst.ids, forced=["S99"])
    with pytest.raises(InputError, match=r"'S4' is both forced and forbidden"):
        siting.MCLP.from_cost_matrix(
            mat, inst.w, p=2, site_ids=inst.ids, forced=["S4"], forbidden=["S4"]
        )
    with pytest.raises(InputError, match=r"40 weights.*transpose"):
        siting.MCLP.from_cost_matrix(mat.T, inst.w, p=2)
    with pytest.raises(InputError, match=r"Demand weight at row 3 is -1"):
        siting.MCLP.from_cost_matrix(mat, np.r_[inst.w[:3], -1.0, inst.w[4:]], p=2)


# --- geo layer ---------------------------------------------------------------------------

CRS = "EPSG:32650"
X0, Y0 = 500_000.0, 3_400_000.0


def _pts(xy: list[tuple[float, float]]) -> list[Point]:
    return [Point(X0 + x, Y0 + y) for x, y in xy]


@pytest.fixture
def grid_layers() -> SimpleNamespace:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 300, (60, 2))
    demand = gpd.GeoDataFrame(
        {
            "elderly": rng.integers(1, 10, 60).astype(float),
            "unit_id": np.where(xy[:, 0] < 150, "W", "E"),
        },
        geometry=_pts([tuple(p) for p in xy]),
        crs=CRS,
    )
    stations = gpd.GeoDataFrame(
        {"station_id": ["E1"], "kind": ["centre"], "capacity": [20.0], "unit_id": ["W"]},
        geometry=_pts([(0, 0)]),
        crs=CRS,
    )
    cands = [(300, 300), (150, 150), (300, 0), (0, 300), (200, 100), (100, 200)]
    candidates = gpd.GeoDataFrame(
        {
            "site_id": [f"K{i}" for i in range(6)],
            "kind": ["centre", "station", "station", "station", "centre", "station"],
            "capacity": [30.0, 25.0, 20.0, 15.0, 30.0, 10.0],
            "cost": [1.0, 1.0, 2.0, 1.0, 1.0, 1.0],
        },
        geometry=_pts(cands),
        crs=CRS,
    )
    candidates["unit_id"] = np.where(np.array(cands)[:, 0] < 150, "W", "E")
    return SimpleNamespace(demand=demand, stations=stations, candidates=candidates)


def test_site_stations_on_a_grid(grid_net: Any, grid_layers: SimpleNamespace) -> None:
    g = grid_layers
    res = siting.site_stations(
        grid_net, g.demand, g.stations, g.candidates, model="mclp", p=2, threshold_min=2.5
    )
    assert res.status == "optimal"
    cols = ["rank", "site_id", "kind", "lon", "lat", "unit_id", "elderly_newly_covered",
            "cumulative_share"]  # fmt: skip
    assert list(res.siting.columns[: len(cols)]) == cols
    assert res.siting["cumulative_share"].is_monotonic_increasing
    assert res.siting["cumulative_share"].iloc[-1] == pytest.approx(res.covered_share)
    for model, extra in [
        ("lscp", {}),
        ("pmedian", {"p": 2, "max_time_min": 5.0}),
        ("capacitated", {"p": 2, "demand_per_place": 1.0}),
        ("1+n", {"p": 1, "threshold_a_min": 4.0}),
    ]:
        r = siting.site_stations(
            grid_net, g.demand, g.stations, g.candidates, model=model, threshold_min=2.5,
            **extra,
        )  # fmt: skip
        assert r.status == "optimal" and r.model == model.replace("-", "")
        assert r.siting is not None and len(r.siting) == len(r.selected)
    one = siting.site_stations(
        grid_net, g.demand, g.stations, g.candidates, model="1+n", p=1, threshold_min=2.5
    )
    assert "E" in set(one.siting.loc[one.siting["kind"] == "centre", "unit_id"])


def test_coverage_curve_layer(grid_net: Any, grid_layers: SimpleNamespace) -> None:
    g = grid_layers
    curve, sites = siting.coverage_curve(
        grid_net, g.demand, g.stations, g.candidates, p_max=3, threshold_min=2.5
    )
    assert list(curve.columns[:6]) == ["p", "covered", "share", "marginal_gain", "gap", "status"]
    assert (np.diff(curve["share"]) >= 0).all() and (curve["status"] == "optimal").all()
    assert isinstance(sites, gpd.GeoDataFrame)
    assert {"site_id", "p_greedy", "p_first_optimal", "optimal_at", "lon", "lat"} <= set(sites)
    assert sites["p_greedy"].dropna().tolist() == [1, 2, 3]  # sorted by greedy entry


def test_results_are_deterministic() -> None:
    mat, w = _mid_instance(seed=2, nd=2000, ns=150)
    runs = [siting.PMedian.from_cost_matrix(mat, w, p=8).solve() for _ in range(2)]
    runs += [siting.MCLP.from_cost_matrix(mat, w, p=8).solve() for _ in range(2)]
    for a, b in (runs[:2], runs[2:]):
        assert a.selected.tolist() == b.selected.tolist()
        assert a.objective == b.objective
        assert a.added_demand.tolist() == b.added_demand.tolist()


def test_geo_errors(grid_net: Any, grid_layers: SimpleNamespace) -> None:
    g = grid_layers
    far = g.candidates.copy()
    far["geometry"] = _pts([(5000 + 10 * i, 5000) for i in range(6)])
    with pytest.raises(InputError, match=r"None of the 6 candidate sites lies within max_snap_m"):
        siting.MCLP.from_geodataframe(grid_net, g.demand, g.stations, far, p=1)
    some = g.candidates.copy()
    some.loc[5, "geometry"] = Point(X0 + 5000, Y0)
    model = siting.MCLP.from_geodataframe(grid_net, g.demand, g.stations, some, p=1)
    res = model.solve()
    assert list(res.excluded["site_id"]) == ["K5"]
    assert "max_snap_m" in res.excluded["reason"].iloc[0]
    dup = pd.concat([g.candidates, g.candidates.iloc[[0]]], ignore_index=True)
    with pytest.raises(InputError, match=r"'site_id' must be unique.*'K0'"):
        siting.MCLP.from_geodataframe(grid_net, g.demand, g.stations, dup, p=1)
    with pytest.raises(InputError, match=r"p=7 is larger than the number of candidate sites"):
        siting.MCLP.from_geodataframe(grid_net, g.demand, g.stations, g.candidates, p=7)
    neg = g.candidates.assign(capacity=[30.0, -2.0, 20.0, 15.0, 30.0, 10.0])
    with pytest.raises(InputError, match=r"Site 'K1' has capacity -2"):
        siting.CapacitatedCoverage.from_geodataframe(grid_net, g.demand, g.stations, neg, p=1)
    units = gpd.GeoDataFrame(
        {"unit_id": ["W"], "level": ["street"]},
        geometry=[Point(X0, Y0).buffer(1000)],
        crs=CRS,
    )
    with pytest.raises(InputError, match=r"level 'community' does not exist.*\['street'\]"):
        siting.OnePlusN.from_geodataframe(
            grid_net, g.demand, g.stations, g.candidates, n_b=1, units=units,
            unit_level="community",
        )  # fmt: skip
    with pytest.raises(InputError, match=r"Unknown siting model 'mclpp'. Did you mean 'mclp'"):
        siting.site_stations(grid_net, g.demand, g.stations, g.candidates, model="mclpp", p=1)


def test_generate_candidates_in_uncovered_areas(
    grid_net: Any, grid_layers: SimpleNamespace
) -> None:
    g = grid_layers
    cands = siting.generate_candidates(
        grid_net, g.demand, g.stations, threshold_min=2.0, spacing_m=120.0, step_m=50.0
    )
    assert len(cands) > 0
    assert (cands["travel_time_s_nearest_station"] > 120.0).all()
    xy = np.column_stack([cands.geometry.x, cands.geometry.y])
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    assert (d[np.triu_indices(len(xy), 1)] >= 120.0).all()
    assert cands["uncovered_nearby"].is_monotonic_decreasing
    res = siting.site_stations(grid_net, g.demand, g.stations, model="mclp", p=1,
                               threshold_min=2.0, candidate_spacing_m=120.0)  # fmt: skip
    assert res.status == "optimal" and res.selected_ids[0].startswith("G")


# --- Wuhan --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wuhan() -> SimpleNamespace:
    from planning import io, network, population, settings

    settings.progress = False
    net = network.read_network(ROOT / "data" / "wuhan_roads.gpkg")
    units = io.read_units(ROOT / "data" / "wuhan_units.gpkg")
    demand = population.demand_from_rasters(
        [ROOT / "data" / "wuhan_elderly_60plus.tif"],
        [ROOT / "data" / "wuhan_population_20plus.tif"],
        crs=net.crs,
        units=units,
    )
    stations = io.read_stations(ROOT / "data" / "wuhan_stations.gpkg")
    cands = io.read_stations(ROOT / "data" / "wuhan_candidates.gpkg", id_col="site_id")
    return SimpleNamespace(net=net, units=units, demand=demand, stations=stations, cands=cands)


def test_wuhan_mclp_p5(wuhan: SimpleNamespace) -> None:
    model = siting.MCLP.from_geodataframe(
        wuhan.net, wuhan.demand, wuhan.stations, wuhan.cands, p=5, threshold_min=15,
        max_snap_m=500,
    )  # fmt: skip
    res = model.solve(time_limit_s=60)
    assert res.status == "optimal"
    # plain greedy, computed here from the coverage pattern
    d, pat = model.data, model.pat
    covered = np.asarray(pat[:, np.flatnonzero(d.existing)].getnnz(axis=1) > 0)
    greedy = 0.0
    cand = pat[:, np.flatnonzero(~d.existing)].tocsc()
    for _ in range(5):
        gains = cand.T @ (d.weights * ~covered)
        k = int(np.argmax(gains))
        greedy += float(gains[k])
        covered[cand.indices[cand.indptr[k] : cand.indptr[k + 1]]] = True
    newly = res.objective - res.existing_covered
    assert newly >= greedy - 1e-6
    assert res.siting["elderly_newly_covered"].sum() == pytest.approx(newly)
    cols = ["rank", "site_id", "kind", "lon", "lat", "unit_id", "elderly_newly_covered",
            "cumulative_share"]  # fmt: skip
    assert list(res.siting.columns[:8]) == cols
    assert len(res.siting) == 5 and res.siting["site_id"].str.startswith("K").all()
    assert res.siting["unit_id"].notna().all()
    assert res.siting["lon"].min() > 114 and res.siting["lat"].max() < 31
    assert res.model_size["rows"] < len(wuhan.demand)


def test_siting_snaps_as_the_coverage_snapped(grid_net) -> None:
    """Siting on a coverage result's demand uses the coverage's snapping limit.

    On the 4 × 4 grid (100 m edges, 1 m/s, origin X0, Y0), one point is 50 m from a road
    and one 200 m above the top road. Covered with ``max_snap_m=100``, the far point is
    unreachable (share 10 / 30); siting with the default snapping agrees, and only an
    explicit 300 m limit reaches it (200 m off the road + 300 m along it < 15 min).
    """
    from conftest import CRS, X0, Y0

    from planning.coverage import compute_coverage

    demand = gpd.GeoDataFrame(
        {"elderly": [10.0, 20.0], "population": [10.0, 20.0], "unit_id": "U"},
        geometry=[Point(X0 + 150, Y0 + 150), Point(X0 + 300, Y0 + 500)],
        crs=CRS,
    )
    stations = gpd.GeoDataFrame(
        {"station_id": ["S1"], "kind": ["station"]}, geometry=[Point(X0, Y0 + 100)], crs=CRS
    )
    cand = gpd.GeoDataFrame(
        {"site_id": ["K1"], "kind": ["station"]}, geometry=[Point(X0 + 300, Y0)], crs=CRS
    )
    cov = compute_coverage(grid_net, demand, stations, None, thresholds_min=[15], max_snap_m=100)
    assert cov.totals["coverage_share_15min"] == pytest.approx(10 / 30)
    assert cov.demand.attrs["max_snap_m"] == 100.0
    res = siting.site_stations(grid_net, cov.demand, cov.stations, cand, p=1)
    assert res.existing_covered / res.total_demand == pytest.approx(10 / 30)
    far = siting.site_stations(grid_net, cov.demand, cov.stations, cand, p=1, max_snap_m=300)
    assert far.existing_covered / far.total_demand == pytest.approx(1.0)
