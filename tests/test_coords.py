from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from planning import coords
from planning._errors import CRSError, InputError
from planning.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    check_lonlat,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")
WUHAN = (114.3055, 30.5928)  # lon, lat (WGS-84), near Jianghan Road
# Published test vector of the public algorithm (README of the widely used
# wandergis/coordtransform package): input (116.404, 39.915) in Beijing.
BEIJING = (116.404, 39.915)


def dist_m(lon1: object, lat1: object, lon2: object, lat2: object) -> np.ndarray:
    """Return geodesic distances in metres on the WGS-84 ellipsoid."""
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.fixture
def china_grid() -> tuple[np.ndarray, np.ndarray]:
    """Return a 25 x 25 grid of points over mainland China's extent."""
    lon, lat = np.meshgrid(np.linspace(74.0, 134.0, 25), np.linspace(18.5, 53.0, 25))
    return lon, lat


# --------------------------------------------------------------------------- references
def test_wgs84_to_gcj02_matches_published_vector() -> None:
    lon, lat = wgs84_to_gcj02(*BEIJING)
    assert float(lon) == pytest.approx(116.41024449916938, abs=1e-12)
    assert float(lat) == pytest.approx(39.91640428150164, abs=1e-12)


def test_gcj02_to_bd09_matches_published_vector() -> None:
    lon, lat = gcj02_to_bd09(*BEIJING)
    assert float(lon) == pytest.approx(116.41036949371029, abs=1e-12)
    assert float(lat) == pytest.approx(39.92133699351021, abs=1e-12)


def test_wgs84_to_bd09_matches_published_vector() -> None:
    lon, lat = wgs84_to_bd09(*BEIJING)
    assert float(lon) == pytest.approx(116.41662724378733, abs=1e-12)
    assert float(lat) == pytest.approx(39.922699552216216, abs=1e-12)


def test_iterative_inverses_are_close_to_but_better_than_the_one_step_ones() -> None:
    # Published one-step results: gcj02towgs84 and bd09togcj02 of (116.404, 39.915).
    one_step_wgs = (116.39775550083061, 39.91359571849836)
    one_step_gcj = (116.39762729119315, 39.90865673957631)
    wgs = gcj02_to_wgs84(*BEIJING)
    gcj = bd09_to_gcj02(*BEIJING)
    assert dist_m(*wgs, *one_step_wgs) < 3.0
    assert dist_m(*gcj, *one_step_gcj) < 1.0
    # ... and going forward again reproduces the input far better than the one-step result
    assert dist_m(*wgs84_to_gcj02(*wgs), *BEIJING) < 1e-3
    assert dist_m(*gcj02_to_bd09(*gcj), *BEIJING) < 1e-3
    assert dist_m(*wgs84_to_gcj02(*one_step_wgs), *BEIJING) > dist_m(
        *wgs84_to_gcj02(*wgs), *BEIJING
    )


# --------------------------------------------------------------------------- round trips
def test_round_trip_wgs_gcj_wgs_error_below_1_cm(china_grid: tuple[np.ndarray, ...]) -> None:
    lon, lat = china_grid
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    err = dist_m(lon, lat, *back)
    assert err.max() < 0.01  # the requirement is 0.5 m; the iteration does far better


def test_round_trip_wgs_bd_wgs_error_below_1_cm(china_grid: tuple[np.ndarray, ...]) -> None:
    lon, lat = china_grid
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    err = dist_m(lon, lat, *back)
    assert err.max() < 0.01


def test_round_trip_gcj_bd_gcj(china_grid: tuple[np.ndarray, ...]) -> None:
    lon, lat = china_grid
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert dist_m(lon, lat, *back).max() < 0.01


def test_inverse_then_forward_reproduces_gcj_input(china_grid: tuple[np.ndarray, ...]) -> None:
    lon, lat = china_grid
    again = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert dist_m(lon, lat, *again).max() < 0.01


