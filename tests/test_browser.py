"""A real headless browser opens the run folder with the network cut off.

Debian's chromium, driven by Playwright (``.ci/run`` installs it; Playwright never
downloads a browser here). The run folder is the embedded central-Wuhan demo with one
unit renamed ``<script>alert(1)</script>``, compared with a previous year's run (fewer
stations) and with proposed sites and development verdicts attached. It is served from
127.0.0.1; every other request is aborted and recorded. Each page must load with no
failed request, no JavaScript error, its map layers drawn and the figures of
``coverage_units.csv``. Screenshots go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml

from planning import settings
from planning.workflow import run_scenario, write_run

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "wuhan-central.yaml"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path(os.environ.get("PLANNING_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EVIL = "<script>alert(1)</script>"
EVIL_UNIT = "HS-01"

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)
if not CHROMIUM.exists():  # pragma: no cover - .ci/run installs Debian's chromium
    pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


def _scenario(tmp: Path, *, year: int, drop_every: int | None) -> Path:
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    # siting and the 四同步 check have their own tests; keep these runs light
    data.pop("siting", None)
    data.pop("developments", None)
    for key in ("network", "stations", "units"):
        data[key]["path"] = str(ROOT / "scenarios" / data[key]["path"])
    data["population"] = {
        k: [str(ROOT / "scenarios" / p) for p in v] for k, v in data["population"].items()
    }
    units = gpd.read_file(data["units"]["path"], layer="units")
    units.loc[units["unit_id"] == EVIL_UNIT, "name"] = EVIL
    units.to_file(tmp / f"units_{year}.gpkg", layer="units")
    data["units"] = {"path": str(tmp / f"units_{year}.gpkg"), "layer": "units"}
    if drop_every:
        st = gpd.read_file(data["stations"]["path"], layer="stations")
        keep = st.iloc[[i for i in range(len(st)) if i % drop_every != 3]]
        keep.to_file(tmp / f"stations_{year}.gpkg", layer="stations")
        data["stations"] = {"path": str(tmp / f"stations_{year}.gpkg"), "layer": "stations"}
    data["year"] = year
    path = tmp / f"scenario_{year}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _attach_siting_and_compliance(result) -> None:
    cand = gpd.read_file(ROOT / "data" / "wuhan_candidates.gpkg").iloc[:6].copy()
    cand["rank"] = np.arange(1, 7)
    cand["lon"], cand["lat"] = cand.geometry.x, cand.geometry.y
    cand["elderly_newly_covered"] = np.linspace(2400, 900, 6)
    share = result.coverage.totals["coverage_share_15min"]
    cand["cumulative_share"] = share + np.cumsum(cand["elderly_newly_covered"]) / 836_313
    result.siting = SimpleNamespace(siting=cand)
    result.siting_curve = pd.DataFrame(
        {"p": range(7), "share": [share, *cand["cumulative_share"]], "covered": range(7)}
    )
    devs = gpd.read_file(ROOT / "data" / "wuhan_developments.gpkg", layer="developments")
    devs["verdict"] = (["FAIL", "PASS", "UNKNOWN"] * 5)[: len(devs)]
    devs["reasons_zh"] = ["配建面积不足"] * len(devs)
    devs["reasons_en"] = ["facility area short"] * len(devs)
    result.compliance = SimpleNamespace(geo=devs)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    progress, settings.progress = settings.progress, False
    try:
        run_scenario(_scenario(tmp, year=2025, drop_every=7), out_dir=tmp / "run-2025")
        result = run_scenario(_scenario(tmp, year=2026, drop_every=None), previous=tmp / "run-2025")
        _attach_siting_and_compliance(result)
        write_run(result, tmp / "run-2026")
    finally:
        settings.progress = progress
    return tmp / "run-2026"


@pytest.fixture(scope="module")
def server(run_dir):
    handler = functools.partial(_QuietHandler, directory=str(run_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


class _Watch:
    """Record blocked, failed and erroring requests, JavaScript errors and dialogs."""

    def __init__(self, page, base: str) -> None:
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} {r.status}"))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

        def route(r):
            url = r.request.url
            if url.startswith(base + "/") or url.startswith("data:"):
                r.continue_()
            else:
                self.blocked.append(url)
                r.abort()

        page.route("**/*", route)

    def assert_clean(self) -> None:
        assert self.blocked == [], f"requests beyond the run folder: {self.blocked}"
        assert self.failed == [], f"failed requests: {self.failed}"
        assert self.errors == [], f"JavaScript errors: {self.errors}"
        assert self.dialogs == [], f"dialogs fired: {self.dialogs}"


def _open(browser, url: str, base: str, shot: str, *, in_frame: bool = False):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = _Watch(page, base)
    page.goto(url, wait_until="load")
    scope = page.frame_locator("iframe.map-frame") if in_frame else page
    scope.locator(".leaflet-control-layers").first.wait_for(state="attached", timeout=15_000)
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    return page, watch


def _units_table(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "coverage_units.csv", dtype={"unit_id": str}).set_index("unit_id")


def test_index_page(browser, server, run_dir):
    page, watch = _open(browser, f"{server}/index.html", server, "index.png", in_frame=True)
    frame = page.frame_locator("iframe.map-frame")
    frame.locator(".leaflet-control-layers-overlays label").first.wait_for(timeout=15_000)
    assert frame.locator(".leaflet-control-layers-overlays label").count() >= 10
    table = _units_table(run_dir)
    rows = page.locator("#units tr[data-unit-id]")
    assert rows.count() == len(table)
    shown = page.evaluate(
        """() => Array.from(document.querySelectorAll('#units tr[data-unit-id]')).map(tr => {
            const out = {id: tr.dataset.unitId, name: tr.querySelector('.unit-name').textContent};
            tr.querySelectorAll('td[data-col]').forEach(td => out[td.dataset.col] =
                td.textContent.trim());
            return out; })"""
    )
    for row in shown:
        ref = table.loc[row["id"]]
        assert row["elderly"] == f"{ref['elderly']:,.0f}", row["id"]
        for t in (5, 10, 15):
            assert row[f"coverage_share_{t}min"] == f"{ref[f'coverage_share_{t}min']:.1%}"
        assert row["n_stations"] == str(int(ref["n_stations"]))
    evil = next(r for r in shown if r["id"] == EVIL_UNIT)
    assert evil["name"] == EVIL  # the literal text, not markup
    assert page.locator("#units script").count() == 0
    totals = page.locator('[data-kpi="coverage_share_15min"]').text_content()
    share = table["elderly_covered_15min"].sum() / table["elderly"].sum()
    assert totals == f"{share:.1%}"
    assert page.locator("#annual-summary").count() == 1
    assert page.locator("#sites tr").count() == 7 and page.locator("#developments tr").count() > 1
    assert all("127.0.0.1" in u or u.startswith("data:") for u in watch.requests)
    watch.assert_clean()
    page.close()


def test_unit_page(browser, server, run_dir):
    page, watch = _open(browser, f"{server}/units/{EVIL_UNIT}.html", server, "unit.png")
    assert page.locator("h1 .unit-name").text_content() == EVIL
    assert page.title().startswith(EVIL)
    overlays = page.locator(".leaflet-control-layers-overlays label")
    assert overlays.count() >= 6
    assert page.locator(".leaflet-overlay-pane path.leaflet-interactive").count() >= 3
    row = _units_table(run_dir).loc[EVIL_UNIT]
    kpi = {k: page.locator(f'[data-kpi="{k}"]').text_content() for k in (
        "elderly", "coverage_share_5min", "coverage_share_15min", "elderly_uncovered_15min",
        "n_stations",
    )}  # fmt: skip
    assert kpi["elderly"] == f"{row['elderly']:,.0f}"
    assert kpi["coverage_share_5min"] == f"{row['coverage_share_5min']:.1%}"
    assert kpi["coverage_share_15min"] == f"{row['coverage_share_15min']:.1%}"
    assert kpi["elderly_uncovered_15min"] == f"{row['elderly_uncovered_15min']:,.0f}"
    assert kpi["n_stations"] == str(int(row["n_stations"]))
    assert page.locator("#gaps tr").count() > 1
    assert page.locator(".badge-R").count() >= 1  # rules with confidence R are flagged
    watch.assert_clean()
    page.close()


def test_district_map(browser, server, run_dir):
    page, watch = _open(browser, f"{server}/map.html", server, "map.png")
    labels = page.locator(".leaflet-control-layers-overlays label").all_text_contents()
    stations = pd.read_csv(run_dir / "coverage_stations.csv")
    devs = pd.read_csv(run_dir / "compliance.csv")
    # units, density, road network, 3 service areas, gaps, stations by kind, sites, devs
    expected = 1 + 1 + 1 + 3 + 1 + stations["kind"].nunique() + 1 + devs["verdict"].nunique()
    assert len(labels) == expected, labels
    assert any("建议点位" in x for x in labels) and any("新建小区" in x for x in labels)
    assert page.locator(".leaflet-overlay-pane path.leaflet-interactive").count() > 128
    assert page.locator(".planning-legend").count() == 1
    # the evil unit's popup shows its name as text, with the link to its page
    inside = _click_points(run_dir).set_index("unit_id").geometry[EVIL_UNIT]
    text = page.evaluate(
        """([lat, lon]) => {
            const m = Object.keys(window).filter(k => /^map_/.test(k)).map(k => window[k])
                .find(v => v && v.eachLayer);
            m.fire('click', {latlng: L.latLng(lat, lon)});
            const box = document.querySelector('.leaflet-popup-content');
            if (!box) { return null; }
            return [box.textContent, box.querySelector('a').getAttribute('href')]; }""",
        [inside.y, inside.x],
    )
    assert text is not None and EVIL in text[0]
    assert text[1] == f"units/{EVIL_UNIT}.html"
    watch.assert_clean()
    page.close()


def test_annual_page(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = _Watch(page, server)
    page.goto(f"{server}/annual.html", wait_until="load")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "annual.png"), full_page=True)
    assert page.locator("#added tr").count() > 1
    assert page.locator("#annual-targets tr").count() == 5
    assert page.locator('#totals [data-total="stations"] td').nth(1).text_content() == "126"
    page.emulate_media(media="print")
    page.screenshot(path=str(ARTIFACTS / "annual-print.png"), full_page=True)
    assert page.locator("header.top").is_hidden()
    watch.assert_clean()
    page.close()


def test_artifacts_folder_is_ignored_by_git():
    ignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "test-artifacts/" in ignore
    assert shutil.which("git") is None or ARTIFACTS.parent.name == "test-artifacts"


def _map_frame(page):
    return next(f for f in page.frames if f.url.endswith("/map.html"))


def _all_layers_on(frame) -> int:
    boxes = frame.locator(".leaflet-control-layers-overlays input[type=checkbox]")
    for i in range(boxes.count()):
        if not boxes.nth(i).is_checked():
            boxes.nth(i).check()
    return boxes.count()


def _click_points(run_dir: Path) -> gpd.GeoDataFrame:
    """A point deep inside every unit (its pole of inaccessibility), in lon/lat."""
    from shapely.ops import polylabel

    units = gpd.read_file(run_dir / "results.gpkg", layer="units")
    points = [
        polylabel(g, tolerance=5.0) for g in units.geometry.explode().groupby(level=0).first()
    ]
    return gpd.GeoDataFrame(
        {"unit_id": units["unit_id"], "name": units["name"]}, geometry=points, crs=units.crs
    ).to_crs(4326)


_SCREEN_POINT = """([lat, lon]) => {
    const m = Object.keys(window).filter(k => /^map_/.test(k)).map(k => window[k])
        .find(v => v && v.eachLayer);
    const p = m.latLngToContainerPoint([lat, lon]);
    const box = m.getContainer().getBoundingClientRect();
    const x = box.left + p.x, y = box.top + p.y;
    if (x < box.left + 5 || y < box.top + 5 || x > box.right - 5 || y > box.bottom - 5) {
        return null; }
    const el = document.elementFromPoint(x, y);
    if (!el || el.closest('.leaflet-control-container, .leaflet-marker-icon, .leaflet-popup')) {
        return null; }
    return [x, y]; }"""


def test_units_open_from_the_index_map_with_every_layer_on(browser, server, run_dir):
    units = _click_points(run_dir)
    clicked = []
    for _, unit in units.iloc[::8].iterrows():
        page, watch = _open(
            browser, f"{server}/index.html", server, "index-click.png", in_frame=True
        )
        frame = _map_frame(page)
        assert _all_layers_on(frame) >= 10
        at = frame.evaluate(_SCREEN_POINT, [unit.geometry.y, unit.geometry.x])
        # the frame is partly below the window, as on a laptop: the page is not scrolled
        offset = page.locator("iframe.map-frame").bounding_box()
        if at is None or offset["y"] + at[1] > 895:  # under a control or marker, or unseen
            page.close()
            continue
        page.mouse.click(offset["x"] + at[0], offset["y"] + at[1])
        link = frame.locator(".leaflet-popup-content a")
        link.wait_for(timeout=5_000)
        assert link.get_attribute("href") == f"units/{unit['unit_id']}.html"
        with page.expect_navigation():
            link.click()
        assert page.url.endswith(f"/units/{unit['unit_id']}.html")
        assert page.locator("h1 .unit-name").text_content() == unit["name"]
        watch.assert_clean()
        clicked.append(unit["unit_id"])
        page.close()
    assert len(clicked) >= 8, clicked


def test_index_map_fits_the_district_with_a_legend_of_the_layers_on(browser, server, run_dir):
    page, watch = _open(browser, f"{server}/index.html", server, "index-legend.png", in_frame=True)
    frame = _map_frame(page)
    west, south, east, north = (
        gpd.read_file(run_dir / "results.gpkg", layer="units").to_crs(4326).total_bounds
    )
    fit = frame.evaluate(
        """(b) => { const m = Object.keys(window).filter(k => /^map_/.test(k))
            .map(k => window[k]).find(v => v && v.eachLayer);
            const d = L.latLngBounds([b[1], b[0]], [b[3], b[2]]);
            return [m.getBounds().pad(0.001).contains(d), m.getBoundsZoom(d), m.getZoom()]; }""",
        [west, south, east, north],
    )
    assert fit[0] and fit[1] == fit[2], fit
    scale = frame.locator(".leaflet-control-scale-line")
    assert scale.count() == 1 and re.fullmatch(r"\d+ k?m", scale.text_content()), scale
    legend = frame.locator(".planning-legend")
    shown = """el => Array.from(el.querySelectorAll("[data-section]"))
        .filter(s => s.style.display !== "none").length"""
    before = legend.evaluate(shown)
    _all_layers_on(frame)
    after = legend.evaluate(shown)
    assert after > before and after == legend.locator("[data-section]").count()
    gaps = frame.locator(".leaflet-control-layers-overlays label", has_text="缺口")
    gaps.locator("input").uncheck()
    assert legend.evaluate(shown) == after - 1
    box = legend.evaluate(
        "el => { const r = el.getBoundingClientRect(); return [r.top, r.bottom, innerHeight]; }"
    )
    assert box[0] >= 0 and box[1] <= box[2], box
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "index-all-layers.png"), full_page=True)
    watch.assert_clean()
    page.close()


def test_units_table_by_priority_sortable_and_whole(browser, server, run_dir):
    page, watch = _open(browser, f"{server}/index.html", server, "units-sorted.png", in_frame=True)
    table = _units_table(run_dir)
    need = (table["elderly"] - table["elderly_covered_15min"]).clip(lower=0)  # target 100 %
    ids = lambda: page.eval_on_selector_all(  # noqa: E731
        "#units tbody tr", "rows => rows.map(r => r.dataset.unitId)"
    )
    shown = ids()
    assert list(need.loc[shown]) == sorted(need, reverse=True)
    assert (
        page.eval_on_selector_all(
            "#priority-units tbody tr", "rows => rows.map(r => r.dataset.unitId)"
        )
        == shown[:10]
    )
    # every column is visible at 1280 px: the table fits its box, nothing scrolls away
    fit = page.evaluate(
        """() => { const t = document.querySelector('#units'), w = t.parentElement;
            const cells = t.tHead.rows[0].cells, last = cells[cells.length - 1];
            return [t.scrollWidth <= w.clientWidth + 1,
                    last.getBoundingClientRect().right <= w.getBoundingClientRect().right + 1,
                    cells.length === t.tBodies[0].rows[0].cells.length]; }"""
    )
    assert fit == [True, True, True]
    header = page.locator("#units thead th").nth(2)  # older people
    header.click()
    assert list(table.loc[ids(), "elderly"]) == sorted(table["elderly"], reverse=True)
    assert header.get_attribute("aria-sort") == "descending"
    header.click()
    assert list(table.loc[ids(), "elderly"]) == sorted(table["elderly"])
    page.locator("#units thead th").nth(0).click()  # unit ids, as text
    assert ids() == sorted(table.index)
    p90 = page.locator("#units thead th").nth(9)
    p90.click()
    got = table.loc[ids(), "travel_time_s_p90"]
    assert list(got.dropna()) == sorted(got.dropna(), reverse=True)  # numbers, not text
    assert got.isna().sum() == 0 or got.iloc[-1] != got.iloc[-1]  # missing values last
    # a table without <thead> (proposed sites) sorts too: "newly covered", as numbers
    newly = lambda: [  # noqa: E731
        float(x.replace(",", ""))
        for x in page.eval_on_selector_all(
            "#sites tr:not(:first-child) td:nth-child(5)", "cells => cells.map(c => c.textContent)"
        )
    ]
    head = page.locator("#sites tr").first.locator("th").nth(4)
    head.click()
    head.click()
    assert newly() == sorted(newly()) and len(newly()) == 6
    assert page.locator("#sites tr").first.locator("th").count() == 7  # the header stays on top
    watch.assert_clean()
    page.close()
