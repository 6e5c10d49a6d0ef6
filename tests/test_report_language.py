"""The report language throughout, the workbook's units and formats, charts and CSV encoding.

A Chinese run's visible text (pages, map tooltips and layer names, workbook sheets) holds
no run of English words outside the allow-list of ``_visible_text`` plus the names that
come from the data; an English run holds no Chinese outside those names and the
original-language terms its rule-set citations quote.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from _report_fixtures import fake_compliance, fake_curve, fake_siting, tiny_inputs, tiny_run
from _visible_text import CJK, chinese_runs, english_runs, folder_texts, html_texts
from PIL import Image

from planning import settings, standards
from planning._writing import write_csv
from planning.report import _i18n, _sheets, annual, charts, export
from planning.workflow import write_run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setattr(settings, "progress", False)


def _data_names(result) -> set[str]:
    """Return the names and ids a run's data brings (shown as given, in any language)."""
    cov = result.coverage
    frames = [cov.units, cov.stations]
    frames += [result.siting.siting] if result.siting is not None else []
    frames += [result.compliance.geo] if result.compliance is not None else []
    title = result.scenario.data.get("title") or {}
    names: set[str] = {result.scenario.name, *(re.sub(r"<[^>]+>", "", v) for v in title.values())}
    for frame in frames:
        for col in ("name", "name_en", "unit_id", "station_id", "site_id", "dev_id"):
            if col in frame:
                names |= {str(v) for v in frame[col].dropna()}
    return names


def _rule_quotes(rules) -> set[str]:
    """Return the Chinese terms the English rule-set texts quote (document titles, 街道)."""
    texts = [s.citation for s in rules.sources.values()]
    texts += [t.clause for t in rules.targets] + [t.note or "" for t in rules.targets]
    texts += [c.clause or "" for c in rules.life_circles] + [
        c.note or "" for c in rules.life_circles
    ]
    return {run for text in texts for run in CJK.findall(str(text))}


def _written(tmp_path: Path, language: str):
    """Write a run with siting, 四同步 and an annual comparison with last year."""
    last = tmp_path / "last-year"
    write_run(tiny_run(year=2025, language=language, stations=tiny_inputs()["stations"][:2]), last)
    out = tmp_path / "run"
    result = tiny_run(language=language)
    result.siting = fake_siting(result)
    result.siting_curve = fake_curve()
    result.compliance = fake_compliance()
    result.comparison = annual.compare_runs(result, annual.read_run(last))
    write_run(result, out)
    return result, out


def test_a_chinese_run_shows_no_english_outside_names_and_attribution(tmp_path):
    result, out = _written(tmp_path, "zh")
    assert (out / "annual.html").exists()
    names = _data_names(result)
    found = [(where, run) for where, text in folder_texts(out) for run in english_runs(text, names)]
    assert found == []
    # the scan sees what a reader sees, including map tooltips held in scripts
    texts = [text for _, text in folder_texts(out)]
    assert any("15分钟" in t or "3分钟" in t for t in texts)
    assert any(t.startswith("缺口 G") or "缺口 G" in t for t in texts)


def test_an_english_run_shows_no_chinese_outside_names(tmp_path):
    result, out = _written(tmp_path, "en")
    assert (out / "annual.html").exists()
    allowed = _data_names(result) | _rule_quotes(result.rules)
    found = [
        (where, run) for where, text in folder_texts(out) for run in chinese_runs(text, allowed)
    ]
    assert found == []


def test_the_scan_finds_english_in_text_tooltips_and_sheets(tmp_path):
    page = (
        '<p title="Beyond the river">正文 far from every road</p><script>x.bindTooltip(`<b>is'
        ' here</b>`); var f = {"tip": "\\u003cb\\u003eplain words\\u003c/b\\u003e"};</script>'
        "<style>.a b { color: red }</style>"
    )
    runs = [r for text in html_texts(page) for r in english_runs(text, [])]
    assert sorted(runs) == ["Beyond the river", "far from every road", "is here", "plain words"]
    assert english_runs("© OpenStreetMap 贡献者（ODbL 1.0） 720 m，2 km，S1、K2", []) == []
    assert english_runs("结论：PASS，层级 street，15 min", []) == ["PASS", "street", "min"]
    assert chinese_runs("Unit 洪山区第01单元 and 街道", ["洪山区第01单元"]) == ["街道"]
    book = tmp_path / "b.xlsx"
    pd.DataFrame({"a": ["two words", "一个"]}).to_excel(book, sheet_name="s", index=False)
    texts = [t for w, t in folder_texts(tmp_path)]
    assert "two words" in texts and "s" in texts


