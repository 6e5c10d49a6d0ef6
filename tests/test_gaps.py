"""Gap areas and the best spot per gap: hand-worked fixtures, brute force and the demo."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from shapely.geometry import LineString, Point, Polygon, box

from planning import network as nw
from planning.access import Grid
from planning.coverage import best_spots, col_covered, compute_coverage, gap_areas, gap_sites
from planning.coverage._spots import gap_members
from planning.population import assign_units

CRS = "EPSG:32650"
#: 100 m cells, upper-left corner at (0, 1000): cell (row, col) has its centre at
#: (50 + 100 col, 950 - 100 row).
TRANSFORM = Affine(100.0, 0.0, 0.0, 0.0, -100.0, 1000.0)


@pytest.fixture
def road() -> nw.Network:
    """One 1000 m road along the x axis, walked at 1 m/s (seconds = metres)."""
    line = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1000, 0)])], crs=CRS)
    return nw.network_from_lines(line, crs=CRS, walk_speed_m_s=1.0)


@pytest.fixture
def station() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"station_id": ["S1"], "kind": ["station"]}, geometry=[Point(0, 0)], crs=CRS
    )


def _cells(cells: list[tuple[int, int]], units: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Raster demand of one older person (two residents) per cell, on the 100 m grid."""
    xy = [(50 + 100 * c, 950 - 100 * r) for r, c in cells]
    n = len(xy)
    dem = gpd.GeoDataFrame(
        {"population": [2.0] * n, "elderly": [1.0] * n, "source": ["test"] * n},
        geometry=[Point(x, y) for x, y in xy],
        crs=CRS,
    )
    dem["unit_id"] = assign_units(dem, units) if units is not None else "A"
    dem.attrs["grid"] = {"crs": CRS, "transform": tuple(TRANSFORM)[:6]}
    return dem


# the covered cell (9, 0) and an L of five cells: three along row 9, two up column 7
L_CELLS = [(9, 0), (9, 5), (9, 6), (9, 7), (8, 7), (7, 7)]


def _coverage(road, station, demand, units=None, thresholds=(2,)):
    return compute_coverage(road, demand, station, units, thresholds_min=list(thresholds))


def test_an_l_shaped_gap_of_five_cells_is_one_gap(road, station):
    cov = _coverage(road, station, _cells([*L_CELLS, (9, 9)], None))
    gaps = cov.gaps
    # the L, and the lone cell two columns away from its foot
    assert gaps["n_cells"].tolist() == [5, 1]
    assert gaps["gap_id"].tolist() == ["G0001", "G0002"]
    assert gaps["rank_in_unit"].tolist() == [1, 2]
    g = gaps.iloc[0]
    assert g["elderly"] == 5.0 and g["population"] == 10.0
    assert g["area_m2"] == pytest.approx(50_000.0) and g["area_ha"] == pytest.approx(5.0)
    expected = shapely.union_all([box(500, 0, 800, 100), box(700, 100, 800, 300)])
    assert shapely.symmetric_difference(g.geometry, expected).area == pytest.approx(0, abs=1e-6)
    # walk = connector (y) + along the road (x): 600, 700, 800, 900, 1000 s
    assert g["walk_min_mean"] == pytest.approx(800 / 60, abs=0.005)
    assert g["walk_min_max"] == pytest.approx(1000 / 60, abs=0.005)
    assert g["beyond_m_mean"] == pytest.approx(680.0)
    assert g["beyond_m_max"] == pytest.approx(880.0)
    assert g["reason"] == "beyond 2 min"


def test_cells_touching_at_a_corner_join(road, station):
    cov = _coverage(road, station, _cells([(9, 0), (9, 5), (8, 6), (7, 7), (9, 9)], None))
    assert cov.gaps["n_cells"].tolist() == [3, 1]