# --------------------------------------------------------------------------- magnitudes
def test_shift_in_wuhan_is_plausible() -> None:
    gcj = wgs84_to_gcj02(*WUHAN)
    bd = wgs84_to_bd09(*WUHAN)
    shift_gcj_m = float(dist_m(*WUHAN, *gcj))
    shift_bd_m = float(dist_m(*WUHAN, *bd))
    further_m = float(dist_m(*gcj, *bd))
    assert 300.0 < shift_gcj_m < 700.0  # STANDARDS.md §5: 360–620 m measured in cities
    assert 800.0 < further_m < 1000.0  # BD-09 adds a further 840–960 m
    assert shift_gcj_m < shift_bd_m < 1500.0


def test_gcj_shift_moves_east_and_south_in_wuhan() -> None:
    lon, lat = wgs84_to_gcj02(*WUHAN)
    assert float(lon) > WUHAN[0]
    assert float(lat) < WUHAN[1]


# --------------------------------------------------------------------------- outside China
@pytest.mark.parametrize(
    ("lon", "lat"),
    [(-0.1246, 51.5007), (139.7, 35.7), (2.35, 48.85), (150.0, 30.0), (100.0, 0.5)],
    ids=["london", "tokyo", "paris", "pacific", "south-of-box"],
)
def test_points_outside_china_unchanged_by_gcj(lon: float, lat: float) -> None:
    assert bool(out_of_china(lon, lat))
    for func in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        assert float(out_lon) == lon
        assert float(out_lat) == lat


def test_bbox_edges() -> None:
    lon_min, lon_max, lat_min, lat_max = coords.CHINA_BBOX_DEG
    inside = out_of_china([lon_min, lon_max, 100.0, 100.0], [30.0, 30.0, lat_min, lat_max])
    outside = out_of_china([lon_min - 1e-6, lon_max + 1e-6], [30.0, 30.0])
    assert not inside.any()
    assert outside.all()


def test_mixed_array_converts_only_points_inside() -> None:
    lon = np.array([WUHAN[0], -0.1246])
    lat = np.array([WUHAN[1], 51.5007])
    out_lon, out_lat = wgs84_to_gcj02(lon, lat)
    assert out_lon[0] != lon[0]
    assert (out_lon[1], out_lat[1]) == (lon[1], lat[1])


# --------------------------------------------------------------------------- shapes
def test_shapes_follow_the_input() -> None:
    scalar = wgs84_to_gcj02(*WUHAN)
    assert all(isinstance(a, np.ndarray) and a.shape == () for a in scalar)
    grid = wgs84_to_bd09(np.full((2, 3), WUHAN[0]), np.full((2, 3), WUHAN[1]))
    assert all(a.shape == (2, 3) and a.dtype == np.float64 for a in grid)
    listed = gcj02_to_wgs84([114.3, 114.4], [30.5, 30.6])
    assert listed[0].shape == (2,)


def test_nan_propagates() -> None:
    lon, lat = gcj02_to_wgs84([np.nan, WUHAN[0]], [30.0, WUHAN[1]])
    assert np.isnan(lon[0]) and np.isnan(lat[0])
    assert np.isfinite(lon[1]) and np.isfinite(lat[1])


def test_mismatched_shapes_raise() -> None:
    with pytest.raises(InputError, match="same shape"):
        wgs84_to_gcj02([114.0, 115.0, 116.0], [30.0, 31.0])


def test_text_input_raises() -> None:
    with pytest.raises(InputError, match="numbers"):
        wgs84_to_gcj02(["114.3E"], [30.5])


# --------------------------------------------------------------------------- to_wgs84
@pytest.fixture
def gcj_layer() -> gpd.GeoDataFrame:
    square = shapely.Polygon(
        [(114.30, 30.50), (114.31, 30.50), (114.31, 30.51), (114.30, 30.51), (114.30, 30.50)]
    )
    line = shapely.LineString([(114.30, 30.50), (114.32, 30.52), (114.35, 30.55)])
    return gpd.GeoDataFrame(
        {"name": ["square", "line", "point", "none"]},
        geometry=[square, line, shapely.Point(114.30, 30.50), None],
        index=[7, 8, 9, 10],
        crs="EPSG:4326",
    )


