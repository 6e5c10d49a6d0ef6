"""Tests of planning.population: demand points from rasters, vector layers and census tables.

Every expected number is computed by hand from the tiny synthetic inputs written here
(4 × 5 rasters, 100 m squares), not by calling the code under test.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from pyproj import Geod, Transformer

from planning._errors import CRSError, InputError
from planning.population import demand_from_census, demand_from_rasters, demand_from_vector

UTM = "EPSG:32650"  # Wuhan (114.3°E) lies in UTM zone 50 (114–120°E)
X0, Y0 = 500_000.0, 3_400_000.0  # origin of the projected synthetic layers
# Geographic grid near Wuhan, WorldPop-like: 3 arc-second cells, nodata -3.4e38.
LON0, LAT0, CELL_DEG = 114.3, 30.6, 0.000833
ND = np.float32(-3.4e38)
GEOD = Geod(ellps="WGS84")

# Two elderly rasters (e.g. female and male 60+) on the 4 × 5 geographic grid.
ELD_A = np.array(
    [
        [1.0, 2.0, ND, 0.0, 3.0],
        [ND, 5.0, 6.0, 0.0, -2.0],
        [7.0, ND, ND, 0.0, 1.0],
        [0.0, 0.0, 0.0, 0.0, 4.5],
    ],
    dtype=np.float32,
)
ELD_B = np.array(
    [
        [10.0, 20.0, ND, 0.0, 0.0],
        [1.0, ND, 1.0, 0.0, 0.0],
        [1.0, 1.0, ND, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.5],
    ],
    dtype=np.float32,
)
# Hand sum of ELD_A + ELD_B: nodata where both are nodata, negatives set to 0.
# (0,2) and (2,2) are nodata in both; (1,0) and (2,1) are nodata in one input only.
EXPECTED_SUM = {
    (0, 0): 11.0,
    (0, 1): 22.0,
    (0, 4): 3.0,
    (1, 0): 1.0,
    (1, 1): 5.0,
    (1, 2): 7.0,
    (2, 0): 8.0,
    (2, 1): 1.0,
    (2, 4): 1.0,
    (3, 4): 5.0,
}
N_NODATA_BOTH = 2  # (0,2), (2,2)
N_EMPTY = 8  # column 3 (4 cells), (3,0), (3,1), (3,2), and (1,4) whose -2 becomes 0


def from_origin(west: float, north: float, xsize: float, ysize: float) -> rasterio.Affine:
    """North-up transform (rasterio's own helper warns about ``*`` on recent affine)."""
    return rasterio.Affine(xsize, 0.0, west, 0.0, -ysize, north)


def write_tif(
    path: Path,
    data: np.ndarray,
    *,
    crs: str | None = "EPSG:4326",
    transform: rasterio.Affine | None = None,
    nodata: float | None = float(ND),
) -> Path:
    """Write a one-band float32 GeoTIFF."""
    if transform is None:
        transform = from_origin(LON0, LAT0, CELL_DEG, CELL_DEG)
    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": "float32",
        "transform": transform,
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(np.float32), 1)
    return path


def utm_transform(cell: float = 100.0, rows: int = 4) -> rasterio.Affine:
    """Transform of a projected grid whose lower-left corner is (X0, Y0)."""
    return from_origin(X0, Y0 + rows * cell, cell, cell)


def report_item(gdf: gpd.GeoDataFrame, text: str) -> dict:
    """Return the single report item whose item or reason contains `text`."""
    hits = [r for r in gdf.attrs["report"] if text in r["reason"] or text in r["item"]]
    assert len(hits) == 1, f"expected one report item about {text!r}: {gdf.attrs['report']}"
    return hits[0]


def cells_of_geographic(gdf: gpd.GeoDataFrame) -> list[tuple[int, int]]:
    """Row/col of the geographic grid cell holding each point (computed without rasterio)."""
    lon, lat = Transformer.from_crs(gdf.crs, 4326, always_xy=True).transform(
        gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
    )
    cols = np.floor((np.asarray(lon) - LON0) / CELL_DEG).astype(int)
    rows = np.floor((LAT0 - np.asarray(lat)) / CELL_DEG).astype(int)
    return list(zip(rows.tolist(), cols.tolist(), strict=True))


