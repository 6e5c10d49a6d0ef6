"""Bounded searches: each source's Dijkstra runs on the part of the network it can reach.

Walking time is never less than straight-line distance over the fastest straight-line
speed of any edge (chord / travel time; the connectors are walked at the network's
speed). So within `limit_s` a source can only reach nodes inside the square of
half-side ``R = limit_s × speed`` around its snapped point, and every shortest path
within the limit stays inside that square. Sources are grouped into square tiles; one
scipy search per tile (in chunks) runs on the subgraph inside the tile grown by ``R``.
The results are identical to a search over the whole network, and the cost of a source
grows with the size of its tile's subgraph, not with the network.

The tile side is chosen per call from a cost model: each scipy call costs a fixed
overhead, each source a pass over its tile's subgraph; few sources spread over a city get
small tiles, many dense sources share large ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from planning import settings
from planning.access._snap import Snapped
from planning.network import Network

#: Modelled cost of one scipy search call (subgraph extraction included), in seconds.
CALL_COST_S = 4e-4


#: Modelled cost per source and subgraph node (initialisation and the dense row), seconds.
NODE_COST_S = 6e-9


#: Largest dense block of one search call (sources × subgraph nodes).
MAX_BLOCK = 1 << 23


@dataclass(frozen=True)
class Block:
    """One bounded search: sources, the subgraph's nodes and their times.

    Attributes
    ----------
    sources : numpy.ndarray
        Positions in the `Snapped` sources searched.
    nodes : numpy.ndarray
        Global node positions of the subgraph, ascending.
    time_s : numpy.ndarray
        ``(len(sources), len(nodes))`` seconds; ``inf`` beyond the limit.

    """

    sources: np.ndarray
    nodes: np.ndarray
    time_s: np.ndarray


def reach_radius_m(network: Network, limit_s: float) -> float:
    """Return the straight-line distance beyond which nothing is reached within `limit_s`."""
    e = network.edges
    x, y = network.nodes["x"].to_numpy(), network.nodes["y"].to_numpy()
    u, v = e["u"].to_numpy(), e["v"].to_numpy()
    chord = np.hypot(x[u] - x[v], y[u] - y[v])
    time_s = np.maximum(e["travel_time_s"].to_numpy(), 1e-9)
    fastest = float(np.max(chord / time_s)) if len(e) else 0.0
    speed = max(network.walk_speed_m_s, fastest)
    return float(limit_s) * speed * (1.0 + 1e-9) + 1e-6


def anchors(network: Network, snapped: Snapped) -> np.ndarray:
    """Return the ``(n, 2)`` coordinates of the snapped points on their edges (NaN if not)."""
    out = np.full((len(snapped), 2), np.nan)
    ok = snapped.ok
    if ok.any():
        lines = network.edges.geometry.values[snapped.edge[ok]]
        pts = shapely.line_interpolate_point(lines, snapped.pos_m[ok])
        out[ok] = shapely.get_coordinates(pts)
    return out


class _NodeBins:
    """Nodes binned on a square grid of side `size` for fast window queries."""

    def __init__(self, xy: np.ndarray, size: float) -> None:
        self.size = size
        self.origin = xy.min(axis=0) if len(xy) else np.zeros(2)
        cell = np.floor((xy - self.origin) / size).astype(np.int64)
        self.nx = int(cell[:, 0].max()) + 1 if len(xy) else 1
        self.ny = int(cell[:, 1].max()) + 1 if len(xy) else 1
        key = cell[:, 1] * self.nx + cell[:, 0]
        self.order = np.argsort(key, kind="stable")
        self.ptr = np.searchsorted(key[self.order], np.arange(self.nx * self.ny + 1))
        counts = np.diff(self.ptr).reshape(self.ny, self.nx)
        self.sat = np.zeros((self.ny + 1, self.nx + 1), dtype=np.int64)
        self.sat[1:, 1:] = counts.cumsum(0).cumsum(1)

    def _range(self, lo: np.ndarray, hi: np.ndarray) -> tuple[int, int, int, int]:
        a = np.floor((lo - self.origin) / self.size).astype(np.int64)
        b = np.floor((hi - self.origin) / self.size).astype(np.int64)
        x0, y0 = max(int(a[0]), 0), max(int(a[1]), 0)
        x1, y1 = min(int(b[0]), self.nx - 1), min(int(b[1]), self.ny - 1)
        return x0, y0, x1, y1

    def counts(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Return the number of nodes in the bins that meet each box ``[lo[i], hi[i]]``."""
        a = np.floor((lo - self.origin) / self.size).astype(np.int64)
        b = np.floor((hi - self.origin) / self.size).astype(np.int64)
        x0, y0 = np.clip(a[:, 0], 0, self.nx), np.clip(a[:, 1], 0, self.ny)
        x1, y1 = np.clip(b[:, 0] + 1, 0, self.nx), np.clip(b[:, 1] + 1, 0, self.ny)
        s = self.sat
        out = s[y1, x1] - s[y0, x1] - s[y1, x0] + s[y0, x0]
        return np.where((x1 > x0) & (y1 > y0), out, 0)

    def nodes(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Return the sorted positions of the nodes in the bins that meet the box."""
        x0, y0, x1, y1 = self._range(lo, hi)
        if x1 < x0 or y1 < y0:
            return np.zeros(0, dtype=np.int64)
        parts = [
            self.order[self.ptr[row * self.nx + x0] : self.ptr[row * self.nx + x1 + 1]]
            for row in range(y0, y1 + 1)
        ]
        return np.sort(np.concatenate(parts))


def _tiles(xy: np.ndarray, bins: _NodeBins, radius: float) -> list[np.ndarray]:
    """Group source positions (rows of `xy`) into the tiles of the cheapest side."""
    best: tuple[float, list[np.ndarray]] | None = None
    origin = xy.min(axis=0)
    span = float(np.max(xy.max(axis=0) - origin)) + radius
    side = max(radius, span / 4096.0)
    while True:
        cell = np.floor((xy - origin) / side).astype(np.int64)
        key = cell[:, 1] * (int(cell[:, 0].max()) + 1) + cell[:, 0]
        order = np.argsort(key, kind="stable")
        cuts = np.flatnonzero(np.diff(key[order])) + 1
        groups = np.split(order, cuts)
        starts = np.r_[0, cuts]
        lo = np.minimum.reduceat(xy[order], starts) - radius
        hi = np.maximum.reduceat(xy[order], starts) + radius
        n_sub = bins.counts(lo, hi).astype(float)
        size = np.diff(np.r_[starts, len(order)]).astype(float)
        calls = np.maximum(1.0, np.ceil(size * n_sub / MAX_BLOCK))
        cost = float(np.sum(calls * CALL_COST_S + size * n_sub * NODE_COST_S))
        if best is None or cost < best[0]:
            best = (cost, groups)
        if side > span:
            return best[1]
        side *= 2.0


def bounded_blocks(
    network: Network, sources: Snapped, limit_s: float, *, chunk: int | None = None
) -> Iterator[Block]:
    """Yield the node times within `limit_s` of every reachable source, tile by tile.

    Parameters
    ----------
    network : Network
    sources : Snapped
    limit_s : float
        Time limit in seconds.
    chunk : int, optional
        Most sources per search call; default ``settings.dijkstra_chunk_size``.

    Yields
    ------
    Block
        Every reachable source with a node within reach appears in exactly one block.

    """
    src = np.flatnonzero(sources.ok)
    if len(src) == 0:
        return
    radius = reach_radius_m(network, limit_s)
    xy_nodes = network.nodes[["x", "y"]].to_numpy()
    span = float(np.max(np.ptp(xy_nodes, axis=0))) if len(xy_nodes) else 0.0
    bins = _NodeBins(xy_nodes, max(radius, span / 1024.0, 1e-3))
    xy = anchors(network, sources)[src]
    csr = network.csr()
    e_u = network.edges["u"].to_numpy()[sources.edge[src]]
    e_v = network.edges["v"].to_numpy()[sources.edge[src]]
    speed = network.walk_speed_m_s
    length = network.edges["length_m"].to_numpy()[sources.edge[src]]
    pos = np.clip(sources.pos_m[src], 0.0, length)
    conn = sources.snap_dist_m[src]
    cost_u, cost_v = (conn + pos) / speed, (conn + length - pos) / speed
    step = max(1, settings.dijkstra_chunk_size if chunk is None else chunk)
    local = np.full(network.n_nodes, -1, dtype=np.int64)
    for group in _tiles(xy, bins, radius):
        lo, hi = xy[group].min(axis=0) - radius, xy[group].max(axis=0) + radius
        sub = bins.nodes(lo, hi)
        if len(sub) == 0:
            continue
        graph = _subgraph(csr, sub, local)
        per_call = max(1, min(step, MAX_BLOCK // max(len(sub), 1)))
        for start in range(0, len(group), per_call):
            ids = group[start : start + per_call]
            dist = _search(graph, sub, e_u[ids], e_v[ids], cost_u[ids], cost_v[ids], limit_s)
            yield Block(src[ids], sub, dist)


def gather(ptr: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Return the positions ``ptr[k]:ptr[k + 1]`` of every key in `keys`, concatenated."""
    starts = ptr[keys]
    counts = ptr[keys + 1] - starts
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())


