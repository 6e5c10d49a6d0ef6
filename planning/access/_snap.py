"""Snap points to the nearest point of the nearest network edge."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planning import settings
from planning._errors import InputError
from planning.network import Network

SNAP_OK = "ok"


SNAP_TOO_FAR = "farther than max_snap_m from every road"


SNAP_NO_GEOMETRY = "empty or missing geometry"


@dataclass(frozen=True)
class Snapped:
    """Points snapped to network edges (arrays aligned with the input rows).

    Attributes
    ----------
    index : pandas.Index
        Index of the input layer.
    edge : numpy.ndarray
        Edge position of each point, ``-1`` when unreachable.
    pos_m : numpy.ndarray
        Distance along the edge from its node ``u`` to the snapped point, metres.
    snap_dist_m : numpy.ndarray
        Connector length from the point to the edge, metres (NaN when unreachable).
    status : numpy.ndarray
        ``"ok"`` or the reason the point is unreachable.

    """

    index: pd.Index
    edge: np.ndarray
    pos_m: np.ndarray
    snap_dist_m: np.ndarray
    status: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of reachable points."""
        return np.asarray(self.edge >= 0)

    def __len__(self) -> int:
        return len(self.edge)

    def to_frame(self) -> pd.DataFrame:
        """Return ``snap_edge``, ``snap_pos_m``, ``snap_dist_m``, ``snap_status``."""
        return pd.DataFrame(
            {
                "snap_edge": self.edge,
                "snap_pos_m": self.pos_m,
                "snap_dist_m": self.snap_dist_m,
                "snap_status": self.status,
            },
            index=self.index,
        )


def snap_points(
    network: Network, points: gpd.GeoDataFrame, *, max_snap_m: float | None = None
) -> Snapped:
    """Snap points to the nearest point on the nearest network edge.

    Parameters
    ----------
    network : Network
        The walking network.
    points : geopandas.GeoDataFrame
        Points (other geometries use their representative point) in any CRS.
    max_snap_m : float, optional
        Points farther than this many metres from every edge are unreachable; default
        ``settings.max_snap_m``.

    Returns
    -------
    Snapped

    """
    limit = settings.max_snap_m if max_snap_m is None else float(max_snap_m)
    if not limit > 0:
        msg = f"max_snap_m must be a positive distance in metres, got {max_snap_m}."
        raise InputError(msg)
    n = len(points)
    edge = np.full(n, -1, dtype=np.int64)
    pos = np.full(n, np.nan)
    dist = np.full(n, np.nan)
    status = np.full(n, SNAP_TOO_FAR, dtype=object)
    geom = points.geometry.to_crs(network.crs).values
    missing = shapely.is_missing(geom) | shapely.is_empty(geom)
    status[missing] = SNAP_NO_GEOMETRY
    pts = shapely.point_on_surface(geom[~missing])
    lines = network.edges.geometry.values
    tree = shapely.STRtree(lines)
    (p_idx, e_idx), d = tree.query_nearest(
        pts, max_distance=limit, return_distance=True, all_matches=False
    )
    rows = np.flatnonzero(~missing)[p_idx]
    edge[rows] = e_idx
    dist[rows] = d
    pos[rows] = shapely.line_locate_point(lines[e_idx], pts[p_idx])
    status[rows] = SNAP_OK
    return Snapped(points.index, edge, pos, dist, status)


def _end_costs(network: Network, snapped: Snapped) -> tuple[np.ndarray, ...]:
    """Return u, v and the walking times from each point to u and to v (reachable only)."""
    ok = snapped.ok
    e = snapped.edge[ok]
    speed = network.walk_speed_m_s
    length = network.edges["length_m"].to_numpy()[e]
    pos = np.clip(snapped.pos_m[ok], 0.0, length)
    conn = snapped.snap_dist_m[ok]
    u = network.edges["u"].to_numpy()[e]
    v = network.edges["v"].to_numpy()[e]
    return u, v, (conn + pos) / speed, (conn + length - pos) / speed
