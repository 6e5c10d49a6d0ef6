"""Demand points (population and elderly) from rasters, vector layers or census tables.

Every function returns a GeoDataFrame of points in a projected metric CRS with the
columns ``demand_id``, ``population``, ``elderly``, ``unit_id`` and ``source``, and a
report of what was excluded in ``gdf.attrs["report"]`` (a list of dicts with ``item``,
``reason``, ``count``, ``population``, ``elderly``). Cells without people are counted,
never silently lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from pyproj import CRS
from rasterio.transform import xy as cell_xy

from planning._errors import InputError
from planning._files import read_vector
from planning._validate import (
    describe,
    require_columns,
    require_crs,
    require_not_empty,
    require_numeric,
    require_unique,
)

log = logging.getLogger(__name__)

DEMAND_COLUMNS = ["demand_id", "population", "elderly", "unit_id", "source", "geometry"]
PathLike = str | Path


def _as_list(paths: PathLike | Sequence[PathLike]) -> list[PathLike]:
    return [paths] if isinstance(paths, str | Path) else list(paths)


def _read_sum(
    paths_in: PathLike | Sequence[PathLike], what: str
) -> tuple[np.ndarray, dict[str, Any]]:
    """Sum rasters on one grid; return the sum (NaN where every input is nodata) and grid."""
    paths = _as_list(paths_in)
    if not paths:
        msg = f"No {what} raster given: list at least one GeoTIFF."
        raise InputError(msg)
    total: np.ndarray | None = None
    valid: np.ndarray | None = None
    grid: dict[str, Any] = {}
    stats = {"negative_cells": 0, "negative_sum": 0.0}
    for path in paths:
        arr, ok, this = _read_band(Path(path))
        if not grid:
            grid = this
        elif (this["shape"], this["transform"], this["crs"]) != (
            grid["shape"],
            grid["transform"],
            grid["crs"],
        ):
            msg = (
                f"Raster {describe(path)} is not on the grid of {describe(grid['path'])} "
                f"(shape {this['shape']} vs {grid['shape']}, transform or CRS differ). "
                "Resample all rasters onto one grid first (e.g. `gdalwarp -tap -tr`)."
            )
            raise InputError(msg)
        neg = ok & (arr < 0)
        stats["negative_cells"] += int(neg.sum())
        stats["negative_sum"] += float(arr[neg].sum())
        arr = np.where(ok & (arr > 0), arr, 0.0)
        total = arr if total is None else total + arr
        valid = ok if valid is None else valid | ok
    assert total is not None and valid is not None
    if not valid.any():
        msg = (
            f"The {what} raster(s) {', '.join(map(str, paths))} hold only nodata cells. "
            "Check the nodata value and that the files cover the study area."
        )
        raise InputError(msg)
    if not (total[valid] > 0).any():
        msg = (
            f"The {what} raster(s) {', '.join(map(str, paths))} hold no positive count: all "
            f"{int(valid.sum())} valid cells are 0 or negative ({stats['negative_cells']} "
            "negative). Check that the band holds people counts and its nodata value (e.g. "
            "`gdalinfo -stats`)."
        )
        raise InputError(msg)
    grid.update(stats)
    return np.where(valid, total, np.nan), grid


def _read_band(path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    if not path.exists():
        msg = f"Raster {describe(path)} does not exist. Check the path."
        raise InputError(msg)
    try:
        with rasterio.open(path) as src:
            arr = src.read(1, masked=True)
            grid = {
                "path": str(path),
                "shape": src.shape,
                "transform": src.transform,
                "crs": src.crs,
            }
    except rasterio.errors.RasterioIOError as exc:
        msg = f"Cannot read raster {describe(path)}: {exc}. Is it a GeoTIFF?"
        raise InputError(msg) from exc
    if grid["crs"] is None:
        msg = (
            f"Raster {describe(path)} has no CRS. Assign one, e.g. `gdal_edit.py -a_srs EPSG:4326`."
        )
        raise InputError(msg)
    data = np.asarray(arr.filled(np.nan), dtype=float)
    ok = ~np.ma.getmaskarray(arr) & np.isfinite(data) & (np.abs(data) < 1e30)
    return data, ok, grid


def demand_from_rasters(
    elderly: PathLike | Sequence[PathLike],
    population: PathLike | Sequence[PathLike] | None = None,
    *,
    crs: Any,
    units: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Build demand points at raster cell centres, summing one or many rasters.

    Give the age/sex groups as lists to sum them (e.g. the ten WorldPop 60–80+
    female/male rasters for `elderly`). Nodata cells (in every input) and cells with no
    people are counted in the report; negative values are set to 0 and counted.

    Parameters
    ----------
    elderly : path or list of paths
        Rasters of older people (persons per cell) on one grid.
    population : path or list of paths, optional
        Rasters of the total population on the same grid; when omitted, ``population``
        equals ``elderly`` and the report says so.
    crs : CRS-like
        Projected metric CRS of the output (usually the network's).
    units : geopandas.GeoDataFrame, optional
        Neighbourhoods with ``unit_id``; each point gets the unit it lies in.

    Returns
    -------
    geopandas.GeoDataFrame
        Demand points with ``cell_size_m`` (√(width·height)) and ``cell_shape_m``
        (width, height) in ``attrs``.

    """
    eld, grid = _read_sum(elderly, "elderly")
    report = _raster_report(grid, "elderly")
    if population is None:
        pop = eld.copy()
        report.append(_item("population", "no population raster: population = elderly", 0))
    else:
        pop, pgrid = _read_sum(population, "population")
        if (pgrid["shape"], pgrid["transform"], pgrid["crs"]) != (
            grid["shape"],
            grid["transform"],
            grid["crs"],
        ):
            msg = (
                f"Population raster {describe(pgrid['path'])} is not on the grid of the elderly "
                f"raster {describe(grid['path'])} (shape {pgrid['shape']} vs {grid['shape']}, "
                "or the transform or CRS differ). Resample one onto the other's grid first."
            )
            raise InputError(msg)
        report += _raster_report(pgrid, "population")
    nodata = np.isnan(eld) & np.isnan(pop)
    eld, pop = np.nan_to_num(eld), np.nan_to_num(pop)
    empty = ~nodata & (eld <= 0) & (pop <= 0)
    report.append(_item("raster cells", "nodata in every input", int(nodata.sum())))
    report.append(_item("raster cells", "no people (0 population and 0 elderly)", int(empty.sum())))
    rows, cols = np.nonzero(~nodata & ~empty)
    xs, ys = cell_xy(grid["transform"], rows, cols, offset="center")
    pts = gpd.GeoDataFrame(
        {"population": pop[rows, cols], "elderly": eld[rows, cols]},
        geometry=gpd.points_from_xy(xs, ys),
        crs=grid["crs"],
    )
    names = [Path(p).name for p in _as_list(elderly)]
    label = names[0] if len(names) == 1 else f"{names[0]} + {len(names) - 1} more"
    out = _finish(pts, crs=crs, units=units, source=f"raster:{label}")
    dx, dy = _cell_shape_m(grid, out)
    out.attrs["cell_size_m"] = float(np.sqrt(dx * dy))
    out.attrs["cell_shape_m"] = (dx, dy)
    out.attrs["grid"] = {
        "crs": CRS.from_user_input(grid["crs"]).to_wkt(),
        "transform": tuple(grid["transform"])[:6],
    }
    out.attrs["report"] = report + out.attrs["report"]
    return out