def square(x: float, y: float, w: float, h: float | None = None) -> shapely.Polygon:
    """Rectangle with lower-left corner (X0 + x, Y0 + y)."""
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + (w if h is None else h))


@pytest.fixture
def elderly_pair(tmp_path: Path) -> list[Path]:
    return [
        write_tif(tmp_path / "eld_f.tif", ELD_A),
        write_tif(tmp_path / "eld_m.tif", ELD_B),
    ]


# --------------------------------------------------------------------------- rasters
def test_rasters_summed_cell_by_cell(elderly_pair: list[Path]) -> None:
    out = demand_from_rasters(elderly_pair, crs=UTM)
    assert out.crs == UTM
    assert list(out.columns) == [
        "demand_id",
        "population",
        "elderly",
        "unit_id",
        "source",
        "geometry",
    ]
    cells = cells_of_geographic(out)
    got = dict(zip(cells, out["elderly"].tolist(), strict=True))
    assert sorted(got) == sorted(EXPECTED_SUM)
    for cell, value in EXPECTED_SUM.items():
        assert got[cell] == pytest.approx(value, abs=1e-6), cell
    assert out["demand_id"].tolist() == list(range(len(out)))
    assert (out["source"] == "raster:eld_f.tif + 1 more").all()
    assert out["unit_id"].isna().all()


def test_rasters_points_at_cell_centres(elderly_pair: list[Path]) -> None:
    out = demand_from_rasters(elderly_pair, crs=UTM)
    lon, lat = Transformer.from_crs(UTM, 4326, always_xy=True).transform(
        out.geometry.x.to_numpy(), out.geometry.y.to_numpy()
    )
    for (row, col), x, y in zip(cells_of_geographic(out), lon, lat, strict=True):
        assert x == pytest.approx(LON0 + (col + 0.5) * CELL_DEG, abs=1e-8)
        assert y == pytest.approx(LAT0 - (row + 0.5) * CELL_DEG, abs=1e-8)


def test_rasters_report_nodata_empty_and_negative(elderly_pair: list[Path]) -> None:
    out = demand_from_rasters(elderly_pair, crs=UTM)
    assert report_item(out, "nodata in every input")["count"] == N_NODATA_BOTH
    assert report_item(out, "no people")["count"] == N_EMPTY
    negative = report_item(out, "negative")
    assert negative["count"] == 1
    assert "-2.0" in negative["reason"]
    # every one of the 20 cells is either a point or counted in the report
    assert len(out) + N_NODATA_BOTH + N_EMPTY == ELD_A.size


def test_rasters_no_person_lost(elderly_pair: list[Path]) -> None:
    out = demand_from_rasters(elderly_pair, crs=UTM)
    total_in = sum(float(np.where((a != ND) & (a > 0), a, 0.0).sum()) for a in (ELD_A, ELD_B))
    assert total_in == pytest.approx(sum(EXPECTED_SUM.values()), abs=1e-6)
    excluded = sum(r["elderly"] for r in out.attrs["report"])
    assert out["elderly"].sum() + excluded == pytest.approx(total_in, abs=1e-6)


def test_rasters_population_none_equals_elderly_and_is_reported(
    elderly_pair: list[Path],
) -> None:
    out = demand_from_rasters(elderly_pair, crs=UTM)
    np.testing.assert_array_equal(out["population"].to_numpy(), out["elderly"].to_numpy())
    item = report_item(out, "population = elderly")
    assert item["item"] == "population"


def test_rasters_population_raster_and_partial_nodata(tmp_path: Path) -> None:
    eld = np.array([[ND, 2.0, 0.0], [1.0, ND, 0.0]], dtype=np.float32)
    pop = np.array([[10.0, ND, 0.0], [5.0, ND, ND]], dtype=np.float32)
    out = demand_from_rasters(
        write_tif(tmp_path / "e.tif", eld),
        write_tif(tmp_path / "p.tif", pop),
        crs=UTM,
    )
    got = {
        cell: (p, e)
        for cell, p, e in zip(
            cells_of_geographic(out), out["population"], out["elderly"], strict=True
        )
    }
    # (0,0): elderly nodata, population 10 counts; (0,1): population nodata, elderly 2
    assert got == {(0, 0): (10.0, 0.0), (0, 1): (0.0, 2.0), (1, 0): (5.0, 1.0)}
    assert report_item(out, "nodata in every input")["count"] == 1  # (1,1)
    assert report_item(out, "no people")["count"] == 2  # (0,2), (1,2)
    assert not [r for r in out.attrs["report"] if "population = elderly" in r["reason"]]


