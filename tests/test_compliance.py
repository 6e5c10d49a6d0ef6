from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from planning import compliance
from planning._errors import InputError, ScenarioError
from planning.compliance import FAIL, NA, PASS, UNKNOWN, check_developments, write_outputs
from planning.compliance._values import parse_date
from planning.network import Network
from planning.standards import available_rule_sets, load_rules

CRS = "EPSG:32650"  # as in conftest.py (the grid_net fixture)
X0, Y0 = 500_000.0, 3_400_000.0

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "compliance"
TEST_RULES = DATA / "test-rules.yaml"
README_RULES = DATA / "readme-rules.yaml"
DEVS = REPO / "data" / "wuhan_developments.gpkg"
ASOF = "2026-06-01"
NEW_SETS = ["national-2013", "guangdong-city", "guizhou-2022", "anhui-2022", "jiangsu-2022-draft"]

HOUSING = {
    "planning": "2023-01-10",
    "construction": "2023-06-01",
    "acceptance": "2025-10-31",
    "delivery": "2026-04-30",
}


def dates(**facility: Any) -> dict[str, Any]:
    """Housing dates of HOUSING; the facility's the same unless given."""
    out: dict[str, Any] = {f"housing_{m}": d for m, d in HOUSING.items()}
    out.update({f"facility_{m}": facility.get(m, d) for m, d in HOUSING.items()})
    return out


def row(**kw: Any) -> dict[str, Any]:
    base = {"dev_id": "A", "name": "甲", "households": 2350, "facility_area_m2": 470}
    return {**base, **dates(), **kw}


def rules(**sections: Any) -> Any:
    """Test rules with compliance sections replaced (None switches one off)."""
    return load_rules(TEST_RULES, overrides={"compliance": sections}) if sections else TEST_RULES


def check(rows: list[dict[str, Any]], rule_set: Any = TEST_RULES, **kw: Any) -> pd.DataFrame:
    kw.setdefault("asof", ASOF)
    return check_developments(pd.DataFrame(rows), None, rule_set, **kw).table


# --------------------------------------------------------------------------- rule sets
def test_packaged_compliance_rule_sets() -> None:
    gz = load_rules("guizhou-2022").compliance
    assert (gz["area_m2_per_100hh"]["new"], gz["area_m2_per_100hh"]["existing"]) == (20, 15)
    assert gz["min_area_m2"]["site"] == 350
    assert (gz["reach"]["max_dist_m"], gz["reach"]["inclusive"]) == (700, False)
    ah = load_rules("anhui-2022").compliance
    assert (ah["area_m2_per_100hh"]["new"], ah["area_m2_per_100hh"]["existing"]) == (30, 20)
    assert (ah["min_area_m2"]["site"], ah["reach"]["threshold_min"]) == (350, 5)
    assert load_rules("jiangsu-2022-draft").compliance["dates"]["first_phase"] is True
    assert load_rules("guangdong-city").compliance["area_m2_per_100hh"] == {
        "new": 20,
        "existing": 15,
        "source_id": "guangdong-prefecture",
        "clause": {
            "zh": "新建小区每百户不少于 20 m²；无设施的老旧小区每百户不少于 15 m²",
            "en": "new compounds at least 20 m² per 100 households; old areas without a "
            "facility at least 15 m² per 100 households",
        },
        "confidence": "S",
        "note": {"zh": "设施的建筑面积", "en": "floor area (建筑面积) of the facility"},
    }
    assert load_rules("national-2013").compliance["land_m2_per_resident"]["min"] == 0.1
    assert load_rules("anshan-2021").compliance["acceptance_withheld"]["criteria"] == [
        "area",
        "site",
        "timing",
    ]


@pytest.mark.parametrize("name", [*NEW_SETS, "anshan-2021"])
def test_every_compliance_section_is_sourced(name: str) -> None:
    ruleset = load_rules(name)
    for section in ruleset.compliance.values():
        assert section["source_id"] in ruleset.sources
        assert section["confidence"] in ("V", "S")
        assert section["clause"]
    assert [u.path for u in ruleset.unverified() if u.path.startswith("compliance")] == []
    assert ruleset.thresholds_min == (5, 10, 15)
    assert compliance.ComplianceRules.from_rules(ruleset).sections


def test_same_source_id_same_citation_in_every_packaged_set() -> None:
    assert set(NEW_SETS) <= set(available_rule_sets())
    seen: dict[str, Any] = {}
    for name in available_rule_sets():
        for source_id, source in load_rules(name).sources.items():
            assert seen.setdefault(source_id, source) == source, (name, source_id)


def test_rule_set_without_compliance_cannot_check() -> None:
    with pytest.raises(InputError, match=r"'china-baseline' has no `compliance:` rules"):
        check([row()], "china-baseline")


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ("reach: {threshold_min: 5, max_dist_m: 700}", r"compliance\.reach.*exactly one of"),
        ("dates: {rule: later}", r"compliance\.dates\.rule.*must be one of"),
        ("dates: {tolerance_days: -1}", r"tolerance_days.*zero or more"),
        ("dates: {tolerance_days: 1.5}", r"tolerance_days.*whole number"),
        ("area_m2_per_100hh: {neww: 20}", r"unknown key 'neww'.*did you mean 'new'"),
        ("area_m2_per_100hh: {}", r"area_m2_per_100hh.*gives no value"),
        ("area_m2_per_100hh: {new: 20, source_id: nope}", r"unknown source_id 'nope'"),
        ("acceptance_withheld: {criteria: [money]}", r"criteria.*must be one of"),
        ("areas: {new: 20}", r"unknown key 'areas'"),
        ("reach: {threshold_min: 5, kinds: [school]}", r"reach\.kinds.*must be one of"),
        ("location: {}", r"location.*'tolerance_m' is missing"),
        ("dates: {first_phase: yes please}", r"first_phase.*true or false"),
    ],
)
def test_compliance_schema_errors(tmp_path: Path, section: str, match: str) -> None:
    path = write(tmp_path, f"extends: gb50180-2018\ncompliance:\n  {section}\n")
    with pytest.raises(InputError, match=match):
        load_rules(path)


