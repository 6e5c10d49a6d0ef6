"""Coverage tables on a hand-worked line network and against brute force."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from planning import network as nw
from planning.access import coverage_matrix, snap_points
from planning.coverage import (
    accounting,
    col_covered,
    compute_coverage,
    two_step_fca,
    weighted_quantile,
)
from planning.standards import Target, Text

CRS = "EPSG:32650"


@pytest.fixture
def line_net() -> nw.Network:
    """Three 100 m edges along the x axis, walked at 1 m/s (seconds = metres)."""
    xs = [0, 100, 200, 300]
    lines = [LineString([(xs[i], 0), (xs[i + 1], 0)]) for i in range(3)]
    return nw.network_from_lines(
        gpd.GeoDataFrame(geometry=lines, crs=CRS), crs=CRS, walk_speed_m_s=1.0
    )


@pytest.fixture
def demand() -> gpd.GeoDataFrame:
    # 10 m off the road: times from S1 at x=0 are 10 + x; from S2 at x=300, 10 + 300 - x.
    pts = [Point(50, 10), Point(140, 10), Point(250, 10), Point(290, 10), Point(250, 1000)]
    return gpd.GeoDataFrame(
        {
            "demand_id": range(5),
            "population": [100.0, 200.0, 300.0, 400.0, 50.0],
            "elderly": [10.0, 20.0, 30.0, 40.0, 5.0],
            "unit_id": ["A", "A", "B", "B", "B"],
            "source": "test",
        },
        geometry=pts,
        crs=CRS,
    )


@pytest.fixture
def stations() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"station_id": ["S1", "S2"], "kind": ["centre", "station"], "capacity": [10.0, 20.0]},
        geometry=[Point(0, 0), Point(300, 0)],
        crs=CRS,
    )


@pytest.fixture
def units() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"unit_id": ["A", "B"], "name": ["Unit A", "Unit B"], "level": ["street", "street"]},
        geometry=[box(-50, -50, 145, 100), box(145, -50, 350, 1100)],
        crs=CRS,
    )


def _targets() -> list[Target]:
    def t(**kw: object) -> Target:
        base = {"label": Text("目标", "target"), "source_id": "s", "clause": "", "confidence": "V"}
        return Target(**(base | kw))  # type: ignore[arg-type]

    return [
        t(id="c1", measure="spatial_coverage", threshold_min=1.0, min=0.9),
        t(id="centre", measure="admin_coverage", kinds=("centre",), level="street", min=1.0),
        t(id="beds", measure="capacity_per_1000", threshold_min=4.5, min=40.0),
    ]


@pytest.fixture
def result(line_net, demand, stations, units):
    return compute_coverage(
        line_net, demand, stations, units, thresholds_min=[1, 3, 4.5], targets=_targets()
    )


def test_point_times_and_nearest_station(result):
    dem = result.demand
    assert dem["travel_time_s_nearest"].iloc[:4].tolist() == pytest.approx([60, 150, 60, 20])
    assert np.isinf(dem["travel_time_s_nearest"].iloc[4])
    assert dem["nearest_station_id"].iloc[:4].tolist() == ["S1", "S1", "S2", "S2"]
    assert pd.isna(dem["nearest_station_id"].iloc[4])
    assert dem["travel_time_s_nearest_centre"].iloc[:4].tolist() == pytest.approx(
        [60, 150, 260, 300]
    )
    assert dem["covered_1min"].tolist() == [True, False, True, True, False]
    assert dem["covered_3min"].tolist() == [True, True, True, True, False]
    assert dem["snap_status"].iloc[4] != "ok"


def test_unit_table_hand_values(result):
    u = result.units.set_index("unit_id")
    assert u.loc["A", "elderly"] == pytest.approx(30)
    assert u.loc["B", "elderly"] == pytest.approx(75)
    assert u.loc["A", "elderly_covered_1min"] == pytest.approx(10)
    assert u.loc["A", "coverage_share_1min"] == pytest.approx(1 / 3)
    assert u.loc["B", "coverage_share_1min"] == pytest.approx(70 / 75)
    assert u.loc["B", "elderly_unreachable"] == pytest.approx(5)
    assert u.loc["A", "elderly_uncovered_1min"] == pytest.approx(20)
    # elderly-weighted mean time in A: (10*60 + 20*150) / 30
    assert u.loc["A", "travel_time_s_mean"] == pytest.approx(120)
    assert u.loc["A", "travel_time_s_p90"] == pytest.approx(150)
    assert u.loc["A", "n_centre"] == 1
    assert u.loc["B", "n_station"] == 1
    assert u.loc["A", "capacity_per_1000"] == pytest.approx(10 / 30 * 1000)


def test_per_unit_sums_equal_totals_and_accounting(result):
    u = result.units
    assert result.totals["elderly_outside_units"] == 0
    for col in ("population", "elderly", "elderly_covered_1min", "elderly_covered_4.5min"):
        assert u[col].sum() == pytest.approx(result.totals[col])
    acc = accounting(result)
    for t in ("1min", "3min", "4.5min"):
        row = acc[t]
        assert row["covered"] + row["uncovered"] + row["excluded_unreachable"] == pytest.approx(
            acc["elderly_in"]
        )
    assert acc["1min"] == {"covered": 80.0, "uncovered": 20.0, "excluded_unreachable": 5.0}


def test_station_catchments(result):
    st = result.stations.set_index("station_id")
    assert st.loc["S1", "elderly_catchment"] == pytest.approx(30)
    assert st.loc["S2", "elderly_catchment"] == pytest.approx(70)
    # S2 reaches p290 (20 s), p250 (60 s), p140 (170 s), p50 (260 s)
    assert st.loc["S2", "elderly_within_1min"] == pytest.approx(70)
    assert st.loc["S2", "elderly_within_3min"] == pytest.approx(90)
    assert st.loc["S2", "elderly_within_4.5min"] == pytest.approx(100)


def test_two_step_fca_hand_values(result):
    acc = result.demand["capacity_per_1000"].to_numpy()
    r1, r2 = 10 / 60, 20 / 100  # S1 reaches 60 older people within 270 s, S2 reaches 100
    expected = np.array([r1 + r2, r1 + r2, r1 + r2, r2, 0.0]) * 1000
    assert acc == pytest.approx(expected, rel=1e-12)


def test_targets(result):
    t = result.targets.set_index("target_id")
    assert t.loc["c1", "value"] == pytest.approx(80 / 105)
    assert not t.loc["c1", "met"]
    assert (t.loc["c1", "units_meeting"], t.loc["c1", "units_total"]) == (1, 2)
    assert t.loc["centre", "value"] == pytest.approx(0.5)
    beds = (60 * (10 / 60 + 0.2) + 40 * 0.2) * 1000 / 105
    assert t.loc["beds", "value"] == pytest.approx(beds)
    assert bool(t.loc["beds", "met"]) is True
    assert result.units.set_index("unit_id")["meets_c1"].to_dict() == {"A": False, "B": True}


def test_gaps_at_largest_threshold(line_net, demand, stations, units):
    res = compute_coverage(line_net, demand, stations, units, thresholds_min=[1])
    gaps = res.gaps
    assert gaps["elderly"].tolist() == [20.0, 5.0]
    assert gaps["unit_id"].tolist() == ["A", "B"]
    assert gaps["reason"].tolist() == ["beyond 1 min", "unreachable: too far from any road"]
    assert gaps["gap_id"].tolist() == ["G0001", "G0002"]


def test_points_outside_units_are_counted(line_net, demand, stations, units):
    demand = demand.copy()
    demand.loc[0, "unit_id"] = None
    res = compute_coverage(line_net, demand, stations, units, thresholds_min=[1])
    assert res.totals["elderly_outside_units"] == pytest.approx(10)
    assert res.units["elderly"].sum() + 10 == pytest.approx(res.totals["elderly"])


def test_service_area_people_match_matrix(result):
    areas = result.service_areas.set_index(["station_id", "threshold_min"])
    assert areas.loc[("S1", 1.0), "elderly"] == pytest.approx(10)
    assert areas.loc[("S1", 3.0), "elderly"] == pytest.approx(30)
    # S1 at 1 min reaches 60 m along the road; its band is 60 m long plus the buffer
    assert areas.loc[("S1", 1.0), "reach_length_m"] == pytest.approx(60)


def test_two_step_fca_against_brute_force():
    rng = np.random.default_rng(7)
    n_s, n_d = 6, 40
    times = rng.uniform(0, 1200, size=(n_s, n_d))
    times[rng.random((n_s, n_d)) < 0.4] = np.inf
    from scipy import sparse

    finite = np.isfinite(times)
    cov = sparse.csr_matrix(np.where(finite, times, 0.0))
    cap = pd.Series(rng.integers(0, 50, n_s).astype(float))
    eld = rng.uniform(0, 30, n_d)
    got = two_step_fca(cov, cap, eld, limit_s=900)
    expected = np.zeros(n_d)
    for j in range(n_s):
        reach = [i for i in range(n_d) if times[j, i] <= 900]
        dem_j = sum(eld[i] for i in reach)
        for i in reach:
            expected[i] += cap[j] / dem_j * 1000
    assert got == pytest.approx(expected, rel=1e-12)


def test_weighted_quantile_brute_force():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 20, 30).astype(float)
    weights = rng.integers(1, 5, 30).astype(float)
    expanded = np.sort(np.repeat(values, weights.astype(int)))
    for q in (0.1, 0.5, 0.9, 1.0):
        k = int(np.ceil(q * len(expanded))) - 1
        assert weighted_quantile(values, weights, q) == expanded[max(k, 0)]


def test_coverage_matrix_equals_point_times(line_net, demand, stations):
    sd, ss = snap_points(line_net, demand), snap_points(line_net, stations)
    mat = coverage_matrix(line_net, ss, sd, limit_s=400).toarray()
    assert mat[0, :4] == pytest.approx([60, 150, 260, 300])
    assert mat[1, :4] == pytest.approx([260, 170, 60, 20])
    assert mat[:, 4].tolist() == [0, 0]


def test_no_station_error(line_net, demand):
    empty = gpd.GeoDataFrame({"station_id": [], "kind": []}, geometry=[], crs=CRS)
    with pytest.raises(ValueError, match="at least one station"):
        compute_coverage(line_net, demand, empty)


def test_bad_thresholds(line_net, demand, stations):
    with pytest.raises(ValueError, match="positive minutes"):
        compute_coverage(line_net, demand, stations, thresholds_min=[0, 5])


def test_missing_kind_column(line_net, demand, stations):
    with pytest.raises(ValueError, match="'kind' column"):
        compute_coverage(line_net, demand, stations.drop(columns="kind"))


def test_stations_far_from_the_network_name_the_extents(line_net, demand, stations):
    far = stations.copy()
    far["geometry"] = [Point(50_000, 50_000), Point(60_000, 60_000)]
    with pytest.raises(ValueError, match=r"None of the 2 stations lies within max_snap_m.*GCJ-02"):
        compute_coverage(line_net, demand, far)


def test_stations_without_crs_are_named(line_net, demand, stations):
    bare = stations.set_crs(None, allow_override=True)
    with pytest.raises(ValueError, match=r"`stations` has no CRS.*set_crs\('EPSG:4326'\)"):
        compute_coverage(line_net, demand, bare)


def test_demand_without_crs_is_named(line_net, demand, stations):
    bare = demand.set_crs(None, allow_override=True)
    with pytest.raises(ValueError, match=r"`demand` has no CRS"):
        compute_coverage(line_net, bare, stations)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -1.0])
def test_nan_or_negative_elderly_are_named(line_net, demand, stations, bad):
    spoiled = demand.copy()
    spoiled.loc[2, "elderly"] = bad
    with pytest.raises(
        ValueError,
        match=r"`demand\['elderly'\]` must hold finite counts ≥ 0, but 1 rows do not "
        r"\(rows 2: .*fillna\(0\)",
    ):
        compute_coverage(line_net, spoiled, stations)


# --- drawn = counted -------------------------------------------------------------------------
def _drawn_counted(cov):
    """Per threshold: share of covered / uncovered demand points inside the drawn areas."""
    dem = cov.demand
    x, y = dem.geometry.x.to_numpy(), dem.geometry.y.to_numpy()
    out = {}
    for t in cov.thresholds_min:
        union = shapely.union_all(
            cov.service_areas.loc[cov.service_areas["threshold_min"] == t, "geometry"].to_numpy()
        )
        disk = cov.covered_areas.query("kind == 'disk' and to_min == @t").geometry.iloc[0]
        covered = dem[col_covered(t)].to_numpy()
        for name, geom in (("union", union), ("disk", disk)):
            inside = shapely.contains_xy(geom, x, y)
            out[t, name] = (inside[covered].mean(), inside[~covered].mean())
    return out


def test_drawn_areas_hold_what_is_counted_on_the_demo():
    from planning import io, population

    root = Path(__file__).resolve().parent.parent / "data"
    net = nw.read_network(root / "wuhan_roads.gpkg", walk_speed_m_s=0.8)
    units = io.read_units(root / "wuhan_units.gpkg")
    demand = population.demand_from_rasters(
        [root / "wuhan_elderly_60plus.tif"], crs=net.crs, units=units
    )
    stations = io.read_stations(root / "wuhan_stations.gpkg")
    cov = compute_coverage(net, demand, stations, units)
    for (t, name), (inside_covered, inside_uncovered) in _drawn_counted(cov).items():
        assert inside_covered >= 0.99, (t, name)
        assert inside_uncovered <= 0.02, (t, name)
        assert cov.demand[col_covered(t)].mean() > 0.02  # the check is not vacuous


def test_drawn_areas_hold_what_is_counted_on_a_real_osm_file(guixi_osm):
    net = nw.network_from_xml(guixi_osm, walk_speed_m_s=0.8)
    rng = np.random.default_rng(7)
    x0, y0, x1, y1 = net.edges.total_bounds
    xy = rng.uniform([x0, y0], [x1, y1], size=(4000, 2))
    demand = gpd.GeoDataFrame(
        {"population": np.full(4000, 2.0), "elderly": 1.0, "unit_id": "U1"},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=net.crs,
    )
    nodes = net.nodes.iloc[np.linspace(0, net.n_nodes - 1, 8).astype(int)]
    stations = gpd.GeoDataFrame(
        {"station_id": [f"S{i}" for i in range(8)], "kind": "station"},
        geometry=gpd.points_from_xy(nodes["x"], nodes["y"]),
        crs=net.crs,
    )
    cov = compute_coverage(net, demand, stations, thresholds_min=[5, 10], max_snap_m=150)
    for (t, name), (inside_covered, inside_uncovered) in _drawn_counted(cov).items():
        assert inside_covered >= 0.99, (t, name)
        assert inside_uncovered <= 0.02, (t, name)
    assert 100 < cov.demand[col_covered(10)].sum() < 3900  # neither vacuous nor trivial
