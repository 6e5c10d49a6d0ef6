"""Tests of planning.access: snapping, travel times, coverage and service areas.

Hand-checked toy networks use 1 m/s so that seconds equal metres. Random networks are
checked against networkx on an independently built graph in which every snapped point
splits its edge and hangs on a connector edge.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from planning import settings
from planning._errors import InputError
from planning.access import (
    MIN_TIME_S,
    SNAP_NO_GEOMETRY,
    SNAP_OK,
    SNAP_TOO_FAR,
    Grid,
    coverage_matrix,
    nearest_times,
    reachable_intervals,
    service_area_cells,
    service_areas,
    snap_points,
)
from planning.network import network_from_lines

CRS = "EPSG:32650"  # as in conftest.py
X0, Y0 = 500_000.0, 3_400_000.0  # origin of the relative coordinates, as in conftest.py
SIZE = 2000.0  # side of the square holding the random networks (conftest.random_lines)
FAR = (-5000.0, -5000.0)  # a point far from every synthetic network
#: Times agree to 1e-9 relative; 2e-6 s absolute allows the documented MIN_TIME_S floor.
TOL = {"rel": 1e-9, "abs": 2e-6}


def node_of(net, x, y):
    """Node position at relative coordinates (x, y)."""
    gap = np.hypot(net.nodes["x"] - (X0 + x), net.nodes["y"] - (Y0 + y))
    hit = np.flatnonzero(gap < 1e-6)
    assert len(hit) == 1, f"no single node at {(x, y)}"
    return int(hit[0])


def edge_coords(net, k):
    """Relative coordinates of edge k's geometry."""
    return [(x - X0, y - Y0) for x, y in net.edges.geometry.iloc[k].coords]


# --- independent reference -----------------------------------------------------------------


def reference_graph(net, **groups):
    """networkx graph of `net` with each snapped point splitting its edge.

    Network nodes keep their integer positions; point i of group `name` is node
    ``(name, i)``, joined by its connector to ``("on", name, i)`` on the edge. Weights are
    seconds at the network's speed.
    """
    speed = net.walk_speed_m_s
    g = nx.Graph()
    g.add_nodes_from(range(net.n_nodes))
    along = defaultdict(list)
    for name, snapped in groups.items():
        for i in np.flatnonzero(snapped.ok):
            key = (name, int(i))
            along[int(snapped.edge[i])].append((float(snapped.pos_m[i]), key))
            g.add_edge(key, ("on", *key), weight=float(snapped.snap_dist_m[i]) / speed)

    def link(a, b, t):
        if a != b and (not g.has_edge(a, b) or g[a][b]["weight"] > t):
            g.add_edge(a, b, weight=t)

    edges = net.edges[["u", "v", "length_m"]].itertuples(index=False)
    for k, (u, v, length) in enumerate(edges):
        chain = [(0.0, int(u))]
        chain += [(min(pos, length), ("on", *key)) for pos, key in sorted(along.get(k, []))]
        chain.append((float(length), int(v)))
        for (pa, a), (pb, b) in itertools.pairwise(chain):
            link(a, b, (pb - pa) / speed)
    return g


def reference_times(g, sources, targets):
    """Dense source × target matrix of networkx travel times (inf when unreachable)."""
    ref = np.full((len(sources), len(targets)), np.inf)
    for i in np.flatnonzero(sources.ok):
        dist = nx.single_source_dijkstra_path_length(g, ("src", int(i)), weight="weight")
        for j in np.flatnonzero(targets.ok):
            ref[i, j] = dist.get(("tgt", int(j)), np.inf)
    return ref


def points(coords):
    """Point layer from relative (x, y) tuples, absolute shapely points or None."""
    geoms = []
    for c in coords:
        if c is None or isinstance(c, shapely.Point):
            geoms.append(c)
        else:
            geoms.append(shapely.Point(X0 + c[0], Y0 + c[1]))
    return gpd.GeoDataFrame(geometry=geoms, crs=CRS)


