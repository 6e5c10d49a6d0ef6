"""Snapping, the travel-time engine and service areas on a `Network`.

Points (demand, stations, candidate sites) are snapped to the nearest point of the
nearest edge, not only the nearest node. The connector from the point to the edge and
the part of the edge to each end node are walked at the network's speed. A point
farther than ``max_snap_m`` from every edge is reported unreachable.

Travel times run on ``scipy.sparse.csgraph.dijkstra``. Each source is a virtual node
joined to the two end nodes of its edge; a target's time is the best of its two end
nodes plus its own connector, or the direct walk along a shared edge. Nearest-station
times take one multi-source pass; what each source reaches within a limit takes bounded
passes in chunks, stored as a sparse source × target matrix (never a dense one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from tqdm.auto import tqdm

from planning import settings
from planning._errors import InputError
from planning.network import Network

log = logging.getLogger(__name__)

#: Smallest stored travel time in seconds: a stored entry always means "reachable".
MIN_TIME_S = 1e-6

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


def _augmented(network: Network, sources: Snapped) -> sparse.csr_matrix:
    """Return the travel-time matrix with one out-only virtual node per reachable source."""
    n = network.n_nodes
    u, v, cu, cv = _end_costs(network, sources)
    s = len(u)
    virt = n + np.arange(s)
    base = network.csr().tocoo()
    rows = np.concatenate([base.row, virt, virt])
    cols = np.concatenate([base.col, u, v])
    vals = np.concatenate([base.data, cu, cv])
    # the shorter of two connectors wins when both ends are one node (a loop edge); a
    # point exactly on a node keeps its zero-time link (csgraph treats stored zeros as edges)
    return _min_csr(rows, cols, vals, (n + s, n + s), floor=0.0)


def _same_edge_pairs(network: Network, sources: Snapped, targets: Snapped) -> pd.DataFrame:
    """Return direct along-edge times for source/target pairs that share an edge."""
    speed = network.walk_speed_m_s
    so, to = np.flatnonzero(sources.ok), np.flatnonzero(targets.ok)
    s = pd.DataFrame(
        {
            "edge": sources.edge[so],
            "src": np.arange(len(so)),
            "ps": sources.pos_m[so],
            "cs": sources.snap_dist_m[so],
        }
    )
    t = pd.DataFrame(
        {
            "edge": targets.edge[to],
            "tgt": to,
            "pt": targets.pos_m[to],
            "ct": targets.snap_dist_m[to],
        }
    )
    m = s.merge(t, on="edge")
    m["time_s"] = (m["cs"] + (m["ps"] - m["pt"]).abs() + m["ct"]) / speed
    return m[["src", "tgt", "time_s"]]


def nearest_times(
    network: Network, sources: Snapped, targets: Snapped
) -> tuple[np.ndarray, np.ndarray]:
    """Return each target's travel time to its nearest source and that source's position.

    One multi-source Dijkstra pass. Unreachable targets get ``inf`` and ``-1``.

    Parameters
    ----------
    network : Network
    sources, targets : Snapped

    Returns
    -------
    time_s : numpy.ndarray
        Seconds, aligned with `targets`.
    nearest : numpy.ndarray
        Position in `sources` of the nearest source (``-1`` when none is reachable).

    """
    time_s = np.full(len(targets), np.inf)
    nearest = np.full(len(targets), -1, dtype=np.int64)
    src_pos = np.flatnonzero(sources.ok)
    if len(src_pos) == 0 or not targets.ok.any():
        return time_s, nearest
    n = network.n_nodes
    graph = _augmented(network, sources)
    dist, _, origin = csgraph.dijkstra(
        graph,
        directed=True,
        indices=n + np.arange(len(src_pos)),
        min_only=True,
        return_predecessors=True,
    )
    u, v, cu, cv = _end_costs(network, targets)
    via_u, via_v = dist[u] + cu, dist[v] + cv
    best = np.minimum(via_u, via_v)
    who = np.where(via_u <= via_v, origin[u], origin[v]) - n
    t_ok = np.flatnonzero(targets.ok)
    time_s[t_ok] = best
    nearest[t_ok] = np.where(np.isfinite(best), src_pos[np.clip(who, 0, None)], -1)
    direct = _same_edge_pairs(network, sources, targets)
    if len(direct):
        direct = direct.sort_values(["tgt", "time_s", "src"]).drop_duplicates("tgt")
        tg = direct["tgt"].to_numpy()
        better = direct["time_s"].to_numpy() < time_s[tg]
        time_s[tg[better]] = direct["time_s"].to_numpy()[better]
        nearest[tg[better]] = src_pos[direct["src"].to_numpy()[better]]
    return time_s, nearest


def _node_attachments(
    network: Network, targets: Snapped
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a CSR-like index node → (target position, time from node to target)."""
    t_ok = np.flatnonzero(targets.ok)
    u, v, cu, cv = _end_costs(network, targets)
    node = np.concatenate([u, v])
    tgt = np.concatenate([t_ok, t_ok])
    cost = np.concatenate([cu, cv])
    order = np.argsort(node, kind="stable")
    ptr = np.zeros(network.n_nodes + 1, dtype=np.int64)
    np.add.at(ptr, node + 1, 1)
    return np.cumsum(ptr), tgt[order], cost[order]