def test_two_gaps_touching_only_across_a_unit_boundary_are_two(road, station):
    units = gpd.GeoDataFrame(
        {"unit_id": ["A", "B"], "name": ["A", "B"], "level": "community"},
        geometry=[box(-100, -100, 700, 1000), box(700, -100, 1100, 1000)],
        crs=CRS,
    )
    cov = _coverage(road, station, _cells(L_CELLS, units), units)
    gaps = cov.gaps.set_index("unit_id")
    assert gaps.loc["B", "n_cells"] == 3 and gaps.loc["A", "n_cells"] == 2
    assert cov.gaps["gap_id"].tolist() == ["G0001", "G0002"]
    assert cov.gaps["unit_id"].tolist() == ["B", "A"]
    assert cov.gaps["rank_in_unit"].tolist() == [1, 1]


def test_cells_in_a_hole_of_a_unit_form_an_outside_units_gap(road, station):
    # the unit has a hole over cell (8, 7): that cell belongs to no unit, and is kept
    hole = box(700, 100, 800, 200).exterior.coords
    units = gpd.GeoDataFrame(
        {"unit_id": ["A"], "name": ["A"], "level": "community"},
        geometry=[Polygon(box(-100, -100, 1100, 1000).exterior.coords, [hole])],
        crs=CRS,
    )
    cov = _coverage(road, station, _cells(L_CELLS, units), units)
    gaps = cov.gaps
    assert sorted(gaps["unit_id"]) == ["(outside units)", "A", "A"]
    assert gaps.set_index("unit_id").loc["(outside units)", "n_cells"] == 1
    assert gaps["elderly"].sum() == 5.0


def test_far_from_every_road_is_its_own_reason(road, station):
    cov = compute_coverage(
        road, _cells([(9, 0), (9, 5), (8, 5), (6, 5)], None), station, thresholds_min=[2],
        max_snap_m=200,
    )  # fmt: skip
    gaps = cov.gaps
    assert gaps["reason"].tolist() == ["beyond 2 min", "unreachable: too far from any road"]
    assert gaps["n_cells"].tolist() == [2, 1]
    far = gaps.iloc[1]
    assert np.isnan(far["walk_min_mean"]) and far["best_spot_id"] == ""
    assert cov.best_spots["spot_kind"].tolist()[1] == "none"


def test_threshold_not_in_the_run_lists_the_valid_ones(road, station):
    cov = _coverage(road, station, _cells(L_CELLS, None), thresholds=(2, 5, 7.5))
    with pytest.raises(ValueError, match=r"not one of this run's thresholds \(2, 5, 7.5 min\)"):
        gap_areas(cov, 15)
    assert gap_areas(cov, 7.5)["threshold_min"].unique().tolist() == [7.5]
    assert gap_areas(cov)["threshold_min"].unique().tolist() == [7.5]


def test_every_threshold_accounts_for_everyone_not_covered(road, station):
    cov = _coverage(road, station, _cells([*L_CELLS, (9, 9)], None), thresholds=(2, 10, 15))
    for t in cov.thresholds_min:
        not_covered = cov.demand.loc[~cov.demand[col_covered(t)], "elderly"].sum()
        assert gap_areas(cov, t)["elderly"].sum() == pytest.approx(not_covered)
    # at 15 min (900 s) the top of the L and the lone cell are left, both at 1000 s
    assert gap_areas(cov, 15)["n_cells"].tolist() == [1, 1]


def test_no_gap_gives_an_empty_table_with_its_columns(road, station):
    cov = _coverage(road, station, _cells([(9, 0)], None))
    assert cov.gaps.empty and "gap_id" in cov.gaps.columns and "elderly" in cov.gaps.columns
    assert best_spots(road, cov).empty


# --- point demand, and the best spot on a line -----------------------------------------------
def _points() -> gpd.GeoDataFrame:
    """10 m off the road: 1 older person at x=50 (covered), 4 at 500, 5 at 700, 3 at 800."""
    return gpd.GeoDataFrame(
        {"population": [1.0, 4, 5, 3], "elderly": [1.0, 4, 5, 3], "unit_id": "A", "source": "t"},
        geometry=[Point(50, 10), Point(500, 10), Point(700, 10), Point(800, 10)],
        crs=CRS,
    )