def random_scenario(random_network, seed):
    """A random network with sources and targets covering the special cases.

    sources: 0 unreachable, 1-10 random, 11-12 exactly on nodes, 13 missing geometry.
    targets: 0-39 random, 40-41 on nodes (40 on source 11's node), 42-44 on source 1's
    edge, 45 at source 2's location, 46 unreachable, 47 missing geometry.
    """
    net, pts, _ = random_network(seed)
    rng = np.random.default_rng(1000 + seed)
    # the exact line end points (node coordinates are means of them, equal to the last bits)
    on_nodes = [tuple(pts[k] - [X0, Y0]) for k in rng.choice(len(pts), 3, replace=False)]
    src_xy = [FAR, *map(tuple, rng.uniform(0, SIZE, (10, 2))), on_nodes[0], on_nodes[1], None]
    sources = snap_points(net, points(src_xy), max_snap_m=500.0)
    line = net.edges.geometry.iloc[sources.edge[1]]
    on_edge = [line.interpolate(f, normalized=True) for f in (0.15, 0.5, 0.85)]
    tgt_xy = [
        *map(tuple, rng.uniform(0, SIZE, (40, 2))),
        on_nodes[0],
        on_nodes[2],
        *on_edge,
        src_xy[2],
        FAR,
        None,
    ]
    targets = snap_points(net, points(tgt_xy), max_snap_m=500.0)
    # the special cases hold (checked so that a change of seed cannot lose them)
    assert sources.snap_dist_m[11] == 0.0
    assert sources.snap_dist_m[12] == 0.0
    assert (targets.edge[42:45] == sources.edge[1]).all()
    assert targets.edge[45] == sources.edge[2]
    assert list(np.flatnonzero(~sources.ok)) == [0, 13]
    assert list(np.flatnonzero(~targets.ok)) == [46, 47]
    return net, sources, targets, points(src_xy), points(tgt_xy)


SEEDS = [1, 2, 3, 4]


# --- snapping ------------------------------------------------------------------------------


def test_snap_beside_an_edge_interior(grid_net):
    snapped = snap_points(grid_net, points([(30.0, -7.0), (100.0, 64.0)]))
    assert snapped.status.tolist() == [SNAP_OK, SNAP_OK]
    assert edge_coords(grid_net, snapped.edge[0]) == [(0.0, 0.0), (100.0, 0.0)]
    assert snapped.pos_m[0] == pytest.approx(30.0, abs=1e-9)
    assert snapped.snap_dist_m[0] == pytest.approx(7.0, abs=1e-9)
    # exactly on the interior of the vertical edge (100,0)-(100,100)
    assert edge_coords(grid_net, snapped.edge[1]) == [(100.0, 0.0), (100.0, 100.0)]
    assert snapped.pos_m[1] == pytest.approx(64.0, abs=1e-9)
    assert snapped.snap_dist_m[1] == pytest.approx(0.0, abs=1e-9)
    assert snapped.ok.tolist() == [True, True]
    assert len(snapped) == 2


def test_snap_along_a_bent_line(make_lines):
    net = network_from_lines(
        make_lines([[(0.0, 0.0), (300.0, 400.0), (600.0, 0.0)]]), crs=CRS, walk_speed_m_s=1.0
    )
    # 4 m to the upper right of the point 100 m along the second leg
    along = np.array([0.6, -0.8])
    normal = np.array([0.8, 0.6])
    p = np.array([300.0, 400.0]) + 100.0 * along + 4.0 * normal
    snapped = snap_points(net, points([tuple(p)]))
    assert snapped.pos_m[0] == pytest.approx(600.0, abs=1e-9)
    assert snapped.snap_dist_m[0] == pytest.approx(4.0, abs=1e-9)


