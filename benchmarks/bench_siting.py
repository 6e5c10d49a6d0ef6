"""Benchmark: `planning.siting` MCLP against PySAL spopt (PuLP/CBC) on central Wuhan.

Run from the repository root::

    .venv/bin/python benchmarks/bench_siting.py                 # (a) and (b)
    .venv/bin/python benchmarks/bench_siting.py --skip-large    # (a) only
    .venv/bin/python benchmarks/bench_siting.py --spopt-large   # also try spopt on (b)

Instances, built once from the embedded data (walking 0.8 m/s, 15-minute threshold,
max_snap_m = 500 m) and shared by both solvers:

* (a) 5,000 demand cells (seeded sample of the 50,721) × 500 sites, p = 20 new sites,
  twice: a0 without existing stations (500 candidates: the 400 illustrative ones and
  100 generated), a1 with the 147 existing stations fixed (spopt:
  ``predefined_facilities_arr``) and 353 candidates;
* (b) all demand cells × the 147 stations, the 400 candidates and generated ones
  (:func:`planning.siting.generate_candidates`, 100 m spacing) to exceed 5,000
  candidates, p = 100; our solver with a 120 s limit. spopt is tried only with
  ``--spopt-large``, under a 600 s timeout and a 16 GB address-space cap.

Each solver runs in its own process (so peak RSS is its own) from the same sparse
coverage matrix saved to disk; spopt gets the dense matrix it needs (built in its process
only). Wall times cover ``from_cost_matrix`` + ``solve``. Output: a JSON summary printed
and written to ``benchmarks/siting_results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

THRESHOLD_MIN = 15.0
MAX_SNAP_M = 500.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build_instances(folder: Path, large: bool) -> dict[str, Any]:
    """Compute the coverage matrices once and save them as .npz files."""
    from planning import access, io, network, population, settings, siting

    settings.progress = False
    t0 = time.perf_counter()
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
    gen = siting.generate_candidates(
        net, demand, stations, threshold_min=THRESHOLD_MIN, spacing_m=100.0, step_m=30.0,
        max_snap_m=MAX_SNAP_M,
    )  # fmt: skip
    info: dict[str, Any] = {"load_s": round(time.perf_counter() - t0, 2), "generated": len(gen)}
    limit = THRESHOLD_MIN * 60.0
    snap_d = access.snap_points(net, demand, max_snap_m=MAX_SNAP_M)
    w = demand["elderly"].to_numpy(float)

    def matrix(site_layers: list[Any]) -> sparse.csr_matrix:
        snaps = [access.snap_points(net, s, max_snap_m=MAX_SNAP_M) for s in site_layers]
        mats = [access.coverage_matrix(net, s, snap_d, limit_s=limit) for s in snaps]
        return sparse.vstack(mats).T.tocsr()

    t1 = time.perf_counter()
    full_st = matrix([stations])
    full_ca = matrix([cands])
    full_ge = matrix([gen])
    info["coverage_matrix_s"] = round(time.perf_counter() - t1, 2)
    rng = np.random.default_rng(20261123)
    rows = np.sort(rng.choice(len(w), 5000, replace=False))
    a0 = sparse.hstack([full_ca, full_ge[:, :100]]).tocsr()[rows]
    a1 = sparse.hstack([full_st, full_ca[:, :353]]).tocsr()[rows]
    out = {
        "a0": _save(folder, "a0", a0, w[rows], 0, 20),
        "a1": _save(folder, "a1", a1, w[rows], full_st.shape[1], 20),
    }
    if large:
        b = sparse.hstack([full_st, full_ca, full_ge]).tocsr()
        out["b"] = _save(folder, "b", b, w, full_st.shape[1], 100)
    info["instances"] = out
    return info


def _save(
    folder: Path, name: str, m: sparse.csr_matrix, w: np.ndarray, n_existing: int, p: int
) -> dict[str, Any]:
    path = folder / f"{name}.npz"
    existing = np.zeros(m.shape[1], bool)
    existing[:n_existing] = True
    np.savez(path, data=m.data, indices=m.indices, indptr=m.indptr, shape=m.shape, w=w,
             existing=existing, p=p)  # fmt: skip
    return {
        "path": str(path),
        "demand_points": int(m.shape[0]),
        "sites": int(m.shape[1]),
        "existing": n_existing,
        "candidates": int(m.shape[1] - n_existing),
        "p": p,
        "nnz": int(m.nnz),
        "density": round(m.nnz / (m.shape[0] * m.shape[1]), 5),
    }


def _load(path: str) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray, int]:
    z = np.load(path)
    m = sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
    return m, z["w"], z["existing"], int(z["p"])


def child_ours(path: str, time_limit_s: float) -> dict[str, Any]:
    """Solve with planning.siting from the sparse matrix; report time, RSS and sizes."""
    from planning import settings, siting

    settings.progress = False
    m, w, existing, p = _load(path)
    base = _rss_mb()
    t0 = time.perf_counter()
    model = siting.MCLP.from_cost_matrix(m, w, p=p, existing=existing, threshold_s=900.0)
    t_build = time.perf_counter() - t0
    res = model.solve(time_limit_s=time_limit_s, threads=2)
    wall = time.perf_counter() - t0
    return {
        "solver": "planning.siting (HiGHS)",
        "wall_s": round(wall, 4),
        "build_and_reduce_s": round(t_build, 4),
        "heuristic_s": round(res.timings_s.get("heuristic_s", 0.0), 4),
        "exact_s": round(res.timings_s.get("exact_s", 0.0), 4),
        "status": res.status,
        "objective": res.objective,
        "best_bound": res.best_bound,
        "gap": res.gap,
        "heuristic_objective": res.heuristic_objective,
        "covered_share": res.covered_share,
        "selected": len(res.selected),
        "model_size": res.model_size,
        "rss_before_mb": round(base, 1),
        "peak_rss_mb": round(_rss_mb(), 1),
    }


def child_spopt(path: str) -> dict[str, Any]:
    """Solve with spopt MCLP.from_cost_matrix + PuLP/CBC on the dense matrix."""
    import pulp
    from spopt.locate import MCLP

    m, w, existing, p = _load(path)
    base = _rss_mb()
    t0 = time.perf_counter()
    dense = np.full(m.shape, np.inf)
    coo = m.tocoo()
    dense[coo.row, coo.col] = coo.data
    t_dense = time.perf_counter() - t0
    pre = existing.astype(int) if existing.any() else None
    model = MCLP.from_cost_matrix(
        dense, w, service_radius=900.0, p_facilities=int(existing.sum()) + p,
        predefined_facilities_arr=pre,
    )  # fmt: skip
    t_build = time.perf_counter() - t0
    model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    wall = time.perf_counter() - t0
    return {
        "solver": f"spopt {_version('spopt')} + PuLP {pulp.__version__} / CBC",
        "wall_s": round(wall, 3),
        "dense_matrix_s": round(t_dense, 3),
        "build_s": round(t_build, 3),
        "status": pulp.LpStatus[model.problem.status],
        "objective": float(pulp.value(model.problem.objective)),
        "rss_before_mb": round(base, 1),
        "peak_rss_mb": round(_rss_mb(), 1),
    }


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def run_child(args: list[str], timeout_s: float, mem_gb: float | None = None) -> dict[str, Any]:
    """Run one solver in its own process; report a timeout or failure instead of crashing."""

    def limit() -> None:
        if mem_gb is not None:
            cap = int(mem_gb * 1024**3)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    cmd = [sys.executable, __file__, "--child", *args]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, preexec_fn=limit, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout_s:.0f} s (killed)"}
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-3:]
        wall = time.perf_counter() - t0
        return {"error": f"failed after {wall:.0f} s: {' | '.join(tail)}"}
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Build the instances, run both solvers on each, print and save the summary."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs="+")
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--spopt-large", action="store_true")
    args = ap.parse_args()
    if args.child:
        kind, path, *rest = args.child
        res = child_ours(path, float(rest[0])) if kind == "ours" else child_spopt(path)
        print(json.dumps(res, default=float))
        return
    summary: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "threshold_min": THRESHOLD_MIN,
        "max_snap_m": MAX_SNAP_M,
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        info = build_instances(Path(tmp), large=not args.skip_large)
        summary["data"] = {k: v for k, v in info.items() if k != "instances"}
        results = {}
        for name, inst in info["instances"].items():
            large = name == "b"
            ours = run_child(["ours", inst["path"], "120" if large else "60"], 900)
            if large and not args.spopt_large:
                spopt: dict[str, Any] = {"skipped": "not run (pass --spopt-large)"}
            else:
                spopt = run_child(["spopt", inst["path"]], 600 if large else 1800, 16.0)
            entry = {"instance": {k: v for k, v in inst.items() if k != "path"}, "ours": ours,
                     "spopt": spopt}  # fmt: skip
            if "objective" in ours and "objective" in spopt:
                entry["same_objective"] = bool(
                    abs(ours["objective"] - spopt["objective"])
                    <= 1e-6 * max(1.0, ours["objective"])
                )
                entry["speedup"] = round(spopt["wall_s"] / ours["wall_s"], 1)
            results[name] = entry
            print(name, json.dumps(entry, default=float), flush=True)
        summary["results"] = results
    text = json.dumps(summary, indent=2, default=float)
    print(text)
    (ROOT / "benchmarks" / "siting_results.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
