"""Gaps: uncovered demand cells grouped into areas per unit."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from planning.coverage._columns import _fmt, col_covered


def gap_clusters(
    dem: gpd.GeoDataFrame,
    t_min: float,
    *,
    cell_size_m: float | tuple[float, float] = 100.0,
) -> gpd.GeoDataFrame:
    """Group uncovered demand cells into connected gap polygons per unit.

    Each uncovered point (beyond `t_min`, or unreachable) is drawn as a square cell of
    `cell_size_m` (or a rectangle of (width, height) metres, as raster cells in degrees
    become once projected); touching cells of one unit and one reason form one gap.

    Returns
    -------
    geopandas.GeoDataFrame
        ``gap_id``, ``unit_id``, ``reason``, ``elderly``, ``population``, ``n_cells``,
        ``area_m2``; largest ``elderly`` first.

    """
    cov = dem[col_covered(t_min)].to_numpy()
    gap = dem[~cov & (dem["elderly"].to_numpy() > 0)].copy()
    cols = ["gap_id", "unit_id", "reason", "elderly", "population", "n_cells", "area_m2"]
    if gap.empty:
        return gpd.GeoDataFrame(columns=[*cols, "geometry"], geometry="geometry", crs=dem.crs)
    gap["reason"] = np.where(
        gap["snap_status"] == "ok", f"beyond {_fmt(t_min)} min", "far from every road"
    )
    gap["unit_id"] = gap["unit_id"].fillna("(outside units)")
    dx, dy = cell_size_m if isinstance(cell_size_m, tuple) else (cell_size_m, cell_size_m)
    # half a cell plus a centimetre, so that neighbouring cells touch and merge
    hx, hy = dx / 2.0 + 0.01, dy / 2.0 + 0.01
    x, y = gap.geometry.x.to_numpy(), gap.geometry.y.to_numpy()
    gap = gap.set_geometry(shapely.box(x - hx, y - hy, x + hx, y + hy), crs=dem.crs)
    merged = gap.dissolve(by=["unit_id", "reason"], as_index=False)[
        ["unit_id", "reason", "geometry"]
    ]
    parts = merged.explode(index_parts=False, ignore_index=True)
    centres = gpd.GeoDataFrame(
        gap[["unit_id", "reason", "elderly", "population"]],
        geometry=gap.geometry.centroid,
        crs=dem.crs,
    )
    hit = gpd.sjoin(centres, parts.reset_index(names="part"), predicate="within")
    hit = hit[
        (hit["unit_id_left"] == hit["unit_id_right"]) & (hit["reason_left"] == hit["reason_right"])
    ]
    sums = hit.groupby("part").agg(
        elderly=("elderly", "sum"), population=("population", "sum"), n_cells=("elderly", "size")
    )
    parts = parts.join(sums).fillna({"elderly": 0.0, "population": 0.0, "n_cells": 0})
    parts["area_m2"] = parts.geometry.area.round(1)
    parts = parts.sort_values(["elderly", "unit_id"], ascending=[False, True], ignore_index=True)
    parts["gap_id"] = [f"G{i + 1:04d}" for i in range(len(parts))]
    return gpd.GeoDataFrame(parts[[*cols, "geometry"]], geometry="geometry", crs=dem.crs)
