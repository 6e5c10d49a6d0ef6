"""Candidate sites in the areas that existing stations leave uncovered."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from planning._errors import InputError
from planning.access import nearest_times, snap_points
from planning.network import Network

log = logging.getLogger(__name__)


def generate_candidates(
    network: Network,
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | None,
    *,
    threshold_min: float = 15.0,
    spacing_m: float = 300.0,
    step_m: float | None = None,
    weight: str = "elderly",
    max_snap_m: float | None = None,
    kind: str = "station",
    prefix: str = "G",
) -> gpd.GeoDataFrame:
    """Propose candidate sites in the areas existing stations leave uncovered.

    Locations are the network nodes, or points every `step_m` metres along every edge.
    A location qualifies when no existing station reaches it within `threshold_min`.
    Its score is the uncovered demand (demand points beyond the threshold of every
    station) within `spacing_m` metres (straight line). Locations are then thinned
    greedily: in order of descending score (ties by position), a location is kept when
    it is at least `spacing_m` from every location kept before; zero scores are dropped.

    Parameters
    ----------
    network : Network
    demand : geopandas.GeoDataFrame
    stations : geopandas.GeoDataFrame or None
    threshold_min : float
        Coverage threshold in minutes.
    spacing_m : float
        Minimum distance between candidates in metres (and scoring radius).
    step_m : float, optional
        Spacing of points along edges in metres; default: use the nodes.
    weight : str
        Demand column.
    max_snap_m : float, optional
        Snapping limit in metres; default the limit the demand was covered with
        (``demand.attrs["max_snap_m"]``, set by ``compute_coverage``), else
        ``settings.max_snap_m``.
    kind : str
        Kind given to the candidates.
    prefix : str
        Prefix of the generated ids (``G00001`` …).

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id``, ``kind``, ``cost`` (1.0), ``uncovered_nearby``,
        ``travel_time_s_nearest_station``, geometry (network CRS), best first.

    """
    if not spacing_m > 0:
        msg = f"spacing_m must be a positive distance in metres, got {spacing_m}."
        raise InputError(msg)
    max_snap_m = demand.attrs.get("max_snap_m") if max_snap_m is None else max_snap_m
    xy = locations(network, step_m)
    locs = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=network.crs)
    limit = threshold_min * 60.0
    t_loc, t_dem = np.full(len(locs), np.inf), np.full(len(demand), np.inf)
    if stations is not None and len(stations):
        snap_s = snap_points(network, stations, max_snap_m=max_snap_m)
        t_loc = nearest_times(network, snap_s, snap_points(network, locs))[0]
        t_dem = nearest_times(network, snap_s, snap_points(network, demand, max_snap_m=max_snap_m))[
            0
        ]
    snap_d = snap_points(network, demand, max_snap_m=max_snap_m)
    unc = snap_d.ok & (t_dem > limit)
    dxy = np.column_stack(
        [demand.geometry.to_crs(network.crs).x, demand.geometry.to_crs(network.crs).y]
    )
    pairs = cKDTree(xy).sparse_distance_matrix(
        cKDTree(dxy[unc]), spacing_m, output_type="coo_matrix"
    )
    w = demand[weight].to_numpy(float)[unc]
    score = np.bincount(pairs.row, weights=w[pairs.col], minlength=len(xy))
    ok = (t_loc > limit) & (score > 0)
    keep = thin(xy, score, ok, spacing_m)
    out = gpd.GeoDataFrame(
        {
            "site_id": [f"{prefix}{i + 1:05d}" for i in range(len(keep))],
            "kind": kind,
            "cost": 1.0,
            "uncovered_nearby": score[keep],
            "travel_time_s_nearest_station": t_loc[keep],
        },
        geometry=locs.geometry.to_numpy()[keep],
        crs=network.crs,
    )
    log.info("generated %d candidate sites from %d locations", len(out), len(xy))
    return out


def locations(network: Network, step_m: float | None) -> np.ndarray:
    """Return the node coordinates, or points every `step_m` metres along the edges."""
    if step_m is None:
        return np.asarray(network.nodes[["x", "y"]].to_numpy(float))
    geoms = network.edges.geometry.to_numpy()
    lengths = shapely.length(geoms)
    counts = np.maximum(np.floor(lengths / step_m).astype(int), 0) + 1
    idx = np.repeat(np.arange(len(geoms)), counts)
    offs = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) * step_m
    pts = shapely.line_interpolate_point(geoms[idx], offs)
    xy = shapely.get_coordinates(pts)
    return np.unique(np.round(xy, 2), axis=0)


def thin(xy: np.ndarray, score: np.ndarray, ok: np.ndarray, spacing: float) -> np.ndarray:
    """Keep locations by descending score, each `spacing` from those kept before."""
    order = np.flatnonzero(ok)[np.argsort(-score[ok], kind="stable")]
    cells: dict[tuple[int, int], list[int]] = {}
    kept = []
    for i in order:
        cx, cy = int(xy[i, 0] // spacing), int(xy[i, 1] // spacing)
        near = [
            k for dx in (-1, 0, 1) for dy in (-1, 0, 1) for k in cells.get((cx + dx, cy + dy), [])
        ]
        if near and (np.hypot(*(xy[near] - xy[i]).T) < spacing).any():
            continue
        cells.setdefault((cx, cy), []).append(int(i))
        kept.append(int(i))
    return np.asarray(kept, dtype=np.int64)
