"""Benchmarks: the demo end to end, its gaps, and municipal-scale reach of 5,000 sites.

Run from the repository root::

    .venv/bin/python benchmarks/run.py            # all three
    .venv/bin/python benchmarks/run.py demo       # only the demo
    .venv/bin/python benchmarks/run.py gaps       # gap areas and best spots on the demo

The municipal benchmark needs the source data beside the repository
(``../shared/data/wuhan/roads_municipal`` and ``worldpop_elderly_municipal``); it is
skipped, with a message, when they are absent. Each benchmark measures a peer in the same
run: networkx's per-site bounded Dijkstra (``single_source_dijkstra_path_length`` with a
cutoff, what hand-written osmnx scripts do), timed on a subset of sites and scaled up.
Results are printed and written to ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "wuhan"
sys.path.insert(0, str(ROOT))

from planning import access, coverage, network, population, settings  # noqa: E402
from planning.workflow import run_scenario  # noqa: E402


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_demo(repeats: int = 3) -> dict[str, object]:
    """Time the demo scenario end to end (load, snap, times, areas, tables, map)."""
    settings.progress = False
    times = []
    timings: dict[str, float] = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            result = run_scenario(ROOT / "scenarios" / "wuhan-central.yaml", out_dir=out)
            times.append(time.perf_counter() - start)
            timings = result.timings_s
    return {
        "demand_points": len(result.coverage.demand),
        "stations": len(result.coverage.stations),
        "units": len(result.coverage.units),
        "wall_s_min": round(min(times), 2),
        "wall_s_median": round(float(np.median(times)), 2),
        "steps_s": timings,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def bench_gaps() -> dict[str, object]:
    """Time gap areas and best spots per threshold on the demo, and size the outputs."""
    settings.progress = False
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        result = run_scenario(ROOT / "scenarios" / "wuhan-central.yaml", out_dir=folder)
        cov, net = result.coverage, result.network
        for t in cov.thresholds_min:
            start = time.perf_counter()
            gaps = coverage.gap_areas(cov, t)
            areas_s = time.perf_counter() - start
            start = time.perf_counter()
            spots = coverage.best_spots(net, cov, gaps)
            spots_s = time.perf_counter() - start
            top = gaps.iloc[0]
            largest = {
                "gap_id": top["gap_id"],
                "unit_id": top["unit_id"],
                "elderly": round(float(top["elderly"]), 1),
                "area_ha": float(top["area_ha"]),
                "best_spot_elderly": round(float(spots["elderly_covered"].iloc[0]), 1),
            }
            out[f"{t:g}min"] = {
                "gaps": len(gaps),
                "elderly_uncovered": round(float(gaps["elderly"].sum()), 1),
                "largest": largest,
                "gap_areas_s": round(areas_s, 2),
                "best_spots_s": round(spots_s, 2),
            }
        sizes = {name: (Path(folder) / name).stat().st_size for name in ("map.html", "gaps.gpkg")}
        out["bytes"] = sizes
    return out


def _random_sites(net: network.Network, n: int, seed: int) -> object:
    import geopandas as gpd

    rng = np.random.default_rng(seed)
    edges = net.edges.geometry.values
    pick = rng.integers(0, len(edges), n)
    frac = rng.random(n)
    pts = [edges[k].interpolate(f, normalized=True) for k, f in zip(pick, frac, strict=True)]
    return gpd.GeoDataFrame({"site_id": np.arange(n)}, geometry=pts, crs=net.crs)


def _networkx_peer(
    net: network.Network, sites: object, demand: object, limit_s: float, n: int
) -> float:
    """Seconds per site for the usual hand-written osmnx/networkx script.

    Demand points go to their nearest node (KD-tree); each site runs a bounded Dijkstra
    from its nearest node and collects the demand points of the nodes reached. This does
    less than the engine (no edge interiors, no connectors), so the ratio is conservative.
    """
    from scipy.spatial import cKDTree

    g = nx.Graph()
    for u, v, t in zip(net.edges["u"], net.edges["v"], net.edges["travel_time_s"], strict=True):
        if not g.has_edge(u, v) or g[u][v]["t"] > t:
            g.add_edge(int(u), int(v), t=float(t))
    tree = cKDTree(net.nodes[["x", "y"]].to_numpy())
    dxy = np.column_stack([demand.geometry.x, demand.geometry.y])  # type: ignore[attr-defined]
    _, dnode = tree.query(dxy)
    by_node: dict[int, list[int]] = {}
    for i, node in enumerate(dnode.tolist()):
        by_node.setdefault(node, []).append(i)
    sxy = np.column_stack([sites.geometry.x, sites.geometry.y])  # type: ignore[attr-defined]
    _, snode = tree.query(sxy[:n])
    start = time.perf_counter()
    for node in snode.tolist():
        reached = nx.single_source_dijkstra_path_length(g, node, cutoff=limit_s, weight="t")
        [i for r in reached for i in by_node.get(r, ())]
    return (time.perf_counter() - start) / n


def bench_municipal(n_sites: int = 5000, peer_sites: int = 200) -> dict[str, object]:
    """Reach within 15 minutes of `n_sites` sites over the municipal roads and rasters."""
    roads = SHARED / "roads_municipal" / "osmWHmainRoad.shp"
    rasters = sorted((SHARED / "worldpop_elderly_municipal").glob("pop_*_wuhan.tif"))
    if not roads.exists() or len(rasters) != 10:
        return {"skipped": f"municipal source data not found under {SHARED}"}
    settings.progress = False
    out: dict[str, object] = {}
    start = time.perf_counter()
    # the municipal lines are not split at junctions: planar noding joins them
    net = network.network_from_lines(roads, noding="crossings", components="keep")
    out["network_s"] = round(time.perf_counter() - start, 2)
    out["network"] = {k: v for k, v in net.summary().items() if k != "excluded"}
    start = time.perf_counter()
    demand = population.demand_from_rasters(rasters, crs=net.crs)
    out["population_s"] = round(time.perf_counter() - start, 2)
    out["demand_points"] = len(demand)
    sites = _random_sites(net, n_sites, seed=20261123)
    start = time.perf_counter()
    snap_d = access.snap_points(net, demand)
    snap_s = access.snap_points(net, sites)  # type: ignore[arg-type]
    out["snap_s"] = round(time.perf_counter() - start, 2)
    start = time.perf_counter()
    mat = access.coverage_matrix(net, snap_s, snap_d, limit_s=900.0)
    reach_s = time.perf_counter() - start
    out["reach_s"] = round(reach_s, 2)
    out["coverage_nnz"] = int(mat.nnz)
    nbytes = mat.data.nbytes + mat.indices.nbytes + mat.indptr.nbytes
    out["coverage_mb"] = round(nbytes / 2**20, 1)
    out["dense_equivalent_mb"] = round(n_sites * len(demand) * 8 / 2**20, 1)
    per_site = _networkx_peer(net, sites, demand, 900.0, peer_sites)
    out["networkx_script_s_per_site"] = round(per_site, 5)
    out["networkx_script_s_extrapolated"] = round(per_site * n_sites, 2)
    out["speedup_vs_networkx_script"] = round(per_site * n_sites / reach_s, 1)
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return out


def main() -> None:
    """Run the benchmarks named on the command line (default: all)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", default=["demo", "gaps", "municipal"])
    args = parser.parse_args()
    results: dict[str, object] = {
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
    }
    if "demo" in args.which:
        results["demo"] = bench_demo()
    if "gaps" in args.which:
        results["gaps"] = bench_gaps()
    if "municipal" in args.which:
        results["municipal"] = bench_municipal()
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    (ROOT / "benchmarks" / "results.json").write_text(text + "\n", encoding="utf-8")


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