@pytest.mark.slow
def test_the_demo_in_chinese_shows_no_english_outside_names(tmp_path):
    from planning.workflow import run_scenario

    result = run_scenario(ROOT / "scenarios" / "wuhan-central.yaml")
    write_run(result, tmp_path)
    names = {str(v) for col in ("name", "name_en", "unit_id") for v in result.units[col].dropna()}
    names |= {str(v) for v in result.coverage.stations["name"].dropna()}
    found = {run for where, text in folder_texts(tmp_path) for run in english_runs(text, names)}
    assert found == set()


def test_notebook_summaries_follow_the_language(monkeypatch):
    zh = tiny_run(language="zh")
    text = " ".join(html_texts(zh._repr_html_()))
    assert "3分钟覆盖率" in text and "情景" in text
    assert english_runs(text, _data_names(zh)) == []
    en = tiny_run(language="en")
    text = " ".join(html_texts(en._repr_html_()))
    assert "Coverage within 3 min" in text and "Scenario" in text
    assert chinese_runs(text, _data_names(en) | _rule_quotes(en.rules)) == []
    share = en.coverage.units["coverage_share_3min"].iloc[0]
    assert f"{share:.1%}" in text
    monkeypatch.setattr(settings, "language", "en")
    assert "Coverage: 3 stations" in en.coverage._repr_html_()
    monkeypatch.setattr(settings, "language", "zh")
    assert "覆盖：3个设施" in en.coverage._repr_html_()


# --------------------------------------------------------------------------- phrases and codes
def test_recorded_phrases_are_translated():
    zh = "zh"
    assert _i18n.phrase("beyond 15 min", zh) == "15分钟步行范围外"
    assert _i18n.phrase("unreachable: farther than max_snap_m from every road", zh) == (
        "不可达：距所有道路超过最大接驳距离（max_snap_m）"
    )
    assert _i18n.phrase("network: road lines", zh) == "路网：道路线段"
    assert _i18n.phrase("on 3 small disconnected component(s), dropped", zh) == (
        "位于3个不连通的小片路网上，已剔除"
    )
    assert _i18n.phrase("elderly raster cells", zh) == "老年人口栅格像元"
    assert _i18n.phrase("something new", zh) == "something new"
    assert _i18n.phrase("beyond 15 min", "en") == "beyond 15 min"


def test_codes_are_shown_in_the_report_language():
    assert _i18n.code_text("level", "street", "zh") == "街道"
    assert _i18n.code_text("verdict", "N/A", "zh") == "不适用"
    assert _i18n.code_text("timing", "PASS", "en") == "pass"
    assert _i18n.code_text("met", True, "zh") == "是"
    assert _i18n.code_text("acceptance_withheld", False, "en") == "no"
    assert _i18n.code_text("kind", "centre", "zh") == "街道养老服务综合中心"
    assert _i18n.code_text("status", "optimal", "zh") == "最优解"
    assert _i18n.code_text("capacity", 12.0, "zh") == 12.0


# --------------------------------------------------------------------------- rule sets
def test_every_bundled_rule_set_carries_both_languages():
    for name in standards.available_rule_sets():
        rules = standards.load_rules(name)
        texts = [s.citation for s in rules.sources.values()]
        texts += [rules.walk.clause, rules.walk.note]
        texts += [x for t in rules.targets for x in (t.clause, t.note)]
        texts += [x for c in rules.life_circles for x in (c.clause, c.note)]
        for text in (t for t in texts if t is not None):
            assert isinstance(text, standards.Bilingual), (name, text)
            assert CJK.search(text.zh), (name, text.zh)
            assert text.zh != text.en or not re.search(r"[A-Za-z]{3} [A-Za-z]{3}", text.en), (
                name,
                text.en,
            )
        for section in rules.compliance.values():
            if section and section.get("clause") is not None:
                assert set(section["clause"]) == {"zh", "en"}, (name, section)