def _cell_shape_m(grid: dict[str, Any], pts: gpd.GeoDataFrame) -> tuple[float, float]:
    """Return the cell width and height in metres (at the points' mean latitude)."""
    t = grid["transform"]
    crs = CRS.from_user_input(grid["crs"])
    if crs.is_projected:
        return float(abs(t.a)), float(abs(t.e))
    lat = float(pts.to_crs(4326).geometry.y.mean()) if len(pts) else 0.0
    dx = abs(t.a) * 111_320.0 * np.cos(np.radians(lat))
    dy = abs(t.e) * 110_574.0
    return float(dx), float(dy)


def _raster_report(grid: dict[str, Any], what: str) -> list[dict[str, Any]]:
    if not grid["negative_cells"]:
        return []
    reason = f"negative {what} values set to 0 (sum {grid['negative_sum']:.1f})"
    return [_item(f"{what} raster cells", reason, grid["negative_cells"])]


def _item(
    item: str, reason: str, count: int, population: float = 0.0, elderly: float = 0.0
) -> dict[str, Any]:
    return {
        "item": item,
        "reason": reason,
        "count": int(count),
        "population": round(float(population), 3),
        "elderly": round(float(elderly), 3),
    }


def demand_from_vector(
    layer: gpd.GeoDataFrame | PathLike,
    *,
    elderly_col: str,
    population_col: str | None = None,
    crs: Any,
    units: gpd.GeoDataFrame | None = None,
    name: str | None = None,
) -> gpd.GeoDataFrame:
    """Build demand points from a vector grid or point layer with count columns.

    Polygons (grid cells, blocks) are represented by a point inside them
    (``representative_point``).

    Parameters
    ----------
    layer : geopandas.GeoDataFrame or path
        Points or polygons with counts.
    elderly_col, population_col : str
        Column names of the counts of older people and of all residents.
    crs, units
        As in :func:`demand_from_rasters`.
    name : str, optional
        Name used in messages.

    Returns
    -------
    geopandas.GeoDataFrame

    """
    label = name or (str(layer) if isinstance(layer, str | Path) else "population layer")
    gdf = _read_vector(layer, label)
    require_columns(gdf, [c for c in (elderly_col, population_col) if c], label)
    eld = require_numeric(gdf, elderly_col, label)
    pop = require_numeric(gdf, population_col, label) if population_col else eld.copy()
    report = []
    for col, values in ((elderly_col, eld), (population_col, pop)):
        empty = np.isnan(values)
        if col and empty.any():
            reason = f"empty '{col}' counted as 0 (the rows are kept with their other count)"
            report.append(_item("population features", reason, int(empty.sum())))
    pts = gpd.GeoDataFrame(
        {"population": np.nan_to_num(pop), "elderly": np.nan_to_num(eld)},
        geometry=gdf.geometry.representative_point().values,
        crs=gdf.crs,
        index=gdf.index,
    )
    out = _finish(pts, crs=crs, units=units, source=f"vector:{Path(label).name}")
    out.attrs["report"] = report + out.attrs["report"]
    return out