def coverage_matrix(
    network: Network,
    sources: Snapped,
    targets: Snapped,
    *,
    limit_s: float,
    progress: bool | None = None,
) -> sparse.csr_matrix:
    """Return the sparse source × target matrix of travel times within `limit_s`.

    Stored entries are travel times in seconds (at least ``MIN_TIME_S``); a missing
    entry means "not reachable within the limit". Memory grows with the number of
    reachable pairs, never with sources × targets.

    Parameters
    ----------
    network : Network
    sources, targets : Snapped
    limit_s : float
        Time limit in seconds.
    progress : bool, optional
        Show a progress bar; default ``settings.progress``.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(len(sources), len(targets))``.

    """
    src_pos = np.flatnonzero(sources.ok)
    shape = (len(sources), len(targets))
    if len(src_pos) == 0 or not targets.ok.any():
        return sparse.csr_matrix(shape)
    n = network.n_nodes
    graph = _augmented(network, sources)
    ptr, att_tgt, att_cost = _node_attachments(network, targets)
    chunk = max(1, settings.dijkstra_chunk_size)
    rows, cols, vals = [], [], []
    show = settings.progress if progress is None else progress
    steps = range(0, len(src_pos), chunk)
    for start in tqdm(steps, desc="reach", disable=not show or len(steps) < 4):
        ids = np.arange(start, min(start + chunk, len(src_pos)))
        dist = csgraph.dijkstra(graph, directed=True, indices=n + ids, limit=limit_s)[:, :n]
        r, c, t = _expand(dist, ptr, att_tgt, att_cost, limit_s)
        rows.append(src_pos[ids[r]])
        cols.append(c)
        vals.append(t)
    direct = _same_edge_pairs(network, sources, targets)
    direct = direct[direct["time_s"] <= limit_s]
    rows.append(src_pos[direct["src"].to_numpy()])
    cols.append(direct["tgt"].to_numpy())
    vals.append(direct["time_s"].to_numpy())
    return _min_csr(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), shape)


