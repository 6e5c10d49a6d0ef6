"""Peers of the reach engine, run in the same benchmark: what else computes "what a node reaches".

Every peer takes source node positions and a limit in seconds and returns, per source,
the reached node positions (ascending) and their times, so that each can be checked
against :func:`planning.access.coverage_matrix` on the sources it ran:

* :func:`networkx_cutoff`: ``single_source_dijkstra_path_length(cutoff=)`` per source,
  what hand-written osmnx scripts do;
* :func:`networkx_ego`: ``ego_graph(radius=, distance=)``, the OSMnx isochrone recipe
  (it yields the reached nodes, not their times);
* :func:`scipy_whole_graph`: ``scipy.sparse.csgraph.dijkstra(limit=)`` over the whole
  graph, the engine this package used before its bounded searches, kept here as the
  reference implementation;
* :func:`pandana_range`: pandana's contraction-hierarchy range query (AGPL, installed
  only with the ``bench`` extra; skipped with a message when it is not importable).
"""

from __future__ import annotations

import time
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from planning.access import MIN_TIME_S, Snapped
from planning.network import Network

Reach = list[tuple[np.ndarray, np.ndarray]]


def at_nodes(network: Network, nodes: np.ndarray) -> Snapped:
    """Return `nodes` as snapped points lying exactly on them (no connector, no rounding)."""
    e = network.edges
    u, v = e["u"].to_numpy(), e["v"].to_numpy()
    edge_of = np.full(network.n_nodes, -1, dtype=np.int64)
    at_end = np.zeros(network.n_nodes, dtype=bool)
    edge_of[v[::-1]] = np.arange(len(e))[::-1]
    at_end[v] = True
    edge_of[u[::-1]] = np.arange(len(e))[::-1]
    at_end[u] = False
    edge = edge_of[nodes]
    pos = np.where(at_end[nodes], e["length_m"].to_numpy()[edge], 0.0)
    return Snapped(
        pd.RangeIndex(len(nodes)),
        edge,
        pos,
        np.zeros(len(nodes)),
        np.full(len(nodes), "ok", dtype=object),
    )


def rows_of(matrix: sparse.csr_matrix, positions: np.ndarray) -> Reach:
    """Return the rows of a source × node matrix as (nodes, times) pairs."""
    out = []
    for p in positions:
        row = matrix.getrow(int(p))
        order = np.argsort(row.indices)
        out.append((row.indices[order].astype(np.int64), row.data[order]))
    return out


def graph_of(network: Network) -> nx.Graph:
    """Return the network as a simple networkx Graph weighted by ``t`` (seconds)."""
    csr = network.csr()
    coo = sparse.triu(csr, k=1).tocoo()
    g = nx.Graph()
    g.add_nodes_from(range(network.n_nodes))
    g.add_weighted_edges_from(
        zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True), weight="t"
    )
    return g


def networkx_cutoff(g: nx.Graph, sources: np.ndarray, limit_s: float) -> Reach:
    """Run networkx's cutoff Dijkstra from every source."""
    out = []
    for s in sources.tolist():
        got = nx.single_source_dijkstra_path_length(g, s, cutoff=limit_s, weight="t")
        nodes = np.fromiter(got.keys(), dtype=np.int64, count=len(got))
        times = np.fromiter(got.values(), dtype=float, count=len(got))
        order = np.argsort(nodes)
        out.append((nodes[order], times[order]))
    return out


def networkx_ego(g: nx.Graph, sources: np.ndarray, limit_s: float) -> Reach:
    """Run the OSMnx isochrone recipe (``ego_graph``) from every source; times are NaN."""
    out = []
    for s in sources.tolist():
        sub = nx.ego_graph(g, s, radius=limit_s, distance="t")
        nodes = np.sort(np.fromiter(sub.nodes, dtype=np.int64, count=len(sub)))
        out.append((nodes, np.full(len(nodes), np.nan)))
    return out


def scipy_whole_graph(
    network: Network, sources: np.ndarray, limit_s: float, *, chunk: int = 16
) -> Reach:
    """Run ``csgraph.dijkstra(limit=)`` on the whole graph, `chunk` sources per call."""
    csr = network.csr()
    out = []
    for start in range(0, len(sources), chunk):
        ids = sources[start : start + chunk]
        dist = csgraph.dijkstra(csr, directed=True, indices=ids, limit=limit_s)
        for row in dist:
            nodes = np.flatnonzero(np.isfinite(row))
            out.append((nodes.astype(np.int64), row[nodes]))
    return out


def pandana_network(network: Network, limit_s: float) -> tuple[Any, dict[str, float]] | str:
    """Build and precompute a pandana network; return it with timings, or why it is absent."""
    try:
        import pandana
    except ImportError as exc:
        return f"pandana is not importable ({exc}); install the bench extra to compare with it"
    e = network.edges
    start = time.perf_counter()
    net = pandana.Network(
        network.nodes["x"],
        network.nodes["y"],
        e["u"],
        e["v"],
        pd.DataFrame({"t": e["travel_time_s"].to_numpy()}),
        twoway=True,
    )
    built = time.perf_counter() - start
    net.precompute(limit_s)
    return net, {"build_s": built, "precompute_s": time.perf_counter() - start - built}


def pandana_range(net: Any, sources: np.ndarray, limit_s: float) -> Reach:
    """Run pandana's ``nodes_in_range`` for every source."""
    got = net.nodes_in_range(sources, limit_s)
    out = []
    for s, part in got.groupby("source", sort=False):
        part = part.sort_values("destination")
        out.append((int(s), part["destination"].to_numpy(np.int64), part["t"].to_numpy(float)))
    by_source = {s: (n, t) for s, n, t in out}
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0))
    return [by_source.get(int(s), empty) for s in sources]


def disagreement(
    ours: Reach, theirs: Reach, *, tol_s: float, forgive_from_s: float | None = None
) -> dict[str, Any]:
    """Count the (source, node) pairs on which two reaches disagree.

    Times compare within `tol_s` (ours are floored at ``MIN_TIME_S``; NaN times, from
    ``ego_graph``, compare the node sets only). With `forgive_from_s`, a pair reached by
    one side only is not counted when its time is at least that (peers that keep times in
    single precision put pairs at the limit on either side of it).
    """
    only_ours = only_theirs = times_off = pairs = 0
    worst = 0.0
    edge = np.inf if forgive_from_s is None else forgive_from_s
    for (n1, t1), (n2, t2) in zip(ours, theirs, strict=True):
        pairs += len(n1)
        common, i1, i2 = np.intersect1d(n1, n2, assume_unique=True, return_indices=True)
        only_ours += int(np.sum(np.delete(t1, i1) < edge))
        rest = np.delete(t2, i2)
        only_theirs += int(np.sum(~(rest >= edge)))  # NaN times always count
        if len(common) and not np.isnan(t2).all():
            diff = np.abs(t1[i1] - np.maximum(t2[i2], MIN_TIME_S))
            times_off += int(np.sum(diff > tol_s))
            worst = max(worst, float(diff.max()))
    return {
        "pairs_checked": pairs,
        "only_ours": only_ours,
        "only_theirs": only_theirs,
        "times_off": times_off,
        "max_time_diff_s": worst,
        "agree": only_ours == only_theirs == times_off == 0,
    }
