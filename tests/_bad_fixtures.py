"""A small scenario cut from the embedded central-Wuhan data, for the bad-input catalogue.

Four planning units (HS-01 … HS-04), the roads within 800 m of them, the stations and
candidate sites there, and the WorldPop cells inside the units as a vector population
layer: a run takes seconds, and each catalogue case spoils one thing of it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
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
    handler = logging.StreamHandler(err)
    handler.setLevel(logging.WARNING)
    logger = logging.getLogger("planning")
    logger.addHandler(handler)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(["-q", *args])
        except SystemExit as exc:  # argparse
            rc = int(exc.code or 0)
        except Exception:
            traceback.print_exc(file=err)
            rc = 99
        finally:
            logger.removeHandler(handler)
    return rc, out.getvalue(), err.getvalue()


def write_scenario(folder: Path, data: dict[str, Any], name: str = "scenario.yaml") -> Path:
    """Write a scenario dict as YAML into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


#: Chinese register headers of the embedded developments' columns, as a bureau writes them.
REGISTER_HEADERS = {
    "dev_id": "项目编号",
    "name": "项目名称",
    "households": "户数",
    "facility_area_m2": "配建面积（㎡）",
    **{
        f"{side}_{m}": f"{word}{mw}日期"
        for side, word in (("housing", "住宅"), ("facility", "养老设施"))
        for m, mw in (
            ("planning", "规划许可"),
            ("construction", "开工"),
            ("acceptance", "竣工验收"),
            ("delivery", "交付"),
        )
    },
}


def register_frame() -> Any:
    """The embedded developments as a register table: Chinese headers, centre lon/lat."""
    dev = gpd.read_file(DATA / "wuhan_developments.gpkg", layer="developments")
    centre = dev.geometry.representative_point()
    table = dev[list(REGISTER_HEADERS)].rename(columns=REGISTER_HEADERS)
    return table.assign(经度=centre.x.round(6), 纬度=centre.y.round(6), 备注="")


def developments_layer() -> gpd.GeoDataFrame:
    """The embedded development polygons (EPSG:4326)."""
    return gpd.read_file(DATA / "wuhan_developments.gpkg", layer="developments")


@dataclass
class Ctx:
    """What a catalogue case works with: its own folder, the small inputs and scenario."""

    folder: Path
    paths: dict[str, Path]
    scenario: dict[str, Any]
    monkeypatch: Any = None

    def run(self, scenario: dict[str, Any] | None = None) -> list[str]:
        """Write the (spoiled) scenario and return the arguments of ``planning run``."""
        path = write_scenario(self.folder, self.scenario if scenario is None else scenario)
        return ["run", str(path), "--out", str(self.folder / "out")]

    def set(self, dotted: str, value: Any) -> list[str]:
        """Set one key of the scenario (``siting.p``; DELETE removes it) and run it."""
        *parents, last = dotted.split(".")
        node = self.scenario
        for key in parents:
            node = node.setdefault(key, {})
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
        return self.run()

    def file(self, name: str, content: bytes | str = b"") -> Path:
        """Write a file in the case folder and return its path."""
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path


DELETE = object()


@dataclass
class Case:
    """One bad input: how to make it, the exit status and what the message must say.

    `match` is a regular expression searched in stdout + stderr (dot matches newlines):
    it names the file, row or key, and the fix. `then` checks more of a finished run.
    """

    id: str
    make: Callable[[Ctx], list[str]]
    match: str
    rc: int = 2
    slow: bool = False
    then: Callable[[Ctx, str], None] | None = None


def params(cases: list[Case]) -> list[Any]:
    """Return the cases as pytest parameters (slow ones marked)."""
    import pytest

    return [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.slow else []) for c in cases]


def check_case(case: Case, ctx: Ctx) -> tuple[str, str]:
    """Run a case; assert its exit status, no traceback and the message; return the output."""
    ctx.folder.mkdir(parents=True, exist_ok=True)
    rc, out, err = run_cli(case.make(ctx))
    text = out + err
    assert "Traceback" not in text, text
    assert rc == case.rc, f"exit {rc} instead of {case.rc}:\n{text}"
    assert re.search(case.match, text, re.S), f"{case.match!r} not in:\n{text}"
    if case.rc == 0:
        check_accounting(ctx.folder / "out")
    if case.then is not None:
        case.then(ctx, text)
    return out, err


def check_accounting(out: Path) -> None:
    """Older people in = covered + uncovered + excluded, at every threshold of run.json."""
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    acc = record["accounting"]
    for key, row in acc.items():
        if key == "elderly_in":
            continue
        total = row["covered"] + row["uncovered"] + row["excluded_unreachable"]
        assert abs(total - acc["elderly_in"]) <= 1e-6 * max(1.0, acc["elderly_in"]), (key, row)
