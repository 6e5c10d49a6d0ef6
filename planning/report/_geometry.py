"""Web geometry: lon/lat rounded to about 1 m and simplified for the scale of each map.

A map draws its layers at the scale of its first view: :func:`map_tolerance_m` gives
the tolerance (one screen pixel two zoom levels in from the first view of a map about
1,000 pixels wide, at least the 1 m of the rounded coordinates) and
:func:`simplify_web` simplifies lon/lat layers with it. Units form a coverage (they
share their boundaries), simplified together so that neighbours keep a common edge
(``shapely.coverage_simplify``); other polygons and lines keep their own topology.
:func:`network_lines` turns the analysis network into one light line layer;
:func:`polygon_image` draws many small polygons as one image.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from rasterio.features import rasterize
from rasterio.transform import Affine
from shapely.errors import GEOSException

from planning.report._web import _round_coords

log = logging.getLogger(__name__)

_M_PER_DEG_LAT = 111_320.0
#: The precision of the rounded coordinates, metres: no map simplifies below it.
MIN_TOLERANCE_M = 1.0
#: Screen pixels across the first view of a map (district or unit), for its tolerance.
_VIEW_PX = 1000.0
#: Zoom levels in from the first view that the drawing stays exact to a pixel.
_ZOOM_IN = 2


def extent_m(bounds: np.ndarray | tuple[float, ...]) -> float:
    """Return the larger side, in metres, of lon/lat bounds (west, south, east, north)."""
    west, south, east, north = (float(v) for v in bounds)
    lat = np.radians((south + north) / 2.0)
    width = (east - west) * _M_PER_DEG_LAT * max(float(np.cos(lat)), 0.1)
    return max(width, (north - south) * _M_PER_DEG_LAT)


def map_tolerance_m(bounds: np.ndarray | tuple[float, ...]) -> float:
    """Return the simplification tolerance, metres, of a map whose first view is `bounds`.

    One screen pixel after zooming in two levels from the first view (about 1,000 pixels
    across), never below the 1 m precision of the coordinates: about 9 m for central
    Wuhan (35 km), 40 m for the whole municipality, 1 m for a unit of 2 km.
    """
    return max(MIN_TOLERANCE_M, extent_m(bounds) / (_VIEW_PX * 2.0**_ZOOM_IN))


def to_web(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return `gdf` in lon/lat (EPSG:4326) with coordinates rounded to about 1 m."""
    out = gdf.to_crs(4326)
    return out.set_geometry(_round_coords(out.geometry.values), crs=4326)


def simplify_web(
    gdf: gpd.GeoDataFrame, tolerance_m: float, *, coverage: bool = False
) -> gpd.GeoDataFrame:
    """Simplify a lon/lat layer by `tolerance_m` metres (topology kept), coordinates rounded.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        In EPSG:4326.
    tolerance_m : float
        Largest distance, metres, of a removed vertex from the simplified outline
        (taken along the meridian, the stricter direction in lon/lat).
    coverage : bool
        The polygons form a coverage (no overlaps, shared boundaries): simplify them
        together so that neighbours keep a common edge.

    Returns
    -------
    geopandas.GeoDataFrame
        Empty geometries (a sliver simplified away) are left out.

    """
    if gdf.empty or tolerance_m <= MIN_TOLERANCE_M:
        return gdf
    tol = tolerance_m / _M_PER_DEG_LAT
    geoms = np.asarray(gdf.geometry.values)
    if coverage:
        try:
            simple = shapely.coverage_simplify(geoms, tol)
        except GEOSException as err:  # not a valid coverage
            log.info("units are not a clean coverage (%s); simplified one by one", err)
            simple = shapely.simplify(geoms, tol, preserve_topology=True)
    else:
        simple = shapely.simplify(geoms, tol, preserve_topology=True)
    out = gdf.set_geometry(_round_coords(simple), crs=4326)
    return out[~out.geometry.is_empty]


def network_lines(edges: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the network's edges as one lon/lat MultiLineString, joined into long lines.

    Joining edges at the nodes where only two meet, before any simplification, leaves
    fewer, longer lines to draw; coordinates are rounded to about 1 m.
    """
    lines = np.asarray(edges.geometry.values)
    lines = lines[~shapely.is_empty(lines)]
    merged = (
        shapely.line_merge(shapely.multilinestrings(lines))
        if len(lines)
        else shapely.MultiLineString()
    )
    return to_web(gpd.GeoDataFrame({"tip": [""]}, geometry=[merged], crs=edges.crs))


def polygon_image(
    gdf: gpd.GeoDataFrame, colour: str, *, cell_m: float, alpha: int = 140
) -> tuple[np.ndarray, list[list[float]]] | None:
    """Draw lon/lat polygons as one RGBA image on a Web-Mercator grid of `cell_m` metres.

    A cell is filled when a polygon touches it. Returns the image and its lon/lat bounds
    ``[[south, west], [north, east]]`` (for Leaflet), or None for an empty layer.
    """
    if gdf.empty:
        return None
    _, south, _, north = gdf.total_bounds
    c = cell_m / max(float(np.cos(np.radians((south + north) / 2.0))), 0.1)
    merc = gdf.geometry.to_crs(3857)
    mx0, my0, mx1, my1 = merc.total_bounds
    x0, y1 = np.floor(mx0 / c) * c, np.ceil(my1 / c) * c
    width, height = max(int(np.ceil((mx1 - x0) / c)), 1), max(int(np.ceil((y1 - my0) / c)), 1)
    mask = rasterize(
        ((g, 1) for g in merc.values),
        out_shape=(height, width),
        transform=Affine(c, 0.0, x0, 0.0, -c, y1),
        all_touched=True,
        dtype="uint8",
    )
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    rgba[mask == 1] = [*(int(colour[i : i + 2], 16) for i in (1, 3, 5)), alpha]
    to_lonlat = Transformer.from_crs(3857, 4326, always_xy=True)
    lon0, lat0 = to_lonlat.transform(x0, y1 - height * c)
    lon1, lat1 = to_lonlat.transform(x0 + width * c, y1)
    return rgba, [[float(lat0), float(lon0)], [float(lat1), float(lon1)]]