def test_snap_beyond_max_snap_and_missing_geometry(grid_net):
    layer = points([(150.0, 400.0), (150.0, 340.0), None, shapely.Point()])
    layer.index = ["far", "near", "none", "empty"]
    snapped = snap_points(grid_net, layer, max_snap_m=50.0)
    assert snapped.status.tolist() == [SNAP_TOO_FAR, SNAP_OK, SNAP_NO_GEOMETRY, SNAP_NO_GEOMETRY]
    assert SNAP_TOO_FAR == "farther than max_snap_m from every road"
    assert SNAP_NO_GEOMETRY == "empty or missing geometry"
    assert snapped.edge.tolist() == [-1, snapped.edge[1], -1, -1]
    assert snapped.ok.tolist() == [False, True, False, False]
    assert np.isnan(snapped.pos_m[[0, 2, 3]]).all()
    assert np.isnan(snapped.snap_dist_m[[0, 2, 3]]).all()
    assert edge_coords(grid_net, snapped.edge[1]) == [(100.0, 300.0), (200.0, 300.0)]
    assert snapped.snap_dist_m[1] == pytest.approx(40.0, abs=1e-9)
    assert snapped.pos_m[1] == pytest.approx(50.0, abs=1e-9)
    frame = snapped.to_frame()
    assert list(frame.index) == ["far", "near", "none", "empty"]
    assert list(frame.columns) == ["snap_edge", "snap_pos_m", "snap_dist_m", "snap_status"]
    # the 100 m point is reachable with a larger limit
    again = snap_points(grid_net, layer.iloc[:1], max_snap_m=150.0)
    assert again.snap_dist_m[0] == pytest.approx(100.0, abs=1e-9)


def test_snap_default_limit_comes_from_settings(grid_net, monkeypatch):
    monkeypatch.setattr(settings, "max_snap_m", 20.0)
    snapped = snap_points(grid_net, points([(50.0, -25.0), (50.0, -15.0)]))
    assert snapped.status.tolist() == [SNAP_TOO_FAR, SNAP_OK]


def test_snap_points_in_another_crs(grid_net):
    utm = points([(30.0, -7.0)])
    snapped = snap_points(grid_net, utm.to_crs(4326))
    assert snapped.pos_m[0] == pytest.approx(30.0, abs=1e-6)
    assert snapped.snap_dist_m[0] == pytest.approx(7.0, abs=1e-6)


@pytest.mark.parametrize("limit", [0.0, -5.0])
def test_snap_max_snap_must_be_positive(grid_net, limit):
    with pytest.raises(InputError, match=r"max_snap_m must be a positive distance in metres"):
        snap_points(grid_net, points([(0.0, 0.0)]), max_snap_m=limit)


@pytest.mark.parametrize("seed", SEEDS)
def test_snapping_matches_brute_force(random_network, seed):
    net, sources, targets, src_layer, tgt_layer = random_scenario(random_network, seed)
    lines = net.edges.geometry.to_numpy()
    length = net.edges["length_m"].to_numpy()
    for snapped, layer in ((sources, src_layer), (targets, tgt_layer)):
        assert len(snapped) == len(layer)
        for i in np.flatnonzero(snapped.ok):
            p = layer.geometry.iloc[i]
            dist = shapely.distance(p, lines)
            assert snapped.snap_dist_m[i] == pytest.approx(dist.min(), abs=1e-9)
            k = snapped.edge[i]
            assert dist[k] == pytest.approx(dist.min(), abs=1e-9)
            assert 0.0 <= snapped.pos_m[i] <= length[k]
            on_edge = shapely.line_interpolate_point(lines[k], snapped.pos_m[i])
            assert shapely.distance(p, on_edge) == pytest.approx(dist.min(), abs=1e-6)


# --- hand-checked times on the grid --------------------------------------------------------
# grid: 4 × 4 nodes at (0..300, 0..300), 100 m edges, 1 m/s.
# S1 (30,-7): edge (0,0)-(100,0) at 30 m, connector 7 m.
# S2 (300,250): edge (300,200)-(300,300) at 50 m, connector 0.
GRID_SOURCES = [FAR, (30.0, -7.0), (300.0, 250.0)]
GRID_TARGETS = [
    (80.0, 5.0),  # S1's edge: 7 + 50 + 5 = 62 s directly
    (250.0, 310.0),  # S2 → (300,300) 50 + 50 + 10 = 110 s
    (0.0, 150.0),  # S1 → (0,0) 37 + 100 + 50 = 187 s
    (200.0, 100.0),  # a node: S2 → (300,200) 50 + 200 = 250 s (S1: 77 + 200 = 277 s)
    (1000.0, 1000.0),  # beyond max_snap_m
    None,
]
GRID_TIMES = [62.0, 110.0, 187.0, 250.0, math.inf, math.inf]
GRID_NEAREST = [1, 2, 1, 2, -1, -1]


def _grid_snaps(net):
    return (
        snap_points(net, points(GRID_SOURCES), max_snap_m=50.0),
        snap_points(net, points(GRID_TARGETS), max_snap_m=50.0),
    )


