"""Read and validate stations, candidate sites and units (neighbourhoods).

Vector files (GeoPackage, shapefile, GeoJSON, ...) keep their CRS; CSV and Excel files
need coordinate columns. A layer without a CRS needs one from the caller; ``gcj02``
(Amap, Tencent) and ``bd09`` (Baidu) coordinates are converted to WGS-84.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from planning import coords
from planning._errors import CRSError, InputError
from planning._validate import (
    describe,
    require_columns,
    require_crs,
    require_not_empty,
    require_numeric,
    require_unique,
)

log = logging.getLogger(__name__)

_X_NAMES = ("lon", "lng", "longitude", "x", "经度")
_Y_NAMES = ("lat", "latitude", "y", "纬度")
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
    Rows of CSV and Excel tables are numbered in messages as a spreadsheet shows them
    (the header is line 1, the first record line 2).

    Returns
    -------
    geopandas.GeoDataFrame

    """
    name = path if isinstance(path, str | Path) else "layer"
    if isinstance(path, gpd.GeoDataFrame):
        gdf = path.copy()
    else:
        gdf = _read_file(Path(path), layer=layer, crs=crs, x_col=x_col, y_col=y_col)
    if columns:
        gdf = gdf.rename(columns=dict(columns))
    require_not_empty(gdf, name)
    shifted = isinstance(crs, str) and crs.lower() in _SHIFTED
    if gdf.crs is None:
        if crs is None:
            require_crs(gdf, name)
        gdf = gdf.set_crs(4326 if shifted else _crs(crs, name))
    elif crs is not None and not shifted and _crs(crs, name) != gdf.crs:
        msg = (
            f"{describe(name)} already carries the CRS {gdf.crs.to_string()}, but the scenario "
            f"says {crs}. Remove `crs` for this input (it is only for files without one)."
        )
        raise CRSError(msg)
    if shifted:
        gdf = coords.to_wgs84(gdf, source=str(crs))
    return gdf


def _crs(crs: Any, name: Any) -> CRS:
    try:
        return CRS.from_user_input(crs)
    except Exception as exc:
        msg = (
            f"{describe(name)}: unknown CRS {crs!r}. Use an EPSG code (e.g. EPSG:4326, "
            f"EPSG:4547) or one of {sorted(coords.SOURCE_ALIASES)} for Chinese web-map "
            "coordinates."
        )
        raise CRSError(msg) from exc


def _read_file(
    path: Path, *, layer: str | None, crs: Any, x_col: str | None, y_col: str | None
) -> gpd.GeoDataFrame:
    if not path.exists():
        msg = f"Input file {describe(path)} does not exist. Check the path (relative paths are "
        msg += "resolved against the scenario file's folder)."
        raise InputError(msg)
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            table = pd.read_csv(path, encoding="utf-8-sig")
        elif suffix in (".xlsx", ".xls"):
            table = pd.read_excel(path, sheet_name=layer or 0)
        else:
            return gpd.read_file(path, layer=layer)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        msg = f"Cannot read {describe(path)}: {exc}."
        raise InputError(msg) from exc
    # number rows as a spreadsheet shows them: the header is line 1
    table.index = pd.RangeIndex(2, len(table) + 2)
    return _points_from_table(table, path, crs=crs, x_col=x_col, y_col=y_col)


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
        geographic = _crs(crs, path).is_geographic
    if geographic:
        coords.check_lonlat(xs, ys, name=str(path))
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
    Invalid polygons are repaired with ``make_valid``; non-polygon features are an error.

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
    invalid = ~gdf.is_valid
    if invalid.any():
        log.warning("repairing %d invalid unit polygons", int(invalid.sum()))
        gdf.loc[invalid, "geometry"] = shapely.make_valid(gdf.geometry[invalid].values)
    return gdf.reset_index(drop=True)


#: Encoding of every CSV the toolkit writes: UTF-8 with a byte-order mark, so that
#: Excel on Chinese Windows opens Chinese text ungarbled; pandas, QGIS and the
#: toolkit's readers (``encoding="utf-8-sig"``) read it as plain UTF-8.
CSV_ENCODING = "utf-8-sig"


def write_csv(frame: pd.DataFrame, path: str | Path, **kwargs: Any) -> Path:
    """Write `frame` as a UTF-8 CSV with a byte-order mark, without the index.

    Parameters
    ----------
    frame : DataFrame
    path : str or Path
        CSV file to write (replaced when it exists).
    **kwargs
        Passed to :meth:`pandas.DataFrame.to_csv` (e.g. ``float_format``).

    Returns
    -------
    Path

    """
    out = Path(path)
    frame.to_csv(out, index=False, encoding=CSV_ENCODING, **kwargs)
    return out
