from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from planning._errors import InputError, ScenarioError
from planning.standards import (
    KINDS,
    LEVELS,
    MEASURES,
    RuleSet,
    Source,
    Target,
    Text,
    available_rule_sets,
    load_rules,
)

PACKAGED = [
    "anhui-2022",
    "anshan-2021",
    "china-baseline",
    "gb50180-2018",
    "gb50180-standard-speed",
    "guangdong-city",
    "guangdong-prefecture",
    "guizhou-2022",
    "jiangsu-2022-draft",
    "meishan-2019",
    "national-2013",
    "shanxi-2023",
]
STANDARDS_DIR = Path(__file__).resolve().parents[1] / "planning" / "standards"


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- packaged sets
def test_available_rule_sets_lists_the_packaged_files() -> None:
    assert available_rule_sets() == PACKAGED
    assert sorted(p.stem for p in STANDARDS_DIR.glob("*.yaml")) == PACKAGED


@pytest.mark.parametrize("name", PACKAGED)
def test_every_packaged_rule_set_loads_and_is_consistent(name: str) -> None:
    rules = load_rules(name)
    assert rules.name == name
    assert rules.title.zh and rules.title.en
    assert rules.description.zh and rules.description.en
    assert rules.thresholds_min == (5, 10, 15)
    assert [c.minutes for c in rules.life_circles] == [15, 10, 5]
    for target in rules.targets:
        assert target.measure in MEASURES
        assert target.confidence in ("V", "S", "R")
        assert set(target.kinds or ()) <= set(KINDS)
        assert target.level is None or target.level in LEVELS
        assert rules.source_of(target).id == target.source_id
        if target.measure != "capacity_per_1000":
            assert 0.0 <= target.min <= 1.0
        if target.note and "interpret" in target.note:
            assert target.confidence != "V" or target.measure == "capacity_per_1000"


def test_same_source_id_means_the_same_source_everywhere() -> None:
    seen: dict[str, Source] = {}
    for name in PACKAGED:
        for source_id, source in load_rules(name).sources.items():
            assert seen.setdefault(source_id, source) == source, source_id


def test_packaged_files_use_only_the_confidence_letters() -> None:
    for path in STANDARDS_DIR.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        letters = set(re.findall(r"confidence: ([A-Z/]+)", text))
        assert letters <= {"V", "S", "R"}, path.name


def test_gb50180_values_from_table_3_0_4() -> None:
    rules = load_rules("gb50180-2018")
    assert rules.targets == ()
    assert rules.walk.speed_m_s == 0.8
    c15, c10, c5 = rules.life_circles
    assert c15.walking_distance_m == (800, 1000)
    assert c15.population == (50000, 100000)
    assert c15.dwellings == (17000, 32000)
    assert c15.confidence == {"walking_distance_m": "S", "population": "V", "dwellings": "V"}
    assert (c10.walking_distance_m, c10.population, c10.dwellings) == (
        (500, 500),
        (15000, 25000),
        (5000, 8000),
    )
    assert set(c10.confidence.values()) == {"V"}
    assert (c5.walking_distance_m, c5.population, c5.dwellings) == (
        (300, 300),
        (5000, 12000),
        (1500, 4000),
    )
    assert set(c5.confidence.values()) == {"R"}
    # 15 min at 0.8 m/s is 720 m of network distance (STANDARDS.md §2)
    assert rules.walk.speed_m_s * 15 * 60 == pytest.approx(720.0, abs=1e-9)


def test_china_baseline_targets() -> None:
    rules = load_rules("china-baseline")
    assert rules.extends == "gb50180-2018"
    assert [t.id for t in rules.targets] == [
        "circle15",
        "street_centre",
        "beds_per_1000",
        "daycare_community",
    ]
    circle = rules.target("circle15")
    assert (circle.measure, circle.threshold_min, circle.kinds, circle.min) == (
        "spatial_coverage",
        15,
        None,
        1.0,
    )
    assert (circle.source_id, circle.confidence, circle.year) == ("shanxi-2023", "S", 2025)
    assert circle.note is not None and circle.note.startswith("interpreted")
    centre = rules.target("street_centre")
    assert (centre.measure, centre.kinds, centre.level, centre.min) == (
        "admin_coverage",
        ("centre",),
        "street",
        1.0,
    )
    assert (centre.source_id, centre.confidence) == ("meishan-2019", "S")
    beds = rules.target("beds_per_1000")
    assert (beds.measure, beds.min, beds.threshold_min, beds.confidence) == (
        "capacity_per_1000",
        40,
        15,
        "V",
    )
    assert beds.note is not None and "GB/T 50437-2020" in beds.note
    assert "superseded" in rules.source_of(beds).citation
    daycare = rules.target("daycare_community")
    assert (daycare.kinds, daycare.level, daycare.min, daycare.year) == (
        ("station", "daycare"),
        "community",
        0.9,
        2021,
    )
    # inherited from gb50180-2018
    assert rules.walk.speed_m_s == 0.8
    assert len(rules.life_circles) == 3
    assert "gb50180-2018" in rules.sources