def test_point_demand_links_points_within_link_m(road, station):
    cov = _coverage(road, station, _points())
    # default link: 1.5 × the median nearest-neighbour spacing (450, 200, 100, 100) = 225 m
    default = gap_areas(cov)
    assert default["n_cells"].tolist() == [3]
    disks = shapely.union_all([Point(x, 10).buffer(112.5, quad_segs=8) for x in (500, 700, 800)])
    assert shapely.symmetric_difference(default.geometry.iloc[0], disks).area < 1e-6
    split = gap_areas(cov, link_m=150)
    assert split["elderly"].tolist() == [8.0, 4.0]
    with pytest.raises(ValueError, match="link_m must be a positive"):
        gap_areas(cov, link_m=0)


def test_a_point_inside_another_reason_s_area_stays_in_its_own_gap(road, station):
    dem = _points()
    dem.loc[4] = [1.0, 2.0, "A", "t", Point(520, 350)]  # 350 m from the road
    cov = compute_coverage(road, dem, station, thresholds_min=[2], max_snap_m=300)
    gaps = gap_areas(cov, link_m=1000)  # its disk (500 m) holds the point at (500, 10)
    assert gaps["reason"].tolist() == ["beyond 2 min", "unreachable: too far from any road"]
    rows, pos = gap_members(cov, gaps)
    assert dict(zip(rows.tolist(), pos.tolist(), strict=True)) == {1: 0, 2: 0, 3: 0, 4: 1}


def _brute_force_best(weights: dict[float, float], limit_m: float) -> tuple[float, list[float]]:
    """Best covered weight from spots every metre of the road, and where it is reached."""
    xs = np.arange(0, 1001)
    got = np.array([sum(w for p, w in weights.items() if abs(x - p) + 10 <= limit_m) for x in xs])
    return float(got.max()), xs[got == got.max()].tolist()


def test_best_spot_on_a_line_is_the_hand_worked_one(road, station):
    cov = _coverage(road, station, _points())
    spots = best_spots(road, cov)
    # within 120 s (1 m/s, 10 m connectors): 500 and 700 both from x in [590, 610] (9);
    # 700 and 800 only from [690, 810] (8); so the spot at 600 m, covering 9
    best, where = _brute_force_best({500.0: 4, 700.0: 5, 800.0: 3}, 120.0)
    assert best == 9.0 and min(where) == 590 and max(where) == 610
    s = spots.iloc[0]
    assert s["elderly_covered"] == pytest.approx(best)
    assert s["share_covered"] == pytest.approx(9 / 12)
    assert s["spot_id"] == "E0+600m" and s["spot_kind"] == "edge"
    assert (s.geometry.x, s.geometry.y) == pytest.approx((600.0, 0.0))
    assert cov.gaps.iloc[0]["best_spot_id"] == "E0+600m"
    assert cov.gaps.iloc[0]["best_spot_elderly"] == pytest.approx(9.0)


def test_best_spot_among_candidates(road, station):
    cov = _coverage(road, station, _points())
    cand = gpd.GeoDataFrame(
        {"site_id": ["K1", "K2"]}, geometry=[Point(650, 30), Point(750, 30)], crs=CRS
    )
    spots = best_spots(road, cov, candidates=cand)
    # K1: 30 + 50 + 10 = 90 s to 700 only (5); K2: 90 s to 700 and 800 (8)
    assert spots["spot_id"].tolist() == ["K2"]
    assert spots["elderly_covered"].tolist() == pytest.approx([8.0])
    with pytest.raises(ValueError, match="'site_id' column"):
        best_spots(road, cov, candidates=cand.rename(columns={"site_id": "id"}))


def test_the_best_spot_as_a_station_covers_what_it_promised(road, station):
    cov = _coverage(road, station, _points())
    s = cov.best_spots.iloc[0]
    more = gpd.GeoDataFrame(
        {"station_id": ["S1", "new"], "kind": "station"},
        geometry=[Point(0, 0), s.geometry],
        crs=CRS,
    )
    after = _coverage(road, more, _points())
    gained = after.totals["elderly_covered_2min"] - cov.totals["elderly_covered_2min"]
    assert gained == pytest.approx(s["elderly_covered"])


