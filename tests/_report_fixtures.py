"""Small synthetic runs for the map, report and browser tests (no files, under a second).

A 4 × 4 grid of 100 m roads at 1 m/s (EPSG:32650, near 117°E 30.7°N), demand points
every 50 m, two units (names chosen to try HTML and template injection) and two
stations; thresholds 1, 2 and 3 minutes (60, 120, 180 m). Fake siting and compliance
results have the shapes of ``planning.siting.SitingResult.siting`` and
``planning.compliance.ComplianceResult.geo``.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planning import standards
from planning.coverage import compute_coverage
from planning.network import network_from_lines
from planning.results import RunResult
from planning.scenario import scenario_from_dict

CRS = "EPSG:32650"
X0, Y0 = 500_000.0, 3_400_000.0
EVIL = "<script>alert(1)</script>"
BRACES = "{{ 7*7 }} {% bad"


def grid_lines(n: int = 4, step: float = 100.0) -> gpd.GeoDataFrame:
    lines = []
    for i in range(n):
        for j in range(n - 1):
            lines.append([(X0 + j * step, Y0 + i * step), (X0 + (j + 1) * step, Y0 + i * step)])
            lines.append([(X0 + i * step, Y0 + j * step), (X0 + i * step, Y0 + (j + 1) * step)])
    return gpd.GeoDataFrame(geometry=[shapely.LineString(c) for c in lines], crs=CRS)


def tiny_inputs(seed: int = 7) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    xs, ys = np.meshgrid(np.arange(25.0, 300.0, 50.0), np.arange(25.0, 300.0, 50.0))
    x, y = xs.ravel(), ys.ravel()
    elderly = rng.integers(5, 40, len(x)).astype(float)
    demand = gpd.GeoDataFrame(
        {
            "population": elderly * 4,
            "elderly": elderly,
            "unit_id": np.where(x < 150, "U1", "U2"),
            "source": "synthetic",
        },
        geometry=gpd.points_from_xy(X0 + x, Y0 + y),
        crs=CRS,
    )
    demand.attrs["cell_size_m"] = 50.0
    units = gpd.GeoDataFrame(
        {"unit_id": ["U1", "U2"], "name": [EVIL, BRACES], "level": ["street", "street"]},
        geometry=[
            shapely.box(X0, Y0, X0 + 150, Y0 + 300),
            shapely.box(X0 + 150, Y0, X0 + 300, Y0 + 300),
        ],
        crs=CRS,
    )
    stations = gpd.GeoDataFrame(
        {
            "station_id": ["S1", "S2", "S3"],
            "name": ["centre <b>1</b>", "station 2", "day care {{ 3 }}"],
            "kind": ["centre", "station", "daycare"],
            "capacity": [40.0, 20.0, 10.0],
            "status": "existing",
        },
        geometry=gpd.points_from_xy([X0 + 10, X0 + 290, X0 + 100], [Y0 + 10, Y0 + 200, Y0 + 100]),
        crs=CRS,
    )
    return {"demand": demand, "units": units, "stations": stations}


def tiny_run(
    *,
    language: str = "zh",
    year: int = 2026,
    stations: gpd.GeoDataFrame | None = None,
    extra: dict[str, Any] | None = None,
    base_dir: Path | str = ".",
) -> RunResult:
    """Return a computed (not written) run of the synthetic district."""
    inputs = tiny_inputs()
    net = network_from_lines(grid_lines(), crs=CRS, walk_speed_m_s=1.0)
    rules = standards.load_rules("china-baseline")
    cov = compute_coverage(
        net,
        inputs["demand"],
        inputs["stations"] if stations is None else stations,
        inputs["units"],
        thresholds_min=[1, 2, 3],
        max_snap_m=100,
        targets=list(rules.targets),
    )
    data = {
        "name": "tiny",
        "title": {"zh": "测试区 <i>tiny</i>", "en": "Test district <i>tiny</i>"},
        "year": year,
        "language": language,
        "network": "roads.gpkg",
        "population": {"elderly": ["elderly.tif"]},
        "stations": "stations.gpkg",
        "thresholds_min": [1, 2, 3],
        "max_snap_m": 100,
        **(extra or {}),
    }
    sc = scenario_from_dict(data, base_dir=base_dir)
    return RunResult(sc, rules, net, cov, inputs["units"])


def fake_siting(result: RunResult) -> SimpleNamespace:
    """Return an object shaped like ``SitingResult`` (its ``siting`` layer) with 2 sites."""
    pts = gpd.GeoSeries(
        gpd.points_from_xy([X0 + 200, X0 + 50], [Y0 + 50, Y0 + 250]), crs=CRS
    ).to_crs(4326)
    sites = gpd.GeoDataFrame(
        {
            "rank": [1, 2],
            "site_id": ["K1", "K2 <b>"],
            "kind": ["station", "station"],
            "lon": pts.x,
            "lat": pts.y,
            "unit_id": ["U2", "U1"],
            "elderly_newly_covered": [120.0, 80.0],
            "cumulative_share": [0.6, 0.7],
        },
        geometry=pts.values,
        crs=4326,
    )
    return SimpleNamespace(siting=sites)


def fake_curve() -> pd.DataFrame:
    return pd.DataFrame(
        {"p": [0, 1, 2], "covered": [400.0, 520.0, 600.0], "share": [0.5, 0.6, 0.7]}
    )


def fake_compliance() -> SimpleNamespace:
    """Return an object shaped like ``ComplianceResult`` (its ``geo`` layer)."""
    polys = gpd.GeoSeries(
        [
            shapely.box(X0 + 20, Y0 + 20, X0 + 80, Y0 + 80),
            shapely.box(X0 + 200, Y0 + 200, X0 + 260, Y0 + 260),
            shapely.Point(X0 + 220, Y0 + 40),
        ],
        crs=CRS,
    ).to_crs(4326)
    geo = gpd.GeoDataFrame(
        {
            "dev_id": ["D1", "D2", "D3"],
            "name": ["新区 <img src=x onerror=alert(2)>", "B", "C"],
            "verdict": ["FAIL", "PASS", "UNKNOWN"],
            "reasons_zh": ["配建面积不足 20 m²", "", "缺少交付日期"],
            "reasons_en": ["facility 20 m² short", "", "no delivery date"],
            "acceptance_withheld": [True, False, False],
        },
        geometry=polys.values,
        crs=4326,
    )
    return SimpleNamespace(geo=geo)
