"""Bounded searches: each source's Dijkstra runs on the part of the network it can reach.

Walking time is never less than straight-line distance over the fastest straight-line
speed of any edge (chord / travel time; the connectors are walked at the network's
speed). So within `limit_s` a source can only reach nodes inside the square of
half-side ``R = limit_s × speed`` around its snapped point (its window), and every
shortest path within the limit stays inside it. A batch of sources is searched in one
scipy call: each source gets its own copy of its window's subgraph, the copies are laid
side by side as one block-diagonal graph, and one multi-source pass
(``dijkstra(min_only=True, limit=)``) reaches every copy from its own source only. The
results are identical to a search over the whole network; the work per source grows
with its window (what it can reach), never with the network, and the per-call overhead
is shared by the whole batch. Only reached nodes are kept: (source, node, time) triples.
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

#: Most window nodes (summed over the copies) of one search call; bounds its memory.
MAX_NODES = 1 << 22


@dataclass(frozen=True)
class Block:
    """One bounded search of a batch of sources: what each reaches, as triples.

    The triples are sorted by `row`, then by `node`.

    Attributes
    ----------
    sources : numpy.ndarray
        Positions in the `Snapped` sources searched.
    row : numpy.ndarray
        Per reached (source, node) pair: the position of its source in `sources`.
    node : numpy.ndarray
        Per pair: the global node position.
    time_s : numpy.ndarray
        Per pair: the travel time in seconds, at most the limit.

    """

    sources: np.ndarray
    row: np.ndarray
    node: np.ndarray
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
    """Nodes binned on a square grid of side `size` (at least the reach radius)."""

    def __init__(self, xy: np.ndarray, size: float) -> None:
        self.xy = xy
        self.size = size
        self.origin = xy.min(axis=0) if len(xy) else np.zeros(2)
        cell = np.floor((xy - self.origin) / size).astype(np.int64)
        self.nx = int(cell[:, 0].max()) + 1 if len(xy) else 1
        self.ny = int(cell[:, 1].max()) + 1 if len(xy) else 1
        key = cell[:, 1] * self.nx + cell[:, 0]
        self.order = np.argsort(key, kind="stable")
        self.ptr = np.searchsorted(key[self.order], np.arange(self.nx * self.ny + 1))

    def bins(self, xy: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """Return (owner, bin) of the bins meeting each square of half-side `radius`.

        A square of side ``2 × radius`` meets at most 3 × 3 bins of side ≥ `radius`.
        """
        a = np.floor((xy - radius - self.origin) / self.size).astype(np.int64)
        b = np.floor((xy + radius - self.origin) / self.size).astype(np.int64)
        step = np.arange(3)
        bx, by = a[:, :1] + step, a[:, 1:] + step
        ok_x = (bx <= b[:, :1]) & (bx >= 0) & (bx < self.nx)
        ok_y = (by <= b[:, 1:]) & (by >= 0) & (by < self.ny)
        key = by[:, :, None] * self.nx + bx[:, None, :]
        ok = (ok_y[:, :, None] & ok_x[:, None, :]).reshape(len(xy), 9)
        owner = np.repeat(np.arange(len(xy)), 9).reshape(len(xy), 9)
        return owner[ok], key.reshape(len(xy), 9)[ok]

    def windows(self, xy: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """Return (owner, node) of the nodes in each square, sorted by owner then node."""
        owner, key = self.bins(xy, radius)
        node = self.order[gather(self.ptr, key)]
        owner = np.repeat(owner, self.ptr[key + 1] - self.ptr[key])
        p = self.xy[node]
        inside = np.all((p >= xy[owner] - radius) & (p <= xy[owner] + radius), axis=1)
        owner, node = owner[inside], node[inside]
        order = np.lexsort((node, owner))
        return owner[order], node[order]


def bounded_blocks(
    network: Network, sources: Snapped, limit_s: float, *, chunk: int | None = None
) -> Iterator[Block]:
    """Yield the nodes reached within `limit_s` of every reachable source, batch by batch.

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
        Every reachable source appears in exactly one block.

    """
    src = np.flatnonzero(sources.ok)
    if len(src) == 0:
        return
    radius = reach_radius_m(network, limit_s)
    xy_nodes = network.nodes[["x", "y"]].to_numpy()
    span = float(np.max(np.ptp(xy_nodes, axis=0))) if len(xy_nodes) else 0.0
    bins = _NodeBins(xy_nodes, max(radius, span / 1024.0, 1e-3))
    xy = anchors(network, sources)[src]
    # spatial order: neighbouring sources share cache lines of the node arrays
    cell = np.floor((xy - bins.origin) / bins.size).astype(np.int64)
    order = np.lexsort((cell[:, 0], cell[:, 1]))
    e = network.edges
    edge = sources.edge[src]
    length = e["length_m"].to_numpy()[edge]
    pos = np.clip(sources.pos_m[src], 0.0, length)
    conn = sources.snap_dist_m[src]
    speed = network.walk_speed_m_s
    ends = _Ends(
        e["u"].to_numpy()[edge], e["v"].to_numpy()[edge],
        (conn + pos) / speed, (conn + length - pos) / speed,
    )  # fmt: skip
    step = max(1, settings.dijkstra_chunk_size if chunk is None else chunk)
    csr = network.csr()
    # batches of at most `step` sources and (bounded above by their bins) MAX_NODES nodes
    owner, key = bins.bins(xy[order], radius)
    upper = np.bincount(owner, weights=bins.ptr[key + 1] - bins.ptr[key], minlength=len(order))
    start = 0
    while start < len(order):
        total = np.cumsum(upper[start : start + step])
        stop = start + max(1, int(np.searchsorted(total, MAX_NODES, side="right")))
        batch = order[start:stop]
        win_owner, win_node = bins.windows(xy[batch], radius)
        yield _search(csr, src, batch, win_owner, win_node, ends, limit_s)
        start = stop


@dataclass(frozen=True)
class _Ends:
    """Per source: the end nodes of its edge and the walking times to them (seconds)."""

    u: np.ndarray
    v: np.ndarray
    cost_u: np.ndarray
    cost_v: np.ndarray


def gather(ptr: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Return the positions ``ptr[k]:ptr[k + 1]`` of every key in `keys`, concatenated."""
    starts = ptr[keys]
    counts = ptr[keys + 1] - starts
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())


