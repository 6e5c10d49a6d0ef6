"""Service areas: what each source reaches within each threshold, drawn as it is counted."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from scipy import sparse

from planning import settings
from planning.access._bounded import Block, anchors, gather, reach_radius_m
from planning.access._engine import _min_csr, reach_matrix
from planning.access._grid import Grid, to_crs
from planning.access._snap import Snapped, snap_points
from planning.network import Network


def service_areas(
    network: Network,
    sources: Snapped,
    *,
    thresholds_min: tuple[float, ...] | list[float],
    grid: Grid | None = None,
    max_snap_m: float | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Draw each source's walking service area at each threshold, as the engine counts.

    Every cell of `grid` within straight-line reach of a source is snapped to the
    network and timed exactly like a demand point (the walk to the nearest road, up to
    `max_snap_m`, then along the network); a source's T-minute area is the union of the
    cells it reaches within T. So the band around the roads widens where time remains
    and closes where it runs out, and a point at a cell centre (a demand point of a
    raster grid) is inside the area exactly when it is counted covered.

    Parameters
    ----------
    network : Network
    sources : Snapped
        Snapped stations; unreachable ones get an empty geometry.
    thresholds_min : list of float
        Thresholds in minutes.
    grid : Grid, optional
        Cells to evaluate; default a square grid of ``settings.service_area_cell_m``.
    max_snap_m : float, optional
        Longest walk from a cell to the road, as used for the demand; default
        ``settings.max_snap_m``.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per source and threshold: ``source`` (position in `sources`),
        ``threshold_min``, ``reach_length_m`` (network length reached), ``area_m2``,
        ``geometry`` (shapely, in the network CRS).

    """
    cells = service_area_cells(
        network,
        sources,
        thresholds_min=thresholds_min,
        grid=grid,
        max_snap_m=max_snap_m,
        progress=progress,
    )
    return cells.areas


@dataclass(frozen=True)
class AreaCells:
    """Service areas with the cells they were drawn from.

    Attributes
    ----------
    areas : pandas.DataFrame
        As returned by :func:`service_areas`.
    grid : Grid
    rows, cols : numpy.ndarray
        The cells evaluated.
    time_s : scipy.sparse.csr_matrix
        Source × cell travel times within the largest threshold.

    """

    areas: pd.DataFrame
    grid: Grid
    rows: np.ndarray
    cols: np.ndarray
    time_s: sparse.csr_matrix

    def dissolved(self, crs: object) -> gpd.GeoDataFrame:
        """Return the covered area per threshold as disks (0–T) and rings (T₋₁–T)."""
        thresholds = sorted(set(self.areas["threshold_min"]))
        csc = self.time_s.tocsc()
        best = np.full(csc.shape[1], np.inf)
        filled = np.flatnonzero(np.diff(csc.indptr))
        if len(filled):
            best[filled] = np.minimum.reduceat(csc.data, csc.indptr[filled])
        records, geoms = [], []
        lower = 0.0
        with rasterio.Env():  # one GDAL environment for every polygon, not one each
            for t in thresholds:
                for kind, hit in (
                    ("disk", best <= t * 60.0),
                    ("ring", (best > lower * 60.0) & (best <= t * 60.0)),
                ):
                    geoms.append(self.grid.polygon(self.rows[hit], self.cols[hit]))
                    records.append(
                        {"kind": kind, "from_min": 0.0 if kind == "disk" else lower, "to_min": t}
                    )
                lower = t
        geoms = to_crs(geoms, self.grid.crs, crs)
        out = gpd.GeoDataFrame(pd.DataFrame.from_records(records), geometry=geoms, crs=crs)
        out["area_m2"] = out.geometry.area.round(2)
        return out


def service_area_cells(
    network: Network,
    sources: Snapped,
    *,
    thresholds_min: tuple[float, ...] | list[float],
    grid: Grid | None = None,
    max_snap_m: float | None = None,
    points: tuple[np.ndarray, sparse.csr_matrix] | None = None,
    progress: bool | None = None,
) -> AreaCells:
    """Return :func:`service_areas` with the cells and times they were drawn from.

    Use :meth:`AreaCells.dissolved` for the covered area per threshold (ArcGIS's
    "disks" 0–T and "rings" between thresholds).

    Parameters
    ----------
    network, sources, thresholds_min, grid, max_snap_m, progress
        As in :func:`service_areas`.
    points : tuple, optional
        Demand points that do not sit at cell centres (point or polygon demand): their
        ``(n, 2)`` coordinates in the network CRS and the source × point travel-time
        matrix (:func:`coverage_matrix` up to the largest threshold at least). A cell
        holding demand points takes the best time of its points instead of its
        centre's, so every point counted covered is inside the area drawn.

    """
    thresholds = sorted(float(t) for t in thresholds_min)
    grid = grid or Grid.square(network.crs, settings.service_area_cell_m)
    limit = max(thresholds) * 60.0
    ok = sources.ok
    radius = reach_radius_m(network, limit)
    rows, cols = grid.cells_near(anchors(network, sources)[ok], network.crs, radius)
    xy = grid.centres(rows, cols, network.crs)
    cells = snap_points(
        network,
        gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=network.crs),
        max_snap_m=max_snap_m,
    )
    lengths = _ReachLength(network, sources, thresholds)
    times = reach_matrix(
        network, sources, cells, limit_s=limit, progress=progress, on_block=lengths.add
    )
    if points is not None:
        times = _with_points(grid, network.crs, rows, cols, times, *points)
    records: list[dict[str, object]] = []
    times = times.tocsr()
    with rasterio.Env():  # one GDAL environment for every polygon, not one each
        for pos in range(len(sources)):
            part = slice(times.indptr[pos], times.indptr[pos + 1])
            row_cells, row_s = times.indices[part], times.data[part]
            for k, t_min in enumerate(thresholds):
                hit = row_cells[row_s <= t_min * 60.0]
                records.append(
                    {
                        "source": pos,
                        "threshold_min": t_min,
                        "reach_length_m": round(float(lengths.total[pos, k]), 2),
                        "geometry": grid.polygon(rows[hit], cols[hit]),
                    }
                )
    out = pd.DataFrame.from_records(records)
    out["geometry"] = pd.Series(to_crs(list(out["geometry"]), grid.crs, network.crs), dtype=object)
    out.insert(3, "area_m2", shapely.area(out["geometry"].to_numpy()).round(2))
    return AreaCells(out, grid, rows, cols, times)