def test_rasters_worldpop_nodata_without_tag_is_excluded(tmp_path: Path) -> None:
    data = np.array([[ND, 4.0], [2.0, ND]], dtype=np.float32)
    out = demand_from_rasters(write_tif(tmp_path / "e.tif", data, nodata=None), crs=UTM)
    assert sorted(out["elderly"].tolist()) == [2.0, 4.0]
    assert report_item(out, "nodata in every input")["count"] == 2


def test_rasters_projected_grid_cell_size_and_centres(tmp_path: Path) -> None:
    data = np.arange(20, dtype=np.float32).reshape(4, 5)  # cell (0,0) holds 0: empty
    path = write_tif(tmp_path / "e.tif", data, crs=UTM, transform=utm_transform())
    out = demand_from_rasters(path, crs=UTM)
    assert out.attrs["cell_size_m"] == pytest.approx(100.0, abs=1e-9)
    assert len(out) == 19
    assert out["elderly"].sum() == pytest.approx(190.0, abs=1e-9)
    for x, y, value in zip(out.geometry.x, out.geometry.y, out["elderly"], strict=True):
        col, row = int(value) % 5, int(value) // 5
        assert x == pytest.approx(X0 + 100.0 * col + 50.0, abs=1e-6)
        assert y == pytest.approx(Y0 + 400.0 - 100.0 * row - 50.0, abs=1e-6)
    assert (out["source"] == "raster:e.tif").all()


def test_rasters_geographic_cell_size_close_to_geodesic(elderly_pair: list[Path]) -> None:
    out = demand_from_rasters(elderly_pair, crs=UTM)
    lat = LAT0 - 2 * CELL_DEG
    width = GEOD.inv(LON0, lat, LON0 + CELL_DEG, lat)[2]
    height = GEOD.inv(LON0, lat, LON0, lat - CELL_DEG)[2]
    assert out.attrs["cell_size_m"] == pytest.approx(np.sqrt(width * height), rel=0.01)


def test_rasters_units_assigned_and_outside_reported(tmp_path: Path) -> None:
    data = np.arange(1, 21, dtype=np.float32).reshape(4, 5)
    path = write_tif(tmp_path / "e.tif", data, crs=UTM, transform=utm_transform())
    # unit A covers columns 0-1, unit B columns 2-3; column 4 lies outside both
    units = gpd.GeoDataFrame(
        {"unit_id": ["A", "B"]},
        geometry=[square(0, 0, 200, 400), square(200, 0, 200, 400)],
        crs=UTM,
    ).to_crs(4326)  # a different CRS from the points: must be reprojected
    out = demand_from_rasters(path, crs=UTM, units=units)
    by_unit = out.groupby(out["unit_id"].fillna("none"))["elderly"].sum()
    col = np.arange(20) % 5
    values = np.arange(1, 21)
    assert by_unit["A"] == pytest.approx(values[col <= 1].sum(), abs=1e-9)  # 84
    assert by_unit["B"] == pytest.approx(values[(col >= 2) & (col <= 3)].sum(), abs=1e-9)
    outside = out[out["unit_id"].isna()]
    assert len(outside) == 4
    assert all(v is None for v in outside["unit_id"])
    item = report_item(out, "outside every unit")
    assert item["count"] == 4
    assert item["elderly"] == pytest.approx(5 + 10 + 15 + 20, abs=1e-9)
    assert item["population"] == pytest.approx(50.0, abs=1e-9)  # population = elderly


