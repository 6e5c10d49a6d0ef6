"""Bad-input catalogue, part 2: the scenario file and its siting section, via `planning run`.

Every number is checked when the scenario is loaded, before any input is read: these
cases end in a second, each with the key, the value, the valid range and an example.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from _bad_fixtures import DELETE, Case, Ctx, base_scenario, build_small, check_case, params

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_small(tmp_path_factory.mktemp("small"))


@pytest.fixture
def ctx(small: dict[str, Path], tmp_path: Path) -> Ctx:
    return Ctx(tmp_path, small, base_scenario(small))


def _key(key: str, value: object, match: str) -> Case:
    return Case(f"{key}={value!r}", lambda c: c.set(key, value), match)


SCENARIO = [
    Case(
        "scenario-missing",
        lambda c: ["run", str(c.folder / "nope.yaml")],
        r"Scenario file '.*nope\.yaml' does not exist\. Check the path",
    ),
    Case(
        "scenario-not-yaml",
        lambda c: ["run", str(c.file("bad.yaml", "name: [unclosed\n"))],
        r"Scenario file '.*bad\.yaml' is not valid YAML",
    ),
    Case(
        "scenario-gbk",
        lambda c: ["run", str(c.file("gbk.yaml", "name: 武汉\n".encode("gbk")))],
        r"gbk\.yaml' is not UTF-8 text.*Save it as UTF-8",
    ),
    Case(
        "scenario-a-list",
        lambda c: ["run", str(c.file("list.yaml", "- network\n- stations\n"))],
        r"list\.yaml' must be a mapping of keys to values, got list",
    ),
    Case(
        "unknown-key",
        lambda c: c.set("threshold_min", [5]),
        r"unknown key 'threshold_min'\. Did you mean 'thresholds_min'\?",
    ),
    Case(
        "no-stations",
        lambda c: c.set("stations", DELETE),
        r"has no 'stations' section; it is required\. See scenarios/wuhan-central\.yaml",
    ),
    Case(
        "stations-without-path",
        lambda c: c.set("stations", {"layer": "stations"}),
        r"'stations' needs a 'path' to the layer",
    ),
    Case(
        "population-neither",
        lambda c: c.set("population", {"path": "x.gpkg"}),
        r"'population' needs 'elderly' \(a list of rasters\) or 'path' with 'elderly_col'",
    ),
    _key("walk_speed_m_s", NAN, r"'walk_speed_m_s' = nan is not a finite number; give a walking"),
    _key("walk_speed_m_s", 10, r"'walk_speed_m_s' = 10 is out of range; .*≥ 0\.1 and ≤ 3, e\.g\."),
    _key("walk_speed_m_s", "fast", r"'walk_speed_m_s' must be int or float, got 'fast'"),
    _key("thresholds_min", [NAN], r"'thresholds_min' = \[nan\] holds nan, which is not a finite"),
    _key("thresholds_min", [0, 15], r"holds 0, which is out of range; .*> 0 and ≤ 120"),
    _key("thresholds_min", [5, 5], r"'thresholds_min' = \[5, 5\] repeats a threshold"),
    _key("thresholds_min", [], r"'thresholds_min' = \[\] must be a list of minutes, e\.g\."),
    _key("thresholds_min", ["15"], r"holds '15', which is not a number"),
    _key("thresholds_min", 15, r"'thresholds_min' must be list, got 15"),
    _key("max_snap_m", INF, r"'max_snap_m' = inf is not a finite number; give the longest walk"),
    _key("max_snap_m", -5, r"'max_snap_m' = -5 is out of range; .*> 0 and ≤ 5000"),
    _key("year", 3000, r"'year' = 3000 is out of range; give the report year as a whole number"),
    _key("year", 2026.5, r"'year' must be int, got 2026\.5"),
    _key("service_area_cell_m", 0, r"'service_area_cell_m' = 0 is out of range; .*≥ 1 and ≤ 1000"),
    _key("language", "fr", r"fr"),
    _key("map", {"tiles": "google"}, r"google"),
    _key("rules", "nowhere-2020", r"nowhere-2020"),
    _key("name", 2026, r"'name' must be str, got 2026"),
]

SITING = [
    _key(
        "siting.p",
        "three",
        r"'siting\.p' = 'three' is not a whole number; give the number of "
        r"new sites as a whole number ≥ 1 and ≤ 10000, e\.g\. `p: 10`",
    ),
    _key("siting.p", 0, r"'siting\.p' = 0 is out of range"),
    _key("siting.p", 2.5, r"'siting\.p' = 2\.5 is not a whole number"),
    _key("siting.p", True, r"'siting\.p' = True is not a whole number"),
    _key("siting.threshold_min", 0, r"'siting\.threshold_min' = 0 is out of range; give minutes"),
    _key("siting.threshold_min", NAN, r"'siting\.threshold_min' = nan is not a finite number"),
    _key(
        "siting.model",
        "mlcp",
        r"'siting\.model' = 'mlcp' is not a siting model\. Did you mean "
        r"'mclp'\?",
    ),
    _key("siting.curve_p_max", -1, r"'siting\.curve_p_max' = -1 is out of range"),
    _key("siting.time_limit_s", 0, r"'siting\.time_limit_s' = 0 is out of range; .*> 0"),
    _key("siting.target_share", 1.5, r"'siting\.target_share' = 1\.5 is out of range; .*≤ 1"),
    _key("siting.candidate_spacing_m", 1, r"'siting\.candidate_spacing_m' = 1 is out of range"),
    _key("siting.demand_per_place", -3, r"'siting\.demand_per_place' = -3 is out of range"),
    _key("siting.budget", NAN, r"'siting\.budget' = nan is not a finite number"),
    _key("siting.mip_rel_gap", NAN, r"'siting\.mip_rel_gap' = nan is not a finite number"),
    _key("siting.forced", "S1", r"'siting\.forced' = 'S1' must be a list of candidate site ids"),
    _key("siting.require_full", "yes", r"'siting\.require_full' = 'yes' must be true or false"),
    _key("siting.equity_share", {"HS-01": 2}, r"'siting\.equity_share\.HS-01' = 2 is out of range"),
    _key("siting.weight", 5, r"'siting\.weight' = 5 must be a name"),
    _key("siting.curve_pmax", 5, r"unknown key 'curve_pmax'\. Did you mean 'curve_p_max'\?"),
    _key(
        "developments.asof",
        "last year",
        r"'developments\.asof' = 'last year' is not a date; "
        r"write it as YYYY-MM-DD",
    ),
    _key("developments.reach", "no", r"'developments\.reach' = 'no' must be true or false"),
    Case(
        "siting-candidates-without-path",
        lambda c: c.set("siting", {"p": 2, "candidates": {"layer": "candidates"}}),
        r"'siting\.candidates' needs a 'path' to the candidate sites",
    ),
    Case(
        "siting-candidates-missing",
        lambda c: c.set("siting", {"p": 2, "candidates": str(c.folder / "sites.gpkg")}),
        r"sites\.gpkg' does not exist\. Check the path",
    ),
    Case(
        "siting-candidates-wrong-layer",
        lambda c: c.set(
            "siting", {"p": 2, "candidates": {"path": str(c.paths["candidates"]), "layer": "x"}}
        ),
        r"candidates\.gpkg' has no layer 'x'\..*Its layers: candidates",
    ),
]


def _curve_written(ctx: Ctx, text: str) -> None:
    out = ctx.folder / "out"
    curve = pd.read_csv(out / "siting_curve.csv")
    assert curve["p"].tolist() == [0, 1, 2]
    assert curve["share"].is_monotonic_increasing
    assert (out / "index.html").stat().st_size > 0
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["accounting"]["elderly_in"] > 0


SITING.append(
    Case(
        "siting-without-curve-p-max",
        lambda c: c.set(
            "siting",
            {
                "model": "mclp",
                "p": 2,
                "threshold_min": 15,
                "candidates": {"path": str(c.paths["candidates"]), "layer": "candidates"},
            },
        ),
        r"siting \(mclp, optimal.*2 new sites",
        rc=0,
        then=_curve_written,
    )
)


@pytest.mark.parametrize("case", params(SCENARIO + SITING))
def test_bad_scenario(case: Case, ctx: Ctx) -> None:
    check_case(case, ctx)