def test_to_wgs84_converts_every_vertex(gcj_layer: gpd.GeoDataFrame) -> None:
    out = to_wgs84(gcj_layer, source="gcj02")
    assert out.crs.to_epsg() == 4326
    assert list(out.index) == [7, 8, 9, 10]
    assert list(out["name"]) == list(gcj_layer["name"])
    for before, after in zip(gcj_layer.geometry[:3], out.geometry[:3], strict=True):
        xy_before = shapely.get_coordinates(before)
        xy_after = shapely.get_coordinates(after)
        assert xy_after.shape == xy_before.shape
        exp_lon, exp_lat = gcj02_to_wgs84(xy_before[:, 0], xy_before[:, 1])
        np.testing.assert_allclose(xy_after[:, 0], exp_lon, rtol=0, atol=1e-12)
        np.testing.assert_allclose(xy_after[:, 1], exp_lat, rtol=0, atol=1e-12)
        # every vertex moved by a GCJ-sized shift, none was left behind
        moved = dist_m(xy_before[:, 0], xy_before[:, 1], xy_after[:, 0], xy_after[:, 1])
        assert (moved > 300.0).all()
    assert out.geometry.iloc[3] is None
    assert out.geometry.iloc[0].geom_type == "Polygon"
    # the input is not modified
    assert shapely.get_coordinates(gcj_layer.geometry.iloc[2])[0, 0] == 114.30


def test_to_wgs84_round_trips_through_forward(gcj_layer: gpd.GeoDataFrame) -> None:
    out = to_wgs84(gcj_layer, source="GCJ02")
    xy = shapely.get_coordinates(out.geometry.iloc[0])
    fwd = np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
    np.testing.assert_allclose(fwd, shapely.get_coordinates(gcj_layer.geometry.iloc[0]), atol=1e-9)


@pytest.mark.parametrize(
    ("alias", "func"),
    [
        ("amap", gcj02_to_wgs84),
        ("Tencent", gcj02_to_wgs84),
        ("BAIDU", bd09_to_wgs84),
        ("bd09", bd09_to_wgs84),
    ],
)
def test_to_wgs84_aliases(
    gcj_layer: gpd.GeoDataFrame, alias: str, func: Callable[..., Any]
) -> None:
    out = to_wgs84(gcj_layer.iloc[[2]].set_crs(None, allow_override=True), source=alias)
    x, y = out.geometry.iloc[0].x, out.geometry.iloc[0].y
    exp = func(114.30, 30.50)
    assert (x, y) == pytest.approx((float(exp[0]), float(exp[1])), abs=1e-12)


def test_to_wgs84_wgs84_is_a_labelled_copy(gcj_layer: gpd.GeoDataFrame) -> None:
    unlabelled = gcj_layer.set_crs(None, allow_override=True)
    out = to_wgs84(unlabelled, source="wgs84")
    assert out.crs.to_epsg() == 4326
    assert out.geometry.iloc[0].equals(gcj_layer.geometry.iloc[0])
    assert unlabelled.crs is None


def test_to_wgs84_keeps_z() -> None:
    layer = gpd.GeoDataFrame(
        geometry=[shapely.Point(114.3, 30.5, 25.0), shapely.Point(114.3, 30.5)]
    )
    out = to_wgs84(layer, source="gcj02")
    assert out.geometry.iloc[0].has_z and out.geometry.iloc[0].z == 25.0
    assert not out.geometry.iloc[1].has_z
    assert out.geometry.iloc[0].x == pytest.approx(out.geometry.iloc[1].x, abs=1e-12)


def test_to_wgs84_unknown_source(gcj_layer: gpd.GeoDataFrame) -> None:
    with pytest.raises(InputError, match=r"unknown coordinate system source='gps'.*'baidu'"):
        to_wgs84(gcj_layer, source="gps")


def test_to_wgs84_rejects_projected_crs(gcj_layer: gpd.GeoDataFrame) -> None:
    projected = gcj_layer.to_crs(32650)
    with pytest.raises(CRSError, match=r"projected CRS 'EPSG:32650'.*to_crs\('EPSG:4326'\)"):
        to_wgs84(projected, source="gcj02")