def test_nearest_times_by_hand(grid_net):
    sources, targets = _grid_snaps(grid_net)
    time_s, nearest = nearest_times(grid_net, sources, targets)
    assert time_s.tolist() == pytest.approx(GRID_TIMES, abs=1e-9)
    assert nearest.tolist() == GRID_NEAREST


@pytest.mark.parametrize("speed", [0.8, 1.25])
def test_nearest_times_scale_with_speed(grid_net, speed):
    net = grid_net.with_speed(speed)
    sources, targets = _grid_snaps(net)
    time_s, nearest = nearest_times(net, sources, targets)
    assert time_s.tolist() == pytest.approx([t / speed for t in GRID_TIMES], rel=1e-12)
    assert nearest.tolist() == GRID_NEAREST


def test_nearest_times_without_reachable_points(grid_net):
    none = snap_points(grid_net, points([FAR, None]), max_snap_m=50.0)
    some = snap_points(grid_net, points([(30.0, -7.0)]), max_snap_m=50.0)
    for sources, targets in ((none, some), (some, none), (none, none)):
        time_s, nearest = nearest_times(grid_net, sources, targets)
        assert np.isinf(time_s).all()
        assert (nearest == -1).all()
        assert len(time_s) == len(targets)
        cov = coverage_matrix(grid_net, sources, targets, limit_s=1e6, progress=False)
        assert cov.shape == (len(sources), len(targets))
        assert cov.nnz == 0


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (61.9, {}),
        (62.0, {(1, 0): 62.0}),
        (187.0, {(1, 0): 62.0, (2, 1): 110.0, (1, 2): 187.0}),
        (250.0, {(1, 0): 62.0, (2, 1): 110.0, (1, 2): 187.0, (2, 3): 250.0}),
        (
            1000.0,
            {
                (1, 0): 62.0,
                (1, 1): 537.0,
                (1, 2): 187.0,
                (1, 3): 277.0,
                (2, 0): 475.0,
                (2, 1): 110.0,
                (2, 2): 400.0,
                (2, 3): 250.0,
            },
        ),
    ],
)
def test_coverage_by_hand(grid_net, limit, expected):
    sources, targets = _grid_snaps(grid_net)
    cov = coverage_matrix(grid_net, sources, targets, limit_s=limit, progress=False)
    assert cov.shape == (3, 6)
    coo = cov.tocoo()
    got = {(int(r), int(c)): float(t) for r, c, t in zip(coo.row, coo.col, coo.data, strict=True)}
    assert got.keys() == expected.keys()
    for key, t in expected.items():
        assert got[key] == pytest.approx(t, abs=1e-9), key


def test_coverage_stores_a_zero_time_as_min_time(grid_net):
    sources = snap_points(grid_net, points([(40.0, 0.0)]))
    targets = snap_points(grid_net, points([(40.0, 0.0), (60.0, 0.0)]))
    cov = coverage_matrix(grid_net, sources, targets, limit_s=10.0, progress=False)
    assert cov.nnz == 1
    assert cov[0, 0] == MIN_TIME_S
    assert MIN_TIME_S == 1e-6
    cov = coverage_matrix(grid_net, sources, targets, limit_s=20.0, progress=False)
    assert cov.toarray().tolist() == [[MIN_TIME_S, pytest.approx(20.0, abs=1e-9)]]


# A point exactly on a node costs nothing to reach that node: every time from it is the
# plain network distance.
ON_NODE_TARGETS = [
    (0.0, 0.0),
    (0.0, 100.0),
    (100.0, 0.0),
    (100.0, 100.0),
    (0.0, 300.0),
    (300.0, 0.0),
    (200.0, 100.0),
]
ON_NODE_TIMES = [0.0, 100.0, 100.0, 200.0, 300.0, 300.0, 300.0]


def test_source_on_a_node_adds_no_time(grid_net):
    sources = snap_points(grid_net, points([(0.0, 0.0)]))
    assert sources.snap_dist_m[0] == 0.0
    targets = snap_points(grid_net, points(ON_NODE_TARGETS))
    time_s, nearest = nearest_times(grid_net, sources, targets)
    assert nearest.tolist() == [0] * len(ON_NODE_TARGETS)
    assert time_s.tolist() == pytest.approx(ON_NODE_TIMES, abs=1e-9)


