"""Notice stations in shifted web-map coordinates (GCJ-02, BD-09) declared as WGS-84.

Amap and Tencent coordinates (GCJ-02) lie 360–620 m from WGS-84 in Chinese cities, Baidu's
(BD-09) 840–960 m (STANDARDS.md §5). Read as WGS-84 they still fall near some road, so
coverage comes out plausible and too low, with no error. Stations are registered at
their entrances, near a road: when they sit systematically far from the network and
the inverse shift would bring them onto it, the stations were most likely shifted.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from planning import coords
from planning.network import Network

#: Median distance from stations to the nearest road (metres) below which nothing is said.
_ON_NETWORK_M = 30.0
#: The shift must bring the median distance below this share of the unshifted one.
_GAIN = 0.5
_SHIFTS = (
    ("gcj02", "GCJ-02 (Amap, Tencent)", coords.gcj02_to_wgs84),
    ("bd09", "BD-09 (Baidu)", coords.bd09_to_wgs84),
)


def _median_distance_m(network: Network, lon: np.ndarray, lat: np.ndarray) -> float:
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(network.crs).values
    tree = shapely.STRtree(network.edges.geometry.values)
    _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    return float(np.median(dist))


def shift_warning(network: Network, stations: gpd.GeoDataFrame) -> str | None:
    """Return a warning when stations look like GCJ-02 or BD-09 read as WGS-84, else None.

    Parameters
    ----------
    network : Network
    stations : geopandas.GeoDataFrame
        Stations in any CRS (at least three inside China are needed to judge).

    Returns
    -------
    str or None
        The message: the median distance to the nearest road as given and after the
        inverse shift that brings the stations closest, and the scenario key to set.

    """
    geom = stations.geometry
    pts = geom[~(geom.isna() | geom.is_empty)].representative_point().to_crs(4326)
    lon, lat = pts.x.to_numpy(), pts.y.to_numpy()
    inside = ~coords.out_of_china(lon, lat)
    if inside.sum() < 3:
        return None
    lon, lat = lon[inside], lat[inside]
    as_given = _median_distance_m(network, lon, lat)
    if as_given <= _ON_NETWORK_M:
        return None
    found = [(_median_distance_m(network, *inverse(lon, lat)), key, label)
             for key, label, inverse in _SHIFTS]  # fmt: skip
    best, key, label = min(found)
    if best >= _GAIN * as_given:
        return None
    return (
        f"The {len(lon)} stations sit a median {as_given:.0f} m from the nearest road; read "
        f"as {label} coordinates they would sit {best:.0f} m from it. If they come from that "
        f"web map, set `crs: {key}` in the scenario's `stations:` section (in Python "
        f"`read_stations(..., crs='{key}')`); coverage is under-counted otherwise."
    )