def test_scenario_override_errors_are_scenario_errors() -> None:
    with pytest.raises(ScenarioError, match=r"compliance\.dates\.rule"):
        load_rules(TEST_RULES, overrides={"compliance": {"dates": {"rule": "soon"}}})


def test_unsourced_section_is_flagged_unverified(tmp_path: Path) -> None:
    path = write(tmp_path, "extends: guizhou-2022\ncompliance:\n  dates: {tolerance_days: 7}\n")
    flags = {u.path: u for u in load_rules(path).unverified()}
    assert flags["compliance.dates"].value == {"tolerance_days": 7}
    assert flags["compliance.dates"].source_id == "(no source given)"
    result = check_developments(pd.DataFrame([row()]), None, path, asof=ASOF)
    assert result.summary["unverified"] == ["dates"]


def test_custom_rule_set_of_the_docstring(tmp_path: Path) -> None:
    text = compliance.__doc__.split("A custom rule set")[1].split("::\n\n")[1]
    text = text.split("\nRegister")[0]
    path = write(tmp_path, "\n".join(line[4:] for line in text.splitlines()))
    ruleset = load_rules(path)
    assert ruleset.compliance["reach"] is None
    assert ruleset.compliance["dates"]["tolerance_days"] == 30
    assert ruleset.compliance["min_area_m2"]["site"] == 350  # inherited from guizhou-2022
    table = check([row(**dates(acceptance="2025-11-30"))], ruleset)
    assert table["timing"].iloc[0] == PASS
    assert table["reach"].iloc[0] == NA


# --------------------------------------------------------------------------- area
@pytest.mark.parametrize(
    ("have", "verdict", "short"),
    [(470.0, PASS, 0.0), (469.99, FAIL, 0.01), (470.01, PASS, 0.0), (380.0, FAIL, 90.0)],
)
def test_area_at_the_threshold(have: float, verdict: str, short: float) -> None:
    t = check([row(facility_area_m2=have)])
    assert t["area"].iloc[0] == verdict
    assert t["area_shortfall_m2"].iloc[0] == pytest.approx(short, abs=1e-9)
    assert t["required_area_m2"].iloc[0] == pytest.approx(470.0)


def test_area_reason_names_the_numbers() -> None:
    t = check([row(facility_area_m2=380)])
    assert t["area_reason_en"].iloc[0] == (
        "facility 380 m² < required 470 m² for 2,350 households (20 m² per 100 households, "
        "new): 90 m² short"
    )
    assert t["area_reason_zh"].iloc[0] == (
        "配建面积 380 m² 低于应配 470 m²（2,350 户，新建每百户 20 m²），缺 90 m²"
    )


@pytest.mark.parametrize(("have", "verdict"), [(300, PASS), (299, FAIL), (301, PASS)])
def test_area_of_existing_areas(have: float, verdict: str) -> None:
    t = check([row(households=2000, area_kind="老旧小区", facility_area_m2=have)])
    assert t["area"].iloc[0] == verdict
    assert t["required_area_m2"].iloc[0] == 300


@pytest.mark.parametrize(("have", "verdict"), [(1000, PASS), (999, FAIL), (1001, PASS)])
def test_minimum_area_per_facility(have: float, verdict: str) -> None:
    r = rules(min_area_m2={"site": 350, "facility": 1000, "source_id": "test", "confidence": "V"})
    t = check([row(facility_area_m2=have)], r)
    assert t["area"].iloc[0] == verdict
    assert t["required_area_m2"].iloc[0] == 1000
    if verdict == FAIL:
        assert "(minimum per facility): 1 m² short" in t["area_reason_en"].iloc[0]


# --------------------------------------------------------------------------- single site
@pytest.mark.parametrize(
    ("sites", "verdict", "short"),
    [("350;400", PASS, 0.0), ("349.9;400", FAIL, 0.1), ("350.1+400", PASS, 0.0)],
)
def test_single_site_at_the_threshold(sites: str, verdict: str, short: float) -> None:
    t = check([row(facility_sites_m2=sites, facility_area_m2=None)])
    assert t["site"].iloc[0] == verdict
    assert t["site_shortfall_m2"].iloc[0] == pytest.approx(short)
    assert t["n_sites"].iloc[0] == 2


def test_no_facility_fails_area_and_site() -> None:
    t = check([row(facility_area_m2=0)])
    assert (t["area"].iloc[0], t["site"].iloc[0]) == (FAIL, FAIL)
    assert t["site_shortfall_m2"].iloc[0] == 350
    assert t["site_reason_en"].iloc[0] == "no facility site (each must be ≥ 350 m²)"