@pytest.mark.parametrize("radius", [100.0, 200.0, 300.0])
def test_grid_reach_set_at_exact_radius_equals_ego_graph(grid_net, radius):
    """Nodes exactly `radius` away are inside (ego_graph and the limit are both ≤)."""
    start = node_of(grid_net, 0.0, 0.0)
    sources = snap_points(grid_net, points([(0.0, 0.0)]))
    node_xy = grid_net.nodes[["x", "y"]].to_numpy() - [X0, Y0]
    targets = snap_points(grid_net, points([tuple(p) for p in node_xy]))
    cov = coverage_matrix(grid_net, sources, targets, limit_s=radius, progress=False)
    ego = nx.ego_graph(grid_net.to_networkx(), start, radius=radius, distance="travel_time_s")
    manhattan = {k for k, (x, y) in enumerate(node_xy) if round(x + y) <= radius}
    assert set(ego.nodes) == manhattan
    assert set(cov.indices.tolist()) == manhattan


# parallel edges A-D, a loop at D, and a U-shaped road F ... G whose ends are also joined by a
# short 100 m edge F-G (and F to A).
ODD = [
    [(0.0, 0.0), (600.0, 0.0)],
    [(0.0, 0.0), (300.0, 300.0), (600.0, 0.0)],
    [(600.0, 0.0), (700.0, 0.0), (700.0, 100.0), (600.0, 0.0)],
    [(0.0, -100.0), (0.0, -600.0), (100.0, -600.0), (100.0, -100.0)],
    [(0.0, -100.0), (100.0, -100.0)],
    [(0.0, 0.0), (0.0, -100.0)],
]
ODD_SOURCES = [(300.0, 290.0), (5.0, -150.0), (720.0, 50.0), (600.0, 0.0)]
ODD_TARGETS = [
    (95.0, -150.0),
    (300.0, 10.0),
    (650.0, 5.0),
    (700.0, 60.0),
    (0.0, -50.0),
    (1.0, -400.0),
    (310.0, 280.0),
]


def test_times_on_parallel_edges_loops_and_u_turns_match_networkx(make_lines):
    net = network_from_lines(make_lines(ODD), crs=CRS, walk_speed_m_s=1.0)
    assert net.n_nodes == 4
    assert len(net.edges) == 6
    sources = snap_points(net, points(ODD_SOURCES))
    targets = snap_points(net, points(ODD_TARGETS))
    assert sources.edge[2] == 2  # on the loop
    g = reference_graph(net, src=sources, tgt=targets)
    ref = reference_times(g, sources, targets)
    # by hand: (5,-150) → F 55 s, F-G 100 s, G → (95,-150) 55 s; not 1010 s along the U
    assert ref[1, 0] == pytest.approx(210.0, abs=1e-9)
    time_s, nearest = nearest_times(net, sources, targets)
    assert time_s == pytest.approx(ref.min(axis=0), **TOL)
    assert time_s[0] == pytest.approx(210.0, abs=1e-9)
    assert nearest[0] == 1
    assert ref[nearest, np.arange(len(targets))] == pytest.approx(ref.min(axis=0), **TOL)
    for limit in (50.0, 210.0 + 1e-6, 400.0, 2000.0):
        cov = coverage_matrix(net, sources, targets, limit_s=limit, progress=False).toarray()
        assert (cov > 0).tolist() == (ref <= limit).tolist()
        assert cov[ref <= limit] == pytest.approx(np.maximum(ref[ref <= limit], MIN_TIME_S), **TOL)


# --- random networks against networkx ------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_nearest_times_match_networkx(random_network, seed):
    net, sources, targets, _, _ = random_scenario(random_network, seed)
    g = reference_graph(net, src=sources, tgt=targets)
    ref = reference_times(g, sources, targets)
    best = ref.min(axis=0)
    time_s, nearest = nearest_times(net, sources, targets)
    reachable = np.isfinite(best)
    assert np.isfinite(time_s).tolist() == reachable.tolist()
    assert reachable.sum() == len(targets) - 2
    assert time_s[reachable] == pytest.approx(best[reachable], **TOL)
    assert (nearest[~reachable] == -1).all()
    # the named source is a nearest one (ties allowed)
    chosen = ref[nearest[reachable], np.flatnonzero(reachable)]
    assert chosen == pytest.approx(best[reachable], **TOL)
    # same-edge and same-place cases were exercised: they are direct walks
    conn = sources.snap_dist_m[1] + targets.snap_dist_m[42:45]
    direct = (conn + np.abs(sources.pos_m[1] - targets.pos_m[42:45])) / net.walk_speed_m_s
    assert (best[42:45] <= direct + 1e-9).all()
    assert best[45] <= 2 * sources.snap_dist_m[2] / net.walk_speed_m_s + 1e-9
    assert best[40] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("limit_s", [300.0, 900.0])
