"""Read and validate stations, candidate sites and units (neighbourhoods).

Vector files (GeoPackage, shapefile, GeoJSON, ...) keep their CRS; CSV and Excel files
need coordinate columns. A layer without a CRS needs one from the caller; ``gcj02``
(Amap, Tencent) and ``bd09`` (Baidu) coordinates are converted to WGS-84.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planning import coords, settings
from planning._errors import InputError
from planning._files import TABLE_SUFFIXES, read_raw_tables, read_vector, table_from_raw, typed
from planning._validate import (
    describe,
    require_columns,
    require_not_empty,
    require_numeric,
    require_unique,
)

log = logging.getLogger(__name__)

_X_NAMES = ("lon", "lng", "longitude", "x", "经度")
_Y_NAMES = ("lat", "latitude", "y", "纬度")
#: Headers the station, site and unit readers use: they mark the header row of a table.
_KNOWN: tuple[str, ...] = ("station_id", "site_id", "unit_id", "kind", "name", "capacity")
_KNOWN += ("status", "area_m2", "cost", "level")
_SHIFTED = {k for k, v in coords.SOURCE_ALIASES.items() if v != "wgs84"}


def read_layer(
    path: str | Path | gpd.GeoDataFrame,
    *,
    layer: str | None = None,
    crs: Any = None,
    x_col: str | None = None,
    y_col: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector layer, a CSV or an Excel sheet with coordinates as a GeoDataFrame.

    Parameters
    ----------
    path : str, Path or GeoDataFrame
        The file (or an already loaded layer).
    layer : str, optional
        Layer of a multi-layer file, or the sheet of an Excel workbook.
    crs : CRS-like or {"gcj02", "bd09"}, optional
        CRS of the coordinates when the file carries none (CSV defaults to EPSG:4326);
        ``gcj02``/``bd09`` mark shifted lon/lat that are converted to WGS-84.
    x_col, y_col : str, optional
        Coordinate columns of a table; found among lon/lng/longitude/x/经度 and
        lat/latitude/y/纬度 when omitted.
    columns : mapping, optional
        Renames applied after reading, ``{name in the file: name the toolkit expects}``.

    Notes
    -----
    CSV files may be UTF-8 or GB18030 (GBK). Rows of CSV and Excel tables are numbered in
    messages as a spreadsheet shows them (the first line of the file is line 1); title
    rows above the header and two-row headers are recognised, the header being the row
    with the most known headers (id, kind, name, lon/lat, ...). GIS files are opened by
    one reader whose messages name the file, what is wrong and the layers it has.

    Returns
    -------
    geopandas.GeoDataFrame

    """
    name = path if isinstance(path, str | Path) else "layer"
    if isinstance(path, gpd.GeoDataFrame):
        gdf = path.copy()
    else:
        known = list(columns or {})
        gdf = _read_file(Path(path), layer=layer, crs=crs, x_col=x_col, y_col=y_col, known=known)
    if columns:
        gdf = gdf.rename(columns=dict(columns))
    require_not_empty(gdf, name)
    return coords.declare_crs(gdf, crs, str(name))


def _read_file(
    path: Path,
    *,
    layer: str | None,
    crs: Any,
    x_col: str | None,
    y_col: str | None,
    known: Iterable[str] = (),
) -> gpd.GeoDataFrame:
    if path.suffix.lower() not in TABLE_SUFFIXES:
        return read_vector(path, layer=layer, what="input")
    raws, encoding = read_raw_tables(path, sheet=layer, what="input")
    names = (*_KNOWN, *_X_NAMES, *_Y_NAMES, *(c for c in (x_col, y_col) if c), *known)
    sheet = table_from_raw(next(iter(raws.values())), known=names, encoding=encoding)
    if sheet.header_lines != (1,):
        log.info(
            "%s: header on line(s) %s; the lines above it are skipped",
            path,
            ", ".join(map(str, sheet.header_lines)),
        )
    return _points_from_table(typed(sheet.frame), path, crs=crs, x_col=x_col, y_col=y_col)