# --------------------------------------------------------------------------- land
@pytest.mark.parametrize(("land", "verdict"), [(100, PASS), (99.9, FAIL), (100.1, PASS)])
def test_land_per_resident_at_the_threshold(land: float, verdict: str) -> None:
    t = check([row(residents=1000, facility_land_m2=land)])
    assert t["land"].iloc[0] == verdict
    if verdict == FAIL:
        assert t["land_shortfall_m2"].iloc[0] == pytest.approx(0.1)


def test_land_from_households_and_persons_per_household() -> None:
    r = rules(land_m2_per_resident={"min": 0.1, "persons_per_household": 2.5})
    t = check([row(households=400, facility_land_m2=99)], r)
    assert t["land"].iloc[0] == FAIL
    assert "for 1,000 residents" in t["land_reason_en"].iloc[0]
    assert check([row()])["land"].iloc[0] == UNKNOWN  # residents not given: never guessed


# --------------------------------------------------------------------------- timing
@pytest.mark.parametrize(
    ("facility", "tolerance", "verdict", "late"),
    [
        ("2025-10-31", 0, PASS, 0),
        ("2025-11-01", 0, FAIL, 1),
        ("2025-10-30", 0, PASS, 0),
        ("2025-11-30", 30, PASS, 0),
        ("2025-12-01", 30, FAIL, 1),
        ("2025-11-29", 30, PASS, 0),
    ],
)
def test_timing_at_the_tolerance(facility: str, tolerance: int, verdict: str, late: int) -> None:
    r = rules(dates={"rule": "not_later_than", "tolerance_days": tolerance})
    t = check([row(**dates(acceptance=facility))], r)
    assert t["timing"].iloc[0] == verdict
    assert t["timing_late_days"].iloc[0] == late


def test_timing_reason_beyond_tolerance() -> None:
    r = rules(dates={"rule": "not_later_than", "tolerance_days": 30})
    t = check([row(**dates(acceptance="2025-12-01"))], r)
    assert t["timing_reason_en"].iloc[0] == (
        "facility acceptance 2025-12-01, 31 days after housing acceptance 2025-10-31, "
        "1 day beyond the 30-day tolerance"
    )


@pytest.mark.parametrize(
    ("facility", "verdict"), [("2025-09-30", FAIL), ("2025-10-01", PASS), ("2025-11-30", PASS)]
)
def test_same_phase_both_ways(facility: str, verdict: str) -> None:
    r = rules(dates={"rule": "same_phase", "tolerance_days": 30})
    t = check([row(**dates(acceptance=facility))], r)
    assert t["timing"].iloc[0] == verdict
    if verdict == FAIL:
        assert "31 days before housing acceptance" in t["timing_reason_en"].iloc[0]


@pytest.mark.parametrize(
    ("housing", "verdict"), [("2025-10-31", PASS), ("2025-10-15", UNKNOWN), ("2025-09-30", FAIL)]
)
def test_month_only_dates_are_judged_only_when_the_month_decides(
    housing: str, verdict: str
) -> None:
    r = row(**dates(acceptance="2025年10月"))
    r["housing_acceptance"] = housing
    t = check([r])
    assert t["timing"].iloc[0] == verdict
    if verdict == UNKNOWN:
        assert "month only" in t["timing_reason_en"].iloc[0]


def test_future_milestones_are_compared_as_planned() -> None:
    housing = {"planning": "2025-01-10", "construction": "2025-06-01"}
    r = {
        **row(),
        **{f"housing_{m}": d for m, d in housing.items()},
        **{f"facility_{m}": d for m, d in housing.items()},
        "housing_acceptance": "2026-10-31",
        "facility_acceptance": "2027-03-31",
        "housing_delivery": "2027-04-30",
        "facility_delivery": "2027-04-30",
    }
    t = check([r], asof="2026-06-01")
    assert t["timing"].iloc[0] == FAIL
    assert t["timing_reason_en"].iloc[0] == (
        "facility acceptance planned 2027-03-31, 151 days (about 5 months) after housing "
        "acceptance planned 2026-10-31"
    )
    assert (
        "设施竣工验收计划 2027-03-31，晚于住宅竣工验收计划 2026-10-31"
        in t["timing_reason_zh"].iloc[0]
    )
    # the housing is not accepted yet: completion acceptance is withheld
    assert bool(t["acceptance_withheld"].iloc[0]) is True
    assert t["action_en"].iloc[0] == "withhold completion acceptance until rectified: timing"


def test_overdue_facility_milestone_fails() -> None:
    r = row()
    del r["facility_acceptance"]
    r.update(facility_acceptance_planned="2026-03-31", facility_acceptance_actual=None)
    t = check([r], asof="2026-06-01")
    assert t["timing"].iloc[0] == FAIL
    assert t["timing_late_days"].iloc[0] == 62
    assert "planned 2026-03-31 is overdue by 62 days" in t["timing_reason_en"].iloc[0]
    r["facility_acceptance_actual"] = "2025-10-20"
    assert check([r], asof="2026-06-01")["timing"].iloc[0] == PASS


def test_actual_date_after_the_asof_date_is_unusable() -> None:
    r = row(facility_acceptance_actual="2026-07-01")
    t = check([r], asof="2026-06-01")
    assert t["timing"].iloc[0] == UNKNOWN
    assert "is after the as-of date 2026-06-01" in t["issues_en"].iloc[0]