def test_a_plain_string_stands_for_both_languages_and_round_trips():
    rules = standards.load_rules("china-baseline")
    again = standards.RuleSet.from_dict(rules.to_dict())
    first = again.sources["shanxi-2023"].citation
    assert first.zh.startswith("山西省") and first.en.startswith("Shanxi Province")
    plain = standards.Bilingual("same")
    assert plain.zh == plain.en == "same" and plain.to_json() == "same"
    assert standards.text_for(first, "zh-CN") == first.zh
    assert standards.text_for({"zh": "中", "en": "E"}, "en") == "E"


def test_targets_table_gives_clause_and_note_in_both_languages():
    result = tiny_run()
    row = result.coverage.targets.set_index("target_id").loc["circle15"]
    assert row["clause_zh"] == "到 2025 年建成一刻钟（15 分钟）社区居家养老服务圈"
    assert row["clause_en"] == "a 一刻钟 (15-minute) community home-care circle by 2025"
    assert row["note_zh"].startswith("解释性读法")


# --------------------------------------------------------------------------- workbook
@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    settings.progress = False
    result = tiny_run()
    result.siting = fake_siting(result)
    result.siting_curve = fake_curve()
    result.compliance = fake_compliance()
    path = export.write_workbook(result, tmp_path_factory.mktemp("wb") / "coverage.xlsx")
    settings.progress = True
    return result, path


def _sheet(path: Path, name: str) -> tuple[list[str], list[list[openpyxl.cell.Cell]]]:
    ws = openpyxl.load_workbook(path)[name]
    rows = list(ws.iter_rows())
    return [str(c.value) for c in rows[0]], rows[1:]


def test_workbook_walking_times_are_in_minutes(workbook):
    result, path = workbook
    header, rows = _sheet(path, "分单元覆盖")
    col = header.index("平均步行时间（分钟）")
    shown = [r[col].value for r in rows]
    seconds = result.coverage.units["travel_time_s_mean"].to_numpy()
    assert shown == pytest.approx(seconds / 60.0)
    assert all(r[col].number_format == "0.0" for r in rows)
    assert "平均步行时间（秒）" not in header


def test_workbook_shares_are_percentages(workbook):
    _, path = workbook
    header, rows = _sheet(path, "分单元覆盖")
    col = header.index("3分钟覆盖率")
    assert {r[col].number_format for r in rows} == {"0.0%"}
    header, rows = _sheet(path, "规则集目标")
    value = header.index("现状值")
    formats = {str(r[0].value): r[value].number_format for r in rows}
    assert formats["circle15"] == "0.0%" and formats["beds_per_1000"] == "#,##0.0"


def test_workbook_gap_to_target_by_hand(workbook):
    result, path = workbook
    header, _ = _sheet(path, "分单元覆盖")
    units = result.coverage.units
    # china-baseline: circle15 asks 100 % within 15 min; the tiny run's thresholds stop at
    # 3 min, so no unit column compares with it ...
    assert not any(h.startswith("距") for h in header)
    # ... and a rule set asking 80 % within 3 min gives 0.8 - share, at least 0
    target = standards.Target(
        id="t3",
        measure="spatial_coverage",
        min=0.8,
        label=standards.Text("三分钟", "three"),
        source_id="s",
        clause=standards.Bilingual("c"),
        confidence="V",
        threshold_min=3.0,
    )
    out = _sheets.with_gap_to_target(units, [target])
    for _, u in out.iterrows():
        share = u["elderly_covered_3min"] / u["elderly"]
        assert u["gap_to_target_3min"] == pytest.approx(max(0.8 - share, 0.0), abs=1e-12)
        need = max(0.8 * u["elderly"] - u["elderly_covered_3min"], 0.0)
        assert u["elderly_to_target_3min"] == pytest.approx(need)
    met = units.assign(coverage_share_3min=0.9)
    assert (_sheets.with_gap_to_target(met, [target])["gap_to_target_3min"] == 0).all()
    assert export.column_label("gap_to_target_3min", "zh") == "距3分钟覆盖目标的差距"


def test_workbook_codes_in_the_language_and_ids_in_the_columns_sheet(workbook):
    _, path = workbook
    header, rows = _sheet(path, "分单元覆盖")
    level = header.index("层级")
    assert {r[level].value for r in rows} == {"街道"}
    columns = pd.read_excel(path, sheet_name="columns")
    level_codes = columns[(columns["column"] == "level") & (columns["code"] == "street")]
    assert set(level_codes["zh"]) == {"街道"}
    assert "travel_time_min_mean" in set(columns["column"])
    header, _ = _sheet(path, "规则集目标")
    assert "目标" in header and not any("英文" in h for h in header)