def test_local_rule_sets_targets() -> None:
    anshan = load_rules("anshan-2021")
    assert anshan.target("street_centre_2024").min == 0.5
    assert anshan.target("street_centre_2024").year == 2024
    assert anshan.target("urban_community_2024").min == 1.0
    guangdong = load_rules("guangdong-prefecture")
    meal = guangdong.target("street_meal")
    assert (meal.kinds, meal.level, meal.min) == (("meal",), "street", 1.0)
    assert guangdong.target("daycare_community").min == 1.0
    assert guangdong.target("circle15").threshold_min == 15
    assert guangdong.sources["guangdong-prefecture"].year is None  # not known: not invented
    meishan = load_rules("meishan-2019")
    assert [meishan.target(i).min for i in ("urban_community_2020", "urban_community_2021")] == [
        0.75,
        0.9,
    ]
    shanxi = load_rules("shanxi-2023")
    assert shanxi.target("circle15").year == 2025


def test_standard_speed_extends_baseline() -> None:
    rules = load_rules("gb50180-standard-speed")
    baseline = load_rules("china-baseline")
    assert rules.walk.speed_m_s == pytest.approx(1000.0 / 900.0, rel=1e-12)
    assert rules.walk.source_id == "gb50180-2018"
    assert rules.walk.confidence == "S"
    assert rules.targets == baseline.targets
    assert rules.life_circles == baseline.life_circles
    assert rules.extends == "china-baseline"


# --------------------------------------------------------------------------- unverified
def test_unverified_lists_the_recalled_values() -> None:
    flags = load_rules("china-baseline").unverified()
    assert [f.path for f in flags] == [
        "life_circles[5].walking_distance_m",
        "life_circles[5].population",
        "life_circles[5].dwellings",
    ]
    assert flags[0].value == (300, 300)
    assert flags[0].source_id == "gb50180-2018"