def test_facility_milestone_before_planning_approval() -> None:
    t = check([row(**dates(construction="2022-01-01")), row(dev_id="B")])
    assert t["timing"].tolist() == [UNKNOWN, PASS]
    assert t["issues_en"].iloc[0] == (
        "the register, row 1, column 'facility_construction': facility construction "
        "2022-01-01 is before the planning approval 2023-01-10; check the date"
    )


@pytest.mark.parametrize(
    "value",
    [
        "2025-10-31",
        "2025/10/31",
        "2025.10.31",
        "20251031",
        20251031,
        "2025年10月31日",
        "２０２５年１０月３１日",
        "2025-10-31 08:30:00",
        pd.Timestamp("2025-10-31"),
        dt.datetime(2025, 10, 31, 8, 30),
        dt.date(2025, 10, 31),
        (dt.date(2025, 10, 31) - dt.date(1899, 12, 30)).days,  # Excel serial day 45961
        "45961",
    ],
)
def test_date_formats(value: Any) -> None:
    assert parse_date(value) == (dt.date(2025, 10, 31), dt.date(2025, 10, 31))
    assert check([row(facility_acceptance=value)])["timing"].iloc[0] == PASS


def test_month_and_empty_and_bad_dates() -> None:
    assert parse_date("2026年10月") == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert parse_date("2026-02") == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    for empty in (None, "", float("nan"), pd.NA, pd.NaT, "无"):
        assert parse_date(empty) is None
    for bad in ("2026-13-01", "31/10/2026", "soon", "2026", 3.5):
        with pytest.raises(ValueError, match=r"not a date|month must be"):
            parse_date(bad)


# --------------------------------------------------------------------------- missing data
def test_missing_values_are_unknown_never_guessed() -> None:
    rows = [
        row(dev_id="hh", households=None),
        row(dev_id="area", facility_area_m2=None),
        row(dev_id="date", facility_delivery=None),
    ]
    t = check(rows).set_index("dev_id")
    assert t.loc["hh", "area"] == UNKNOWN
    assert t.loc["hh", "area_reason_en"] == "households missing"
    assert t.loc["area", ["area", "site"]].tolist() == [UNKNOWN, UNKNOWN]
    assert t.loc["area", "area_reason_en"] == (
        "the register, row 2, column 'facility_area_m2': facility area missing"
    )
    assert t.loc["date", "timing"] == UNKNOWN
    assert t.loc["date", "timing_reason_en"] == "facility delivery date(s) missing"
    assert t.loc["date", "area"] == PASS
    assert (t["verdict"] == UNKNOWN).all()  # no coordinates: location and reach unknown


def test_missing_columns_give_a_reason_on_every_row() -> None:
    rows = [row(), row(dev_id="B")]
    for r in rows:
        del r["households"], r["facility_delivery"]
    t = check(rows)
    assert t["area"].tolist() == [UNKNOWN, UNKNOWN]
    assert t["area_reason_en"].iloc[1] == "the register has no households (户数) column"
    assert t["timing_reason_en"].iloc[0] == (
        "the register has no facility delivery date column (facility_delivery / 养老设施交付日期)"
    )
    assert t["location_reason_en"].iloc[0] == (
        "the register has no coordinates (lon, lat) or geometry column"
    )


# --------------------------------------------------------------------------- bad input
#: Rules without the criteria that need coordinates or residents (tables without them).
NO_GEO = {"location": None, "reach": None, "land_m2_per_resident": None}


def test_bad_rows_get_reasons_and_never_stop_the_others(tmp_path: Path) -> None:
    rows = [
        row(dev_id="D1"),
        row(dev_id="D2", households=-5),
        row(dev_id="D3", households="很多"),
        row(dev_id="D4", housing_acceptance="2025-13-45"),
        row(dev_id="D5"),
        row(dev_id="D5", facility_area_m2=300),
    ]
    frame = pd.DataFrame(rows).rename(columns={"households": "户数", "dev_id": "项目编号"})
    path = tmp_path / "register.csv"
    frame.to_csv(path, index=False)
    result = check_developments(path, None, rules(**NO_GEO), asof=ASOF)
    t = result.table
    assert t["dev_id"].tolist() == ["D1", "D2", "D3", "D4", "D5", "D5"]
    assert t["row"].tolist() == [2, 3, 4, 5, 6, 7]  # as a spreadsheet shows them
    assert t["verdict"].iloc[0] == PASS
    assert t["issues_en"].iloc[1] == (
        "'register.csv', row 3, column '户数': households -5 must be more than 0"
    )
    assert t["area"].iloc[1] == UNKNOWN
    assert t["issues_en"].iloc[2] == "'register.csv', row 4, column '户数': '很多' is not a number"
    assert (
        t["issues_en"]
        .iloc[3]
        .startswith(
            "'register.csv', row 5, column 'housing_acceptance': '2025-13-45' is not a date"
        )
    )
    assert (t["timing"].iloc[3], t["area"].iloc[3]) == (UNKNOWN, PASS)
    assert "dev_id 'D5' repeats (rows 6, 7)" in t["issues_en"].iloc[4]
    assert "项目编号 D5 重复（第 6, 7 行）" in t["issues_zh"].iloc[5]
    assert t["area"].iloc[5] == FAIL  # facility columns of the row itself: not ambiguous
    assert result.summary["rows_with_issues"] == 5