def _read_vector(layer: gpd.GeoDataFrame | PathLike, label: str) -> gpd.GeoDataFrame:
    if isinstance(layer, gpd.GeoDataFrame):
        gdf = layer
    else:
        gdf = read_vector(Path(layer), what="population")
    require_not_empty(gdf, label)
    require_crs(gdf, label)
    return gdf


def demand_from_census(
    table: pd.DataFrame,
    units: gpd.GeoDataFrame,
    *,
    crs: Any,
    population_col: str = "population",
    elderly_col: str = "elderly",
    weights: PathLike | Sequence[PathLike] | None = None,
    cell_size_m: float = 100.0,
) -> gpd.GeoDataFrame:
    """Spread census counts per unit over grid cells, by a weight raster or by area.

    Each unit's counts go to the cells of a `cell_size_m` grid whose centres fall inside
    it (a unit too small to hold a cell centre gets one point at its representative
    point), in proportion to the weight raster's value at the cell centre or equally when
    no raster is given (by area). Per-unit sums are preserved exactly.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per unit with ``unit_id`` and the count columns.
    units : geopandas.GeoDataFrame
        Unit polygons with ``unit_id``.
    crs : CRS-like
        Projected metric CRS of the output.
    population_col, elderly_col : str
        Count columns of `table`.
    weights : path or list of paths, optional
        Rasters summed to weight cells (e.g. WorldPop population).
    cell_size_m : float
        Grid spacing in metres.

    Returns
    -------
    geopandas.GeoDataFrame

    """
    require_columns(table, ["unit_id", population_col, elderly_col], "census table")
    require_unique(table["unit_id"], "unit_id", "census table")
    pop = require_numeric(table, population_col, "census table")
    eld = require_numeric(table, elderly_col, "census table")
    require_columns(units, ["unit_id"], "unit layer")
    require_unique(units["unit_id"], "unit_id", "unit layer")
    polys = units.to_crs(crs).set_index("unit_id")
    unknown = sorted(set(table["unit_id"]) - set(polys.index))
    if unknown:
        msg = (
            f"census table: unit_id {unknown[0]!r} (and {len(unknown) - 1} more) is not in the "
            "unit layer. Use the same ids in both."
        )
        raise InputError(msg)
    pts = _census_points(table["unit_id"].tolist(), polys, cell_size_m)
    w = _weights_at(pts, weights) if weights is not None else np.ones(len(pts))
    share = _shares(pts["unit_id"].to_numpy(), w)
    by_unit = dict(zip(table["unit_id"], zip(pop, eld, strict=True), strict=True))
    pts["population"] = share * np.array([by_unit[u][0] for u in pts["unit_id"]])
    pts["elderly"] = share * np.array([by_unit[u][1] for u in pts["unit_id"]])
    out = _finish(pts.drop(columns="unit_id"), crs=crs, units=units, source="census")
    out.attrs["cell_size_m"] = float(cell_size_m)
    return out