def test_coverage_matches_networkx(random_network, seed, limit_s, monkeypatch):
    monkeypatch.setattr(settings, "dijkstra_chunk_size", 3)  # several chunks
    net, sources, targets, _, _ = random_scenario(random_network, seed)
    g = reference_graph(net, src=sources, tgt=targets)
    ref = reference_times(g, sources, targets)
    assert (np.abs(ref - limit_s) > 1e-3).all()  # no pair sits on the limit
    cov = coverage_matrix(net, sources, targets, limit_s=limit_s, progress=False)
    assert cov.shape == ref.shape
    dense = cov.toarray()
    stored = np.zeros(ref.shape, dtype=bool)
    coo = cov.tocoo()
    stored[coo.row, coo.col] = True
    assert cov.nnz == stored.sum()  # no duplicates
    within = ref <= limit_s
    assert 0 < within.sum() < np.isfinite(ref).sum()
    assert stored.tolist() == within.tolist()
    assert dense[within] == pytest.approx(np.maximum(ref[within], MIN_TIME_S), **TOL)
    assert (coo.data >= MIN_TIME_S).all()
    assert (coo.data <= limit_s).all()
    # the unreachable rows and columns are empty
    assert not stored[[0, 13]].any()
    assert not stored[:, [46, 47]].any()


@pytest.mark.parametrize("seed", SEEDS)
def test_reach_sets_equal_ego_graph(random_network, seed):
    net, pts, _ = random_network(seed)
    g = net.to_networkx()
    node_xy = net.nodes[["x", "y"]].to_numpy() - [X0, Y0]
    start = int(np.argmin(np.hypot(*(node_xy - SIZE / 2).T)))
    # the exact line end point at that node (node coordinates are means of end points)
    gap = np.hypot(node_xy[:, None, 0] - (pts[:, 0] - X0), node_xy[:, None, 1] - (pts[:, 1] - Y0))
    exact = pts[gap.argmin(axis=1)] - [X0, Y0]  # exact[j]: node j
    assert gap.min(axis=1).max() < 1e-6
    sources = snap_points(net, points([tuple(exact[start])]))
    k = sources.edge[0]
    at_u = net.edges.at[k, "u"] == start and sources.pos_m[0] == 0.0
    at_v = net.edges.at[k, "v"] == start and sources.pos_m[0] == net.edges.at[k, "length_m"]
    assert sources.snap_dist_m[0] == 0.0
    assert at_u or at_v
    targets = snap_points(net, points([tuple(p) for p in exact]))
    assert (targets.snap_dist_m == 0.0).all()
    dist = nx.single_source_dijkstra_path_length(g, start, weight="travel_time_s")
    levels = np.unique(list(dist.values()))
    for q in (0.05, 0.2, 0.5, 0.8):
        i = int(q * (len(levels) - 1))
        radius = (levels[i] + levels[i + 1]) / 2  # between two node distances
        ego = set(nx.ego_graph(g, start, radius=radius, distance="travel_time_s").nodes)
        cov = coverage_matrix(net, sources, targets, limit_s=radius, progress=False)
        assert set(cov.indices.tolist()) == ego
        assert cov[0, start] == pytest.approx(MIN_TIME_S, abs=1e-12)
        row = cov.toarray()[0]
        assert row[sorted(ego)] == pytest.approx(
            np.maximum([dist[n] for n in sorted(ego)], MIN_TIME_S), **TOL
        )