def test_duplicate_ids_make_facility_layer_matching_unknown() -> None:
    devs = gpd.GeoDataFrame(
        {
            "dev_id": ["A", "A"],
            "households": [1000, 1000],
            **{k: [v] * 2 for k, v in dates().items()},
        },
        geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100)] * 2,
        crs=CRS,
    )
    fac = gpd.GeoDataFrame(
        {"dev_id": ["A"], "area_m2": [400.0]}, geometry=[shapely.Point(X0 + 50, Y0 + 50)], crs=CRS
    )
    t = check_developments(devs, fac, rules(reach=None), asof=ASOF).table
    assert t["area"].tolist() == [UNKNOWN, UNKNOWN]
    assert t["timing"].tolist() == [PASS, PASS]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", r"register\.csv' is empty \(0 bytes\).*Export or copy it again"),
        ("dev_id,households\n", r"'register\.csv' is empty"),
        (
            "foo,bar\n1,2\n",
            r"'register\.csv': none of its columns can be used .*Rename the columns",
        ),
    ],
)
def test_nothing_readable_is_an_input_error(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "register.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        check_developments(path, None, TEST_RULES, asof=ASOF)


def test_bad_asof() -> None:
    with pytest.raises(InputError, match=r"as-of date '2026-06' is not a day"):
        check([row()], asof="2026-06")


# --------------------------------------------------------------------------- location
def square_devs(n: int = 1, geometry: Any = None) -> gpd.GeoDataFrame:
    shape = geometry if geometry is not None else shapely.box(X0, Y0, X0 + 100, Y0 + 100)
    data = {"dev_id": [f"L{k}" for k in range(n)], "households": [1000] * n}
    return gpd.GeoDataFrame(
        {**data, **{k: [v] * n for k, v in dates().items()}}, geometry=[shape] * n, crs=CRS
    )


def sites(
    points: list[tuple[float, float]], devs: list[str], area: float = 400.0
) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "facility_id": [f"F{k}" for k in range(len(points))],
            "dev_id": devs,
            "area_m2": [area] * len(points),
        },
        geometry=[shapely.Point(X0 + x, Y0 + y) for x, y in points],
        crs=CRS,
    )


@pytest.mark.parametrize(
    ("x", "verdict", "dist"),
    [(50.0, PASS, 0.0), (300.0, PASS, 200.0), (300.5, FAIL, 200.5), (299.5, PASS, 199.5)],
)
def test_location_at_the_tolerance(x: float, verdict: str, dist: float) -> None:
    t = check_developments(
        square_devs(), sites([(x, 50.0)], ["L0"]), rules(reach=None), asof=ASOF
    ).table
    assert t["location"].iloc[0] == verdict
    assert t["location_outside_m"].iloc[0] == pytest.approx(dist, abs=1e-6)
    if verdict == FAIL:
        assert t["location_reason_en"].iloc[0] == (
            "facility F0 is 200.5 m outside the development (tolerance 200 m)"
        )


def test_facility_far_outside_suggests_checking_coordinates() -> None:
    t = check_developments(
        square_devs(), sites([(5600.0, 50.0)], ["L0"]), rules(reach=None), asof=ASOF
    ).table
    assert t["location"].iloc[0] == FAIL
    assert (
        "over 5 km: check the CRS, a GCJ-02/BD-09 shift or swapped lon/lat"
        in t["reasons_en"].iloc[0]
    )
    assert t["area"].iloc[0] == PASS  # the other criteria are still judged


def test_point_development_location_is_unknown() -> None:
    devs = square_devs(geometry=shapely.Point(X0, Y0))
    t = check_developments(devs, sites([(30.0, 40.0)], ["L0"]), rules(reach=None), asof=ASOF).table
    assert t["location"].iloc[0] == UNKNOWN
    assert "straight line 50 m" in t["location_reason_en"].iloc[0]


# --------------------------------------------------------------------------- reach
def point_devs(n: int) -> gpd.GeoDataFrame:
    return square_devs(n, geometry=shapely.Point(X0, Y0))


@pytest.mark.parametrize(
    ("y", "verdict", "time_s"), [(90.0, PASS, 290.0), (100.0, PASS, 300.0), (110.0, FAIL, 310.0)]
)
def test_reach_on_the_network_at_the_threshold(
    grid_net: Network, y: float, verdict: str, time_s: float
) -> None:
    # dev on node (0, 0); facility on the edge x = 200: 200 m + y m of walking at 1 m/s
    own = rules(reach={"threshold_min": 5, "to": ["own"]})
    t = check_developments(
        point_devs(1), sites([(200.0, y)], ["L0"]), own, asof=ASOF, network=grid_net
    ).table
    assert t["reach"].iloc[0] == verdict
    assert t["reach_time_min"].iloc[0] == pytest.approx(time_s / 60.0)
    assert t["reach_straight_m"].iloc[0] == pytest.approx(math.hypot(200.0, y))
    if verdict == FAIL:
        assert t["reach_excess_min"].iloc[0] == pytest.approx(10.0 / 60.0)
        assert t["reach_reason_en"].iloc[0] == (
            "farthest resident point 5.17 min (310 m) from the nearest facility, required "
            "within 5 min: 0.17 min (10 m) too far"
        )


def test_reach_strict_threshold_and_distance_rule(grid_net: Network) -> None:
    strict = rules(reach={"max_dist_m": 300, "inclusive": False, "to": ["own"]})
    t = check_developments(
        point_devs(1), sites([(200.0, 100.0)], ["L0"]), strict, asof=ASOF, network=grid_net
    ).table
    assert t["reach"].iloc[0] == FAIL  # exactly 300 m is not under 300 m
    t = check_developments(
        point_devs(1), sites([(200.0, 99.0)], ["L0"]), strict, asof=ASOF, network=grid_net
    ).table
    assert t["reach"].iloc[0] == PASS