def test_rasters_on_different_grids_name_both_files(tmp_path: Path) -> None:
    a = write_tif(tmp_path / "grid_a.tif", ELD_A)
    shifted = from_origin(LON0 + CELL_DEG / 2, LAT0, CELL_DEG, CELL_DEG)
    b = write_tif(tmp_path / "grid_b.tif", ELD_B, transform=shifted)
    with pytest.raises(InputError, match=r"grid_b\.tif.*grid_a\.tif.*(?i:resample)"):
        demand_from_rasters([a, b], crs=UTM)


def test_rasters_different_shape_name_both_files(tmp_path: Path) -> None:
    a = write_tif(tmp_path / "grid_a.tif", ELD_A)
    b = write_tif(tmp_path / "grid_b.tif", ELD_B[:3])
    with pytest.raises(InputError, match=r"grid_b\.tif.*grid_a\.tif.*\(3, 5\) vs \(4, 5\)"):
        demand_from_rasters([a, b], crs=UTM)


def test_population_raster_on_other_grid_names_both_files(tmp_path: Path) -> None:
    eld = write_tif(tmp_path / "elderly_grid.tif", ELD_A)
    shifted = from_origin(LON0 + CELL_DEG / 2, LAT0, CELL_DEG, CELL_DEG)
    pop = write_tif(tmp_path / "population_grid.tif", ELD_B, transform=shifted)
    with pytest.raises(InputError, match=r"(?i)resample") as info:
        demand_from_rasters(eld, pop, crs=UTM)
    assert "population_grid.tif" in str(info.value)
    assert "elderly_grid.tif" in str(info.value)


def test_rasters_only_nodata(tmp_path: Path) -> None:
    path = write_tif(tmp_path / "empty.tif", np.full((2, 3), ND, dtype=np.float32))
    with pytest.raises(InputError, match=r"empty\.tif hold only nodata.*Check the nodata"):
        demand_from_rasters(path, crs=UTM)


def test_rasters_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.tif' does not exist\. Check the path"):
        demand_from_rasters(tmp_path / "nope.tif", crs=UTM)