def test_gap_sites_names_the_sites_that_close_a_gap(road, station):
    cov = _coverage(road, station, _points())
    sites = gpd.GeoDataFrame(
        {"site_id": ["P1", "P2", "P3"]},
        geometry=[Point(750, 0), Point(480, 0), Point(50, 500)],
        crs=CRS,
    )
    out = gap_sites(road, cov, sites)
    assert out["closed_by"].tolist() == ["P1, P2"]
    assert out["closed_elderly"].tolist() == pytest.approx([12.0])
    assert out["closed_share"].tolist() == pytest.approx([1.0])
    none = gap_sites(road, cov, sites.iloc[[2]])
    assert none["closed_by"].tolist() == [""] and none["closed_elderly"].tolist() == [0.0]


# --- the demo --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo():
    from planning import io, population

    root = Path(__file__).resolve().parent.parent / "data"
    net = nw.read_network(root / "wuhan_roads.gpkg", walk_speed_m_s=0.8)
    units = io.read_units(root / "wuhan_units.gpkg")
    demand = population.demand_from_rasters(
        [root / "wuhan_elderly_60plus.tif"], [root / "wuhan_population_20plus.tif"],
        crs=net.crs, units=units,
    )  # fmt: skip
    stations = io.read_stations(root / "wuhan_stations.gpkg")
    return net, compute_coverage(net, demand, stations, units)


def test_demo_gaps_account_for_everyone_not_covered(demo):
    _, cov = demo
    dem = cov.demand
    for t in cov.thresholds_min:
        gaps = gap_areas(cov, t)
        not_covered = dem.loc[~dem[col_covered(t)], "elderly"].sum()
        assert gaps["elderly"].sum() == pytest.approx(not_covered, rel=1e-9)
        assert gaps["population"].sum() == pytest.approx(
            dem.loc[~dem[col_covered(t)], "population"].sum(), rel=1e-9
        )
        assert (gaps["elderly"].diff().dropna() <= 1e-9).all()
    assert len(cov.gaps) > 50


def test_demo_gaps_are_the_touching_cells_dissolved(demo):
    # independent count: cells as boxes grown by 1 cm (so that corners overlap), dissolved
    # per unit and reason, then split into parts
    _, cov = demo
    dem = cov.demand
    grid = Grid.of_demand(dem, dem.crs, 1.0)
    t = cov.thresholds_min[-1]
    unc = dem[~dem[col_covered(t)]].copy()
    r, c = grid.cell_of(shapely.get_coordinates(unc.geometry.values), dem.crs)
    tr = grid.transform
    x0, y0 = tr.c + c * tr.a, tr.f + r * tr.e
    eps = abs(tr.a) * 1e-4
    cells = shapely.box(x0 - eps, y0 + tr.e - eps, x0 + tr.a + eps, y0 + eps)
    unc = gpd.GeoDataFrame(
        {
            "unit_id": unc["unit_id"].fillna("(outside units)").to_numpy(),
            "reason": np.where(unc["snap_status"] == "ok", "ok", "far"),
        },
        geometry=cells,
        crs=grid.crs,
    )
    parts = unc.dissolve(by=["unit_id", "reason"]).explode(index_parts=False)
    assert len(parts) == len(cov.gaps)
    per_unit = cov.gaps.groupby("unit_id").size()
    assert per_unit.sum() == len(cov.gaps)
    assert cov.gaps.groupby("unit_id")["rank_in_unit"].max().equals(per_unit)


def test_demo_best_spots_cover_part_of_their_gap(demo):
    net, cov = demo
    spots = cov.best_spots
    assert spots["gap_id"].tolist() == cov.gaps["gap_id"].tolist()
    reachable = cov.gaps["reason"].str.startswith("beyond").to_numpy()
    assert (spots.loc[reachable, "elderly_covered"] > 0).all()
    assert (spots["elderly_covered"] <= spots["gap_elderly"] + 1e-9).all()
    assert (spots["elderly_covered_all_gaps"] >= spots["elderly_covered"] - 1e-9).all()
    # a subset gives the same answer for the gaps it keeps
    head = best_spots(net, cov, cov.gaps.head(5))
    assert head["spot_id"].tolist() == spots["spot_id"].head(5).tolist()