def test_reach_to_existing_stations_of_given_kinds(grid_net: Network) -> None:
    stations = gpd.GeoDataFrame(
        {"station_id": ["S1", "C1"], "kind": ["station", "centre"], "status": ["existing"] * 2},
        geometry=[shapely.Point(X0 + 290.0, Y0), shapely.Point(X0 + 10.0, Y0)],
        crs=CRS,
    )
    far = sites([(300.0, 300.0)], ["L0"])  # own facility 600 m away
    kinds = rules(reach={"threshold_min": 5, "to": ["own", "stations"], "kinds": ["station"]})
    t = check_developments(
        point_devs(1), far, kinds, asof=ASOF, network=grid_net, stations=stations
    ).table
    assert t["reach"].iloc[0] == PASS
    assert t["reach_time_min"].iloc[0] == pytest.approx(290.0 / 60.0)
    t = check_developments(point_devs(1), far, kinds, asof=ASOF, network=grid_net).table
    assert t["reach"].iloc[0] == UNKNOWN
    assert t["reach_reason_en"].iloc[0] == "own facility not within 5 min and no stations given"


def test_reach_without_network_is_unknown_with_straight_line_information() -> None:
    t = check_developments(
        point_devs(1), sites([(200.0, 90.0)], ["L0"]), TEST_RULES, asof=ASOF
    ).table
    assert t["reach"].iloc[0] == UNKNOWN
    assert t["reach_reason_en"].iloc[0] == "no network given"
    assert t["reach_straight_m"].iloc[0] == pytest.approx(math.hypot(200.0, 90.0))


# --------------------------------------------------------------------------- phases, withholding
def test_first_phase_rule_pools_the_project() -> None:
    phase1 = row(dev_id="P-1", project_id="P", phase="一期", households=1000, facility_area_m2=0)
    for m in HOUSING:
        phase1[f"facility_{m}"] = None
    late = {
        "planning": "2023-02-01",
        "construction": "2024-01-10",
        "acceptance": "2026-03-31",
        "delivery": "2026-05-01",
    }
    phase2 = row(dev_id="P-2", project_id="P", phase="二期", households=1000, facility_area_m2=400)
    phase2.update({f"housing_{m}": d for m, d in late.items()})
    phase2.update({f"facility_{m}": d for m, d in late.items()})
    pooled = check([phase1, phase2], "jiangsu-2022-draft")
    assert pooled["area"].tolist() == [PASS, PASS]  # 2,000 households, 400 m²
    assert pooled["timing"].tolist() == [FAIL, FAIL]
    assert (
        pooled["reasons_en"]
        .iloc[0]
        .startswith("project P (2 phases pooled): facility planning 2023-02-01, 22 days")
    )
    alone = check([phase1, phase2], "guangdong-city")
    assert alone["area"].tolist() == [FAIL, PASS]
    assert alone["timing"].tolist() == [UNKNOWN, PASS]


def test_acceptance_withheld_only_before_housing_acceptance() -> None:
    before = check([row(facility_area_m2=400)], asof="2025-06-01")
    assert bool(before["acceptance_withheld"].iloc[0]) is True
    assert before["action_zh"].iloc[0] == "不得组织竣工验收，直至整改到位：配建面积"
    after = check([row(facility_area_m2=400)], asof="2026-06-01")
    assert bool(after["acceptance_withheld"].iloc[0]) is False
    assert after["action_en"].iloc[0] == (
        "housing already accepted on 2025-10-31 although the facility fails area: rectify"
    )
    no_rule = check([row(facility_area_m2=400)], rules(acceptance_withheld=None), asof="2025-06-01")
    assert bool(no_rule["acceptance_withheld"].iloc[0]) is False


# --------------------------------------------------------------------------- embedded data
def readme_table() -> dict[str, dict[str, Any]]:
    """The designed verdicts of data/README.md (the table under `wuhan_developments.gpkg`)."""
    words = {"pass": PASS, "fail": FAIL, "unknown": UNKNOWN, "n/a": NA}
    out = {}
    for line in (REPO / "data" / "README.md").read_text(encoding="utf-8").splitlines():
        if re.match(r"\| D\d\d ", line):
            cells = [c.strip() for c in line.strip("|").split("|")]
            verdicts = [words[c.split(" (")[0]] for c in cells[6:11]]
            out[cells[0]] = {
                "households": int(cells[1]),
                "required_area_m2": float(cells[2]),
                "area_shortfall_m2": float(cells[4]),
                **dict(
                    zip(["area", "site", "timing", "location", "verdict"], verdicts, strict=True)
                ),
            }
    assert len(out) == 13
    return out