def test_rasters_missing_population_file(elderly_pair: list[Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"pop_missing\.tif' does not exist"):
        demand_from_rasters(elderly_pair, tmp_path / "pop_missing.tif", crs=UTM)


def test_rasters_not_a_geotiff(tmp_path: Path) -> None:
    path = tmp_path / "notes.tif"
    path.write_text("not a raster", encoding="utf-8")
    with pytest.raises(InputError, match=r"notes\.tif.*Is it a GeoTIFF"):
        demand_from_rasters(path, crs=UTM)


def test_rasters_without_crs(tmp_path: Path) -> None:
    path = write_tif(tmp_path / "nocrs.tif", ELD_A, crs=None)
    with pytest.raises(InputError, match=r"nocrs\.tif' has no CRS.*a_srs"):
        demand_from_rasters(path, crs=UTM)


def test_rasters_empty_list() -> None:
    with pytest.raises(InputError, match="list at least one GeoTIFF"):
        demand_from_rasters([], crs=UTM)


# --------------------------------------------------------------------------- vector
def polygons(counts: dict[str, Sequence[object]]) -> gpd.GeoDataFrame:
    n = len(next(iter(counts.values())))
    geoms = [square(100.0 * i, 0, 100) for i in range(n)]
    return gpd.GeoDataFrame(dict(counts), geometry=geoms, crs=UTM)


def test_vector_polygons_to_points_counts_kept() -> None:
    layer = polygons({"age60": [5, 0, 7], "total": [50, 10, 70]})
    # an L-shaped block whose centroid lies outside it
    layer.loc[3] = [
        3,
        30,
        shapely.Polygon(
            [
                (X0, Y0 + 200),
                (X0 + 300, Y0 + 200),
                (X0 + 300, Y0 + 220),
                (X0 + 20, Y0 + 220),
                (X0 + 20, Y0 + 500),
                (X0, Y0 + 500),
            ]
        ),
    ]
    assert not layer.geometry.iloc[3].contains(layer.geometry.iloc[3].centroid)
    out = demand_from_vector(
        layer, elderly_col="age60", population_col="total", crs=UTM, name="grid.gpkg"
    )
    assert out["elderly"].tolist() == [5.0, 0.0, 7.0, 3.0]
    assert out["population"].tolist() == [50.0, 10.0, 70.0, 30.0]
    assert (out.geom_type == "Point").all()
    for pt, poly in zip(out.geometry, layer.geometry, strict=True):
        assert poly.contains(pt)
    assert (out["source"] == "vector:grid.gpkg").all()
    assert not [r for r in out.attrs["report"] if "empty" in r["reason"]]


def test_vector_population_defaults_to_elderly_and_reprojects() -> None:
    layer = polygons({"age60": [5, 7]}).to_crs(4326)
    out = demand_from_vector(layer, elderly_col="age60", crs=UTM)
    assert out.crs == UTM
    assert out["population"].tolist() == [5.0, 7.0]
    assert out.geometry.x.iloc[0] == pytest.approx(X0 + 50.0, abs=1.0)


def test_vector_missing_counts_reported() -> None:
    layer = polygons({"age60": [5, None, 7, None], "total": [50, 20, 70, None]})
    out = demand_from_vector(layer, elderly_col="age60", population_col="total", crs=UTM)
    assert out["elderly"].tolist() == [5.0, 0.0, 7.0, 0.0]
    assert out["population"].tolist() == [50.0, 20.0, 70.0, 0.0]
    assert report_item(out, "empty 'age60'")["count"] == 2
    assert report_item(out, "empty 'total'")["count"] == 1


def test_vector_no_person_lost_when_only_population_missing() -> None:
    # row 0 has 50 older people but no total: they must be kept or reported, not lost
    layer = polygons({"age60": [50, 10], "total": [None, 100]})
    out = demand_from_vector(layer, elderly_col="age60", population_col="total", crs=UTM)
    assert out["elderly"].tolist() == [50.0, 10.0]
    assert out["population"].tolist() == [0.0, 100.0]


def test_vector_from_path_and_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "grid.gpkg"
    polygons({"age60": [4, 6]}).to_file(path)
    out = demand_from_vector(path, elderly_col="age60", crs=UTM)
    assert out["elderly"].sum() == pytest.approx(10.0, abs=1e-12)
    assert (out["source"] == "vector:grid.gpkg").all()
    with pytest.raises(InputError, match=r"absent\.gpkg' does not exist\. Check the path"):
        demand_from_vector(tmp_path / "absent.gpkg", elderly_col="age60", crs=UTM)


def test_vector_non_numeric_names_row_and_column() -> None:
    layer = polygons({"age60": ["5", "many", "7"]})
    with pytest.raises(
        InputError, match=r"'blocks': column 'age60' must be numeric, row 1 has 'many'.*Fix"
    ):
        demand_from_vector(layer, elderly_col="age60", crs=UTM, name="blocks")


def test_vector_negative_count() -> None:
    layer = polygons({"age60": [5, 3, 7], "total": [10, 20, -4]})
    with pytest.raises(InputError, match=r"column 'total' must be ≥ 0.0, row 2 has -4.*Correct"):
        demand_from_vector(layer, elderly_col="age60", population_col="total", crs=UTM)


def test_vector_missing_column_suggests_close_name() -> None:
    layer = polygons({"elderly_60": [5, 7]})
    with pytest.raises(
        InputError, match=r"no column 'elderly_6'\. Did you mean 'elderly_60'\?.*Rename"
    ):
        demand_from_vector(layer, elderly_col="elderly_6", crs=UTM)


def test_vector_without_crs() -> None:
    layer = polygons({"age60": [5]}).set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match=r"'blocks' has no coordinate reference system.*EPSG"):
        demand_from_vector(layer, elderly_col="age60", crs=UTM, name="blocks")


def test_vector_empty_layer() -> None:
    layer = polygons({"age60": [5]}).iloc[:0]
    with pytest.raises(InputError, match=r"'blocks' is empty"):
        demand_from_vector(layer, elderly_col="age60", crs=UTM, name="blocks")


# --------------------------------------------------------------------------- census
@pytest.fixture
def census_units() -> gpd.GeoDataFrame:
    # A: 200 m × 200 m → 4 cell centres; B: 300 m × 100 m → 3 cell centres
    return gpd.GeoDataFrame(
        {"unit_id": ["A", "B"]}, geometry=[square(0, 0, 200), square(200, 0, 300, 100)], crs=UTM
    )


