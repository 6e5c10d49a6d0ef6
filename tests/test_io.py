"""Tests of planning.io: reading stations, sites and units from CSV, Excel and vector files."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from planning import coords
from planning._errors import CRSError, InputError
from planning.io import read_layer, read_stations, read_units

GEOD = Geod(ellps="WGS84")
UTM = "EPSG:32650"
X0, Y0 = 500_000.0, 3_400_000.0
# Three stations in central Wuhan (lon, lat)
LONS = [114.3055, 114.2712, 114.3421]
LATS = [30.5928, 30.6154, 30.5540]


def stations_table(**extra: list[object]) -> pd.DataFrame:
    table = {
        "station_id": ["S1", "S2", "S3"],
        "kind": ["station", "centre", "station"],
        "lon": LONS,
        "lat": LATS,
    }
    table.update(extra)
    return pd.DataFrame(table)


def write_csv(path: Path, table: pd.DataFrame, encoding: str = "utf-8") -> Path:
    table.to_csv(path, index=False, encoding=encoding)
    return path


def points(crs: str | None = "EPSG:4326", **cols: list[object]) -> gpd.GeoDataFrame:
    data = {"station_id": ["S1", "S2", "S3"], "kind": ["station"] * 3, **cols}
    return gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(LONS, LATS), crs=crs)


# --------------------------------------------------------------------------- read_layer
def test_csv_lon_lat(tmp_path: Path) -> None:
    gdf = read_layer(write_csv(tmp_path / "s.csv", stations_table()))
    assert gdf.crs == "EPSG:4326"
    assert gdf.geometry.x.tolist() == LONS
    assert gdf.geometry.y.tolist() == LATS
    assert gdf["station_id"].tolist() == ["S1", "S2", "S3"]


def test_csv_chinese_headers_utf8_bom(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "编号": ["站1", "站2"],
            "类型": ["社区养老服务站", "日间照料中心"],
            "经度": LONS[:2],
            "纬度": LATS[:2],
        }
    )
    path = write_csv(tmp_path / "站点.csv", table, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    gdf = read_stations(path, columns={"编号": "station_id", "类型": "kind"})
    assert gdf["station_id"].tolist() == ["站1", "站2"]
    assert gdf["kind"].tolist() == ["社区养老服务站", "日间照料中心"]
    assert gdf.geometry.x.tolist() == LONS[:2]
    assert gdf.geometry.y.tolist() == LATS[:2]
    assert gdf.crs == "EPSG:4326"


@pytest.mark.parametrize(
    ("xname", "yname"), [("Longitude", "Latitude"), ("lng", "lat"), (" X ", "y")]
)
def test_csv_coordinate_name_variants(tmp_path: Path, xname: str, yname: str) -> None:
    table = stations_table().rename(columns={"lon": xname, "lat": yname})
    gdf = read_layer(write_csv(tmp_path / "s.csv", table))
    assert gdf.geometry.x.tolist() == LONS


def test_csv_explicit_coordinate_columns(tmp_path: Path) -> None:
    table = stations_table().rename(columns={"lon": "E", "lat": "N"})
    gdf = read_layer(write_csv(tmp_path / "s.csv", table), x_col="E", y_col="N")
    assert gdf.geometry.y.tolist() == LATS


def test_csv_projected_coordinates_with_crs(tmp_path: Path) -> None:
    table = pd.DataFrame({"id": [1, 2], "x": [X0, X0 + 250.0], "y": [Y0, Y0 + 100.0]})
    gdf = read_layer(write_csv(tmp_path / "xy.csv", table), crs=UTM)
    assert gdf.crs == UTM
    assert gdf.geometry.x.tolist() == [X0, X0 + 250.0]


def test_csv_projected_coordinates_without_crs(tmp_path: Path) -> None:
    table = pd.DataFrame({"id": [1, 2], "x": [X0, X0 + 250.0], "y": [Y0, Y0 + 100.0]})
    with pytest.raises(InputError, match=r"xy\.csv: row 2 .*out of range.*projected"):
        read_layer(write_csv(tmp_path / "xy.csv", table))


def test_excel_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "stations.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"note": ["first sheet"]}).to_excel(writer, sheet_name="readme", index=False)
        stations_table().to_excel(writer, sheet_name="站点", index=False)
    gdf = read_stations(path, layer="站点")
    assert gdf["station_id"].tolist() == ["S1", "S2", "S3"]
    assert gdf.geometry.x.tolist() == pytest.approx(LONS, abs=1e-12)
    assert gdf.geometry.y.tolist() == pytest.approx(LATS, abs=1e-12)
    assert gdf.crs == "EPSG:4326"


def test_swapped_lat_lon(tmp_path: Path) -> None:
    table = stations_table(lon=[LONS[0], LATS[1], LONS[2]], lat=[LATS[0], LONS[1], LATS[2]])
    with pytest.raises(InputError, match=r"swapped.*(?i:swap the longitude and latitude)") as e:
        read_stations(write_csv(tmp_path / "swapped.csv", table))
    assert "swapped.csv" in str(e.value)
    assert "row 3" in str(e.value)


def test_missing_coordinates_names_row(tmp_path: Path) -> None:
    table = stations_table(lat=[LATS[0], LATS[1], None])
    with pytest.raises(InputError, match=r"gaps\.csv.*row 4.*'lon'/'lat'"):
        read_stations(write_csv(tmp_path / "gaps.csv", table))


def test_missing_coordinates_says_how_to_fix(tmp_path: Path) -> None:
    table = stations_table(lat=[LATS[0], LATS[1], None])
    with pytest.raises(InputError, match=r"(?i)\b(fill|add|remove|delete|drop)\b"):
        read_stations(write_csv(tmp_path / "gaps.csv", table))


def test_non_numeric_coordinate(tmp_path: Path) -> None:
    table = stations_table(lon=[LONS[0], "114°18'", LONS[2]])
    with pytest.raises(InputError, match=r"column 'lon' must be numeric, row 3 has \"114°18'\""):
        read_stations(write_csv(tmp_path / "dms.csv", table))


def test_csv_without_coordinate_columns(tmp_path: Path) -> None:
    table = pd.DataFrame({"station_id": ["S1"], "kind": ["station"], "address": ["江汉路"]})
    with pytest.raises(InputError, match=r"nocoords\.csv' has no coordinate columns.*x_col"):
        read_layer(write_csv(tmp_path / "nocoords.csv", table))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"absent\.csv' does not exist\. Check the path"):
        read_layer(tmp_path / "absent.csv")


def test_empty_csv(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("station_id,kind,lon,lat\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.csv' is empty"):
        read_layer(path)


def test_vector_file_without_crs(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        points(crs=None).to_file(path)
    assert gpd.read_file(path).crs is None
    with pytest.raises(CRSError, match=r"nocrs\.gpkg' has no coordinate reference system.*crs:"):
        read_layer(path)
    gdf = read_layer(path, crs="EPSG:4326")
    assert gdf.crs == "EPSG:4326"
    assert gdf.geometry.x.tolist() == pytest.approx(LONS, abs=1e-12)


def test_in_memory_layer_without_crs() -> None:
    with pytest.raises(CRSError, match="has no coordinate reference system"):
        read_layer(points(crs=None))
    assert read_layer(points(crs=None), crs=4326).crs == "EPSG:4326"


def test_crs_contradicting_file(tmp_path: Path) -> None:
    path = tmp_path / "wgs.gpkg"
    points().to_file(path)
    with pytest.raises(
        CRSError, match=r"wgs\.gpkg' already carries the CRS EPSG:4326.*EPSG:4547.*Remove `crs`"
    ):
        read_layer(path, crs="EPSG:4547")
    assert read_layer(path, crs="EPSG:4326").crs == "EPSG:4326"  # agreeing CRS is fine


def test_columns_rename_map(tmp_path: Path) -> None:
    table = stations_table().rename(columns={"station_id": "编号", "kind": "类型"})
    gdf = read_stations(
        write_csv(tmp_path / "s.csv", table), columns={"编号": "station_id", "类型": "kind"}
    )
    assert gdf["station_id"].tolist() == ["S1", "S2", "S3"]
    assert gdf["kind"].tolist() == ["station", "centre", "station"]


# --------------------------------------------------------------------------- GCJ-02 / BD-09
def test_gcj02_csv_converted_to_wgs84(tmp_path: Path) -> None:
    gdf = read_stations(write_csv(tmp_path / "amap.csv", stations_table()), crs="gcj02")
    assert gdf.crs == "EPSG:4326"
    want_lon, want_lat = coords.gcj02_to_wgs84(LONS, LATS)
    np.testing.assert_allclose(gdf.geometry.x, want_lon, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gdf.geometry.y, want_lat, rtol=0, atol=1e-12)
    # independent check: the forward GCJ-02 shift of the result gives back the input
    back_lon, back_lat = coords.wgs84_to_gcj02(gdf.geometry.x, gdf.geometry.y)
    np.testing.assert_allclose(back_lon, LONS, rtol=0, atol=1e-7)
    np.testing.assert_allclose(back_lat, LATS, rtol=0, atol=1e-7)
    shift = GEOD.inv(LONS, LATS, gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy())[2]
    assert np.all((np.asarray(shift) > 300.0) & (np.asarray(shift) < 700.0))


def test_gcj02_vector_file_labelled_wgs84(tmp_path: Path) -> None:
    path = tmp_path / "amap.gpkg"
    points().to_file(path)
    gdf = read_layer(path, crs="gcj02")
    want_lon, want_lat = coords.gcj02_to_wgs84(LONS, LATS)
    np.testing.assert_allclose(gdf.geometry.x, want_lon, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gdf.geometry.y, want_lat, rtol=0, atol=1e-12)


def test_gcj02_on_projected_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "utm.gpkg"
    points().to_crs(UTM).to_file(path)
    with pytest.raises(CRSError, match=r"projected CRS.*to_crs"):
        read_layer(path, crs="gcj02")


@pytest.mark.parametrize("alias", ["gcj02", "GCJ02", "amap", "tencent", "gcj-02", "GCJ-02"])
def test_gcj02_aliases_accepted_like_coords(tmp_path: Path, alias: str) -> None:
    # planning.coords.to_wgs84 accepts every name in coords.SOURCE_ALIASES
    assert alias.lower() in coords.SOURCE_ALIASES
    gdf = read_layer(write_csv(tmp_path / "s.csv", stations_table()), crs=alias)
    want_lon, _ = coords.gcj02_to_wgs84(LONS, LATS)
    np.testing.assert_allclose(gdf.geometry.x, want_lon, rtol=0, atol=1e-12)


@pytest.mark.parametrize("alias", ["bd09", "baidu", "bd-09"])
def test_bd09_aliases_converted(tmp_path: Path, alias: str) -> None:
    gdf = read_layer(write_csv(tmp_path / "s.csv", stations_table()), crs=alias)
    want_lon, want_lat = coords.bd09_to_wgs84(LONS, LATS)
    np.testing.assert_allclose(gdf.geometry.x, want_lon, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gdf.geometry.y, want_lat, rtol=0, atol=1e-12)
    # independent check: the forward BD-09 shift of the result gives back the input
    back_lon, back_lat = coords.wgs84_to_bd09(gdf.geometry.x, gdf.geometry.y)
    np.testing.assert_allclose(back_lon, LONS, rtol=0, atol=1e-7)
    np.testing.assert_allclose(back_lat, LATS, rtol=0, atol=1e-7)


# --------------------------------------------------------------------------- read_stations
def test_duplicate_station_ids(tmp_path: Path) -> None:
    table = stations_table(station_id=["S1", "S2", "S1"])
    with pytest.raises(
        InputError,
        match=r"dup\.csv': column 'station_id' must be unique.*'S1' in rows 2, 4\. Give every",
    ):
        read_stations(write_csv(tmp_path / "dup.csv", table))


def test_numeric_ids_become_strings_and_duplicates_detected(tmp_path: Path) -> None:
    table = stations_table(station_id=[101, 102, 103])
    gdf = read_stations(write_csv(tmp_path / "s.csv", table))
    assert gdf["station_id"].tolist() == ["101", "102", "103"]
    table = stations_table(station_id=[7, 8, 7])
    with pytest.raises(InputError, match=r"'7' in rows 2, 4"):
        read_stations(write_csv(tmp_path / "d.csv", table))


def test_missing_kind_column(tmp_path: Path) -> None:
    table = stations_table().drop(columns="kind").assign(kinds="station")
    with pytest.raises(InputError, match=r"no column 'kind'\. Did you mean 'kinds'\?.*Rename"):
        read_stations(write_csv(tmp_path / "s.csv", table))


def test_default_kind_fills_missing_column(tmp_path: Path) -> None:
    table = stations_table().drop(columns="kind")
    gdf = read_stations(write_csv(tmp_path / "s.csv", table), default_kind="station")
    assert gdf["kind"].tolist() == ["station"] * 3
    assert gdf["status"].tolist() == ["existing"] * 3


def test_empty_kind_cell_names_row(tmp_path: Path) -> None:
    table = stations_table(kind=["station", None, "centre"])
    with pytest.raises(InputError, match=r"s\.csv': row 3 \(S2\) has no 'kind'\. Fill it in"):
        read_stations(write_csv(tmp_path / "s.csv", table))


def test_default_kind_fills_empty_cells(tmp_path: Path) -> None:
    # documented: "default_kind: Kind given to rows without one"
    table = stations_table(kind=["centre", None, None])
    gdf = read_stations(write_csv(tmp_path / "s.csv", table), default_kind="station")
    assert gdf["kind"].tolist() == ["centre", "station", "station"]


def test_negative_capacity(tmp_path: Path) -> None:
    table = stations_table(capacity=[20, -5, 10])
    with pytest.raises(
        InputError, match=r"s\.csv': column 'capacity' must be ≥ 0.0, row 3 has -5.*Correct"
    ):
        read_stations(write_csv(tmp_path / "s.csv", table))


def test_numeric_columns_converted(tmp_path: Path) -> None:
    table = stations_table(capacity=["20", None, 10], area_m2=[300.5, 120, 80])
    gdf = read_stations(write_csv(tmp_path / "s.csv", table))
    assert gdf["capacity"].iloc[0] == 20.0
    assert np.isnan(gdf["capacity"].iloc[1])
    assert gdf["area_m2"].tolist() == [300.5, 120.0, 80.0]
    table = stations_table(area_m2=[300, "big", 80])
    with pytest.raises(InputError, match=r"column 'area_m2' must be numeric, row 3 has 'big'"):
        read_stations(write_csv(tmp_path / "s2.csv", table))


def test_status_kept_when_given(tmp_path: Path) -> None:
    table = stations_table(status=["existing", "planned", "existing"])
    gdf = read_stations(write_csv(tmp_path / "s.csv", table))
    assert gdf["status"].tolist() == ["existing", "planned", "existing"]


def test_site_id_column(tmp_path: Path) -> None:
    table = stations_table().rename(columns={"station_id": "site_id"})
    gdf = read_stations(write_csv(tmp_path / "sites.csv", table), id_col="site_id")
    assert gdf["site_id"].tolist() == ["S1", "S2", "S3"]
    with pytest.raises(InputError, match=r"no column 'station_id'"):
        read_stations(write_csv(tmp_path / "sites2.csv", table))


def test_polygon_stations_become_interior_points() -> None:
    l_shape = shapely.Polygon(
        [
            (X0, Y0),
            (X0 + 100, Y0),
            (X0 + 100, Y0 + 10),
            (X0 + 10, Y0 + 10),
            (X0 + 10, Y0 + 100),
            (X0, Y0 + 100),
        ]
    )
    assert not l_shape.contains(l_shape.centroid)
    polys = [l_shape, shapely.box(X0 + 200, Y0, X0 + 240, Y0 + 40)]
    gdf = gpd.GeoDataFrame(
        {"station_id": ["P1", "P2"], "kind": ["station", "centre"]}, geometry=polys, crs=UTM
    )
    out = read_stations(gdf)
    assert (out.geom_type == "Point").all()
    for pt, poly in zip(out.geometry, polys, strict=True):
        assert poly.contains(pt)
    assert out.crs == UTM


def test_station_without_geometry() -> None:
    gdf = points()
    gdf.loc[1, "geometry"] = None
    with pytest.raises(InputError, match=r"row 1 \(S2\) has no geometry"):
        read_stations(gdf)


# --------------------------------------------------------------------------- read_units
def test_units_defaults() -> None:
    units = gpd.GeoDataFrame(
        {"unit_id": [11, 12]},
        geometry=[
            shapely.box(X0, Y0, X0 + 100, Y0 + 100),
            shapely.box(X0 + 100, Y0, X0 + 200, Y0 + 100),
        ],
        crs=UTM,
    )
    out = read_units(units)
    assert out["unit_id"].tolist() == ["11", "12"]
    assert out["name"].tolist() == ["11", "12"]
    assert out["level"].tolist() == ["street", "street"]
    out = read_units(units.assign(name=["江汉", "汉阳"]), default_level="community")
    assert out["name"].tolist() == ["江汉", "汉阳"]
    assert out["level"].tolist() == ["community", "community"]


def test_units_reject_points(tmp_path: Path) -> None:
    units = points().rename(columns={"station_id": "unit_id"})
    path = tmp_path / "units.gpkg"
    units.to_file(path)
    with pytest.raises(InputError, match=r"units\.gpkg': unit S1 \(row 0\) is a Point, not a poly"):
        read_units(path)


def test_units_repair_bow_tie(caplog: pytest.LogCaptureFixture) -> None:
    bow_tie = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    assert not bow_tie.is_valid
    units = gpd.GeoDataFrame(
        {"unit_id": ["bow", "ok"]},
        geometry=[bow_tie, shapely.box(X0 + 200, Y0, X0 + 300, Y0 + 100)],
        crs=UTM,
    )
    with caplog.at_level(logging.WARNING, logger="planning.io"):
        out = read_units(units)
    assert out.is_valid.all()
    # two triangles with apex at the crossing (50, 50): 2 × ½ · 100 · 50 = 5000 m²
    assert out.geometry.iloc[0].area == pytest.approx(5000.0, abs=1e-6)
    assert out.geometry.iloc[1].area == pytest.approx(10000.0, abs=1e-6)
    assert "repaired 1 invalid unit polygon(s) with make_valid: bow" in caplog.text
    assert out.attrs["report"] == [
        {
            "item": "units",
            "reason": "invalid polygon (e.g. self-intersecting) repaired with make_valid",
            "count": 1,
            "population": 0.0,
            "elderly": 0.0,
            "ids": "bow",
        }
    ]


def _squares(shift_m: float) -> gpd.GeoDataFrame:
    """Two 100 m squares side by side; the second moved `shift_m` onto the first."""
    return gpd.GeoDataFrame(
        {"unit_id": ["b", "a"]},
        geometry=[
            shapely.box(X0, Y0, X0 + 100, Y0 + 100),
            shapely.box(X0 + 100 - shift_m, Y0, X0 + 200 - shift_m, Y0 + 100),
        ],
        crs=UTM,
    )


def test_units_overlapping_beyond_tolerance_are_refused() -> None:
    # 30 m × 100 m = 3000 m² shared, far above the 100 m² tolerance
    with pytest.raises(InputError, match=r"1 pair\(s\) of units overlap .*b and a share 3,000 m²"):
        read_units(_squares(30.0))


def test_units_sliver_overlaps_are_reported_with_the_rule() -> None:
    out = read_units(_squares(0.5))  # 0.5 m × 100 m = 50 m²
    (row,) = out.attrs["report"]
    assert row["ids"] == "b/a"
    assert "total 50.0 m²" in row["reason"] and "smallest unit_id" in row["reason"]


def test_units_of_different_levels_may_overlap() -> None:
    units = _squares(50.0).assign(level=["street", "community"])
    assert len(read_units(units)) == 2


def test_units_duplicate_and_missing_id() -> None:
    geoms = [shapely.box(X0, Y0, X0 + 1, Y0 + 1)] * 2
    units = gpd.GeoDataFrame({"unit_id": ["a", "a"]}, geometry=geoms, crs=UTM)
    with pytest.raises(InputError, match=r"'unit_id' must be unique.*'a' in rows 0, 1"):
        read_units(units)
    units = gpd.GeoDataFrame({"unitid": ["a", "b"]}, geometry=geoms, crs=UTM)
    with pytest.raises(InputError, match=r"no column 'unit_id'\. Did you mean 'unitid'\?"):
        read_units(units)


def test_units_columns_map(tmp_path: Path) -> None:
    units = gpd.GeoDataFrame(
        {"社区代码": ["420103001"], "社区名称": ["民族街"]},
        geometry=[shapely.box(114.28, 30.57, 114.29, 30.58)],
        crs="EPSG:4326",
    )
    path = tmp_path / "units.gpkg"
    units.to_file(path)
    out = read_units(path, columns={"社区代码": "unit_id", "社区名称": "name"})
    assert out["unit_id"].tolist() == ["420103001"]
    assert out["name"].tolist() == ["民族街"]


def test_unknown_crs_name_is_a_planning_error(tmp_path: Path) -> None:
    # a typo of "gcj02" must give the package's CRSError naming the value, not pyproj's
    path = write_csv(tmp_path / "s.csv", stations_table())
    with pytest.raises(CRSError, match=r"gcj2"):
        read_layer(path, crs="gcj2")