def test_embedded_developments_give_the_designed_verdicts() -> None:
    result = check_developments(DEVS, None, README_RULES, asof="2026-01-01")
    t = result.table.set_index("dev_id")
    for dev, designed in readme_table().items():
        got = t.loc[dev]
        for key in ("area", "site", "timing", "location", "verdict"):
            assert got[key] == designed[key], (dev, key)
        assert got["households"] == designed["households"]
        assert got["required_area_m2"] == pytest.approx(designed["required_area_m2"])
        assert got["area_shortfall_m2"] == pytest.approx(designed["area_shortfall_m2"])
    assert t.loc["D09", "timing_late_days"] == 152
    assert t.loc["D12", "timing_late_days"] == 56
    assert t.loc["D11", "location_outside_m"] == pytest.approx(1200.0, abs=1.0)
    assert t.loc["D08", "site_shortfall_m2"] == 200
    assert result.summary["verdicts"] == {PASS: 6, FAIL: 6, UNKNOWN: 1}
    assert len(result.facilities) == 15
    assert result.geo.crs.to_epsg() == 4326
    assert list(result.geo["verdict"]) == list(result.table["verdict"])


def test_embedded_developments_with_network_measure_reach() -> None:
    result = check_developments(
        DEVS,
        None,
        "guizhou-2022",
        asof="2026-01-01",
        network=REPO / "data" / "wuhan_roads.gpkg",
        stations=REPO / "data" / "wuhan_stations.gpkg",
    )
    t = result.table.set_index("dev_id")
    assert "no network given" not in " ".join(t["reach_reason_en"])
    assert t.loc["D04", "reach"] == PASS
    assert t.loc["D13", "reach"] == FAIL
    assert t["reach_time_min"].notna().sum() >= 10
    assert result.summary["network"].endswith("wuhan_roads.gpkg")


# --------------------------------------------------------------------------- files and outputs
def test_excel_register_with_chinese_headers_and_a_facility_sheet(tmp_path: Path) -> None:
    serial = (dt.date(2025, 10, 31) - dt.date(1899, 12, 30)).days
    register = pd.DataFrame(
        {
            "项目编号": ["X1", "X2"],
            "项目名称": ["示例一", "示例二"],
            "总户数（户）": [1200, 3000],
            "经度": [114.30, 114.31],
            "纬度": [30.60, 30.61],
            "住宅规划许可日期": ["2023年1月10日"] * 2,
            "住宅开工日期": ["2023.06.01"] * 2,
            "住宅竣工验收日期": [pd.Timestamp("2025-10-31")] * 2,
            "住宅交付日期": ["20260430"] * 2,
            "养老设施规划许可日期": ["2023/01/10"] * 2,
            "养老设施开工时间": ["2023-06-01"] * 2,
            "养老设施竣工验收日期": [serial, serial + 31],
            "养老设施交付日期": ["2026年4月"] * 2,
        }
    )
    facilities = pd.DataFrame(
        {
            "设施编号": ["F1", "F2"],
            "项目编号": ["X1", "X2"],
            "面积": [400, 600],
            "经度": [114.30, 114.31],
            "纬度": [30.60, 30.61],
        }
    )
    path = tmp_path / "登记表.xlsx"
    with pd.ExcelWriter(path) as writer:
        register.to_excel(writer, sheet_name="项目", index=False)
        facilities.to_excel(writer, sheet_name="设施", index=False)
    t = check_developments(path, None, rules(reach=None), asof=ASOF).table
    assert t["households"].tolist() == [1200, 3000]
    assert t["area"].tolist() == [PASS, PASS]
    assert t["timing"].tolist() == [PASS, FAIL]
    assert t["timing_late_days"].iloc[1] == 31
    assert t["location"].tolist() == [UNKNOWN, UNKNOWN]  # point registers have no boundary


def test_csv_in_gb18030_with_column_mapping(tmp_path: Path) -> None:
    frame = pd.DataFrame([row(dev_id="G1")]).rename(
        columns={"households": "HH_TOTAL", "facility_area_m2": "配建面积（㎡）"}
    )
    path = tmp_path / "register.csv"
    frame.to_csv(path, index=False, encoding="gb18030")
    t = check_developments(
        path, None, rules(**NO_GEO), asof=ASOF, columns={"HH_TOTAL": "households"}
    ).table
    assert (t["dev_id"].iloc[0], t["verdict"].iloc[0], t["required_area_m2"].iloc[0]) == (
        "G1",
        PASS,
        470,
    )


def test_geojson_register_and_separate_facility_file(tmp_path: Path) -> None:
    devs = gpd.read_file(DEVS, layer="developments")
    fac = gpd.read_file(DEVS, layer="facilities")
    devs[devs["dev_id"].isin(["D01", "D07"])].to_file(tmp_path / "devs.geojson")
    fac.to_file(tmp_path / "fac.geojson")
    result = check_developments(
        tmp_path / "devs.geojson", tmp_path / "fac.geojson", README_RULES, asof="2026-01-01"
    )
    assert result.table["verdict"].tolist() == [PASS, FAIL]
    assert len(result.summary["orphan_facilities"]) == 10  # developments not in the file


def test_gcj02_coordinates_are_converted(tmp_path: Path) -> None:
    frame = pd.DataFrame([row(lon=114.30, lat=30.60)])
    a = check_developments(frame, None, TEST_RULES, asof=ASOF).geo.geometry.iloc[0]
    b = check_developments(frame, None, TEST_RULES, asof=ASOF, crs="gcj02").geo.geometry.iloc[0]
    shift = gpd.GeoSeries([a, b], crs=4326).to_crs(32650)
    assert 300 < shift.iloc[0].distance(shift.iloc[1]) < 700