def _subgraph(csr: sparse.csr_matrix, sub: np.ndarray, local: np.ndarray) -> sparse.csr_matrix:
    """Return the subgraph on the nodes `sub`; `local` is a scratch array of -1 (kept so)."""
    local[sub] = np.arange(len(sub))
    idx = gather(csr.indptr, sub)
    cols = local[csr.indices[idx]]
    rows = np.repeat(np.arange(len(sub)), np.diff(csr.indptr)[sub])
    keep = cols >= 0
    local[sub] = -1
    n = len(sub)
    return sparse.csr_matrix((csr.data[idx][keep], (rows[keep], cols[keep])), shape=(n, n))


def _search(
    graph: sparse.csr_matrix,
    sub: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    cu: np.ndarray,
    cv: np.ndarray,
    limit_s: float,
) -> np.ndarray:
    """Run one bounded search from virtual source nodes joined to their edges' ends."""
    n, k = graph.shape[0], len(u)
    lu, lv = np.searchsorted(sub, u), np.searchsorted(sub, v)
    in_u = (lu < n) & (sub[np.minimum(lu, n - 1)] == u)
    in_v = (lv < n) & (sub[np.minimum(lv, n - 1)] == v)
    virt = n + np.arange(k)
    loop = u == v
    # a loop edge joins both connectors to one node: the shorter one wins
    cu = np.where(loop, np.minimum(cu, cv), cu)
    in_v &= ~loop
    coo = graph.tocoo()
    rows = np.concatenate([coo.row, virt[in_u], virt[in_v]])
    cols = np.concatenate([coo.col, lu[in_u], lv[in_v]])
    vals = np.concatenate([coo.data, cu[in_u], cv[in_v]])
    aug = sparse.csr_matrix((vals, (rows, cols)), shape=(n + k, n + k))
    dist = csgraph.dijkstra(aug, directed=True, indices=virt, limit=limit_s)
    return np.asarray(dist[:, :n])