def test_to_wgs84_rejects_other_geographic_crs(gcj_layer: gpd.GeoDataFrame) -> None:
    cgcs = gcj_layer.set_crs(4490, allow_override=True)
    with pytest.raises(CRSError, match=r"geographic CRS 'EPSG:4490'.*allow_override=True"):
        to_wgs84(cgcs, source="amap")


def test_to_wgs84_rejects_metres_without_crs() -> None:
    layer = gpd.GeoDataFrame(geometry=[shapely.Point(500000.0, 3380000.0)])
    with pytest.raises(CRSError, match="not longitude/latitude degrees"):
        to_wgs84(layer, source="bd09")


# --------------------------------------------------------------------------- check_lonlat
def test_check_lonlat_accepts_valid_columns() -> None:
    check_lonlat([114.3, 114.4, -0.12], [30.5, 30.6, 51.5], name="stations.csv")


def test_check_lonlat_swapped_beyond_90() -> None:
    lon = pd.Series([114.3, 30.6], index=["S1", "S2"])
    lat = pd.Series([30.5, 114.4], index=["S1", "S2"])
    with pytest.raises(
        InputError,
        match=r"stations\.csv: row 'S2' has lon=30\.6, lat=114\.4.*swapped.*1 of 2 rows.*Swap",
    ):
        check_lonlat(lon, lat, name="stations.csv")


def test_check_lonlat_swapped_in_china_range() -> None:
    # lat 80 is a valid latitude, but lon 30 / lat 80 is a swapped Chinese point
    with pytest.raises(InputError, match=r"row 0 has lon=30\.0, lat=80\.0.*swapped"):
        check_lonlat([30.0, 31.0], [80.0, 81.0], name="sites.xlsx")


def test_check_lonlat_out_of_range_names_first_row() -> None:
    with pytest.raises(InputError, match=r"row 1 has lon=520000\.0.*out of range.*2 of 3 rows"):
        check_lonlat([114.0, 520000.0, 530000.0], [30.0, 3380000.0, 3390000.0], name="x.csv")


def test_check_lonlat_missing() -> None:
    with pytest.raises(InputError, match=r"row 1 .*missing.*remove the row"):
        check_lonlat([114.0, np.nan], [30.0, 30.0], name="x.csv")
    check_lonlat([114.0, np.nan], [30.0, 30.0], name="x.csv", allow_missing=True)


def test_check_lonlat_reports_the_earliest_problem() -> None:
    lon = [114.0, 200.0, 30.0]
    lat = [30.0, 30.0, 114.0]
    with pytest.raises(InputError, match=r"row 1 .*out of range"):
        check_lonlat(lon, lat, name="x.csv")


@pytest.fixture(scope="module")
def wuhan() -> tuple[Any, Any]:
    from planning import io, network

    root = Path(__file__).resolve().parent.parent / "data"
    net = network.read_network(root / "wuhan_roads.gpkg", layer="roads")
    return net, io.read_stations(root / "wuhan_stations.gpkg", layer="stations")


@pytest.mark.parametrize(
    ("forward", "key"), [(coords.wgs84_to_gcj02, "gcj02"), (coords.wgs84_to_bd09, "bd09")]
)
def test_shifted_stations_read_as_wgs84_are_noticed(wuhan: Any, forward: Any, key: str) -> None:
    from planning.coverage._shift import shift_warning

    net, stations = wuhan
    assert shift_warning(net, stations) is None  # the register is WGS-84: nothing to say
    x, y = forward(stations.geometry.x.to_numpy(), stations.geometry.y.to_numpy())
    shifted = stations.set_geometry(gpd.points_from_xy(x, y, crs=4326))
    msg = shift_warning(net, shifted)
    assert msg is not None and f"set `crs: {key}`" in msg
    # the median distances quoted are those an independent nearest-edge search gives
    edges = net.edges.geometry.union_all()
    near = [edges.distance(p) for p in shifted.to_crs(net.crs).geometry]
    assert f"a median {np.median(near):.0f} m from the nearest road" in msg
    back = coords.to_wgs84(shifted, source=key).to_crs(net.crs).geometry
    assert f"would sit {np.median([edges.distance(p) for p in back]):.0f} m" in msg
