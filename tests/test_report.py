"""Report pages, workbook, GeoPackage, charts and the annual comparison (no browser)."""

from __future__ import annotations

import html
import json
import re
import shutil
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
import yaml
from _report_fixtures import EVIL, fake_compliance, fake_curve, fake_siting, tiny_inputs, tiny_run

from planning import cli, report, settings
from planning._errors import InputError
from planning.coverage import col_covered, gap_sites
from planning.report import _i18n, annual, export
from planning.workflow import run_record, write_run

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "wuhan-central.yaml"


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setattr(settings, "progress", False)


class _Cells(HTMLParser):
    """Collect the text of elements carrying ``data-kpi`` or ``data-col`` (per unit row)."""

    def __init__(self) -> None:
        super().__init__()
        self.kpis: dict[str, str] = {}
        self.rows: dict[str, dict[str, str]] = {}
        self._row: str | None = None
        self._key: tuple[str, str] | None = None
        self._text: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-unit-id" in a:
            self._row = a["data-unit-id"]
            self.rows[self._row] = {}
        if self._key is not None:
            self._depth += 1
        elif "data-kpi" in a:
            self._key, self._text, self._depth = ("kpi", a["data-kpi"]), [], 0
        elif "data-col" in a and self._row is not None:
            self._key, self._text, self._depth = ("col", a["data-col"]), [], 0

    def handle_endtag(self, tag):
        if self._key is None:
            return
        if self._depth:
            self._depth -= 1
            return
        kind, name = self._key
        text = "".join(self._text).strip()
        if kind == "kpi":
            self.kpis[name] = text.split("\n")[-1].strip()
        else:
            self.rows[self._row][name] = text
        self._key = None

    def handle_data(self, data):
        if self._key is not None:
            self._text.append(data)


def _cells(path: Path) -> _Cells:
    parser = _Cells()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    settings.progress = False
    out = tmp_path_factory.mktemp("tiny-zh")
    result = tiny_run()
    result.siting = fake_siting(result)
    result.coverage.gaps = gap_sites(result.network, result.coverage, result.siting.siting)
    result.siting_curve = fake_curve()
    result.compliance = fake_compliance()
    write_run(result, out)
    settings.progress = True
    return result, out


# --------------------------------------------------------------------------- strings
def test_every_string_exists_in_both_languages():
    assert _i18n.available_languages() == ["en", "zh"]
    table = _i18n._table()
    for key, texts in table.items():
        zh = set(re.findall(r"\{(\w*)\}", texts["zh"]))
        en = set(re.findall(r"\{(\w*)\}", texts["en"]))
        assert zh == en, key
    assert _i18n.html_lang("zh-CN") == "zh-CN" and _i18n.html_lang("EN") == "en"
    assert _i18n.kind_label("centre", "zh") == "街道养老服务综合中心"
    assert _i18n.kind_label("mystery", "en") == "mystery"