def _points_from_table(
    table: pd.DataFrame, path: Path, *, crs: Any, x_col: str | None, y_col: str | None
) -> gpd.GeoDataFrame:
    require_not_empty(table, path)
    lower = {str(c).strip().lower(): c for c in table.columns}
    x = x_col or next((lower[n] for n in _X_NAMES if n in lower), None)
    y = y_col or next((lower[n] for n in _Y_NAMES if n in lower), None)
    if x is None or y is None:
        msg = (
            f"{describe(path)} has no coordinate columns: expected lon/lat (or lng, longitude, "
            f"x, 经度 / latitude, y, 纬度), found {list(table.columns)}. Name them, or set "
            "`x_col`/`y_col`."
        )
        raise InputError(msg)
    require_columns(table, [x, y], path)
    xs = require_numeric(table, x, path, min_value=None)
    ys = require_numeric(table, y, path, min_value=None)
    missing = np.isnan(xs) | np.isnan(ys)
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        msg = (
            f"{describe(path)}: row {table.index[row]} has no coordinates in '{x}'/'{y}'. "
            "Fill in the coordinates or remove the row."
        )
        raise InputError(msg)
    geographic = crs is None or (isinstance(crs, str) and crs.lower() in _SHIFTED)
    if not geographic:
        geographic = coords.parse_crs(crs, str(path)).is_geographic
    if geographic:
        index = table.index
        coords.check_lonlat(pd.Series(xs, index=index), pd.Series(ys, index=index), name=str(path))
    return gpd.GeoDataFrame(
        table, geometry=gpd.points_from_xy(xs, ys), crs=None if crs is not None else 4326
    )


def read_stations(
    path: str | Path | gpd.GeoDataFrame,
    *,
    id_col: str = "station_id",
    default_kind: str | None = None,
    **kwargs: Any,
) -> gpd.GeoDataFrame:
    """Read a station register (or candidate sites) and validate it.

    Required: a unique id column and, unless `default_kind` is given, ``kind``.
    Optional and checked when present: ``capacity`` and ``area_m2`` (numbers ≥ 0),
    ``status`` (default ``existing``). Polygons are represented by a point inside them.

    Parameters
    ----------
    path : str, Path or GeoDataFrame
    id_col : str
        Name of the id column (``station_id`` for stations, ``site_id`` for sites).
    default_kind : str, optional
        Kind given to rows without one.
    **kwargs
        Passed to :func:`read_layer` (``layer``, ``crs``, ``columns``, ...).

    Returns
    -------
    geopandas.GeoDataFrame

    """
    name = path if isinstance(path, str | Path) else id_col
    gdf = read_layer(path, **kwargs)
    if default_kind is not None:
        gdf["kind"] = gdf["kind"].fillna(default_kind) if "kind" in gdf else default_kind
    require_columns(gdf, [id_col, "kind"], name)
    gdf[id_col] = gdf[id_col].astype(str)
    require_unique(gdf[id_col], id_col, name)
    if gdf["kind"].isna().any():
        row = gdf.index[gdf["kind"].isna()][0]
        msg = f"{describe(name)}: row {row} ({gdf[id_col].loc[row]}) has no 'kind'. Fill it in."
        raise InputError(msg)
    gdf["kind"] = gdf["kind"].astype(str)
    for col in ("capacity", "area_m2", "cost"):
        if col in gdf:
            gdf[col] = require_numeric(gdf, col, name)
    if "status" not in gdf:
        gdf["status"] = "existing"
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    if empty.any():
        row = gdf.index[empty][0]
        msg = f"{describe(name)}: row {row} ({gdf[id_col].loc[row]}) has no geometry."
        raise InputError(msg)
    if not (gdf.geom_type == "Point").all():
        gdf = gdf.set_geometry(gdf.geometry.representative_point())
    return gdf.reset_index(drop=True)


def read_units(
    path: str | Path | gpd.GeoDataFrame, *, default_level: str = "street", **kwargs: Any
) -> gpd.GeoDataFrame:
    """Read neighbourhood polygons with ``unit_id``, ``name`` and ``level``.

    ``name`` defaults to the id and ``level`` to `default_level` (street = 街道).
    Invalid (e.g. self-intersecting) polygons are repaired with ``make_valid`` and named
    in a warning and in ``gdf.attrs["report"]`` (which coverage copies to
    ``excluded.csv`` and ``run.json``); non-polygon features are an error. Units of one
    level that overlap by more than ``settings.unit_overlap_tolerance_m2`` are an error
    naming the pairs and their shared areas; smaller overlaps are reported the same way
    (a point in one is counted in the unit with the smallest ``unit_id``).

    Returns
    -------
    geopandas.GeoDataFrame

    """
    name = path if isinstance(path, str | Path) else "units"
    gdf = read_layer(path, **kwargs)
    require_columns(gdf, ["unit_id"], name)
    gdf["unit_id"] = gdf["unit_id"].astype(str)
    require_unique(gdf["unit_id"], "unit_id", name)
    if "name" not in gdf:
        gdf["name"] = gdf["unit_id"]
    if "level" not in gdf:
        gdf["level"] = default_level
    poly = gdf.geom_type.isin(["Polygon", "MultiPolygon"])
    if not poly.all():
        row = gdf.index[~poly][0]
        msg = (
            f"{describe(name)}: unit {gdf['unit_id'].loc[row]} (row {row}) is a "
            f"{gdf.geom_type.loc[row]}, not a polygon. Units must be areas."
        )
        raise InputError(msg)
    gdf = _repair(gdf, name)
    _check_overlaps(gdf, name)
    return gdf.reset_index(drop=True)


