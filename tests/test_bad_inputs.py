"""Bad-input catalogue, part 1: files, CRS, data, network and security, through `planning run`.

Each case spoils one thing of a small valid scenario (tests/_bad_fixtures.py) and runs the
command line: the exit status, no traceback, and a message that names the file, row or
key and the fix. Cases that must run through (exit 0) also check the accounting.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from _bad_fixtures import DATA, Case, Ctx, base_scenario, build_small, check_case, params

from planning import coords


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_small(tmp_path_factory.mktemp("small"))


@pytest.fixture
def ctx(small: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctx:
    return Ctx(tmp_path, small, base_scenario(small), monkeypatch)


def _stations(ctx: Ctx) -> gpd.GeoDataFrame:
    return gpd.read_file(ctx.paths["stations"])


def _with_stations(ctx: Ctx, gdf: gpd.GeoDataFrame, name: str = "st.gpkg") -> list[str]:
    path = ctx.folder / name
    gdf.to_file(path, layer="stations")
    ctx.scenario["stations"] = {"path": str(path), "layer": "stations"}
    return ctx.run()


def _stations_csv(ctx: Ctx, table: pd.DataFrame, encoding: str = "utf-8") -> list[str]:
    path = ctx.folder / "stations.csv"
    table.to_csv(path, index=False, encoding=encoding)
    ctx.scenario["stations"] = {"path": str(path)}
    return ctx.run()


def _csv_table(ctx: Ctx) -> pd.DataFrame:
    return pd.read_csv(ctx.paths["stations_csv"], dtype={"station_id": str})


def _units(ctx: Ctx) -> gpd.GeoDataFrame:
    return gpd.read_file(ctx.paths["units"])


def _with_units(ctx: Ctx, gdf: gpd.GeoDataFrame) -> list[str]:
    path = ctx.folder / "units.gpkg"
    gdf.to_file(path, layer="units")
    ctx.scenario["units"] = {"path": str(path), "layer": "units"}
    return ctx.run()


def _population(ctx: Ctx) -> gpd.GeoDataFrame:
    return gpd.read_file(ctx.paths["population"])


def _with_population(ctx: Ctx, gdf: gpd.GeoDataFrame, **keys: Any) -> list[str]:
    path = ctx.folder / "pop.gpkg"
    gdf.to_file(path, layer="cells")
    ctx.scenario["population"].update(path=str(path), **keys)
    return ctx.run()


def _cell(table: Any, col: str, row: int, value: Any) -> Any:
    """Return `table` with one cell of `col` replaced (the column becomes text)."""
    out = table.astype({col: object})
    out.loc[row, col] = value
    return out


def _truncated(source: Path, ctx: Ctx, name: str) -> Path:
    return ctx.file(name, source.read_bytes()[:4096])


def _no_prj(gdf: gpd.GeoDataFrame, ctx: Ctx, name: str) -> Path:
    path = ctx.folder / f"{name}.shp"
    gdf.to_file(path)
    path.with_suffix(".prj").unlink()
    return path


def _raster(ctx: Ctx, values: float, nodata: float | None = None) -> list[str]:
    with rasterio.open(DATA / "wuhan_elderly_60plus.tif") as src:
        profile = src.profile | {"nodata": nodata}
        data = np.full((src.height, src.width), values, dtype=profile["dtype"])
    path = ctx.folder / "elderly.tif"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    ctx.scenario["population"] = {"elderly": [str(path)]}
    return ctx.run()


def _shifted(ctx: Ctx, forward: Any) -> list[str]:
    st = _stations(ctx)
    x, y = forward(st.geometry.x.to_numpy(), st.geometry.y.to_numpy())
    return _with_stations(ctx, st.set_geometry(gpd.points_from_xy(x, y, crs=4326)))


def _no_geometry_excluded(ctx: Ctx, text: str) -> None:
    record = json.loads((ctx.folder / "out" / "run.json").read_text(encoding="utf-8"))
    rows = [e for e in record["excluded"] if "missing geometry" in e["reason"]]
    assert rows and rows[0]["count"] == 1
    assert (ctx.folder / "out" / "map.html").stat().st_size > 0


def _escaped(ctx: Ctx, text: str) -> None:
    for page in ("index.html", "map.html"):
        html = (ctx.folder / "out" / page).read_text(encoding="utf-8")
        assert "<script>alert(1)</script>" not in html, page
        assert "<img src=x onerror" not in html, page


def _roads_in_gcj(ctx: Ctx) -> list[str]:
    roads = gpd.read_file(ctx.paths["roads"]).to_crs(4326)
    geoms = shapely.transform(
        roads.geometry.values, lambda xy: np.column_stack(coords.wgs84_to_gcj02(*xy.T))
    )
    path = _no_prj(roads.set_geometry(geoms), ctx, "roads")
    ctx.scenario["network"] = {"path": str(path), "crs": "gcj02"}
    return ctx.run()


FILES = [
    Case(
        "stations-missing",
        lambda c: c.set("stations.path", str(c.folder / "nope.gpkg")),
        r"nope\.gpkg' does not exist\. Check the path",
    ),
    Case(
        "stations-folder",
        lambda c: c.set("stations.path", str(c.paths["stations"].parent)),
        r"is a folder, not a file\. Give the file inside it \(it holds .*stations\.gpkg",
    ),
    Case(
        "stations-zero-bytes",
        lambda c: c.set("stations.path", str(c.file("empty.gpkg"))),
        r"empty\.gpkg' is empty \(0 bytes\).*Export or copy it again",
    ),
    Case(
        "stations-truncated",
        lambda c: c.set("stations.path", str(_truncated(c.paths["stations"], c, "cut.gpkg"))),
        r"cut\.gpkg'.*(truncated|damaged).*Export it again",
    ),
    Case(
        "stations-not-gis",
        lambda c: c.set("stations.path", str(c.file("fake.gpkg", "station_id,kind\n"))),
        r"Cannot open input file '.*fake\.gpkg' as a GIS layer.*Export it again",
    ),
    Case(
        "stations-wrong-layer",
        lambda c: c.set("stations.layer", "station"),
        r"stations\.gpkg' has no layer 'station'\. Did you mean 'stations'\? Its layers: "
        r"stations\. Set `layer:`",
    ),
    Case(
        "units-wrong-layer",
        lambda c: c.set("units.layer", "blocks"),
        r"units\.gpkg' has no layer 'blocks'.*Its layers: units\. Set `layer:`",
    ),
    Case(
        "units-missing",
        lambda c: c.set("units.path", str(c.folder / "units.shp")),
        r"units\.shp' does not exist\. Check the path",
    ),
    Case(
        "roads-wrong-layer",
        lambda c: c.set("network.layer", "road"),
        r"Road file '.*roads\.gpkg' has no layer 'road'\. Did you mean 'roads'\?",
    ),
    Case(
        "roads-zero-bytes",
        lambda c: c.set("network.path", str(c.file("roads.gpkg"))),
        r"Road file '.*roads\.gpkg' is empty \(0 bytes\).*again",
    ),
    Case(
        "roads-folder",
        lambda c: c.set("network.path", str(c.file("maps/roads.shp", "x").parent)),
        r"Road '.*maps' is a folder, not a file\. Give the file inside it \(it holds roads\.shp",
    ),
    Case(
        "roads-truncated",
        lambda c: c.set("network.path", str(_truncated(c.paths["roads"], c, "roads.gpkg"))),
        r"road file '.*roads\.gpkg'.*(truncated|damaged).*Export it again",
    ),
    Case(
        "roads-unknown-type",
        lambda c: c.set("network.path", str(c.file("roads.txt", "x"))),
        r"Unknown road file type '.*roads\.txt': expected one of",
    ),
    Case(
        "population-wrong-layer",
        lambda c: c.set("population.layer", "grid"),
        r"population\.gpkg' has no layer 'grid'.*Its layers: cells\. Set `layer:`",
    ),
    Case(
        "population-zero-bytes",
        lambda c: c.set("population.path", str(c.file("pop.gpkg"))),
        r"pop\.gpkg' is empty \(0 bytes\)",
    ),
    Case(
        "stations-csv-zero-bytes",
        lambda c: c.set("stations", {"path": str(c.file("st.csv"))}),
        r"st\.csv' is empty \(0 bytes\)",
    ),
    Case(
        "stations-csv-header-only",
        lambda c: c.set("stations", {"path": str(c.file("st.csv", "station_id,kind,lon,lat\n"))}),
        r"st\.csv' is empty: it has no features or rows\. Check the file",
    ),
    Case(
        "stations-xlsx-damaged",
        lambda c: c.set("stations", {"path": str(c.file("st.xlsx", b"PK\x03\x04broken"))}),
        r"Cannot read input workbook '.*st\.xlsx'.*Save it again from Excel",
    ),
    Case(
        "stations-xlsx-wrong-sheet",
        lambda c: _xlsx_stations(c, sheet="站点"),
        r"st\.xlsx' has no sheet '站点'\..*Its sheets: Sheet1\. Set `layer:`",
    ),
    Case(
        "raster-missing",
        lambda c: c.set("population", {"elderly": [str(c.folder / "old.tif")]}),
        r"Raster 'old\.tif'.*does not exist|old\.tif' does not exist",
    ),
    Case(
        "raster-not-a-raster",
        lambda c: c.set("population", {"elderly": [str(c.file("old.tif", "not a tiff"))]}),
        r"Cannot read raster '.*old\.tif'.*GeoTIFF",
    ),
    Case(
        "raster-all-negative",
        lambda c: _raster(c, -5.0),
        r"elderly raster\(s\) .*elderly\.tif hold no positive count.*nodata value",
    ),
    Case(
        "raster-all-nodata",
        lambda c: _raster(c, -9999.0, nodata=-9999.0),
        r"elderly raster\(s\) .*elderly\.tif hold only nodata cells\. Check the nodata value",
    ),
]


def _xlsx_stations(ctx: Ctx, sheet: str) -> list[str]:
    path = ctx.folder / "st.xlsx"
    _csv_table(ctx).to_excel(path, index=False)
    ctx.scenario["stations"] = {"path": str(path), "layer": sheet}
    return ctx.run()


CRS_CASES = [
    Case(
        "stations-no-crs",
        lambda c: c.set("stations", {"path": str(_no_prj(_stations(c), c, "st"))}),
        r"st\.shp' has no coordinate reference system\. .*add `crs: EPSG:4326`",
    ),
    Case(
        "stations-crs-conflict",
        lambda c: c.set("stations.crs", "EPSG:4547"),
        r"stations\.gpkg' already carries the CRS EPSG:4326, but the scenario says EPSG:4547\. "
        r"Remove `crs`",
    ),
    Case(
        "stations-unknown-crs",
        lambda c: c.set("stations.crs", "EPSG:999999"),
        r"'stations\.crs' = 'EPSG:999999' is not a coordinate reference system; use an EPSG",
    ),
    Case(
        "analysis-crs-geographic",
        lambda c: c.set("analysis_crs", "EPSG:4326"),
        r"'analysis_crs' = 'EPSG:4326' is not a projected CRS in metres; give a metric one",
    ),
    Case(
        "analysis-crs-unknown",
        lambda c: c.set("analysis_crs", "UTM50"),
        r"'analysis_crs' = 'UTM50' is not a coordinate reference system",
    ),
    Case(
        "roads-no-crs",
        lambda c: c.set("network", {"path": str(_no_prj(gpd.read_file(c.paths["roads"]), c, "r"))}),
        r"r\.shp' has no coordinate reference system\. .*`crs: EPSG:4326`",
    ),
    Case(
        "roads-crs-conflict",
        lambda c: c.set("network.crs", "EPSG:4326"),
        r"roads\.gpkg' already carries the CRS EPSG:4547, but the scenario says EPSG:4326\. "
        r"Remove `crs`",
    ),
    Case(
        "osm-file-with-crs",
        lambda c: c.set(
            "network",
            {"path": str(Path(__file__).parent / "data" / "guixi_jiangxi.osm"), "crs": "gcj02"},
        ),
        r"OpenStreetMap file '.*guixi_jiangxi\.osm' is always in WGS-84.*Remove `crs`",
    ),
    Case(
        "stations-csv-projected",
        lambda c: _stations_csv(c, _csv_table(c).assign(lon=523900.0, lat=3373500.0)),
        r"stations\.csv: row 2 has lon=523900\.0.*out of range.*projected coordinates",
    ),
    Case(
        "stations-csv-swapped",
        lambda c: _stations_csv(c, _csv_table(c).rename(columns={"lon": "lat", "lat": "lon"})),
        r"stations\.csv: row 2 .*swap",
    ),
    Case(
        "population-no-crs",
        lambda c: c.set(
            "population",
            {
                **c.scenario["population"],
                "layer": None,
                "path": str(_no_prj(_population(c), c, "pop")),
            },
        ),
        r"p\.shp' has no coordinate reference system",
    ),
    Case(
        "roads-no-crs-honoured",
        lambda c: c.set(
            "network",
            {"path": str(_no_prj(gpd.read_file(c.paths["roads"]), c, "r")), "crs": "EPSG:4547"},
        ),
        r"small: [\d,]+ older people; covered 5 min",
        rc=0,
    ),
    Case(
        "roads-gcj02-converted",
        _roads_in_gcj,
        r"small: [\d,]+ older people; covered 5 min",
        rc=0,
        slow=True,
    ),
    Case(
        "stations-gcj02-as-wgs84",
        lambda c: _shifted(c, coords.wgs84_to_gcj02),
        r"read as GCJ-02 \(Amap, Tencent\) coordinates they would sit \d+ m.*set `crs: gcj02` "
        r"in the scenario's `stations:` section",
        rc=0,
    ),
    Case(
        "stations-bd09-as-wgs84",
        lambda c: _shifted(c, coords.wgs84_to_bd09),
        r"read as BD-09 \(Baidu\) coordinates .*set `crs: bd09`",
        rc=0,
        slow=True,
    ),
]


def _dup_csv(c: Ctx) -> list[str]:
    table = _csv_table(c)
    table.loc[2, "station_id"] = table.loc[0, "station_id"]
    return _stations_csv(c, table)


def _far(c: Ctx) -> list[str]:
    st = _stations(c)
    return _with_stations(c, st.set_geometry(st.geometry.translate(xoff=1.0)))


DATA_CASES = [
    Case(
        "stations-duplicate-id",
        _dup_csv,
        r"stations\.csv': column 'station_id' must be unique.*in rows 2, 4\. Give every feature",
    ),
    Case(
        "stations-no-kind-column",
        lambda c: _with_stations(c, _stations(c).drop(columns="kind")),
        r"st\.gpkg' has no column 'kind'\..*Rename the column or map it in the scenario",
    ),
    Case(
        "stations-empty-kind",
        lambda c: _stations_csv(
            c, _csv_table(c).assign(kind=lambda t: t["kind"].where(t.index != 1))
        ),
        r"stations\.csv': row 3 \(\w+\) has no 'kind'\. Fill it in",
    ),
    Case(
        "stations-capacity-text",
        lambda c: _stations_csv(c, _cell(_csv_table(c), "capacity", 3, "二十")),
        r"stations\.csv': column 'capacity' must be numeric, row 5 has '二十'\. Fix the value",
    ),
    Case(
        "stations-capacity-negative",
        lambda c: _stations_csv(c, _csv_table(c).assign(capacity=-1)),
        r"stations\.csv': column 'capacity' must be ≥ 0.0, row 2 has -1.*Correct the value",
    ),
    Case(
        "stations-csv-missing-coordinates",
        lambda c: _stations_csv(
            c, _csv_table(c).assign(lat=lambda t: t["lat"].where(t.index != 2))
        ),
        r"stations\.csv': row 4 has no coordinates in 'lon'/'lat'\. Fill in the coordinates",
    ),
    Case(
        "stations-csv-no-coordinate-columns",
        lambda c: _stations_csv(c, _csv_table(c).rename(columns={"lon": "E", "lat": "N"})),
        r"stations\.csv' has no coordinate columns: expected lon/lat.*set `x_col`/`y_col`",
    ),
    Case(
        "stations-null-geometry",
        lambda c: _with_stations(
            c, _stations(c).assign(geometry=lambda g: g.geometry.where(g.index != 0))
        ),
        r"st\.gpkg': row 0 \(\w+\) has no geometry",
    ),
    Case(
        "stations-id-col-wrong",
        lambda c: c.set("stations.id_col", "code"),
        r"stations\.gpkg' has no column 'code'\..*Rename the column or map it",
    ),
    Case(
        "stations-all-far-away",
        _far,
        r"None of the \d+ stations lies within max_snap_m .*crs: gcj02",
    ),
    Case(
        "units-points",
        lambda c: _with_units(c, _units(c).set_geometry(_units(c).centroid)),
        r"units\.gpkg': unit HS-01 \(row 0\) is a Point, not a polygon\. Units must be areas",
    ),
    Case(
        "units-no-id",
        lambda c: _with_units(c, _units(c).drop(columns="unit_id")),
        r"units\.gpkg' has no column 'unit_id'.*Rename the column or map it in the scenario",
    ),
    Case(
        "units-duplicate-id",
        lambda c: _with_units(c, _units(c).assign(unit_id=["A", "B", "A", "C"])),
        r"units\.gpkg': column 'unit_id' must be unique.*'A' in rows 0, 2\. Give every feature",
    ),
    Case(
        "units-overlap",
        lambda c: _with_units(
            c, _units(c).assign(geometry=lambda u: u.geometry.where(u.index != 0, u.buffer(800)))
        ),
        r"units\.gpkg': \d+ pair\(s\) of units overlap by more than 100 m² \(HS-01 and HS-0\d "
        r"share [\d,]+ m².*Clip or dissolve the units",
    ),
    Case(
        "population-no-elderly-column",
        lambda c: c.set("population.elderly_col", "age60"),
        r"population\.gpkg' has no column 'age60'.*Rename the column or map it",
    ),
    Case(
        "population-elderly-text",
        lambda c: _with_population(c, _cell(_population(c), "elderly", 7, "n/a")),
        r"pop\.gpkg': column 'elderly' must be numeric, row 7 has 'n/a'\. Fix the value",
    ),
    Case(
        "population-elderly-negative",
        lambda c: _with_population(
            c, _population(c).assign(elderly=lambda p: p["elderly"].where(p.index != 3, -2.0))
        ),
        r"pop\.gpkg': column 'elderly' must be ≥ 0.0, row 3 has -2\.0\. Correct the value",
    ),
    Case(
        "population-null-geometry",
        lambda c: _with_population(
            c, _population(c).assign(geometry=lambda p: p.geometry.where(p.index != 5))
        ),
        r"small: [\d,]+ older people; covered 5 min",
        rc=0,
        then=_no_geometry_excluded,
    ),
    Case(
        "stations-csv-gbk-title-row",
        lambda c: _stations_gbk_with_title(c),
        r"small: [\d,]+ older people; covered 5 min",
        rc=0,
        slow=True,
    ),
]


def _stations_gbk_with_title(ctx: Ctx) -> list[str]:
    path = ctx.folder / "stations.csv"
    body = _csv_table(ctx).to_csv(index=False)
    path.write_bytes(("武汉市养老服务站点登记表（2026年）,,,\n\n" + body).encode("gbk"))
    ctx.scenario["stations"] = {"path": str(path)}
    return ctx.run()


def _roads_points(c: Ctx) -> list[str]:
    roads = gpd.read_file(c.paths["roads"])
    path = c.folder / "pts.gpkg"
    roads.set_geometry(roads.geometry.centroid).to_file(path)
    return c.set("network", {"path": str(path)})


def _osmnx_offline(c: Ctx) -> list[str]:
    import osmnx
    import requests

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise requests.ConnectionError("Failed to resolve 'overpass-api.de'")

    c.scenario["network"] = {"osmnx": {"place": "洪山区, 武汉"}}
    c.monkeypatch.setattr(osmnx, "graph_from_place", refuse)
    return c.run()


NETWORK = [
    Case(
        "roads-points",
        _roads_points,
        r"Road layer '.*pts\.gpkg' must hold lines, but feature 0 is a Point\. Export only",
    ),
    Case(
        "network-components",
        lambda c: c.set("network.components", "biggest"),
        r"'network\.components' = 'biggest' is not one of largest, keep",
    ),
    Case(
        "network-noding",
        lambda c: c.set("network.noding", "nodes"),
        r"'network\.noding' = 'nodes' is not one of vertices, endpoints, crossings",
    ),
    Case(
        "network-exclude-unknown",
        lambda c: c.set("network.exclude", ["bridges"]),
        r"'network\.exclude'.*bridges",
    ),
    Case(
        "network-no-path",
        lambda c: c.set("network", {"layer": "roads"}),
        r"'network' needs 'path' \(a road or OSM file\) or 'osmnx'",
    ),
    Case(
        "network-osmnx-unknown-key",
        lambda c: c.set("network", {"osmnx": {"city": "Wuhan"}}),
        r"'network\.osmnx': unknown key 'city'.*Valid keys: bbox, place, polygon",
    ),
    Case(
        "network-osmnx-offline",
        _osmnx_offline,
        r"osmnx download of the network failed \(ConnectionError.*offline, download an "
        r"extract \(\.osm\.pbf",
    ),
    Case(
        "network-osm-garbage",
        lambda c: c.set("network", {"path": str(c.file("city.osm", "<osm><node id='1'"))}),
        r"city\.osm",
    ),
    Case(
        "network-max-snap-tiny",
        lambda c: c.set("max_snap_m", 0.001),
        r"None of the \d+ stations lies within max_snap_m of the road network",
    ),
]


def _evil_names(c: Ctx) -> list[str]:
    st = _stations(c)
    st.loc[0, "name"] = "<script>alert(1)</script>"
    st.loc[1, "name"] = "<img src=x onerror=alert(2)>"
    units = _units(c)
    units.loc[0, "name"] = "<script>alert(1)</script>"
    path = c.folder / "units.gpkg"
    units.to_file(path, layer="units")
    c.scenario["units"]["path"] = str(path)
    c.scenario["title"] = "<script>alert(1)</script>"
    return _with_stations(c, st)


SECURITY = [
    Case(
        "yaml-python-tag",
        lambda c: ["run", str(c.file("evil.yaml", "name: !!python/object/apply:os.system [id]\n"))],
        r"evil\.yaml' is not valid YAML",
    ),
    Case(
        "html-in-names-escaped",
        _evil_names,
        r"small: [\d,]+ older people",
        rc=0,
        then=_escaped,
    ),
    Case(
        "scenario-is-a-folder",
        lambda c: ["run", str(c.folder)],
        r"Scenario file '.*' is a folder|Scenario .* folder",
    ),
]


@pytest.mark.parametrize("case", params(FILES + CRS_CASES + DATA_CASES + NETWORK + SECURITY))
def test_bad_input(case: Case, ctx: Ctx) -> None:
    check_case(case, ctx)


def test_catalogue_size() -> None:
    from test_bad_registers import REGISTER
    from test_bad_scenarios import SCENARIO, SITING

    cases = FILES + CRS_CASES + DATA_CASES + NETWORK + SECURITY + SCENARIO + SITING + REGISTER
    assert len(cases) >= 100
    assert len({c.id for c in cases}) == len(cases)