def test_unverified_includes_recalled_targets_and_walk(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
name: mixed
extends: china-baseline
walk: {speed_m_s: 0.9, source_id: gb50180-2018, confidence: R, clause: "recalled"}
targets:
  - id: beds_per_1000
    measure: capacity_per_1000
    threshold_min: 15
    min: 35
    label: {zh: 千人床位, en: Beds per 1000}
    source_id: gb50437-2007
    clause: "recalled figure"
    confidence: R
""",
    )
    paths = [f.path for f in load_rules(path).unverified()]
    assert paths[0] == "walk.speed_m_s"
    assert "targets[beds_per_1000].min" in paths
    assert "targets[circle15].min" not in paths


def test_overriding_a_confidence_clears_the_flag() -> None:
    rules = load_rules(
        "china-baseline", overrides={"life_circles": [{"minutes": 5, "confidence": "V"}]}
    )
    assert rules.unverified() == []
    assert rules.overridden == ("life_circles[5].confidence",)


# --------------------------------------------------------------------------- to_dict
@pytest.mark.parametrize("name", PACKAGED)
def test_to_dict_round_trips_through_json(name: str) -> None:
    rules = load_rules(name)
    data = rules.to_dict()
    text = json.dumps(data, ensure_ascii=False)
    assert json.loads(text) == data
    assert RuleSet.from_dict(json.loads(text)) == rules


def test_to_dict_keeps_overrides_and_origin() -> None:
    rules = load_rules("china-baseline", overrides={"walk": {"speed_m_s": 1.0}})
    data = json.loads(json.dumps(rules.to_dict()))
    assert data["overridden"] == ["walk.speed_m_s"]
    assert data["walk"]["speed_m_s"] == 1.0
    assert data["origin"].endswith("china-baseline.yaml")
    assert data["compliance"] == {}
    rebuilt = RuleSet.from_dict(data)
    assert rebuilt.overridden == ("walk.speed_m_s",)
    assert rebuilt == rules


def test_from_dict_validates() -> None:
    data = load_rules("china-baseline").to_dict()
    data["targets"][0]["min"] = 2
    with pytest.raises(InputError, match=r"targets\[circle15\]\.min .*between 0 and 1"):
        RuleSet.from_dict(data)


def test_text_is_a_mapping() -> None:
    label = load_rules("china-baseline").target("circle15").label
    assert isinstance(label, Text)
    assert dict(label) == {"zh": label.zh, "en": label.en}
    assert label.get("en") == label.en
    assert label.for_lang("zh-CN") == label.zh


# --------------------------------------------------------------------------- extends
def test_custom_rule_set_extends_and_replaces_by_id(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
name: wuchang-2025
extends: china-baseline
sources:
  - {id: wuchang-plan, citation: "Wuchang district plan (test fixture)", year: 2024}
targets:
  - id: circle15
    measure: spatial_coverage
    threshold_min: 10
    min: 0.8
    label: {zh: 十分钟, en: Ten minutes}
    source_id: wuchang-plan
    clause: "80 % within 10 min"
    confidence: V
  - id: meal_community
    measure: admin_coverage
    kinds: meal
    level: community
    min: 0.5
    year: 2025
    label: {zh: 助餐点, en: Meal points}
    source_id: wuchang-plan
    clause: "half of the communities"
    confidence: S
""",
    )
    rules = load_rules(path)
    assert rules.name == "wuchang-2025"
    assert rules.extends == "china-baseline"
    # same-id target replaced in place, new target appended, others inherited
    assert [t.id for t in rules.targets] == [
        "circle15",
        "street_centre",
        "beds_per_1000",
        "daycare_community",
        "meal_community",
    ]
    circle = rules.target("circle15")
    assert (circle.threshold_min, circle.min, circle.source_id) == (10, 0.8, "wuchang-plan")
    assert rules.target("meal_community").kinds == ("meal",)
    assert set(rules.sources) >= {"wuchang-plan", "shanxi-2023", "gb50180-2018"}
    assert rules.title == Text(zh="wuchang-2025", en="wuchang-2025")
    assert rules.origin == str(path)


def test_minimal_custom_file_takes_its_name_from_the_file(tmp_path: Path) -> None:
    text = (
        "extends: china-baseline\nwalk: {speed_m_s: 1.0, source_id: gb50180-2018, confidence: S}\n"
    )
    path = write(tmp_path, text, "my-rules.yaml")
    rules = load_rules(path)
    assert rules.name == "my-rules"
    assert rules.walk.speed_m_s == 1.0
    assert rules.overridden == ()  # a rules file is not a scenario override


def test_extends_a_relative_path(tmp_path: Path) -> None:
    base = (STANDARDS_DIR / "china-baseline.yaml").read_text(encoding="utf-8")
    base = base.replace("extends: gb50180-2018", f"extends: {STANDARDS_DIR / 'gb50180-2018.yaml'}")
    write(tmp_path, base.replace("name: china-baseline", "name: base"), "base.yaml")
    child = write(tmp_path, "name: child\nextends: base.yaml\nthresholds_min: [15]\n", "child.yaml")
    rules = load_rules(child)
    assert rules.thresholds_min == (15,)
    assert len(rules.targets) == 4