def _repair(gdf: gpd.GeoDataFrame, name: Any) -> gpd.GeoDataFrame:
    """Repair invalid (e.g. self-intersecting) units with ``make_valid``, naming each."""
    invalid = ~gdf.is_valid
    report = list(gdf.attrs.get("report", []))
    if invalid.any():
        ids = gdf.loc[invalid, "unit_id"].tolist()
        log.warning(
            "%s: repaired %d invalid unit polygon(s) with make_valid: %s",
            name,
            len(ids),
            ", ".join(ids),
        )
        fixed = [_polygonal(g) for g in shapely.make_valid(gdf.geometry[invalid].values)]
        gdf.loc[invalid, "geometry"] = gpd.GeoSeries(fixed, index=gdf.index[invalid], crs=gdf.crs)
        reason = "invalid polygon (e.g. self-intersecting) repaired with make_valid"
        report.append(_report_row(reason, ids))
    gdf.attrs["report"] = report
    return gdf


def _polygonal(geom: Any) -> Any:
    """Keep the polygon parts of a repaired geometry (make_valid may add lines)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _report_row(reason: str, ids: list[str], count: int | None = None) -> dict[str, Any]:
    return {
        "item": "units",
        "reason": reason,
        "count": len(ids) if count is None else count,
        "population": 0.0,
        "elderly": 0.0,
        "ids": ", ".join(ids),
    }


def _check_overlaps(gdf: gpd.GeoDataFrame, name: Any) -> None:
    """Refuse units of one level that overlap by more than the tolerance; report slivers.

    A demand point in an overlap would be counted in one unit only (the smallest
    ``unit_id``), so the other unit silently loses it: overlaps above
    ``settings.unit_overlap_tolerance_m2`` are an error naming the pairs and areas.
    """
    metric = gdf if gdf.crs is None or gdf.crs.is_projected else gdf.to_crs(gdf.estimate_utm_crs())
    geoms, ids = metric.geometry.values, gdf["unit_id"].to_numpy()
    levels = gdf["level"].astype(str).to_numpy()
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = (i < j) & (levels[i] == levels[j])
    i, j = i[keep], j[keep]
    area = shapely.area(shapely.intersection(geoms[i], geoms[j]))
    tolerance = settings.unit_overlap_tolerance_m2
    big = area > tolerance
    if big.any():
        order = np.argsort(-area[big])[:5]
        pairs = "; ".join(
            f"{ids[a]} and {ids[b]} share {s:,.0f} m²"
            for a, b, s in zip(i[big][order], j[big][order], area[big][order], strict=True)
        )
        msg = (
            f"{describe(name)}: {int(big.sum())} pair(s) of units overlap by more than "
            f"{tolerance:g} m² ({pairs}). A place in two units would be counted in one only. "
            "Clip or dissolve the units so that each place belongs to one unit (e.g. QGIS "
            "Vector › Geoprocessing › Difference), or give the levels in a `level` column."
        )
        raise InputError(msg)
    small = area > 0
    if small.any():
        slivers = [f"{ids[a]}/{ids[b]}" for a, b in zip(i[small], j[small], strict=True)]
        reason = (
            f"overlaps of at most {tolerance:g} m² tolerated (total {area[small].sum():.1f} m²); "
            "a point in one is counted in the unit with the smallest unit_id"
        )
        gdf.attrs["report"] = [*gdf.attrs.get("report", []), _report_row(reason, slivers)]
        log.info("%s: %s: %s", name, reason, ", ".join(slivers))