def test_excel_round_trip_with_chinese_headers(tmp_path: Path) -> None:
    result = check_developments(DEVS, None, README_RULES, asof="2026-01-01")
    paths = write_outputs(result, tmp_path, chinese_headers=True)
    raw = pd.read_excel(paths["xlsx"], sheet_name=None)
    assert list(raw) == ["合规检查", "规则", "汇总"]
    sheet = raw["合规检查"]
    assert {"项目编号", "总体结论", "面积缺口(m²)", "不得组织竣工验收"} <= set(sheet.columns)
    assert sheet.set_index("项目编号").loc["D07", "总体结论"] == "不合格"
    back = compliance.read_outputs(paths["xlsx"])
    for col in ("dev_id", "verdict", "area", "site", "timing", "location", "acceptance_withheld"):
        assert back[col].tolist() == result.table[col].tolist(), col
    pd.testing.assert_series_equal(
        back["area_shortfall_m2"], result.table["area_shortfall_m2"], check_dtype=False
    )
    csv = compliance.read_outputs(paths["csv"])
    assert csv["verdict"].tolist() == result.table["verdict"].tolist()
    plain = write_outputs(result, tmp_path / "en")
    assert "verdict" in pd.read_csv(plain["csv"]).columns


def test_html_repr_escapes_strings_from_data() -> None:
    r = row(name="<script>alert(1)</script>", dev_id="A&B")
    text = check_developments(pd.DataFrame([r]), None, TEST_RULES, asof=ASOF)._repr_html_()
    assert "<script>" not in text
    assert "&lt;script&gt;" in text and "A&amp;B" in text


# --------------------------------------------------------------------------- command line
def test_cli_exit_0_when_all_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    devs = gpd.read_file(DEVS, layer="developments")
    devs[devs["dev_id"] <= "D06"].to_file(tmp_path / "ok.gpkg", layer="developments")
    gpd.read_file(DEVS, layer="facilities").to_file(tmp_path / "ok.gpkg", layer="facilities")
    argv = [str(tmp_path / "ok.gpkg"), "--rules", str(README_RULES), "--asof", "2026-01-01"]
    assert compliance.main([*argv, "--out", str(tmp_path / "out"), "--lang", "en"]) == 0
    assert "6 pass, 0 fail, 0 unknown" in capsys.readouterr().out
    assert (tmp_path / "out" / "compliance.csv").exists()


def test_cli_exit_1_when_any_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(DEVS), "--rules", "anshan-2021", "--asof", "2023-01-01", "--out", str(tmp_path)]
    assert compliance.main([*argv, "--lang", "en", "--chinese-headers"]) == 1
    out = capsys.readouterr().out
    assert "D09 FAIL [acceptance withheld]: facility acceptance planned 2023-08-28" in out
    assert "completion acceptance withheld: 2" in out
    sheet = pd.read_csv(tmp_path / "compliance.csv")
    assert "项目编号" in sheet.columns
    assert (
        compliance.main(
            [
                str(DEVS),
                "--rules",
                str(README_RULES),
                "--asof",
                "2026-01-01",
                "--out",
                str(tmp_path),
            ]
        )
        == 1
    )


def test_cli_exit_2_for_unusable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert compliance.main([str(tmp_path / "missing.xlsx"), "--rules", "guizhou-2022"]) == 2
    assert "missing.xlsx' does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
    assert compliance.main([str(bad), "--rules", "guizhou-2022", "--out", str(tmp_path)]) == 2
    assert "'bad.csv': none of its columns can be used" in capsys.readouterr().err
    assert compliance.main([str(DEVS), "--rules", "china-baseline", "--out", str(tmp_path)]) == 2
    assert compliance.main([str(DEVS), "--rules", "guizhou-2022", "--column", "oops"]) == 2


def test_cli_column_mapping_and_allow_unknown(tmp_path: Path) -> None:
    frame = pd.DataFrame([row(dev_id="M1")]).rename(columns={"households": "HH"})
    frame.to_csv(tmp_path / "r.csv", index=False)
    argv = [
        str(tmp_path / "r.csv"),
        "--rules",
        str(TEST_RULES),
        "--asof",
        ASOF,
        "--out",
        str(tmp_path),
    ]
    assert compliance.main([*argv, "--column", "HH=households"]) == 1  # location unknown
    assert compliance.main([*argv, "--column", "HH=households", "--allow-unknown"]) == 0
    assert pd.read_csv(tmp_path / "compliance.csv")["area"].iloc[0] == PASS


def test_an_empty_facility_layer_in_the_register_means_no_facility_yet(tmp_path, caplog) -> None:
    """A district's register may hold an empty ``facilities`` layer: judged as no facility."""
    src = Path(__file__).resolve().parents[1] / "data" / "wuhan-districts" / "JA.gpkg"
    devs = gpd.read_file(src, layer="developments")
    assert len(devs) and len(gpd.read_file(src, layer="facilities")) == 0
    alone = tmp_path / "alone.gpkg"
    devs.to_file(alone, layer="developments", driver="GPKG")
    asof = dt.date(2026, 12, 1)
    kw: dict[str, Any] = {"asof": asof, "layer": "developments"}
    with caplog.at_level("WARNING"):
        with_empty = check_developments(src, None, "guangdong-city", **kw)
    assert "is empty: no development has a facility recorded" in caplog.text
    without = check_developments(alone, None, "guangdong-city", **kw)
    pd.testing.assert_frame_equal(
        with_empty.table.drop(columns="geometry", errors="ignore"),
        without.table.drop(columns="geometry", errors="ignore"),
    )
    assert len(with_empty.table) == len(devs)