# --- service areas -------------------------------------------------------------------------
# straight road A(0,0) - B(100,0) - C(300,0) - D(400,0); station S at (200,10): edge B-C at
# 100 m with a 10 m connector; 1 m/s. Node times: B = C = 110 s, A = D = 210 s.
LINE = [[(0.0, 0.0), (100.0, 0.0)], [(100.0, 0.0), (300.0, 0.0)], [(300.0, 0.0), (400.0, 0.0)]]
#: Area per r² of the two round caps of a quad_segs=4 buffer: a regular 16-gon.
CAPS = 8 * math.sin(math.pi / 8)


@pytest.fixture
def line_net(make_lines):
    return network_from_lines(make_lines(LINE), crs=CRS, walk_speed_m_s=1.0)


def test_reachable_intervals_by_hand(line_net):
    sources = snap_points(line_net, points([(200.0, 10.0)]))
    node_time = np.full(line_net.n_nodes, np.inf)
    for (x, y), t in (((0, 0), 210.0), ((100, 0), 110.0), ((300, 0), 110.0), ((400, 0), 210.0)):
        node_time[node_of(line_net, x, y)] = t
    assert reachable_intervals(line_net, sources, 0, node_time, 0.1) == {}
    got = reachable_intervals(line_net, sources, 0, node_time, 1.0)
    assert got == {1: [pytest.approx((50.0, 150.0), abs=1e-9)]}
    got = reachable_intervals(line_net, sources, 0, node_time, 2.0)
    assert got.keys() == {0, 1, 2}
    assert got[0] == [pytest.approx((90.0, 100.0), abs=1e-9)]
    assert got[1] == [pytest.approx((0.0, 200.0), abs=1e-9)]
    assert got[2] == [pytest.approx((0.0, 10.0), abs=1e-9)]


