"""Benchmark: many districts one after the other in one process, and as a batch on 2 workers.

Run from the repository root (needs the ``dask`` extra)::

    .venv/bin/python benchmarks/bench_batch.py            # the 13 municipal Wuhan districts
    .venv/bin/python benchmarks/bench_batch.py --quick    # the 7 embedded district scenarios

The municipal run builds one scenario per district of ``../shared/data/wuhan/districts``
(13 OSM district polygons) from the municipal main roads (``roads_municipal``, noded at
crossings, cut to the district grown by 2 km) and the municipal WorldPop 60+ rasters
(``worldpop_elderly_municipal``, the ten rasters summed, cells whose centre is in the
district), with units on a 5 km grid cut by the district and illustrative stations on
road vertices (one per 15,000 older people, at least 3; seeded). It is skipped, with a
message, when the source data are absent. ``--quick`` runs the embedded
``scenarios/wuhan-districts/*.yaml`` instead (siting and 四同步 included).

Each size (the first 3 districts, then all of them) is run twice in the same run: serially
with ``run_scenario`` in this process (what running ``planning run`` by hand gives), and
with ``planning.batch.run_many`` on a LocalCluster of 2 single-threaded worker processes.
Reported: wall times, speed-up, the peak resident memory of this process and of each
worker, per-district wall times, how the cost grows from 3 districts to all, and the load
average of the machine (others' processes slow both modes alike).
Results are printed and written to ``benchmarks/results/results_batch.json`` (``--quick``:
``results_batch_quick.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "wuhan"
sys.path.insert(0, str(ROOT))

from planning import settings  # noqa: E402
from planning.batch import run_many  # noqa: E402
from planning.workflow import run_scenario  # noqa: E402

CRS = "EPSG:4547"
SEED = 20261123
ROAD_BUFFER_M = 2000.0
UNIT_GRID_M = 5000.0
ELDERLY_PER_STATION = 15000.0
#: The central districts first, so that "the first 3" are comparable with --quick.
ORDER = ["JH", "QK", "JA", "HY", "WC", "QS", "HS", "DXH", "HN", "CD", "JX", "HP", "XZ"]
CODES = {
    "Jianghan District": "JH", "Qiaokou District": "QK", "Jiang'an District": "JA",
    "Hanyang District": "HY", "Wuchang District": "WC", "Qingshan District": "QS",
    "Hongshan District": "HS", "Dongxihu District": "DXH", "Hannan District": "HN",
    "Caidian District": "CD", "Jiangxia District": "JX", "Huangpi District": "HP",
    "Xinzhou District": "XZ",
}  # fmt: skip

_YAML = """\
name: wuhan-{code}
title: {{zh: "{zh} 15 分钟居家养老服务圈（基准测试）", en: "{en} (benchmark)"}}
language: zh
network: {{path: {gpkg}, layer: roads, noding: crossings}}
population: {{elderly: [{tif}]}}
stations: {{path: {gpkg}, layer: stations}}
units: {{path: {gpkg}, layer: units}}
walk_speed_m_s: 0.8
thresholds_min: [5, 10, 15]
max_snap_m: 500
rules: china-baseline
"""


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _elderly_sum(rasters: list[Path]) -> tuple[np.ndarray, dict]:
    """Sum the age/sex rasters cell by cell (NaN where every raster is nodata)."""
    layers = []
    for path in rasters:
        with rasterio.open(path) as src:
            values = src.read(1).astype(np.float64)
            values[~np.isfinite(values) | (values < -1e30)] = np.nan
            profile = src.profile
        layers.append(values)
    stack = np.stack(layers)
    total = np.nansum(stack, axis=0)
    total[np.isnan(stack).all(axis=0)] = np.nan
    return total, profile


def _district_raster(
    total: np.ndarray, profile: dict, area_wgs: shapely.Geometry, path: Path
) -> None:
    tr = profile["transform"]
    west, south, east, north = area_wgs.bounds
    c0, r0 = (int(np.floor(v)) for v in ~tr * (west, north))
    c1, r1 = (int(np.ceil(v)) for v in ~tr * (east, south))
    c0, r0 = max(c0 - 1, 0), max(r0 - 1, 0)
    c1, r1 = min(c1 + 1, total.shape[1]), min(r1 + 1, total.shape[0])
    win = Window(c0, r0, c1 - c0, r1 - r0)
    cut = total[r0:r1, c0:c1]
    wtr = window_transform(win, tr)
    cols, rows = np.meshgrid(np.arange(cut.shape[1]) + 0.5, np.arange(cut.shape[0]) + 0.5)
    x, y = wtr * (cols.ravel(), rows.ravel())
    inside = shapely.contains_xy(area_wgs, np.asarray(x), np.asarray(y)).reshape(cut.shape)
    out = np.where(inside & np.isfinite(cut), cut, -9999.0).astype(np.float32)
    meta = {
        "driver": "GTiff", "dtype": "float32", "count": 1, "nodata": -9999.0,
        "width": out.shape[1], "height": out.shape[0], "crs": profile["crs"],
        "transform": wtr, "compress": "deflate",
    }  # fmt: skip
    with rasterio.open(path, "w", **meta) as dst:
        dst.write(out, 1)


def _units(area: shapely.Geometry, code: str) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = area.bounds
    cells = [
        shapely.box(x, y, x + UNIT_GRID_M, y + UNIT_GRID_M)
        for x in np.arange(x0, x1, UNIT_GRID_M)
        for y in np.arange(y0, y1, UNIT_GRID_M)
    ]
    parts = [p for p in shapely.intersection(cells, area) if not p.is_empty and p.area > 1e4]
    return gpd.GeoDataFrame(
        {
            "unit_id": [f"{code}-{k:03d}" for k in range(1, len(parts) + 1)],
            "name": [f"{code} 网格单元 {k:03d}" for k in range(1, len(parts) + 1)],
            "level": "street",
        },
        geometry=parts,
        crs=CRS,
    )


def _stations(
    roads: gpd.GeoDataFrame, area: shapely.Geometry, n: int, seed: int
) -> gpd.GeoDataFrame:
    coords = shapely.get_coordinates(roads.geometry.values)
    inside = coords[shapely.contains_xy(area, coords[:, 0], coords[:, 1])]
    rng = np.random.default_rng(seed)
    pick = inside[rng.choice(len(inside), size=min(n, len(inside)), replace=False)]
    return gpd.GeoDataFrame(
        {
            "station_id": [f"S{k:03d}" for k in range(1, len(pick) + 1)],
            "kind": ["centre" if k % 3 == 0 else "station" for k in range(len(pick))],
            "capacity": 40,
        },
        geometry=shapely.points(pick + 15.0),
        crs=CRS,
    )


def build_municipal(folder: Path) -> list[Path]:
    """Write one scenario per municipal district into `folder`; return them in ORDER."""
    districts = gpd.read_file(SHARED / "districts" / "wuhan_admin.shp")
    roads = gpd.read_file(SHARED / "roads_municipal" / "osmWHmainRoad.shp").to_crs(CRS)
    rasters = sorted((SHARED / "worldpop_elderly_municipal").glob("pop_*_wuhan.tif"))
    total, profile = _elderly_sum(rasters)
    paths = {}
    for i, row in enumerate(districts.itertuples(index=False)):
        code = CODES[str(row.name)]
        area = gpd.GeoSeries([row.geometry], crs=districts.crs).to_crs(CRS).iloc[0]
        gpkg, tif = folder / f"{code}.gpkg", folder / f"{code}_elderly.tif"
        near = roads[roads.intersects(area.buffer(ROAD_BUFFER_M))]
        near.to_file(gpkg, layer="roads", driver="GPKG")
        _units(area, code).to_file(gpkg, layer="units", driver="GPKG")
        _district_raster(total, profile, row.geometry, tif)
        with rasterio.open(tif) as src:
            v = src.read(1)
            elderly = float(v[v != src.nodata].sum())
        n = max(3, round(elderly / ELDERLY_PER_STATION))
        _stations(near, area, n, SEED + i).to_file(gpkg, layer="stations", driver="GPKG")
        zh = str(row.locname).split(" (")[0]
        text = _YAML.format(code=code, zh=zh, en=row.name, gpkg=gpkg, tif=tif)
        paths[code] = folder / f"{code}.yaml"
        paths[code].write_text(text, encoding="utf-8")
    return [paths[c] for c in ORDER]


def run_serial(scenarios: list[Path], out: Path) -> dict[str, object]:
    """Run the scenarios one after the other in this process."""
    settings.progress = False
    per = {}
    start = time.perf_counter()
    for path in scenarios:
        t0 = time.perf_counter()
        result = run_scenario(path, out_dir=out / path.stem)
        per[result.scenario.name] = {
            "wall_s": round(time.perf_counter() - t0, 2),
            "demand_points": len(result.coverage.demand),
            "units": len(result.coverage.units),
            "elderly": round(float(result.coverage.totals["elderly"])),
        }
    return {
        "wall_s": round(time.perf_counter() - start, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "districts": per,
    }


def run_batch(scenarios: list[Path], out: Path, workers: int) -> dict[str, object]:
    """Run the scenarios as a batch on a local cluster of `workers` processes."""
    settings.progress = False
    start = time.perf_counter()
    res = run_many(scenarios, out, workers=workers)
    wall = time.perf_counter() - start
    peak: dict[str, float] = {}
    for r in res.records:
        peak[r["worker"]] = max(peak.get(r["worker"], 0.0), float(r.get("peak_rss_mb") or 0.0))
    return {
        "wall_s": round(wall, 2),
        "failed": [r["name"] for r in res.failed],
        "peak_rss_mb_per_worker": peak,
        "districts": {
            r["name"]: {"wall_s": r["wall_s"], "worker": r["worker"]} for r in res.records
        },
    }


def compare(scenarios: list[Path], workers: int) -> dict[str, object]:
    """Run `scenarios` serially and as a batch, in the same run; return both and the speed-up."""
    with tempfile.TemporaryDirectory() as tmp:
        serial = run_serial(scenarios, Path(tmp) / "serial")
        batch = run_batch(scenarios, Path(tmp) / "batch", workers)
    speed = float(serial["wall_s"]) / float(batch["wall_s"])  # type: ignore[arg-type]
    return {
        "n": len(scenarios),
        "serial": serial,
        "batch": batch,
        "speedup": round(speed, 2),
        "load_avg_1min_after": round(os.getloadavg()[0], 1),  # other users of the machine
    }


def main() -> int:
    """Run the benchmark and write its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 7 embedded district scenarios")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, object] = {
        "machine": {"python": platform.python_version(), "cpus": len(os.sched_getaffinity(0))},
        "workers": args.workers,
    }
    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            scenarios = sorted((ROOT / "scenarios" / "wuhan-districts").glob("*.yaml"))
            results["data"] = "embedded: scenarios/wuhan-districts (7 central districts)"
        elif not (SHARED / "roads_municipal" / "osmWHmainRoad.shp").exists():
            print(f"skipped: the municipal source data are not under {SHARED}; try --quick")
            return 0
        else:
            scenarios = build_municipal(Path(tmp))
            results["data"] = "municipal: 13 districts of ../shared/data/wuhan"
        name = "results_batch_quick.json" if args.quick else "results_batch.json"
        small = compare(scenarios[:3], args.workers)
        results["first_3"] = small
        _write(results, name)  # keep the first figures if the full run is cut short
        full = compare(scenarios, args.workers)
    results["all"] = full
    results["growth"] = {
        "districts": [3, len(scenarios)],
        "serial_s": [small["serial"]["wall_s"], full["serial"]["wall_s"]],  # type: ignore[index]
        "batch_s": [small["batch"]["wall_s"], full["batch"]["wall_s"]],  # type: ignore[index]
    }
    print(_write(results, name))
    return 0


def _write(results: dict[str, object], name: str) -> str:
    text = json.dumps(results, indent=2, ensure_ascii=False)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / name).write_text(text + "\n", encoding="utf-8")
    return text


if __name__ == "__main__":
    raise SystemExit(main())