def _with_points(
    grid: Grid,
    crs: object,
    rows: np.ndarray,
    cols: np.ndarray,
    times: sparse.csr_matrix,
    xy: np.ndarray,
    point_times: sparse.csr_matrix,
) -> sparse.csr_matrix:
    """Replace the centre times of cells that hold points by the best time of their points."""
    span = int(cols.max() - cols.min()) + 3 if len(cols) else 1
    c0, r0 = (int(cols.min()) - 1, int(rows.min()) - 1) if len(cols) else (0, 0)
    keys = (rows - r0) * span + (cols - c0)
    pr, pc = grid.cell_of(xy, crs)
    inside = (pc > c0) & (pc < c0 + span - 1) & (pr > r0)
    pkeys = (pr - r0) * span + (pc - c0)
    at = np.searchsorted(keys, pkeys)
    at = np.minimum(at, len(keys) - 1)
    inside &= keys[at] == pkeys
    held = np.zeros(len(keys), dtype=bool)
    held[at[inside]] = True
    centre = times.tocoo()
    keep = ~held[centre.col]
    pts = point_times.tocoo()
    mapped = inside[pts.col]
    r = np.concatenate([centre.row[keep], pts.row[mapped]])
    c = np.concatenate([centre.col[keep], at[pts.col[mapped]]])
    v = np.concatenate([centre.data[keep], pts.data[mapped]])
    return _min_csr(r, c, v, times.shape)


class _ReachLength:
    """Accumulate the network length each source reaches within each threshold."""

    def __init__(self, network: Network, sources: Snapped, thresholds: list[float]) -> None:
        self.network = network
        self.sources = sources
        self.limits = np.array(thresholds) * 60.0
        self.total = np.zeros((len(sources), len(thresholds)))
        e = network.edges
        self.u, self.v = e["u"].to_numpy(), e["v"].to_numpy()
        self.length = e["length_m"].to_numpy()
        ends = np.concatenate([self.u, self.v])
        order = np.argsort(ends, kind="stable")
        self.incident = np.concatenate([np.arange(len(e))] * 2)[order]
        self.ptr = np.searchsorted(ends[order], np.arange(network.n_nodes + 1))

    def add(self, block: Block) -> None:
        """Add the reach of one bounded search."""
        m, n_nodes = len(self.length), self.network.n_nodes
        speed = self.network.walk_speed_m_s
        # every reached node lends its remaining walk to each edge it ends
        idx = gather(self.ptr, block.node)
        deg = np.diff(self.ptr)[block.node]
        row = np.repeat(block.row, deg)
        edge = self.incident[idx]
        key = row * m + edge
        order = np.argsort(key, kind="stable")
        key, time_s = key[order], np.repeat(block.time_s, deg)[order]
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else key
        group_row, group_edge = key[first] // m, key[first] % m
        own = self.sources.edge[block.sources]
        # the times at the two ends of each source's own edge (triples are sorted by row, node)
        pair = block.row * n_nodes + block.node
        mine = np.arange(len(block.sources)) * n_nodes
        t_end = []
        for end in (self.u[own], self.v[own]):
            at = np.minimum(np.searchsorted(pair, mine + end), max(len(pair) - 1, 0))
            hit = pair[at] == mine + end if len(pair) else np.zeros(len(own), dtype=bool)
            t_end.append(np.where(hit, block.time_s[at] if len(pair) else np.inf, np.inf))
        for k, limit in enumerate(self.limits):
            ends = np.clip((limit - time_s) * speed, 0.0, None)
            sums = np.add.reduceat(ends, first) if len(first) else ends
            reach = np.minimum(self.length[group_edge], sums)
            self.total[block.sources, k] += np.bincount(
                group_row, weights=reach, minlength=len(block.sources)
            )
            for i, pos in enumerate(block.sources):
                r0 = limit * speed - self.sources.snap_dist_m[pos]
                if r0 <= 0:
                    continue
                e0 = own[i]
                p, le = self.sources.pos_m[pos], self.length[e0]
                ru = max((limit - t_end[0][i]) * speed, 0.0)
                rv = max((limit - t_end[1][i]) * speed, 0.0)
                self.total[pos, k] -= min(le, ru + rv)
                ivs = [(p - r0, p + r0), (0.0, ru), (le - rv, le)]
                self.total[pos, k] += _union_length(ivs, le)


def _union_length(intervals: list[tuple[float, float]], length: float) -> float:
    """Return the length of the union of `intervals` clipped to [0, length]."""
    clipped = [(max(a, 0.0), min(b, length)) for a, b in intervals]
    return sum(b - a for a, b in _merge([iv for iv in clipped if iv[1] > iv[0]]))


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
