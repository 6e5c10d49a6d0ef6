"""Maps: layers, legends, tiles, offline assets, escaping and determinism (no browser)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from _report_fixtures import BRACES, EVIL, fake_compliance, fake_curve, fake_siting, tiny_run

from planning import settings
from planning._errors import InputError
from planning.coverage import gap_sites
from planning.report import layers, maps, palette, tiles


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setattr(settings, "progress", False)


@pytest.fixture(scope="module")
def run():
    return tiny_run()


@pytest.fixture(scope="module")
def full_run():
    result = tiny_run()
    result.siting = fake_siting(result)
    result.coverage.gaps = gap_sites(result.network, result.coverage, result.siting.siting)
    result.siting_curve = fake_curve()
    result.compliance = fake_compliance()
    return result


def _render(m) -> str:
    return m.get_root().render()


def _layer_names(page: str) -> list[str]:
    match = re.search(r"var layer_control_\w+_layers = \{(.*?)\};", page, re.S)
    assert match, "no layer control"
    return re.findall(r'"([^"]+)"\s*:', match.group(1))


# --------------------------------------------------------------------------- tiles
def test_no_tiles_by_default_and_osm():
    assert tiles.tile_layers(None) == []
    assert tiles.tile_layers("none") == []
    (osm,) = tiles.tile_layers("OpenStreetMap")
    assert osm.url.startswith("https://tile.openstreetmap.org/{z}/{x}/{y}")
    assert "OpenStreetMap" in osm.attribution


def test_tianditu_needs_a_key_and_has_its_annotation_layer():
    with pytest.raises(InputError, match="tiles_key"):
        tiles.tile_layers("tianditu")
    base, notes = tiles.tile_layers("tianditu", key="ab c/1")
    assert "vec_w/wmts" in base.url and "LAYER=vec" in base.url
    assert "cva_w/wmts" in notes.url and notes.overlay
    assert base.url.endswith("tk=ab%20c%2F1") and base.subdomains == "01234567"
    assert "{z}" in base.url and "TILEROW={y}" in base.url and "TILECOL={x}" in base.url
    img, cia = tiles.tile_layers("tianditu-img", key="K")
    assert "img_w" in img.url and "cia_w" in cia.url


def test_custom_tiles_need_a_url_template():
    (spec,) = tiles.tile_layers("custom", url="http://tiles.intranet/{z}/{x}/{y}.png")
    assert spec.url == "http://tiles.intranet/{z}/{x}/{y}.png"
    (direct,) = tiles.tile_layers("http://t.local/{z}/{x}/{-y}.png", attribution="local")
    assert direct.attribution == "local"
    with pytest.raises(InputError, match=r"\{z\}, \{x\} and \{y\}"):
        tiles.tile_layers("custom", url="http://tiles.intranet/tile.png")
    with pytest.raises(InputError, match=r"not a basemap choice.*tianditu"):
        tiles.tile_layers("google")


def test_scenario_tiles_reach_the_map(tmp_path):
    result = tiny_run(extra={"map": {"tiles": "tianditu", "tiles_key": "KEY123"}})
    page = _render(maps.coverage_map(result))
    assert "t{s}.tianditu.gov.cn/vec_w" in page and "cva_w" in page and "tk=KEY123" in page
    assert "Tianditu" in page


# --------------------------------------------------------------------------- colours
def test_share_and_density_colours():
    assert palette.share_colour(float("nan")) == "#bdbdbd"
    assert palette.share_colour(0.1) == "#d7191c"
    assert palette.share_colour(0.95) == "#a6d96a"
    assert palette.share_colour(1.0) == "#1a9641"
    assert palette.density_colour(0) == palette.DENSITY_BINS[0][1]
    assert palette.density_colour(1e6) == palette.DENSITY_BINS[-1][1]
    colours = palette.kind_colours(["zeta", "station", "alpha"])
    assert colours["station"] == palette.KIND_COLOURS["station"]
    assert colours["alpha"] != colours["zeta"]


def test_density_grid_keeps_every_older_person(run):
    demand = run.coverage.demand
    for cell in (50.0, 200.0, 500.0):
        grid = layers.density_grid(demand, cell)
        assert grid["elderly"].sum() == pytest.approx(demand["elderly"].sum(), rel=1e-12)
        assert grid["elderly_per_km2"].iloc[0] == pytest.approx(
            grid["elderly"].iloc[0] / (cell * cell / 1e6)
        )


def test_density_raster_covers_the_points(run):
    pts = layers.density_points(run.coverage.demand)
    raster = layers.density_raster(pts, 50.0)
    assert raster is not None
    assert raster.rgba.shape[2] == 4 and raster.rgba[..., 3].max() > 0
    (south, west), (north, east) = raster.bounds
    lonlat = run.coverage.demand.to_crs(4326)
    assert west <= lonlat.geometry.x.min() <= east and south <= lonlat.geometry.y.min() <= north
    assert layers.density_raster(pts, 50.0, window=(0.0, 0.0, 1.0, 1.0)) is None


# --------------------------------------------------------------------------- layers
def test_district_map_has_every_layer(full_run):
    page = _render(maps.coverage_map(full_run, language="en"))
    names = _layer_names(page)
    expected = [
        "Units: coverage within 3 min",
        "Elderly density (500 m)",
        "Road network of the analysis",
        "Service areas 3 min (3)",
        "Service areas 2 min (3)",
        "Service areas 1 min (3)",
        "Gaps: not within 3 min (3)",
        "Station: sub-district comprehensive elderly-care centre (1)",
        "Station: day-care centre for older people (1)",
        "Station: community elderly-care station (1)",
        "Proposed sites (2)",
        "Development: fail (1)",
        "Development: unknown (1)",
        "Development: pass (1)",
    ]
    assert names == expected
    assert "planning-legend" in page
    assert re.search(r"L\.control\.scale\(\{metric: true, imperial: false", page)
    assert "OpenStreetMap contributors (ODbL 1.0)" in page and "WorldPop" in page


def test_gap_areas_are_drawn_one_by_one_with_their_figures_and_best_spot(full_run):
    gaps = full_run.coverage.gaps
    data = layers.map_data(full_run, language="en")
    assert data.gaps["gap_id"].tolist() == gaps["gap_id"].tolist() and len(gaps) == 3
    first, g = data.gaps["tip"].iloc[0], gaps.iloc[0]
    assert first.startswith(f"<b>{g['gap_id']}</b> · {g['unit_id']}<br>beyond 3 min")
    assert f"Best spot would cover: {g['best_spot_elderly']:,.0f}" in first
    assert f"{g['best_spot_lon']:.5f}, {g['best_spot_lat']:.5f}" in first
    closing = [tip for tip in data.gaps["tip"] if "Proposed sites that reach it" in tip]
    assert any("K2 &lt;b&gt;" in tip for tip in closing)
    assert not any("K2 <b>" in tip for tip in data.gaps["tip"])


def test_optional_layers_absent_without_siting_or_compliance(run):
    names = _layer_names(_render(maps.coverage_map(run, language="en")))
    assert not any(n.startswith(("Proposed", "Development")) for n in names)


def test_a_layer_with_nothing_to_draw_gets_a_note(run):
    result = tiny_run(language="en")
    result.coverage.gaps = result.coverage.gaps.iloc[:0]
    result.siting = fake_siting(result)
    result.siting.siting = result.siting.siting.iloc[:0]
    page = _render(maps.coverage_map(result))
    assert "No gap: everyone within 3 min" in page
    assert "No proposed site here" in page
    assert not any(n.startswith("Gaps") for n in _layer_names(page))


def test_unit_map_highlights_its_unit_and_cuts_layers(full_run):
    data = layers.map_data(full_run, language="en")
    page = _render(maps.unit_map(data, "U2"))
    assert '"own": 1' in page and '"own": 0' in page
    assert "Proposed sites" in page
    with pytest.raises(InputError, match="no unit 'nope'"):
        maps.unit_map(data, "nope")


def test_unit_links_in_popups(run):
    data = layers.map_data(run, links={"U1": "units/U1.html"})
    page = _render(maps.coverage_map(data))
    assert "units/U1.html" in page and 'target=\\"_top\\"' in page


# --------------------------------------------------------------------------- safety
def test_strings_from_data_are_escaped(full_run):
    page = _render(maps.coverage_map(full_run))
    assert EVIL not in page and "<script>alert" not in page
    assert "<b>1</b>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.replace("\\u0026", "&").replace(
        "\\u003c", "<"
    ).replace("\\u003e", ">")


def test_braces_from_data_are_not_evaluated_as_templates(full_run):
    # branca compiles rendered fragments again: "{{ 7*7 }}" must not become 49
    page = _render(maps.coverage_map(full_run)).replace("\\u0026", "&")
    assert "&#123;&#123; 7*7 &#125;&#125; &#123;% bad" in page
    assert BRACES not in page and " 49 " not in page


# --------------------------------------------------------------------------- offline files
def test_saved_map_links_shared_assets_only(full_run, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    maps.save_map(
        maps.coverage_map(full_run),
        out / "map.html",
        assets_dir=out / "assets",
        title="T <x>",
        lang="en",
    )
    page = (out / "map.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=[\"'](https?:)?//", page)
    assert not re.search(r"<link[^>]+href=[\"'](https?:)?//", page)
    assert '<script src="assets/leaflet.js"></script>' in page
    assert '<link rel="stylesheet" href="assets/leaflet.css">' in page
    assert "jquery" not in page.lower() and "bootstrap" not in page.lower()
    assert '<html lang="en">' in page and "<title>T &lt;x&gt;</title>" in page
    assert (out / "assets" / "leaflet.js").stat().st_size > 100_000
    assert len(page) < 200_000


def test_embedded_map_needs_no_files(run, tmp_path):
    path = maps.save_map(maps.coverage_map(run), tmp_path / "m.html")
    page = path.read_text(encoding="utf-8")
    assert "L.map(" in page and "https://cdn" not in page.split("L_NO_TOUCH")[-1]
    assert not re.search(r"<script[^>]+src=", page)


def test_map_fragment_for_unit_pages(run, tmp_path):
    data = layers.map_data(run)
    frag = maps.map_fragment(
        maps.unit_map(data, "U1"), assets_url="../assets", assets_dir=tmp_path / "assets"
    )
    assert '<script src="../assets/leaflet.js"></script>' in frag.head
    assert "height: 460px" in frag.head and "html, body" not in frag.head
    assert 'class="folium-map"' in frag.body and "L.map(" in frag.script
    assert (tmp_path / "assets" / "leaflet.css").exists()


def test_same_run_same_map(run, tmp_path):
    a = maps.save_map(maps.coverage_map(run), tmp_path / "a.html", assets_dir=tmp_path / "assets")
    b = maps.save_map(maps.coverage_map(run), tmp_path / "b.html", assets_dir=tmp_path / "assets")
    assert a.read_bytes() == b.read_bytes()


def test_write_assets_ships_leaflet_with_its_licence(tmp_path):
    paths = maps.write_assets(tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["LICENSE-leaflet.txt", "leaflet.css", "leaflet.js"]
    assert "BSD 2-Clause" in (tmp_path / "LICENSE-leaflet.txt").read_text(encoding="utf-8")


def test_siting_and_compliance_accessors(full_run):
    sites, curve = layers.siting_of(full_run)
    assert list(sites["rank"]) == [1, 2] and curve is not None
    assert layers.newly_covered_column(sites) == "elderly_newly_covered"
    devs = layers.compliance_of(full_run)
    assert list(devs["verdict"]) == ["FAIL", "PASS", "UNKNOWN"]
    row = devs.iloc[0]
    assert layers.reasons_of(row, "en") == "facility 20 m² short"
    assert layers.reasons_of({"reasons": ["a", "b"]}, "zh") == "a; b"
    assert layers.siting_tables(None) == (None, None)
    no_rank = sites.drop(columns=["rank", "geometry"])
    again, _ = layers.siting_tables(no_rank)
    assert list(again["rank"]) == [1, 2] and again.crs.to_epsg() == 4326
    with pytest.raises(InputError, match="lon/lat"):
        layers.siting_tables(no_rank.drop(columns=["lon"]))
    assert np.isfinite(again.geometry.x).all()


def test_relative_assets_from_a_subfolder(run, tmp_path):
    (tmp_path / "deep").mkdir()
    page = maps.save_map(
        maps.coverage_map(run), tmp_path / "deep" / "m.html", assets_dir=tmp_path / "assets"
    ).read_text(encoding="utf-8")
    assert '<script src="../assets/leaflet.js"></script>' in page
    assert Path(tmp_path / "assets" / "leaflet.js").exists()


# --------------------------------------------------------------------------- classes, geometry
def _brute_force_jenks(values: list[float], k: int) -> list[int]:
    """Class of each (sorted) value under the split with the least within-class variance."""
    from itertools import combinations

    x = np.asarray(values)
    best, best_cuts = np.inf, ()
    for cuts in combinations(range(1, len(x)), k - 1):
        parts = np.split(x, cuts)
        sse = sum(((p - p.mean()) ** 2).sum() for p in parts)
        if sse < best - 1e-15:
            best, best_cuts = sse, cuts
    return list(np.searchsorted(np.asarray(best_cuts), np.arange(len(x)), side="right"))


def test_share_classes_are_natural_breaks_below_the_target():
    shares = [0.0, 0.02, 0.03, 0.05, 0.2, 0.22, 0.25, 0.5, 0.52, 0.55, 0.62, 0.9]
    classes = palette.share_classes([*shares, 1.0, float("nan")], target=0.9, k=3)
    expected = _brute_force_jenks(shares[:-1], 3)  # 0.9 reaches the target
    assert [classes.index(s) for s in shares[:-1]] == expected
    assert classes.lower[0] == 0.0 and classes.lower[-1] == 0.9 and len(classes.lower) == 4
    assert classes.index(0.9) == classes.index(1.0) == 3
    assert classes.colour(1.0) == palette.TARGET_MET_COLOUR
    assert classes.colour(float("nan")) == palette.NO_DATA_COLOUR
    # breaks midway between classes, in whole percentage points: 0.125 and 0.375
    assert classes.lower[1:3] == (0.13, 0.38) or classes.lower[1:3] == (0.12, 0.38)
    assert classes.labels()[-1] == "≥ 90%" and classes.labels()[0].startswith("0%–")
    assert len(set(classes.colours)) == len(classes.colours)


def test_share_classes_without_target_or_spread():
    assert palette.share_classes([0.3, 0.3], target=1.0).lower == (0.0, 1.0)
    assert palette.share_classes([], target=None).labels() == ["0%–100%"]
    many = np.random.default_rng(7).beta(2, 5, 5000)
    one, two = (palette.share_classes(many, target=0.8) for _ in range(2))
    assert one == two and len(one.lower) == 6  # deterministic on sampled quantiles


def test_map_tolerance_follows_the_scale_of_the_first_view():
    from planning.report._geometry import map_tolerance_m

    # 0.1° of latitude at the equator: 11,132 m across, one pixel at 4,000 px
    assert map_tolerance_m((0.0, 0.0, 0.05, 0.1)) == pytest.approx(11_132.0 / 4000.0)
    assert map_tolerance_m((114.0, 30.0, 114.001, 30.001)) == 1.0  # never below 1 m


def test_units_simplified_together_keep_their_shared_edge():
    import geopandas as gpd
    import shapely

    from planning.report._geometry import simplify_web

    # two units split by a zigzag of 5 m teeth, simplified at 50 m: no gap, no overlap
    zig = [(0.001, 0.0)] + [(0.001 + (i % 2) * 4.5e-5, i * 4.5e-5) for i in range(1, 200)]
    zig.append((0.001, 0.009))
    left = shapely.Polygon([(0.0, 0.0), *zig, (0.0, 0.009)])
    right = shapely.Polygon([(0.002, 0.0), *zig, (0.002, 0.009)][::-1])
    units = gpd.GeoDataFrame({"u": [1, 2]}, geometry=[left, right], crs=4326)
    simple = simplify_web(units, 50.0, coverage=True)
    a, b = simple.geometry
    assert shapely.get_num_coordinates(a) < 20 < shapely.get_num_coordinates(left)
    assert a.intersection(b).area == pytest.approx(0.0, abs=1e-14)
    assert a.union(b).area == pytest.approx(left.union(right).area, rel=1e-6)


def test_network_lines_keep_every_metre(run):
    from planning.report._geometry import network_lines

    edges = run.network.edges
    lines = network_lines(edges)
    assert len(lines) == 1 and lines.crs.to_epsg() == 4326
    back = lines.to_crs(edges.crs).length.sum()
    assert back == pytest.approx(edges.length.sum(), rel=1e-4)


def test_district_map_opens_units_under_any_layer(full_run, tmp_path):
    m = maps.coverage_map(full_run, language="en")
    page = maps.map_fragment(m, assets_url="assets", assets_dir=tmp_path).script
    assert 'map.on("click"' in page and "properties.popup" in page
    assert '"pane": "planning-units"' in page and '"interactive": false' in page
    assert "bindPopup" not in page  # no layer keeps a click for itself
    unit = maps.unit_map(layers.map_data(full_run), "U1")
    unit_page = maps.map_fragment(unit, assets_url="assets", assets_dir=tmp_path).script
    assert 'map.on("click"' not in unit_page and "overlayadd" in unit_page


def test_unit_maps_share_one_network_file(run, tmp_path):
    import json as _json

    data = layers.map_data(run)
    path = maps.write_shared_network(data, tmp_path / "assets")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("window.planningNetwork = ")
    shared = _json.loads(text.removeprefix("window.planningNetwork = ").rstrip(";\n"))
    (feature,) = shared["features"]
    assert feature["geometry"]["type"] in {"LineString", "MultiLineString"}
    linked = maps.map_fragment(
        maps.unit_map(data, "U1", network_script="../assets/network.js"),
        assets_url="../assets",
        assets_dir=tmp_path / "assets",
    )
    own = maps.map_fragment(
        maps.unit_map(data, "U1"), assets_url="../assets", assets_dir=tmp_path / "assets"
    )
    assert '<script src="../assets/network.js"></script>' in linked.head
    assert "window.planningNetwork" in linked.script and '"planning-network"' in linked.script
    fill = re.search(r"L\.geoJSON\(window\.planningNetwork.*?\.addTo\((\w+)\)", linked.script, re.S)
    assert fill, "the shared network is drawn into no group"
    made = linked.script.index(f"var {fill.group(1)} = L.featureGroup")
    assert made < fill.start()  # the group exists before the shared file fills it
    assert "network.js" not in own.head and own.script.count("geo_json_") > linked.script.count(
        "geo_json_"
    )


def test_many_gaps_draw_the_smaller_ones_as_one_image(full_run, monkeypatch):
    import shapely

    from planning.report._geometry import polygon_image

    data = layers.map_data(full_run, language="en")
    monkeypatch.setattr(maps, "MAX_GAP_FEATURES", 1)
    page = _render(maps.coverage_map(data))
    assert "smaller ones are drawn as an image" in page
    largest = data.gaps.sort_values("elderly").iloc[-1]
    assert largest["tip"].replace("<", "\\u003c").replace(">", "\\u003e")[:20] in page
    # the image fills exactly the cells the other gaps touch
    rest = data.gaps.sort_values("elderly").iloc[:-1]
    rgba, ((south, west), (north, east)) = polygon_image(rest, "#2166ac", cell_m=10.0)
    filled = rgba[..., 3] > 0
    assert filled.any() and (rgba[filled][:, :3] == [0x21, 0x66, 0xAC]).all()
    w, s, e, n = rest.total_bounds
    assert west <= w and south <= s and east >= e and north >= n
    cell_area = (north - south) * (east - west) / filled.size
    assert filled.sum() * cell_area >= shapely.union_all(rest.geometry.values).area
    assert polygon_image(rest.iloc[:0], "#2166ac", cell_m=10.0) is None