def test_a_missing_template_language_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match=r"No report template for language 'fr'.*en, zh"):
        report.strings("fr")
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    # siting and the 四同步 check have their own tests; keep these runs light
    data.pop("siting", None)
    data.pop("developments", None)
    data["language"] = "fr"
    for key in ("network", "stations", "units"):
        data[key]["path"] = str(ROOT / "scenarios" / data[key]["path"])
    data["population"] = {
        k: [str(ROOT / "scenarios" / p) for p in v] for k, v in data["population"].items()
    }
    path = tmp_path / "fr.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert cli.main(["-q", "run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_an_unusable_basemap_fails_before_the_run(tmp_path, capsys):
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["map"] = {"tiles": "tianditu"}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert cli.main(["-q", "run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "tiles_key" in capsys.readouterr().err


# --------------------------------------------------------------------------- run folder
def test_run_folder_has_pages_tables_layers_and_charts(written):
    _, out = written
    for name in (
        "index.html", "map.html", "coverage.xlsx", "results.gpkg", "run.json", "siting.csv",
        "compliance.csv", "assets/leaflet.js", "assets/leaflet.css", "assets/LICENSE-leaflet.txt",
        "charts/coverage_by_unit.png", "charts/overview.png", "charts/siting_curve.png",
    ):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    pages = sorted(p.name for p in (out / "units").glob("*.html"))
    assert pages == ["U1.html", "U2.html"]
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["format_version"] == annual.RUN_FORMAT_VERSION
    assert record["year"] == 2026 and record["siting"] and record["compliance"]
    assert record["targets"][0]["target_id"] == "circle15"
    assert record["outputs"]["units/*"] > 0 and "index.html" in record["outputs"]
    assert len(record["extent_lonlat"]) == 4


def test_index_figures_equal_the_csv(written):
    _, out = written
    table = pd.read_csv(out / "coverage_units.csv", dtype={"unit_id": str}).set_index("unit_id")
    cells = _cells(out / "index.html")
    assert set(cells.rows) == set(table.index)
    for uid, row in table.iterrows():
        got = cells.rows[uid]
        assert got["elderly"] == f"{row['elderly']:,.0f}"
        for t in (1, 2, 3):
            assert got[f"coverage_share_{t}min"] == f"{row[f'coverage_share_{t}min']:.1%}"
        assert got["n_stations"] == str(int(row["n_stations"]))
    totals = json.loads((out / "run.json").read_text(encoding="utf-8"))["totals"]
    assert cells.kpis["coverage_share_3min"] == f"{totals['coverage_share_3min']:.1%}"
    assert cells.kpis["elderly"] == f"{totals['elderly']:,.0f}"


def test_unit_page_figures_equal_the_csv(written):
    _, out = written
    table = pd.read_csv(out / "coverage_units.csv", dtype={"unit_id": str}).set_index("unit_id")
    for uid in table.index:
        kpis = _cells(out / "units" / f"{uid}.html").kpis
        row = table.loc[uid]
        assert kpis["elderly"] == f"{row['elderly']:,.0f}"
        assert kpis["coverage_share_3min"] == f"{row['coverage_share_3min']:.1%}"
        assert kpis["elderly_uncovered_3min"] == f"{row['elderly_uncovered_3min']:,.0f}"


def test_every_page_has_rules_parameters_attribution_and_exclusions(written):
    _, out = written
    for page in [out / "index.html", *(out / "units").glob("*.html")]:
        text = page.read_text(encoding="utf-8")
        assert "china-baseline" in text and "shanxi-2023" in text
        assert 'class="badge badge-R"' in text  # values with confidence R are flagged
        assert "1 m/s" in text and "1, 2, 3 分钟" in text
        assert "OpenStreetMap" in text and "ODbL" in text
        assert "WorldPop" in text and "CC BY 4.0" in text and "Tatem" in text
        assert "被排除的输入" in text


def test_unit_page_has_map_gaps_sites_and_developments(written):
    _, out = written
    u1 = (out / "units" / "U1.html").read_text(encoding="utf-8")
    assert '<script src="../assets/leaflet.js"></script>' in u1
    assert 'id="gaps"' in u1 and "G0001" in u1
    assert 'id="sites"' in u1 and "K2 &lt;b&gt;" in u1
    assert "全部建议点位建成后" in u1  # what the proposed sites would change
    assert 'id="developments"' in u1 and "配建面积不足" in u1
    assert 'id="stations"' in u1 and "S1" in u1
    assert "../index.html" in u1


def test_gap_tables_list_best_spots_and_the_sites_that_reach_them(written):
    result, out = written
    gaps = result.coverage.gaps
    index = (out / "index.html").read_text(encoding="utf-8")
    table = index[index.index('<table id="gaps">') :]
    table = table[: table.index("</table>")]
    assert "最佳补点（经度，纬度）" in table and "可补上此片区的拟建点位" in table
    first = gaps.iloc[0]
    assert f"{first['best_spot_lon']:.5f}, {first['best_spot_lat']:.5f}" in table
    assert table.count("<tr>") == min(len(gaps), 20) + 1
    shown = gaps.head(20)
    closed = shown.loc[shown["closed_by"] != "", "closed_by"]
    assert any("K2 <b>" in c for c in closed)
    for cell in closed:
        assert f"<td>{html.escape(cell)}</td>" in table
    assert "K2 <b>" not in table


def test_strings_from_data_are_escaped_in_pages(written):
    _, out = written
    for page in [out / "index.html", out / "annual.html", *(out / "units").glob("*.html")]:
        if not page.exists():
            continue
        text = page.read_text(encoding="utf-8")
        assert EVIL not in text and "<img src=x" not in text and "<b>1</b>" not in text
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    assert "{{ 7*7 }} {% bad" in index  # shown as text by Jinja, never evaluated


def test_index_in_english(tmp_path):
    result = tiny_run(language="en")
    write_run(result, tmp_path)
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in text and "Coverage within 3 min" in text
    assert "Test district &lt;i&gt;tiny&lt;/i&gt;" in text
    assert 'id="siting"' not in text and 'id="compliance"' not in text


def test_empty_sections_say_so(tmp_path):
    result = tiny_run(language="en")
    result.coverage.gaps = result.coverage.gaps.iloc[:0]
    result.siting = fake_siting(result)
    result.siting.siting = result.siting.siting.iloc[:0]
    result.compliance = fake_compliance()
    result.compliance.geo = result.compliance.geo.iloc[:0]
    write_run(result, tmp_path)
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Every older person is within 3 min: no gap." in text
    assert "The siting result of this run is empty." in text
    assert "No development was checked in this run." in text
    unit = (tmp_path / "units" / "U1.html").read_text(encoding="utf-8")
    assert "No proposed site lies in this unit." in unit


def test_unit_page_names_are_safe_file_names():
    units = pd.DataFrame({"unit_id": ["A-1", "../x", "a b", "Z", "z"]})
    pages = report.unit_pages(units)
    assert pages["A-1"] == "units/A-1.html"
    assert pages["../x"] == "units/unit-0002.html" and pages["a b"] == "units/unit-0003.html"
    assert pages["Z"] == "units/unit-0004.html" and pages["z"] == "units/unit-0005.html"


# --------------------------------------------------------------------------- workbook / gpkg
def test_workbook_sheets_and_chinese_headers(written):
    _, out = written
    wb = openpyxl.load_workbook(out / "coverage.xlsx", read_only=True)
    assert wb.sheetnames[:5] == ["units", "stations", "gaps", "siting", "siting_curve"]
    assert {"compliance", "targets", "excluded", "columns"} <= set(wb.sheetnames)
    header = [c.value for c in next(wb["units"].iter_rows(max_row=1))]
    assert header[:2] == ["单元编号", "名称"]
    assert "老年人口（60岁及以上）" in header and "3分钟覆盖率" in header
    assert "街道养老服务综合中心数量" in header
    columns = pd.read_excel(out / "coverage.xlsx", sheet_name="columns")
    row = columns[(columns["sheet"] == "units") & (columns["column"] == "coverage_share_3min")]
    assert row["en"].item() == "Coverage within 3 min"
    units = pd.read_excel(out / "coverage.xlsx", sheet_name="units")
    table = pd.read_csv(out / "coverage_units.csv")
    assert units["3分钟覆盖率"].tolist() == pytest.approx(table["coverage_share_3min"].tolist())
    dev = pd.read_excel(out / "coverage.xlsx", sheet_name="compliance")
    assert list(dev["结论"]) == ["FAIL", "PASS", "UNKNOWN"]


def test_workbook_without_siting_says_so(tmp_path):
    result = tiny_run(language="en")
    path = export.write_workbook(result, tmp_path / "c.xlsx", headers="id")
    siting = pd.read_excel(path, sheet_name="siting")
    assert siting["note"].item() == "The siting result of this run is empty."
    units = pd.read_excel(path, sheet_name="units")
    assert "coverage_share_3min" in units.columns


def test_column_labels_follow_the_glossary():
    assert export.column_label("coverage_share_15min", "zh") == "15分钟覆盖率"
    assert export.column_label("elderly_within_10min", "en") == "Older people within 10 min"
    assert export.column_label("meets_circle15", "zh") == "达标：circle15"
    assert export.column_label("n_meal", "zh") == "老年助餐点数量"
    assert export.column_label("facility_delivery", "zh") == "配建设施交付"
    assert export.column_label("whatever", "zh") == "whatever"


def test_geopackage_has_every_layer(written):
    result, out = written
    layers = dict(pyogrio.list_layers(out / "results.gpkg"))
    assert list(layers) == [
        "units", "stations", "service_areas", "covered_areas", "gaps", "gap_best_spots",
        "demand", "siting", "developments",
    ]  # fmt: skip
    cov = result.coverage
    gaps = gpd.read_file(out / "results.gpkg", layer="gaps")
    t = cov.thresholds_min[-1]
    not_covered = cov.demand.loc[~cov.demand[col_covered(t)], "elderly"].sum()
    assert gaps["elderly"].sum() == pytest.approx(not_covered) and not_covered > 0
    assert gaps["gap_id"].tolist() == cov.gaps["gap_id"].tolist()
    spots = gpd.read_file(out / "results.gpkg", layer="gap_best_spots")
    assert set(spots["gap_id"]) <= set(gaps["gap_id"]) and len(spots) > 0
    disks = gpd.read_file(out / "results.gpkg", layer="covered_areas").query("kind == 'disk'")
    assert disks["to_min"].tolist() == sorted(result.coverage.thresholds_min)
    assert disks["area_m2"].is_monotonic_increasing
    units = gpd.read_file(out / "results.gpkg", layer="units")
    assert units.crs == result.coverage.units.crs and len(units) == 2
    assert gpd.read_file(out / "results.gpkg", layer="developments")["verdict"].tolist() == [
        "FAIL", "PASS", "UNKNOWN",
    ]  # fmt: skip
    demand = gpd.read_file(out / "results.gpkg", layer="demand")
    assert demand["elderly"].sum() == pytest.approx(result.coverage.demand["elderly"].sum())
    assert len(demand) == len(result.coverage.demand)
    # every layer has its R-tree except the demand points (a third of the file)
    with sqlite3.connect(out / "results.gpkg") as db:
        indexed = {r[0] for r in db.execute("SELECT table_name FROM gpkg_extensions")}
    assert "demand" not in indexed and {"units", "gaps", "service_areas"} <= indexed
    assert [p.name for p in out.glob("*.gpkg")] == ["results.gpkg"]


# --------------------------------------------------------------------------- annual
@pytest.fixture(scope="module")
def last_year(tmp_path_factory):
    settings.progress = False
    out = tmp_path_factory.mktemp("last-year")
    stations = tiny_inputs()["stations"].iloc[:2]
    write_run(tiny_run(year=2025, stations=stations), out)
    return out


def _this_year(previous: Path, **kwargs) -> object:
    result = tiny_run(**kwargs)
    result.comparison = annual.compare_runs(result, annual.read_run(previous))
    return result


def test_annual_comparison_figures(last_year):
    result = _this_year(last_year)
    comp = result.comparison
    assert comp.year == 2026 and comp.previous_year == 2025
    assert comp.stations_added["station_id"].tolist() == ["S3"]
    assert comp.stations_closed.empty and comp.notes == []
    units = comp.units.set_index("unit_id")
    prev = pd.read_csv(last_year / "coverage_units.csv", dtype={"unit_id": str})
    prev = prev.set_index("unit_id")
    now = result.coverage.units.set_index("unit_id")
    for uid in ("U1", "U2"):
        change = units.loc[uid, "coverage_share_3min_change"]
        expected = now.loc[uid, "coverage_share_3min"] - prev.loc[uid, "coverage_share_3min"]
        assert change == pytest.approx(expected, abs=1e-5)
    assert (units["status"] == "both").all()
    targets = comp.targets.set_index("target_id")
    assert set(targets["status"]) <= {
        "newly_met", "still_met", "lost", "still_missed", "not_comparable",
    }  # fmt: skip
    # every older person of the tiny district is within 15 min: met both years
    assert targets.loc["circle15", "status"] == "still_met"
    assert targets.loc["circle15", "due"] == ""
    assert targets.loc["daycare_community", "status"] == "not_comparable"
    assert annual._due(2025, False, 2026) == "overdue"
    assert annual._due(2026, False, 2026) == "due_this_year"
    assert annual._due(float("nan"), False, 2026) == ""
    assert annual._status("True", "False") == "newly_met"
    assert annual._status(False, True) == "lost"
    assert comp.totals["stations"] == {"prev": 2.0, "this": 3.0}


def test_annual_page_and_csv(last_year, tmp_path):
    result = _this_year(last_year)
    write_run(result, tmp_path)
    page = (tmp_path / "annual.html").read_text(encoding="utf-8")
    assert "2026年度养老服务设施布局年报" in page
    assert 'id="annual-targets"' in page and 'id="added"' in page and "S3" in page
    assert "@media print" in page and "@page" in page
    assert (tmp_path / "charts" / "annual_change.png").exists()
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'id="annual-summary"' in index and 'href="annual.html"' in index
    stations = pd.read_csv(tmp_path / "annual_stations.csv")
    assert stations["change"].tolist() == ["added"]
    units = pd.read_csv(tmp_path / "annual_units.csv")
    assert {"coverage_share_3min_prev", "coverage_share_3min_change"} <= set(units.columns)
    record = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert record["previous"]["year"] == 2025
    assert "annual_units" in dict(pyogrio.list_layers(tmp_path / "results.gpkg"))
    # a later plain run into the same folder leaves no stale annual page behind
    write_run(tiny_run(), tmp_path)
    assert not (tmp_path / "annual.html").exists()


def test_previous_run_of_another_format_version_is_refused(last_year, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(last_year, copy)
    record = json.loads((copy / "run.json").read_text(encoding="utf-8"))
    record.pop("format_version")
    (copy / "run.json").write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(InputError, match=r"no format_version.*Re-run last year's scenario"):
        annual.read_run(copy)
    record["format_version"] = 99
    (copy / "run.json").write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(InputError, match="format_version 99"):
        annual.read_run(copy)


def test_previous_run_folder_problems_are_clear(tmp_path, last_year):
    with pytest.raises(InputError, match="does not exist"):
        annual.read_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no run\.json"):
        annual.read_run(tmp_path / "empty")
    copy = tmp_path / "partial"
    shutil.copytree(last_year, copy)
    (copy / "coverage_stations.csv").unlink()
    with pytest.raises(InputError, match=r"no coverage_stations\.csv"):
        annual.read_run(copy)
    (copy / "run.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        annual.read_run(copy)


def test_previous_run_of_another_study_area_is_refused(last_year, tmp_path):
    copy = tmp_path / "elsewhere"
    shutil.copytree(last_year, copy)
    units = pd.read_csv(copy / "coverage_units.csv")
    units["unit_id"] = ["X1", "X2"]
    units.to_csv(copy / "coverage_units.csv", index=False)
    with pytest.raises(InputError, match="another study area: 0 of 4 unit ids"):
        _this_year(copy)
    shutil.copy(last_year / "coverage_units.csv", copy / "coverage_units.csv")
    record = json.loads((copy / "run.json").read_text(encoding="utf-8"))
    record["extent_lonlat"] = [100.0, 20.0, 100.1, 20.1]
    (copy / "run.json").write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(InputError, match="another study area"):
        _this_year(copy)


def test_smaller_differences_become_visible_notes(last_year, tmp_path):
    copy = tmp_path / "changed"
    shutil.copytree(last_year, copy)
    record = json.loads((copy / "run.json").read_text(encoding="utf-8"))
    record["parameters"]["analysis_crs"] = "EPSG:4547"
    record["parameters"]["walk_speed_m_s"] = 0.8
    record["parameters"]["thresholds_min"] = [3, 15]
    record["year"] = 2026
    (copy / "run.json").write_text(json.dumps(record), encoding="utf-8")
    result = _this_year(copy, language="en")
    keys = [n.key for n in result.comparison.notes]
    assert keys == ["note_crs", "note_thresholds", "note_speed", "note_year"]
    assert result.comparison.thresholds_min == (3.0,)
    write_run(result, tmp_path / "out")
    page = (tmp_path / "out" / "annual.html").read_text(encoding="utf-8")
    assert 'id="notes"' in page and "EPSG:4547" in page and "only 3 min are compared" in page


def test_report_command_needs_a_previous_run(tmp_path, capsys):
    assert cli.main(["-q", "report", str(DEMO), "--out", str(tmp_path / "o")]) == 2
    assert "--previous RUN_DIR" in capsys.readouterr().err
    missing = tmp_path / "missing"
    assert cli.main(["-q", "report", str(DEMO), "--previous", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_previous_key_in_the_scenario(tmp_path):
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["previous"] = "last-year-run"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    # relative to the scenario file; missing, so the run stops before any work
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "last-year-run"))):
        from planning.workflow import run_scenario

        run_scenario(path)


def test_repr_html_of_results(written):
    result, _ = written
    html = result._repr_html_()
    assert "<table>" in html and "covered within 3 min" in html
    assert EVIL not in html and "&lt;script&gt;" in html
    record = run_record(result)
    assert record["format_version"] == annual.RUN_FORMAT_VERSION