# --------------------------------------------------------------------------- CSV
def test_every_csv_of_a_run_has_a_utf8_bom(tmp_path):
    _, out = _written(tmp_path, "zh")
    csvs = sorted(out.glob("*.csv"))
    names = {p.name for p in csvs}
    assert {"coverage_units.csv", "excluded.csv", "compliance.csv", "annual_units.csv"} <= names
    for path in csvs:
        assert path.read_bytes()[:3] == b"\xef\xbb\xbf", path.name
    table = pd.read_csv(out / "coverage_units.csv", encoding="utf-8-sig")
    assert table.columns[0] == "unit_id"


def test_write_csv_round_trips_chinese(tmp_path):
    frame = pd.DataFrame({"名称": ["洪山区", "江岸区"], "n": [1, 2]})
    path = write_csv(frame, tmp_path / "x.csv")
    assert path.read_bytes().startswith("\ufeff名称".encode())
    pd.testing.assert_frame_equal(pd.read_csv(path, encoding="utf-8-sig"), frame)


# --------------------------------------------------------------------------- charts
def test_charts_are_printable_and_integer_ticked(tmp_path):
    result = tiny_run()
    result.siting = fake_siting(result)
    result.siting_curve = pd.DataFrame({"p": [0, 1, 2, 3], "share": [0.5, 0.6, 0.65, 0.7]})
    files = charts.write_charts(result, tmp_path)
    assert set(files) == {"coverage_by_unit", "overview", "siting_curve"}
    for path in files.values():
        dpi = Image.open(path).info["dpi"]
        assert dpi[0] == pytest.approx(charts.DPI, abs=0.5) and charts.DPI >= 200


@pytest.mark.parametrize(
    ("width", "bar"), [(12_345.0, 2000.0), (1000.0, 200.0), (480.0, 50.0), (5.0, 1.0)]
)
def test_scale_bar_is_a_round_fifth_of_the_width(width, bar):
    assert charts.scale_bar_length_m(width) == bar


def test_scale_bar_needs_a_positive_width():
    with pytest.raises(ValueError, match="positive map width in metres"):
        charts.scale_bar_length_m(0.0)


def test_chinese_fonts_are_registered_by_file(monkeypatch, caplog):
    found = charts._font_files()
    charts.cjk_font.cache_clear()
    with caplog.at_level(logging.INFO, logger="planning.report.charts"):
        name = charts.cjk_font()
    if found:
        assert name in charts.CJK_FONTS
        assert f"chart font: {name}" in caplog.text
    else:
        assert name is None
    charts.cjk_font.cache_clear()


def test_without_a_chinese_font_charts_are_english_and_the_report_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(charts, "_font_files", lambda: [])
    monkeypatch.setattr(
        charts.font_manager.fontManager,
        "ttflist",
        [f for f in charts.font_manager.fontManager.ttflist if f.name not in charts.CJK_FONTS],
    )
    charts.cjk_font.cache_clear()
    try:
        assert charts.chart_language("zh") == "en"
        result = tiny_run()
        with pytest.warns(UserWarning, match="No font with Chinese glyphs"):
            write_run(result, tmp_path)
        index = (tmp_path / "index.html").read_text(encoding="utf-8")
        assert _i18n.strings("zh")["chart_font_missing"] in index
    finally:
        charts.cjk_font.cache_clear()


def test_unit_bars_carry_the_unit_names(monkeypatch):
    units = pd.DataFrame(
        {"unit_id": ["A", "B"], "name": ["洪山", "B-town"], "name_en": ["Hongshan", None]}
    )
    monkeypatch.setattr(charts, "cjk_font", lambda: "Noto Sans CJK SC")
    assert charts._unit_labels(units, "zh") == ["洪山", "B-town"]
    assert charts._unit_labels(units, "en") == ["Hongshan", "B-town"]
    assert charts._unit_labels(units[["unit_id"]], "en") == ["A", "B"]
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    assert charts._unit_labels(units[["unit_id", "name"]], "en") == ["A", "B-town"]
