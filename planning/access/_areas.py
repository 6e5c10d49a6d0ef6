"""Service areas: the reachable edge pieces of each source, drawn as network polygons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csgraph
from tqdm.auto import tqdm

from planning import settings
from planning.access._engine import _augmented
from planning.access._snap import Snapped
from planning.network import Network


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