def test_compliance_section_is_kept_as_plain_data(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
extends: gb50180-2018
compliance:
  area_m2_per_100hh: {new: 20, existing: 15}
  dates: {rule: not_later_than, tolerance_days: 30}
""",
    )
    rules = load_rules(path)
    assert rules.compliance == {
        "area_m2_per_100hh": {"new": 20, "existing": 15},
        "dates": {"rule": "not_later_than", "tolerance_days": 30},
    }
    over = load_rules(path, overrides={"compliance": {"dates": {"rule": "same_phase"}}})
    assert over.compliance["dates"] == {"rule": "same_phase"}
    assert over.overridden == ("compliance.dates",)


def test_extends_cycle(tmp_path: Path) -> None:
    write(tmp_path, "name: a\nextends: b.yaml\n", "a.yaml")
    write(tmp_path, "name: b\nextends: a.yaml\n", "b.yaml")
    with pytest.raises(InputError, match=r"extends itself .*a\.yaml.*b\.yaml.*a\.yaml"):
        load_rules(tmp_path / "a.yaml")


# --------------------------------------------------------------------------- overrides
def test_overrides_change_only_the_given_fields() -> None:
    base = load_rules("china-baseline")
    rules = load_rules(
        "china-baseline",
        overrides={
            "walk": {"speed_m_s": 1.0},
            "targets": [{"id": "circle15", "min": 0.8}, {"id": "street_centre", "year": 2026}],
        },
    )
    assert rules.walk.speed_m_s == 1.0
    assert rules.walk.source_id == base.walk.source_id
    circle = rules.target("circle15")
    assert circle.min == 0.8
    assert circle.label == base.target("circle15").label
    assert circle.threshold_min == 15
    assert rules.target("street_centre").year == 2026
    assert rules.target("beds_per_1000") == base.target("beds_per_1000")
    assert rules.overridden == (
        "walk.speed_m_s",
        "targets[circle15].min",
        "targets[street_centre].year",
    )
    assert base.overridden == ()


def test_overrides_can_add_a_complete_target() -> None:
    new = {
        "id": "circle10",
        "measure": "spatial_coverage",
        "threshold_min": 10,
        "min": 0.6,
        "label": {"zh": "十分钟", "en": "Ten minutes"},
        "source_id": "shanxi-2023",
        "clause": "scenario choice",
        "confidence": "S",
    }
    rules = load_rules("china-baseline", overrides={"targets": [new]})
    assert isinstance(rules.target("circle10"), Target)
    assert rules.overridden == ("targets[circle10]",)


def test_overrides_of_thresholds_are_checked_against_targets() -> None:
    with pytest.raises(
        InputError, match=r"15 min is not in thresholds_min \[5, 10\].*thresholds_min"
    ):
        load_rules("china-baseline", overrides={"thresholds_min": [5, 10]})


def test_override_unknown_key_is_a_scenario_error() -> None:
    with pytest.raises(
        ScenarioError, match=r"unknown key 'sped_m_s' at walk .*did you mean 'speed_m_s'"
    ):
        load_rules("china-baseline", overrides={"walk": {"sped_m_s": 1.0}})
    with pytest.raises(ScenarioError, match=r"unknown key 'tragets' in the scenario overrides"):
        load_rules("china-baseline", overrides={"tragets": []})


def test_override_bad_share_is_a_scenario_error() -> None:
    with pytest.raises(
        ScenarioError,
        match=r"targets\[circle15\]\.min in the scenario overrides .*got 80.*0\.8 for 80 %",
    ):
        load_rules("china-baseline", overrides={"targets": [{"id": "circle15", "min": 80}]})


def test_override_cannot_rename() -> None:
    with pytest.raises(ScenarioError, match="cannot be overridden"):
        load_rules("china-baseline", overrides={"name": "other"})


def test_override_new_target_must_be_complete() -> None:
    with pytest.raises(ScenarioError, match=r"targets\[nope\].*required key 'measure'"):
        load_rules("china-baseline", overrides={"targets": [{"id": "nope", "min": 0.5}]})


# --------------------------------------------------------------------------- file errors
def test_unknown_top_level_key_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, "extends: china-baseline\ntragets: []\n")
    expected = f"unknown key 'tragets' in rules file '{path}'; did you mean 'targets'?"
    with pytest.raises(InputError, match=re.escape(expected)):
        load_rules(path)


def test_unknown_nested_key_suggests(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
extends: gb50180-2018
targets:
  - id: t
    measure: admin_coverage
    level: street
    mn: 0.5
""",
    )
    with pytest.raises(InputError, match=r"unknown key 'mn' at targets\[t\] .*did you mean 'min'"):
        load_rules(path)