def _census_points(ids: list[Any], polys: gpd.GeoDataFrame, cell: float) -> gpd.GeoDataFrame:
    frames = []
    for uid in ids:
        geom = polys.geometry.loc[uid]
        x0, y0, x1, y1 = geom.bounds
        xs = np.arange(np.floor(x0 / cell) * cell + cell / 2, x1, cell)
        ys = np.arange(np.floor(y0 / cell) * cell + cell / 2, y1, cell)
        gx, gy = np.meshgrid(xs, ys)
        cand = gpd.GeoSeries(gpd.points_from_xy(gx.ravel(), gy.ravel()), crs=polys.crs)
        inside = cand[cand.within(geom)]
        if inside.empty:
            inside = gpd.GeoSeries([geom.representative_point()], crs=polys.crs)
        frames.append(
            gpd.GeoDataFrame(
                {"unit_id": [uid] * len(inside)}, geometry=inside.values, crs=polys.crs
            )
        )
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=polys.crs)


def _weights_at(pts: gpd.GeoDataFrame, weights: PathLike | Sequence[PathLike]) -> np.ndarray:
    arr, grid = _read_sum(weights, "weight")
    xy = pts.to_crs(grid["crs"]).geometry
    rows, cols = rasterio.transform.rowcol(grid["transform"], xy.x.to_numpy(), xy.y.to_numpy())
    rows, cols = np.asarray(rows), np.asarray(cols)
    inside = (rows >= 0) & (rows < arr.shape[0]) & (cols >= 0) & (cols < arr.shape[1])
    w = np.zeros(len(pts))
    w[inside] = np.nan_to_num(arr[rows[inside], cols[inside]])
    return w


def _shares(unit: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Normalise weights within each unit; units with zero total weight share equally."""
    codes, inv = np.unique(unit, return_inverse=True)
    tot = np.bincount(inv, weights=w, minlength=len(codes))
    cnt = np.bincount(inv, minlength=len(codes))
    equal = tot[inv] <= 0
    return np.where(equal, 1.0 / cnt[inv], w / np.where(tot[inv] > 0, tot[inv], 1.0))


def _finish(
    pts: gpd.GeoDataFrame, *, crs: Any, units: gpd.GeoDataFrame | None, source: str
) -> gpd.GeoDataFrame:
    pts = pts.to_crs(crs)
    report: list[dict[str, Any]] = []
    if units is not None:
        pts["unit_id"] = assign_units(pts, units)
        out = pts["unit_id"].isna()
        if out.any():
            report.append(
                _item(
                    "demand points",
                    "outside every unit (kept in totals, not in any unit's row)",
                    int(out.sum()),
                    float(pts.loc[out, "population"].sum()),
                    float(pts.loc[out, "elderly"].sum()),
                )
            )
    else:
        pts["unit_id"] = None
    pts["source"] = source
    pts = pts.reset_index(drop=True)
    pts["demand_id"] = np.arange(len(pts))
    out_gdf = gpd.GeoDataFrame(pts[DEMAND_COLUMNS], geometry="geometry", crs=pts.crs)
    out_gdf.attrs["report"] = report
    log.info("demand: %d points, %.0f elderly", len(out_gdf), out_gdf["elderly"].sum())
    return out_gdf


def assign_units(points: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> pd.Series:
    """Return the ``unit_id`` of the unit containing each point (None outside all units).

    A point on a shared boundary goes to the unit with the smallest ``unit_id`` so that
    the result does not depend on the order of the layers.
    """
    polys = units[["unit_id", "geometry"]].to_crs(points.crs)
    hits = gpd.sjoin(points[["geometry"]], polys, how="left", predicate="intersects")
    hits = hits.sort_values("unit_id", kind="stable")
    first = hits[~hits.index.duplicated(keep="first")]["unit_id"].reindex(points.index)
    out: pd.Series = first.astype(object).where(first.notna(), None)
    return out