def _search(
    csr: sparse.csr_matrix,
    src: np.ndarray,
    batch: np.ndarray,
    owner: np.ndarray,
    node: np.ndarray,
    ends: _Ends,
    limit_s: float,
) -> Block:
    """Search a batch in one call: one copy of its window per source, side by side.

    `owner` (position in `batch`) and `node` list the windows, sorted by owner then node.
    """
    n_nodes, k = csr.shape[0], len(batch)
    n = len(node)
    # sorted by owner then node, so the copies' keys are sorted and unique
    member = owner * n_nodes + node
    idx = gather(csr.indptr, node)
    rows = np.repeat(np.arange(n), np.diff(csr.indptr)[node])
    cols, inside = _lookup(member, owner[rows] * n_nodes + csr.indices[idx])
    u, v = ends.u[batch], ends.v[batch]
    cu, cv = ends.cost_u[batch], ends.cost_v[batch]
    lu, in_u = _lookup(member, np.arange(k) * n_nodes + u)
    lv, in_v = _lookup(member, np.arange(k) * n_nodes + v)
    loop = u == v
    # a loop edge joins both connectors to one node: the shorter one wins
    cu = np.where(loop, np.minimum(cu, cv), cu)
    in_v &= ~loop
    virt = n + np.arange(k)
    graph = sparse.csr_matrix(
        (
            np.concatenate([csr.data[idx][inside], cu[in_u], cv[in_v]]),
            (
                np.concatenate([rows[inside], virt[in_u], virt[in_v]]),
                np.concatenate([cols[inside], lu[in_u], lv[in_v]]),
            ),
        ),
        shape=(n + k, n + k),
    )
    dist = csgraph.dijkstra(graph, directed=True, indices=virt, limit=limit_s, min_only=True)
    hit = np.flatnonzero(np.isfinite(dist[:n]))
    return Block(src[batch], owner[hit], node[hit], dist[hit])


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the positions of `keys` in `sorted_keys` and whether each is there."""
    at = np.searchsorted(sorted_keys, keys)
    at = np.minimum(at, max(len(sorted_keys) - 1, 0))
    found = sorted_keys[at] == keys if len(sorted_keys) else np.zeros(len(keys), dtype=bool)
    return at, found
