"""Convert between WGS-84 and the Chinese web-map coordinate systems GCJ-02 and BD-09.

Chinese web maps do not publish WGS-84 coordinates:

- **GCJ-02** (Amap/高德, Tencent/腾讯) shifts WGS-84 longitude/latitude by a
  deterministic, non-linear offset of several hundred metres (STANDARDS.md §5 reports
  360–620 m in the cities measured). The public algorithm below uses the Krasovsky
  ellipsoid (a = 6378245.0 m, e² = 0.00669342162296594323).
- **BD-09** (Baidu/百度) adds a further shift of GCJ-02 (840–960 m from WGS-84 in total).

Only the forward transforms are closed formulae. :func:`gcj02_to_wgs84` inverts the
GCJ-02 shift by fixed-point iteration (error far below 0.01 m); :func:`bd09_to_gcj02`
starts from the usual closed-form approximation and refines it the same way.

Points outside the rough bounding box of mainland China (longitude 72.004–137.8347°E,
latitude 0.8293–55.8271°N, the test used by the public algorithm) are **not shifted**
by GCJ-02, so the GCJ-02 functions return them unchanged. BD-09 is applied everywhere
(it is a fixed formula), as Baidu does.

Every function takes ``(lon, lat)`` in this order, in decimal degrees, accepts scalars
or array-likes (broadcast against each other) and returns two float arrays of the
broadcast shape (0-d arrays for scalars; use ``float(x)`` for a Python float). NaN
propagates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS

from planning._errors import CRSError, InputError

if TYPE_CHECKING:
    import geopandas as gpd

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

#: Semi-major axis of the Krasovsky 1940 ellipsoid used by GCJ-02, in metres.
KRASOVSKY_A_M: float = 6378245.0
#: First eccentricity squared of the Krasovsky 1940 ellipsoid.
KRASOVSKY_E2: float = 0.00669342162296594323
#: Bounding box (lon_min, lon_max, lat_min, lat_max) in degrees inside which GCJ-02 shifts.
CHINA_BBOX_DEG: tuple[float, float, float, float] = (72.004, 137.8347, 0.8293, 55.8271)
#: The BD-09 constant x_pi = π·3000/180.
X_PI: float = np.pi * 3000.0 / 180.0

#: Accepted names of coordinate systems for :func:`to_wgs84`, mapped to the canonical one.
SOURCE_ALIASES: dict[str, str] = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "amap": "gcj02",
    "tencent": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "baidu": "bd09",
}

_INVERSE_TOL_DEG = 1e-10  # ≈ 0.01 mm: iteration stops when every step is below this
_INVERSE_MAX_ITER = 30


def _as_lonlat(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return ``lon`` and ``lat`` as float64 arrays broadcast to a common shape."""
    try:
        lon_arr = np.asarray(lon, dtype=np.float64)
        lat_arr = np.asarray(lat, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = (
            f"lon and lat must be numbers or arrays of numbers in decimal degrees, got "
            f"{type(lon).__name__} and {type(lat).__name__} ({exc}). Convert text columns "
            f"first, e.g. `pd.to_numeric(df['lon'])`."
        )
        raise InputError(msg) from exc
    try:
        lon_b, lat_b = np.broadcast_arrays(lon_arr, lat_arr)
    except ValueError as exc:
        msg = (
            f"lon and lat must have the same shape, got {lon_arr.shape} and {lat_arr.shape}. "
            f"Pass one longitude per latitude."
        )
        raise InputError(msg) from exc
    return np.array(lon_b, dtype=np.float64), np.array(lat_b, dtype=np.float64)


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Flag points outside the rough mainland-China bounding box used by GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        Longitude and latitude in decimal degrees.

    Returns
    -------
    numpy.ndarray of bool
        True where the point lies outside longitude 72.004–137.8347°E or latitude
        0.8293–55.8271°N (such points are not shifted by GCJ-02). NaN counts as inside.

    """
    lon_a, lat_a = _as_lonlat(lon, lat)
    lon_min, lon_max, lat_min, lat_max = CHINA_BBOX_DEG
    result: NDArray[np.bool_] = (
        (lon_a < lon_min) | (lon_a > lon_max) | (lat_a < lat_min) | (lat_a > lat_max)
    )
    return result


def _gcj02_delta_deg(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the GCJ-02 shift (dlon, dlat) in degrees at WGS-84 points, without the bbox test."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0

    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - KRASOVSKY_E2 * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((KRASOVSKY_A_M * (1.0 - KRASOVSKY_E2)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (KRASOVSKY_A_M / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlon, dlat


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    lon: FloatArray,
    lat: FloatArray,
    lon0: FloatArray,
    lat0: FloatArray,
    *,
    what: str,
) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(x) = (lon, lat)`` by fixed-point iteration from ``(lon0, lat0)``.

    The shifts are smooth and tiny compared with the coordinates (their Jacobian is close
    to the identity), so ``x ← x − (forward(x) − target)`` converges geometrically.
    """
    x_lon, x_lat = lon0.copy(), lat0.copy()
    for _ in range(_INVERSE_MAX_ITER):
        f_lon, f_lat = forward(x_lon, x_lat)
        step_lon, step_lat = f_lon - lon, f_lat - lat
        x_lon -= step_lon
        x_lat -= step_lat
        step = np.maximum(np.abs(step_lon), np.abs(step_lat))
        if not np.any(step[np.isfinite(step)] > _INVERSE_TOL_DEG):
            break
    else:
        logger.warning(
            "%s did not converge to %.0e° in %d iterations; the largest residual is %.2e°",
            what,
            _INVERSE_TOL_DEG,
            _INVERSE_MAX_ITER,
            float(np.nanmax(step)),
        )
    return x_lon, x_lat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS-84 longitude/latitude to GCJ-02 (Amap, Tencent).

    Parameters
    ----------
    lon, lat : array_like
        WGS-84 longitude and latitude in decimal degrees.

    Returns
    -------
    lon_gcj, lat_gcj : numpy.ndarray
        GCJ-02 longitude and latitude in decimal degrees. Points outside the mainland
        China bounding box (see :func:`out_of_china`) are returned unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(114.3055, 30.5928)  # Wuhan
    >>> round(float(lon), 4), round(float(lat), 4)
    (114.3109, 30.5904)

    """
    lon_a, lat_a = _as_lonlat(lon, lat)
    dlon, dlat = _gcj02_delta_deg(lon_a, lat_a)
    outside = out_of_china(lon_a, lat_a)
    return np.where(outside, lon_a, lon_a + dlon), np.where(outside, lat_a, lat_a + dlat)


def _gcj02_forward_unmasked(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj02_delta_deg(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 (Amap, Tencent) longitude/latitude to WGS-84 by iteration.

    The one-step inverse (subtracting the shift evaluated at the GCJ-02 point) leaves
    errors of up to a few metres; this function iterates to convergence (steps below
    1e-10°, at most 30 iterations, a warning is logged otherwise), so that converting
    back with :func:`wgs84_to_gcj02` reproduces the input to well under 0.01 m.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitude and latitude in decimal degrees.

    Returns
    -------
    lon_wgs, lat_wgs : numpy.ndarray
        WGS-84 longitude and latitude in decimal degrees. Points outside the mainland
        China bounding box are returned unchanged.

    """
    lon_a, lat_a = _as_lonlat(lon, lat)
    outside = out_of_china(lon_a, lat_a)
    dlon, dlat = _gcj02_delta_deg(lon_a, lat_a)
    w_lon, w_lat = _invert(
        _gcj02_forward_unmasked, lon_a, lat_a, lon_a - dlon, lat_a - dlat, what="gcj02_to_wgs84"
    )
    return np.where(outside, lon_a, w_lon), np.where(outside, lat_a, w_lat)


def _bd09_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 longitude/latitude to BD-09 (Baidu).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitude and latitude in decimal degrees.

    Returns
    -------
    lon_bd, lat_bd : numpy.ndarray
        BD-09 longitude and latitude in decimal degrees.

    """
    return _bd09_forward(*_as_lonlat(lon, lat))


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 (Baidu) longitude/latitude to GCJ-02.

    Starts from the usual closed-form inverse and refines it by iteration so that
    :func:`gcj02_to_bd09` of the result reproduces the input to well under 0.01 m.

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitude and latitude in decimal degrees.

    Returns
    -------
    lon_gcj, lat_gcj : numpy.ndarray
        GCJ-02 longitude and latitude in decimal degrees.

    """
    lon_a, lat_a = _as_lonlat(lon, lat)
    x = lon_a - 0.0065
    y = lat_a - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    return _invert(
        _bd09_forward, lon_a, lat_a, z * np.cos(theta), z * np.sin(theta), what="bd09_to_gcj02"
    )


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS-84 longitude/latitude to BD-09 (Baidu), via GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        WGS-84 longitude and latitude in decimal degrees.

    Returns
    -------
    lon_bd, lat_bd : numpy.ndarray
        BD-09 longitude and latitude in decimal degrees (outside China only the BD-09
        step applies, as GCJ-02 leaves such points unchanged).

    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 (Baidu) longitude/latitude to WGS-84, via GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitude and latitude in decimal degrees.

    Returns
    -------
    lon_wgs, lat_wgs : numpy.ndarray
        WGS-84 longitude and latitude in decimal degrees.

    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84: dict[str, Callable[[ArrayLike, ArrayLike], tuple[FloatArray, FloatArray]]] = {
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}


def _canonical_source(source: str) -> str:
    key = source.strip().lower() if isinstance(source, str) else source
    if key not in SOURCE_ALIASES:
        msg = (
            f"unknown coordinate system source={source!r}; expected one of "
            f"{sorted(SOURCE_ALIASES)} (case-insensitive): 'gcj02'/'amap'/'tencent' for "
            f"Amap or Tencent coordinates, 'bd09'/'baidu' for Baidu, 'wgs84' for GPS/OSM."
        )
        raise InputError(msg)
    return SOURCE_ALIASES[key]


def _require_lonlat_crs(gdf: gpd.GeoDataFrame, source: str) -> None:
    crs = gdf.crs
    if crs is None:
        return
    if CRS.from_user_input(crs).equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return
    kind = "projected" if crs.is_projected else "geographic"
    msg = (
        f"to_wgs84(source={source!r}) needs a layer of longitude/latitude degrees with no "
        f"CRS or EPSG:4326, got the {kind} CRS {crs.to_string()!r}. Amap/Tencent (GCJ-02) "
        f"and Baidu (BD-09) coordinates are degrees that are only labelled EPSG:4326; if "
        f"this layer really holds such coordinates with a wrong label, relabel it with "
        f"`gdf.set_crs('EPSG:4326', allow_override=True)`. If it is already in a proper "
        f"CRS, do not convert it: use `gdf.to_crs('EPSG:4326')` instead."
    )
    raise CRSError(msg)


def _require_degrees(gdf: gpd.GeoDataFrame, source: str) -> None:
    if gdf.geometry.is_empty.all() or gdf.geometry.isna().all():
        return
    lon_min, lat_min, lon_max, lat_max = gdf.total_bounds
    if lon_min < -180.0 or lon_max > 180.0 or lat_min < -90.0 or lat_max > 90.0:
        msg = (
            f"to_wgs84(source={source!r}): the layer's coordinates span x "
            f"{lon_min:.6g}…{lon_max:.6g}, y {lat_min:.6g}…{lat_max:.6g}, which are not "
            f"longitude/latitude degrees (|lon| ≤ 180, |lat| ≤ 90). The layer is probably "
            f"in a projected CRS in metres: set that CRS with `gdf.set_crs(...)` and use "
            f"`gdf.to_crs('EPSG:4326')` instead."
        )
        raise CRSError(msg)


def to_wgs84(gdf: gpd.GeoDataFrame, *, source: str) -> gpd.GeoDataFrame:
    """Return a copy of a longitude/latitude layer converted to WGS-84 (EPSG:4326).

    Every vertex of every geometry (points, lines, polygons, multi-parts; z values are
    kept) is converted with :func:`gcj02_to_wgs84` or :func:`bd09_to_wgs84`.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Layer whose coordinates are longitude/latitude in decimal degrees in the
        ``source`` system. Its CRS must be None or EPSG:4326 (web-map coordinates are
        often labelled EPSG:4326 although they are not WGS-84).
    source : str
        Coordinate system of ``gdf`` (case-insensitive): ``"wgs84"``; ``"gcj02"``,
        ``"amap"`` or ``"tencent"``; ``"bd09"`` or ``"baidu"``.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with converted geometries and CRS EPSG:4326, indexed like ``gdf``.

    Raises
    ------
    InputError
        If ``source`` is not one of the accepted names.
    CRSError
        If ``gdf`` has a CRS other than EPSG:4326, or coordinates that are not degrees.

    """
    canonical = _canonical_source(source)
    _require_lonlat_crs(gdf, source)
    _require_degrees(gdf, source)
    out = gdf.copy()
    if canonical != "wgs84":
        convert = _TO_WGS84[canonical]

        def _transform(coords: FloatArray) -> FloatArray:
            result: FloatArray = np.array(coords, dtype=np.float64, copy=True)
            result[:, 0], result[:, 1] = convert(coords[:, 0], coords[:, 1])
            return result

        geoms = out.geometry.to_numpy().copy()
        has_z = shapely.has_z(geoms)  # keep z values, and keep 2D geometries 2D
        for with_z in (False, True):
            part = has_z == with_z
            if part.any():
                geoms[part] = shapely.transform(geoms[part], _transform, include_z=with_z)
        out[out.geometry.name] = geoms
        logger.info("converted %d geometries from %s to WGS-84", len(out), canonical)
    return out.set_crs("EPSG:4326", allow_override=True)


def _index_labels(values: ArrayLike) -> list[Any] | None:
    index = getattr(values, "index", None)
    return list(index) if index is not None and not callable(index) else None


def check_lonlat(lon: ArrayLike, lat: ArrayLike, *, name: str, allow_missing: bool = False) -> None:
    """Check that longitude/latitude columns hold valid, unswapped degrees.

    Readers of CSV/Excel coordinates call this before building points, because swapped
    columns or projected metres otherwise produce points in the wrong hemisphere with
    no error.

    Parameters
    ----------
    lon, lat : array_like
        Longitude and latitude values in decimal degrees (pandas Series keep their index,
        which is used to name the offending row).
    name : str
        Name of the layer or file, used in the error message (e.g. ``"stations.csv"``).
    allow_missing : bool, default False
        Accept NaN coordinates (the caller reports or drops them) instead of raising.

    Raises
    ------
    InputError
        If any row is missing (unless allowed), looks swapped (latitude outside ±90° with
        a longitude inside ±90°, or, for China, latitude 72–138 with longitude 0–56), or
        is out of range (|lon| > 180° or |lat| > 90°). The message names the first
        offending row, its values, the number of such rows and how to fix them.

    """
    lon_a, lat_a = _as_lonlat(lon, lat)
    lon_a, lat_a = lon_a.ravel(), lat_a.ravel()
    labels = _index_labels(lon) or _index_labels(lat)
    missing = np.isnan(lon_a) | np.isnan(lat_a)
    swapped = ((np.abs(lat_a) > 90.0) & (np.abs(lon_a) <= 90.0)) | (
        (lat_a >= 72.0) & (lat_a <= 138.0) & (lon_a >= 0.0) & (lon_a <= 56.0)
    )
    out_of_range = ~swapped & ((np.abs(lon_a) > 180.0) | (np.abs(lat_a) > 90.0))
    problems = [
        (
            swapped,
            "looks swapped (latitude must be within ±90°; in China longitude is about "
            "72–138°E and latitude 0–56°N)",
            "Swap the longitude and latitude columns (the order is lon, lat).",
        ),
        (
            out_of_range,
            "is out of range (|lon| ≤ 180°, |lat| ≤ 90°)",
            "Correct the value; if the columns hold projected coordinates in metres, read "
            "them as x/y with their CRS (e.g. a CGCS2000 Gauss-Krüger zone, EPSG:4513–4554) "
            "instead of lon/lat.",
        ),
    ]
    if not allow_missing:
        problems.insert(
            0,
            (
                missing,
                "is missing a longitude or latitude",
                "Fill in the coordinates or remove the row.",
            ),
        )
    bad_rows = [np.flatnonzero(mask) for mask, _, _ in problems]
    firsts = [rows[0] if rows.size else lon_a.size for rows in bad_rows]
    if min(firsts, default=lon_a.size) >= lon_a.size:
        return
    which = int(np.argmin(firsts))
    row = int(firsts[which])
    _, what, fix = problems[which]
    label = labels[row] if labels is not None and len(labels) == lon_a.size else row
    msg = (
        f"{name}: row {label!r} has lon={float(lon_a[row])!r}, lat={float(lat_a[row])!r}, "
        f"which {what}; "
        f"{bad_rows[which].size} of {lon_a.size} rows are like this. {fix}"
    )
    raise InputError(msg)


def parse_crs(crs: Any, name: str) -> CRS:
    """Return the CRS `crs` names; an unknown one is a CRSError naming the layer `name`."""
    try:
        return CRS.from_user_input(crs)
    except Exception as exc:  # pyproj raises its own CRSError, TypeError or ValueError
        msg = (
            f"'{name}': unknown CRS {crs!r}. Use an EPSG code (e.g. EPSG:4326, EPSG:4547) or "
            f"one of {sorted(SOURCE_ALIASES)} for Chinese web-map coordinates."
        )
        raise CRSError(msg) from exc


def declare_crs(gdf: gpd.GeoDataFrame, crs: Any, name: str) -> gpd.GeoDataFrame:
    """Give a layer the CRS a scenario states for it, converting GCJ-02/BD-09 to WGS-84.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The layer as read.
    crs : CRS-like, ``"gcj02"``, ``"bd09"`` or None
        The CRS stated for the layer (``crs:`` next to its path), or None.
    name : str
        The file, for messages.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer with a CRS; shifted web-map coordinates converted to EPSG:4326.

    Raises
    ------
    CRSError
        When the layer has no CRS and none is stated (the message gives the fix), when
        the stated CRS differs from the one the file carries, or is unknown.

    """
    shifted = isinstance(crs, str) and SOURCE_ALIASES.get(crs.strip().lower(), "wgs84") != "wgs84"
    if gdf.crs is None:
        if crs is None:
            msg = (
                f"'{name}' has no coordinate reference system. Give it one: in the scenario "
                "add `crs: EPSG:4326` (or `gcj02`, `bd09`, or the EPSG code of the layer) "
                "next to the path, or in Python `gdf.set_crs('EPSG:4326')`."
            )
            raise CRSError(msg)
        gdf = gdf.set_crs(4326 if shifted else parse_crs(crs, name))
    elif crs is not None and not shifted and parse_crs(crs, name) != gdf.crs:
        msg = (
            f"'{name}' already carries the CRS {gdf.crs.to_string()}, but the scenario says "
            f"{crs}. Remove `crs` for this input (it is only for files without one)."
        )
        raise CRSError(msg)
    return to_wgs84(gdf, source=str(crs)) if shifted else gdf