def test_service_areas_by_hand(line_net):
    sources = snap_points(line_net, points([(200.0, 10.0), FAR]), max_snap_m=50.0)
    grid = Grid.square(CRS, 5.0)
    out = service_areas(
        line_net,
        sources,
        thresholds_min=[2, 0.1, 10, 1],
        grid=grid,
        max_snap_m=50.0,
        progress=False,
    )
    assert list(out.columns) == ["source", "threshold_min", "reach_length_m", "area_m2", "geometry"]
    assert out["source"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert out["threshold_min"].tolist() == [0.1, 1.0, 2.0, 10.0] * 2
    assert out["reach_length_m"].tolist() == pytest.approx(
        [0.0, 100.0, 220.0, 400.0, 0.0, 0.0, 0.0, 0.0], abs=0.006
    )
    # 1 minute at 1 m/s, 10 s spent on the station's connector: a cell centre (x, y)
    # beside the road B-C is reached when 10 + |x - 200| + |y| <= 60, a diamond of
    # half-diagonal 50 m (area 2·50² = 5,000 m²) drawn in 5 m cells
    one = out.geometry[1]
    gx, gy = np.meshgrid(np.arange(100.0, 300.0, 5.0) + 2.5, np.arange(-60.0, 60.0, 5.0) + 2.5)
    walk = 10.0 + np.abs(gx - 200.0) + np.abs(gy)
    inside = shapely.contains_xy(one, X0 + gx, Y0 + gy)
    clear = np.abs(walk - 60.0) > 1e-6  # centres exactly on the limit may go either way
    assert (inside[clear] == (walk[clear] <= 60.0)).all()
    assert (
        (walk < 60.0 - 1e-6).sum() * 25.0 <= out["area_m2"][1] <= (walk <= 60.0 + 1e-6).sum() * 25
    )
    assert out["area_m2"][1] == pytest.approx(5000.0, rel=0.1)
    # 10 minutes: the whole road with a 50 m band (max_snap_m): 400 × 100, and beyond the
    # end nodes the points within 50 m of them, two half discs
    assert out["area_m2"][3] == pytest.approx(400.0 * 100.0 + math.pi * 50.0**2, rel=0.01)
    # a threshold shorter than the connector and an unreachable station: empty polygons
    for i in (0, 4, 5, 6, 7):
        assert out.geometry[i].is_empty
        assert out.geometry[i].geom_type == "Polygon"


def test_service_areas_at_another_speed(line_net):
    net = line_net.with_speed(0.5)  # 1 minute = 30 m: 20 m beyond the connector
    sources = snap_points(net, points([(200.0, 10.0)]))
    out = service_areas(net, sources, thresholds_min=[1, 5], progress=False)
    # 5 minutes = 150 m: 140 m each way from S reaches B and C (100 m) and 40 m beyond,
    # B at 110 m → 40 m on A-B; C → 40 m on C-D
    assert out["reach_length_m"].tolist() == pytest.approx([40.0, 280.0], abs=0.006)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_service_areas_hold_exactly_the_points_networkx_reaches(random_network, seed):
    net, _, _ = random_network(seed)
    speed = net.walk_speed_m_s
    rng = np.random.default_rng(2000 + seed)
    sources = snap_points(net, points([tuple(rng.uniform(0.3 * SIZE, 0.7 * SIZE, 2))]))
    t_min, cell, snap = 6.0, 20.0, 60.0
    limit = t_min * 60.0
    cells = service_area_cells(
        net,
        sources,
        thresholds_min=[t_min / 2, t_min],
        grid=Grid.square(CRS, cell),
        max_snap_m=snap,
        progress=False,
    )
    out = cells.areas
    assert shapely.covers(out.geometry[1], out.geometry[0])

    # every cell centre of the area's bounding box, timed independently: its nearest
    # edge by brute force, then networkx from the station to the point on that edge
    x0, y0, x1, y1 = out.geometry[1].buffer(3 * cell).bounds
    xs = np.arange(np.floor(x0 / cell), np.ceil(x1 / cell)) * cell + cell / 2
    ys = np.arange(np.floor(y0 / cell), np.ceil(y1 / cell)) * cell + cell / 2
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    pts = shapely.points(gx, gy)
    lines = net.edges.geometry.to_numpy()
    dist = shapely.distance(pts[:, None], lines[None, :])
    near = dist.argmin(axis=1)
    d = dist[np.arange(len(pts)), near]
    targets = snap_points(net, gpd.GeoDataFrame(geometry=pts, crs=CRS), max_snap_m=snap)
    assert (targets.edge[d <= snap - 1e-6] == near[d <= snap - 1e-6]).all()
    g = reference_graph(net, src=sources, tgt=targets)
    times = nx.single_source_dijkstra_path_length(g, ("src", 0), weight="weight")
    t = np.array([times.get(("tgt", i), np.inf) for i in range(len(pts))])
    clear = np.abs(t - limit) > 1e-6  # leave out centres exactly on the limit
    for k, t_lim in ((0, limit / 2), (1, limit)):
        inside = shapely.contains_xy(out.geometry[k], gx, gy)
        ok = np.abs(t - t_lim) > 1e-6
        assert (inside[ok] == (t[ok] <= t_lim)).all()
    assert (t[clear] <= limit).sum() > 100
    # the dissolved disk of a single station is its area; the ring is the difference
    rings = cells.dissolved(CRS)
    disk = rings.query("kind == 'disk' and to_min == @t_min").geometry.iloc[0]
    assert shapely.symmetric_difference(disk, out.geometry[1]).area == pytest.approx(0, abs=1e-6)
    ring = rings.query("kind == 'ring' and to_min == @t_min")["area_m2"].iloc[0]
    assert ring == pytest.approx(out["area_m2"][1] - out["area_m2"][0], abs=0.1)

    # reach length against the networkx node times
    t_node = np.array([times.get(n, np.inf) for n in range(net.n_nodes)])
    own, p0, c0 = sources.edge[0], sources.pos_m[0], sources.snap_dist_m[0]
    length = net.edges["length_m"].to_numpy()
    u, v = net.edges["u"].to_numpy(), net.edges["v"].to_numpy()
    total = 0.0
    for k in range(len(lines)):
        ivs = []
        if t_node[u[k]] <= limit:
            ivs.append((0.0, min(length[k], (limit - t_node[u[k]]) * speed)))
        if t_node[v[k]] <= limit:
            ivs.append((max(0.0, length[k] - (limit - t_node[v[k]]) * speed), length[k]))
        if k == own and c0 < limit * speed:
            r = limit * speed - c0
            ivs.append((max(0.0, p0 - r), min(length[k], p0 + r)))
        covered = shapely.union_all([shapely.LineString([(a, 0), (b, 0)]) for a, b in ivs if b > a])
        total += covered.length
    assert out["reach_length_m"][1] == pytest.approx(total, abs=0.006)