@pytest.fixture
def census_table() -> pd.DataFrame:
    return pd.DataFrame({"unit_id": ["A", "B"], "population": [100, 30], "elderly": [21, 9]})


def xy_values(out: gpd.GeoDataFrame, col: str) -> dict[tuple[float, float], float]:
    return {
        (round(x - X0, 6), round(y - Y0, 6)): v
        for x, y, v in zip(out.geometry.x, out.geometry.y, out[col], strict=True)
    }


def test_census_area_weights(census_units: gpd.GeoDataFrame, census_table: pd.DataFrame) -> None:
    out = demand_from_census(census_table, census_units, crs=UTM)
    pop = xy_values(out, "population")
    eld = xy_values(out, "elderly")
    a_cells = [(50.0, 50.0), (150.0, 50.0), (50.0, 150.0), (150.0, 150.0)]
    b_cells = [(250.0, 50.0), (350.0, 50.0), (450.0, 50.0)]
    assert sorted(pop) == sorted(a_cells + b_cells)
    for c in a_cells:
        assert pop[c] == pytest.approx(25.0, abs=1e-12)
        assert eld[c] == pytest.approx(5.25, abs=1e-12)
    for c in b_cells:
        assert pop[c] == pytest.approx(10.0, abs=1e-12)
        assert eld[c] == pytest.approx(3.0, abs=1e-12)
    sums = out.groupby("unit_id")[["population", "elderly"]].sum()
    assert sums.loc["A"].tolist() == pytest.approx([100.0, 21.0], abs=1e-12)
    assert sums.loc["B"].tolist() == pytest.approx([30.0, 9.0], abs=1e-12)
    assert out.attrs["cell_size_m"] == 100.0
    assert (out["source"] == "census").all()


def weight_raster(tmp_path: Path, bottom: Sequence[float], top: Sequence[float]) -> Path:
    """2 × 5 raster of 100 m cells over x 0–500, y 0–200 (top row = y 100–200)."""
    data = np.array([top, bottom], dtype=np.float32)
    return write_tif(tmp_path / "w.tif", data, crs=UTM, transform=utm_transform(rows=2))


def test_census_raster_weights(
    tmp_path: Path, census_units: gpd.GeoDataFrame, census_table: pd.DataFrame
) -> None:
    w = weight_raster(tmp_path, bottom=[3, 4, 1, 1, 2], top=[1, 2, 0, 0, 0])
    out = demand_from_census(census_table, census_units.to_crs(4326), crs=UTM, weights=w)
    pop = xy_values(out, "population")
    # A: weights 3, 4 (bottom) and 1, 2 (top), total 10; B: weights 1, 1, 2, total 4
    expected = {
        (50.0, 50.0): 30.0,
        (150.0, 50.0): 40.0,
        (50.0, 150.0): 10.0,
        (150.0, 150.0): 20.0,
        (250.0, 50.0): 7.5,
        (350.0, 50.0): 7.5,
        (450.0, 50.0): 15.0,
    }
    assert sorted(pop) == sorted(expected)
    for cell, value in expected.items():
        assert pop[cell] == pytest.approx(value, abs=1e-9), cell
    eld = xy_values(out, "elderly")
    assert eld[(150.0, 50.0)] == pytest.approx(21 * 0.4, abs=1e-9)
    sums = out.groupby("unit_id")[["population", "elderly"]].sum()
    assert sums.loc["A"].tolist() == pytest.approx([100.0, 21.0], rel=1e-12)
    assert sums.loc["B"].tolist() == pytest.approx([30.0, 9.0], rel=1e-12)


def test_census_zero_weights_split_equally(
    tmp_path: Path, census_units: gpd.GeoDataFrame, census_table: pd.DataFrame
) -> None:
    w = weight_raster(tmp_path, bottom=[3, 0, 0, 0, 0], top=[1, 0, 0, 0, 0])
    out = demand_from_census(census_table, census_units, crs=UTM, weights=w)
    pop = xy_values(out, "population")
    assert pop[(50.0, 50.0)] == pytest.approx(75.0, abs=1e-9)
    assert pop[(150.0, 50.0)] == pytest.approx(0.0, abs=1e-9)
    assert pop[(50.0, 150.0)] == pytest.approx(25.0, abs=1e-9)
    for c in [(250.0, 50.0), (350.0, 50.0), (450.0, 50.0)]:  # B has zero weight everywhere
        assert pop[c] == pytest.approx(10.0, abs=1e-12)
        assert xy_values(out, "elderly")[c] == pytest.approx(3.0, abs=1e-12)