def _expand(
    dist: np.ndarray, ptr: np.ndarray, att_tgt: np.ndarray, att_cost: np.ndarray, limit_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, node = np.nonzero(np.isfinite(dist))
    d = dist[r, node]
    counts = ptr[node + 1] - ptr[node]
    rep = np.repeat(np.arange(len(node)), counts)
    starts = np.repeat(ptr[node], counts)
    offs = np.arange(len(rep)) - np.repeat(np.cumsum(counts) - counts, counts)
    k = starts + offs
    t = d[rep] + att_cost[k]
    keep = t <= limit_s
    return r[rep][keep], att_tgt[k][keep], t[keep]


def _min_csr(
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    shape: tuple[int, int],
    *,
    floor: float = MIN_TIME_S,
) -> sparse.csr_matrix:
    """Build a CSR matrix keeping the minimum of duplicate entries, values ≥ `floor`."""
    order = np.lexsort((vals, cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    data = np.maximum(vals[first], floor)
    return sparse.csr_matrix((data, (rows[first], cols[first])), shape=shape)


def service_areas(
    network: Network,
    sources: Snapped,
    *,
    thresholds_min: tuple[float, ...] | list[float],
    buffer_m: float | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Draw each source's walking service area at each threshold.

    The area is the union of the reachable edge pieces (edges cut where the remaining
    time runs out, the source's own edge walked both ways from its snapped point)
    buffered by `buffer_m`: a network polygon, not a circle or a convex hull.

    Parameters
    ----------
    network : Network
    sources : Snapped
        Snapped stations; unreachable ones get an empty geometry.
    thresholds_min : list of float
        Thresholds in minutes.
    buffer_m : float, optional
        Half-width in metres of the band drawn around reachable pieces; default
        ``settings.service_area_buffer_m``.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per source and threshold: ``source`` (position in `sources`),
        ``threshold_min``, ``reach_length_m``, ``area_m2``, ``geometry`` (shapely, in
        the network CRS).

    """
    width = settings.service_area_buffer_m if buffer_m is None else float(buffer_m)
    thresholds = sorted(float(t) for t in thresholds_min)
    records: list[dict[str, object]] = []
    src_pos = np.flatnonzero(sources.ok)
    n = network.n_nodes
    graph = _augmented(network, sources)
    chunk = max(1, settings.dijkstra_chunk_size)
    show = settings.progress if progress is None else progress
    limit = max(thresholds) * 60.0
    steps = range(0, len(src_pos), chunk)
    for start in tqdm(steps, desc="service areas", disable=not show or len(steps) < 4):
        ids = np.arange(start, min(start + chunk, len(src_pos)))
        dist = csgraph.dijkstra(graph, directed=True, indices=n + ids, limit=limit)[:, :n]
        for row, k in enumerate(ids):
            for t_min in thresholds:
                lines = _reachable_pieces(network, sources, int(src_pos[k]), dist[row], t_min)
                records.append(_area_record(int(src_pos[k]), t_min, lines, width))
    for pos in np.flatnonzero(~sources.ok):
        for t_min in thresholds:
            records.append(_area_record(int(pos), t_min, [], width))
    out = pd.DataFrame.from_records(records)
    return out.sort_values(["source", "threshold_min"], ignore_index=True)


def _area_record(
    pos: int, t_min: float, lines: list[shapely.LineString], width: float
) -> dict[str, object]:
    if not lines:
        geom = shapely.Polygon()
        length = 0.0
    else:
        multi = shapely.multilinestrings(lines)
        geom = shapely.buffer(multi, width, quad_segs=4)
        length = float(sum(line.length for line in lines))
    return {
        "source": pos,
        "threshold_min": t_min,
        "reach_length_m": round(length, 2),
        "area_m2": round(float(geom.area), 2),
        "geometry": geom,
    }


def reachable_intervals(
    network: Network, sources: Snapped, pos: int, node_time_s: np.ndarray, t_min: float
) -> dict[int, list[tuple[float, float]]]:
    """Return, per edge, the merged intervals (metres from ``u``) reachable within `t_min`.

    Parameters
    ----------
    network : Network
    sources : Snapped
    pos : int
        Position of the source in `sources`.
    node_time_s : numpy.ndarray
        Travel time in seconds from the source to every node (``inf`` if beyond).
    t_min : float
        Threshold in minutes.

    Returns
    -------
    dict
        ``{edge position: [(start_m, end_m), ...]}``.

    """
    speed = network.walk_speed_m_s
    limit = t_min * 60.0
    e = network.edges
    length = e["length_m"].to_numpy()
    with np.errstate(invalid="ignore"):
        ru = np.clip((limit - node_time_s[e["u"].to_numpy()]) * speed, 0.0, None)
        rv = np.clip((limit - node_time_s[e["v"].to_numpy()]) * speed, 0.0, None)
    ru, rv = np.nan_to_num(ru), np.nan_to_num(rv)
    out: dict[int, list[tuple[float, float]]] = {}
    for k in np.flatnonzero((ru > 0) | (rv > 0)):
        out[int(k)] = [(0.0, min(ru[k], length[k])), (max(length[k] - rv[k], 0.0), length[k])]
    own = int(sources.edge[pos])
    r0 = limit * speed - sources.snap_dist_m[pos]
    if r0 > 0:
        p = sources.pos_m[pos]
        out.setdefault(own, []).append((max(p - r0, 0.0), min(p + r0, length[own])))
    return {k: _merge([iv for iv in ivs if iv[1] > iv[0]]) for k, ivs in out.items()}


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _reachable_pieces(
    network: Network, sources: Snapped, pos: int, node_time_s: np.ndarray, t_min: float
) -> list[shapely.LineString]:
    from shapely.ops import substring

    geoms = network.edges.geometry.values
    lengths = network.edges["length_m"].to_numpy()
    pieces = []
    for k, ivs in reachable_intervals(network, sources, pos, node_time_s, t_min).items():
        for a, b in ivs:
            if b - a >= lengths[k] - 1e-9:
                pieces.append(geoms[k])
            else:
                piece = substring(geoms[k], a, b)
                if isinstance(piece, shapely.LineString) and piece.length > 0:
                    pieces.append(piece)
    return pieces