def test_bad_share(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
extends: china-baseline
targets:
  - id: circle15
    measure: spatial_coverage
    threshold_min: 15
    min: 90
    label: {zh: a, en: b}
    source_id: shanxi-2023
    clause: c
    confidence: S
""",
    )
    with pytest.raises(InputError, match=r"targets\[circle15\]\.min in rules file .*got 90.*0\.9"):
        load_rules(path)


def test_unknown_source_id(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
extends: china-baseline
targets:
  - id: x
    measure: admin_coverage
    level: street
    min: 0.5
    label: {zh: a, en: b}
    source_id: nowhere-2020
    clause: c
    confidence: S
""",
    )
    with pytest.raises(
        InputError, match=r"targets\[x\]\.source_id .*unknown source_id 'nowhere-2020'"
    ):
        load_rules(path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("measure", "coverage", r"measure .*must be one of \['spatial_coverage'"),
        ("level", "province", r"level .*must be one of \['street', 'community', 'district'\]"),
        ("kinds", "[centr]", r"kinds .*got 'centr'. Did you mean 'centre'"),
        ("kinds", "[]", r"kinds .*empty list.*Leave `kinds` out"),
        ("min", "'0.5'", r"min .*must be a number, got '0\.5'"),
        ("year", "2025.5", r"year .*whole number"),
        ("confidence", "X", r"confidence .*\['V', 'S', 'R'\]"),
        ("threshold_min", "15", r"threshold_min .*does not apply to measure 'admin_coverage'"),
    ],
)
def test_wrong_values_are_rejected(tmp_path: Path, field: str, value: str, message: str) -> None:
    target = {
        "id": "t",
        "measure": "admin_coverage",
        "level": "street",
        "min": 0.5,
        "label": {"zh": "a", "en": "b"},
        "source_id": "gb50180-2018",
        "clause": "c",
        "confidence": "S",
    }
    target[field] = yaml.safe_load(value)
    path = write(tmp_path, yaml.safe_dump({"extends": "gb50180-2018", "targets": [target]}))
    with pytest.raises(InputError, match=message):
        load_rules(path)


def test_missing_threshold_for_spatial_coverage(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
extends: gb50180-2018
targets:
  - {id: t, measure: spatial_coverage, min: 1, label: {zh: a, en: b},
     source_id: gb50180-2018, clause: c, confidence: S}
""",
    )
    with pytest.raises(InputError, match=r"targets\[t\].*needs `threshold_min`"):
        load_rules(path)


def test_duplicate_target_ids(tmp_path: Path) -> None:
    item = (
        "  - {id: t, measure: admin_coverage, level: street, min: 1, label: {zh: a, en: b},"
        " source_id: gb50180-2018, clause: c, confidence: S}\n"
    )
    path = write(tmp_path, "extends: gb50180-2018\ntargets:\n" + item + item)
    with pytest.raises(InputError, match="id 't' appears twice"):
        load_rules(path)


def test_partial_target_in_a_file_explains_replacement(tmp_path: Path) -> None:
    path = write(tmp_path, "extends: china-baseline\ntargets:\n  - {id: circle15, min: 0.8}\n")
    with pytest.raises(InputError, match=r"required key 'measure'.*replaces it whole.*overrides"):
        load_rules(path)


def test_walk_speed_in_wrong_units(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "extends: gb50180-2018\nwalk: {speed_m_s: 48, source_id: gb50180-2018, confidence: S}\n",
    )
    with pytest.raises(InputError, match=r"walk\.speed_m_s .*48 m/s is not a walking speed"):
        load_rules(path)


def test_root_rule_set_needs_required_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "name: bare\nthresholds_min: [15]\n")
    with pytest.raises(InputError, match="required key 'title' is missing"):
        load_rules(path)


def test_life_circle_confidence_must_cover_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
extends: gb50180-2018
life_circles:
  - minutes: 15
    walking_distance_m: [800, 1000]
    population: [50000, 100000]
    source_id: gb50180-2018
    confidence: {population: V}
""",
    )
    with pytest.raises(InputError, match=r"life_circles\[15\]\.confidence .*walking_distance_m"):
        load_rules(path)


def test_unknown_rule_set_name_lists_the_available_ones() -> None:
    with pytest.raises(
        InputError,
        match=r"unknown rule set 'china-basline'. Did you mean 'china-baseline'.*anshan-2021",
    ):
        load_rules("china-basline")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.yaml' does not exist.*china-baseline"):
        load_rules(tmp_path / "nope.yaml")


def test_invalid_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\n  bad: [\n")
    with pytest.raises(InputError, match=r"(?s)is not valid YAML.*line 2"):
        load_rules(path)


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- a\n- b\n")
    with pytest.raises(InputError, match="must be a mapping"):
        load_rules(path)


def test_target_lookup_errors_list_ids() -> None:
    with pytest.raises(InputError, match=r"no target 'nope'; its targets are \['circle15'"):
        load_rules("china-baseline").target("nope")
