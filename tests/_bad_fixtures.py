"""A small scenario cut from the embedded central-Wuhan data, for the bad-input catalogue.

Four planning units (HS-01 … HS-04), the roads within 800 m of them, the stations and
candidate sites there, and the WorldPop cells inside the units as a vector population
layer: a run takes seconds, and each catalogue case spoils one thing of it.
"""

from __future__ import annotations

import contextlib
import io
import traceback
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import yaml

from planning import cli, population

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
UNITS = ("HS-01", "HS-02", "HS-03", "HS-04")


def build_small(folder: Path) -> dict[str, Path]:
    """Write the small inputs into `folder`; return their paths by name."""
    folder.mkdir(parents=True, exist_ok=True)
    units = gpd.read_file(DATA / "wuhan_units.gpkg", layer="units")
    units = units[units["unit_id"].isin(UNITS)].reset_index(drop=True)
    x0, y0, x1, y1 = units.total_bounds + np.array([-800.0, -800.0, 800.0, 800.0])
    roads = gpd.read_file(DATA / "wuhan_roads.gpkg", layer="roads").cx[x0:x1, y0:y1]

    def near(name: str, layer: str) -> gpd.GeoDataFrame:
        gdf = gpd.read_file(DATA / f"wuhan_{name}.gpkg", layer=layer)
        return gdf.to_crs(units.crs).cx[x0:x1, y0:y1].to_crs(4326).reset_index(drop=True)

    stations, candidates = near("stations", "stations"), near("candidates", "candidates")
    demand = population.demand_from_rasters(
        [DATA / "wuhan_elderly_60plus.tif"],
        [DATA / "wuhan_population_20plus.tif"],
        crs=units.crs,
        units=units,
    )
    demand = demand[demand["unit_id"].notna()][["population", "elderly", "geometry"]]
    paths = {
        "roads": folder / "roads.gpkg",
        "units": folder / "units.gpkg",
        "stations": folder / "stations.gpkg",
        "candidates": folder / "candidates.gpkg",
        "population": folder / "population.gpkg",
        "stations_csv": folder / "stations.csv",
    }
    roads.to_file(paths["roads"], layer="roads")
    units.to_file(paths["units"], layer="units")
    stations.to_file(paths["stations"], layer="stations")
    candidates.to_file(paths["candidates"], layer="candidates")
    demand.reset_index(drop=True).to_file(paths["population"], layer="cells")
    table = stations.drop(columns="geometry").assign(
        lon=stations.geometry.x.round(6), lat=stations.geometry.y.round(6)
    )
    table.to_csv(paths["stations_csv"], index=False, encoding="utf-8")
    return paths


def base_scenario(paths: dict[str, Path]) -> dict[str, Any]:
    """Return the small scenario (absolute paths), valid and fast to run."""
    return {
        "name": "small",
        "network": {"path": str(paths["roads"]), "layer": "roads"},
        "population": {
            "path": str(paths["population"]),
            "layer": "cells",
            "elderly_col": "elderly",
            "population_col": "population",
        },
        "stations": {"path": str(paths["stations"]), "layer": "stations"},
        "units": {"path": str(paths["units"]), "layer": "units"},
        "thresholds_min": [5, 15],
        "max_snap_m": 500,
        "language": "en",
    }


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """Run ``planning ARGS`` in this process; return (exit status, stdout, stderr).

    An exception that escapes the command line is returned as status 99 with its
    traceback in stderr, so that a test can say it printed one.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(["-q", *args])
        except SystemExit as exc:  # argparse
            rc = int(exc.code or 0)
        except Exception:
            traceback.print_exc(file=err)
            rc = 99
    return rc, out.getvalue(), err.getvalue()


def write_scenario(folder: Path, data: dict[str, Any], name: str = "scenario.yaml") -> Path:
    """Write a scenario dict as YAML into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