def test_census_random_sums_preserved(tmp_path: Path) -> None:
    rng = np.random.default_rng(20240601)
    units = gpd.GeoDataFrame(
        {"unit_id": [f"u{i}" for i in range(6)]},
        geometry=[square(300.0 * (i % 3), 300.0 * (i // 3), 300) for i in range(6)],
        crs=UTM,
    )
    table = pd.DataFrame(
        {
            "unit_id": units["unit_id"],
            "population": rng.integers(0, 5000, 6),
            "elderly": rng.integers(0, 900, 6),
        }
    )
    weights = rng.uniform(0, 50, (6, 9)).astype(np.float32)
    w = write_tif(tmp_path / "w.tif", weights, crs=UTM, transform=utm_transform(rows=6))
    out = demand_from_census(table, units, crs=UTM, weights=w)
    sums = out.groupby("unit_id")[["population", "elderly"]].sum()
    for _, row in table.iterrows():
        assert sums.loc[row["unit_id"], "population"] == pytest.approx(row["population"], rel=1e-12)
        assert sums.loc[row["unit_id"], "elderly"] == pytest.approx(row["elderly"], rel=1e-12)
    assert len(out) == 6 * 9  # one point per 100 m cell


def test_census_tiny_unit_gets_one_point(census_table: pd.DataFrame) -> None:
    units = gpd.GeoDataFrame(
        {"unit_id": ["A", "B"]},
        geometry=[square(0, 0, 200), square(210, 110, 30)],  # B holds no cell centre
        crs=UTM,
    )
    out = demand_from_census(census_table, units, crs=UTM)
    b = out[out["unit_id"] == "B"]
    assert len(b) == 1
    assert units.geometry.iloc[1].contains(b.geometry.iloc[0])
    assert b["population"].iloc[0] == pytest.approx(30.0, abs=1e-12)
    assert b["elderly"].iloc[0] == pytest.approx(9.0, abs=1e-12)


def test_census_unknown_unit_id(census_units: gpd.GeoDataFrame) -> None:
    table = pd.DataFrame({"unit_id": ["A", "Z"], "population": [1, 2], "elderly": [1, 1]})
    with pytest.raises(InputError, match=r"unit_id 'Z' \(and 0 more\) is not in the unit layer"):
        demand_from_census(table, census_units, crs=UTM)


def test_census_duplicate_unit_id_in_table(census_units: gpd.GeoDataFrame) -> None:
    table = pd.DataFrame(
        {"unit_id": ["A", "B", "A"], "population": [1, 2, 3], "elderly": [1, 1, 1]}
    )
    with pytest.raises(
        InputError, match=r"'unit_id' must be unique.*'A' in rows 0, 2\. Give every"
    ):
        demand_from_census(table, census_units, crs=UTM)


def test_census_duplicate_unit_id_in_unit_layer(census_table: pd.DataFrame) -> None:
    units = gpd.GeoDataFrame(
        {"unit_id": ["A", "A", "B"]},
        geometry=[square(0, 0, 100), square(100, 0, 100), square(200, 0, 100)],
        crs=UTM,
    )
    with pytest.raises(InputError, match=r"(?i)unit_id.*'A'"):
        demand_from_census(census_table, units, crs=UTM)


def test_census_missing_column_and_bad_value(census_units: gpd.GeoDataFrame) -> None:
    table = pd.DataFrame({"unit_id": ["A"], "pop": [1], "elderly": [1]})
    with pytest.raises(InputError, match=r"census table' has no column 'population'"):
        demand_from_census(table, census_units, crs=UTM)
    table = pd.DataFrame({"unit_id": ["A", "B"], "population": [1, -1], "elderly": [1, 1]})
    with pytest.raises(InputError, match=r"column 'population' must be ≥ 0.0, row 1"):
        demand_from_census(table, census_units, crs=UTM)
