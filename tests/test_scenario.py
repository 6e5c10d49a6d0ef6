"""Tests of planning.scenario: loading and validating scenario YAML files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from planning import settings
from planning._errors import InputError, ScenarioError
from planning.scenario import Scenario, load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "wuhan-central.yaml"

MINIMAL: dict[str, Any] = {
    "network": {"path": "roads.gpkg", "layer": "roads"},
    "population": {"elderly": ["e_f.tif", "e_m.tif"]},
    "stations": {"path": "stations.csv", "crs": "gcj02"},
}


def minimal(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data.update(changes)
    return data


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- valid files
def test_demo_scenario_loads() -> None:
    sc = load_scenario(DEMO)
    assert isinstance(sc, Scenario)
    assert sc.name == "wuhan-central"
    assert sc.walk_speed_m_s == 0.8
    assert sc.thresholds_min == (5.0, 10.0, 15.0)
    assert sc.max_snap_m == 500.0
    assert sc.base_dir == DEMO.parent
    elderly = [sc.resolve(p) for p in sc.section("population")["elderly"]]
    assert elderly == [DEMO.parent / "../data/wuhan_elderly_60plus.tif"]
    # every input named by the demo exists in the checkout
    for key in ("network", "stations", "units"):
        assert sc.resolve(sc.section(key)["path"]).exists(), key
    assert all(p.exists() for p in elderly)


def test_minimal_scenario_defaults(tmp_path: Path) -> None:
    sc = load_scenario(write_yaml(tmp_path / "my-area.yaml", MINIMAL))
    assert sc.name == "my-area"  # file stem when no name is given
    assert sc.walk_speed_m_s is None
    assert sc.thresholds_min is None
    assert sc.max_snap_m == settings.max_snap_m
    assert sc.path == tmp_path / "my-area.yaml"


def test_scenario_from_dict_without_path() -> None:
    sc = scenario_from_dict(minimal(name="dict-run", walk_speed_m_s=1), base_dir="/data/x")
    assert sc.name == "dict-run"
    assert sc.walk_speed_m_s == 1.0
    assert isinstance(sc.walk_speed_m_s, float)
    assert sc.resolve("roads.gpkg") == Path("/data/x/roads.gpkg")
    assert scenario_from_dict(MINIMAL).name == "scenario"


def test_paths_resolve_against_scenario_folder(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    sc = load_scenario(write_yaml(folder / "s.yaml", MINIMAL))
    assert sc.resolve("stations.csv") == folder / "stations.csv"
    assert sc.resolve("../data/roads.gpkg") == folder / "../data/roads.gpkg"
    absolute = tmp_path / "elsewhere" / "r.gpkg"
    assert sc.resolve(absolute) == absolute
    assert sc.resolve(str(absolute)) == absolute


def test_bare_string_section_is_a_path() -> None:
    sc = scenario_from_dict(minimal(stations="stations.gpkg", units="units.gpkg"))
    assert sc.section("stations") == {"path": "stations.gpkg"}
    assert sc.section("units") == {"path": "units.gpkg"}
    assert sc.section("map") == {}  # absent section
    assert sc.section("network") == {"path": "roads.gpkg", "layer": "roads"}


def test_section_returns_a_copy() -> None:
    sc = scenario_from_dict(minimal())
    sc.section("network")["path"] = "changed.gpkg"
    assert sc.data["network"]["path"] == "roads.gpkg"


def test_network_from_osmnx_accepted() -> None:
    sc = scenario_from_dict(minimal(network={"osmnx": {"place": "江汉区, 武汉市"}}))
    assert sc.section("network")["osmnx"] == {"place": "江汉区, 武汉市"}


def test_population_vector_layer_accepted() -> None:
    pop = {"path": "grid.gpkg", "elderly_col": "age60", "population_col": "total"}
    assert scenario_from_dict(minimal(population=pop)).section("population") == pop


# --------------------------------------------------------------------------- unknown keys
def test_unknown_top_level_key_suggests() -> None:
    data = minimal(thresholds_mins=[5, 10, 15])
    with pytest.raises(
        ScenarioError,
        match=r"unknown key 'thresholds_mins'\. Did you mean 'thresholds_min'\?.*Valid keys:",
    ):
        scenario_from_dict(data)


def test_unknown_top_level_key_in_file_names_file(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "typo.yaml", minimal(walk_speed=0.8))
    with pytest.raises(
        ScenarioError,
        match=r"typo\.yaml'.*unknown key 'walk_speed'\. Did you mean 'walk_speed_m_s'",
    ):
        load_scenario(path)


def test_unknown_nested_key_in_stations_suggests() -> None:
    data = minimal(stations={"path": "s.csv", "id_column": "编号"})
    with pytest.raises(
        ScenarioError, match=r"'stations': unknown key 'id_column'\. Did you mean 'id_col'\?"
    ):
        scenario_from_dict(data)


def test_unknown_nested_key_in_population_suggests() -> None:
    data = minimal(population={"path": "g.gpkg", "elderly_column": "age60"})
    with pytest.raises(ScenarioError, match=r"'population'.*Did you mean 'elderly_col'\?"):
        scenario_from_dict(data)


def test_unknown_key_without_close_match_lists_valid_keys() -> None:
    with pytest.raises(ScenarioError, match=r"unknown key 'zzz'\. Valid keys: analysis_crs, "):
        scenario_from_dict(minimal(zzz=1))


# --------------------------------------------------------------------------- required/types
@pytest.mark.parametrize("key", ["network", "population", "stations"])
def test_missing_required_section(key: str) -> None:
    data = minimal()
    del data[key]
    with pytest.raises(ScenarioError, match=rf"has no '{key}' section; it is required"):
        scenario_from_dict(data)


def test_walk_speed_wrong_type() -> None:
    with pytest.raises(ScenarioError, match=r"'walk_speed_m_s' must be int or float, got 'fast'"):
        scenario_from_dict(minimal(walk_speed_m_s="fast"))


def test_walk_speed_boolean_rejected() -> None:
    with pytest.raises(ScenarioError, match=r"'walk_speed_m_s' must be int or float, got True"):
        scenario_from_dict(minimal(walk_speed_m_s=True))


@pytest.mark.parametrize("speed", [0.05, 5, -1])
def test_walk_speed_out_of_range(speed: float) -> None:
    with pytest.raises(
        ScenarioError, match=rf"'walk_speed_m_s' = {speed} is out of range; .*≥ 0\.1 and ≤ 3"
    ):
        scenario_from_dict(minimal(walk_speed_m_s=speed))


@pytest.mark.parametrize(
    "thresholds",
    [[0], [5, -10], [], ["15"], [True], [float("nan")], [float("inf")], [5, 5], [200]],
    ids=["zero", "negative", "empty", "string", "boolean", "nan", "inf", "repeated", "too-long"],
)
def test_thresholds_invalid(thresholds: list[Any]) -> None:
    with pytest.raises(ScenarioError, match=r"'thresholds_min' = .*e\.g\. `thresholds_min"):
        scenario_from_dict(minimal(thresholds_min=thresholds))


def test_thresholds_not_a_list() -> None:
    with pytest.raises(ScenarioError, match=r"'thresholds_min' must be list, got 15"):
        scenario_from_dict(minimal(thresholds_min=15))


def test_max_snap_not_positive() -> None:
    with pytest.raises(ScenarioError, match=r"'max_snap_m' = 0 is out of range; .*> 0 and ≤ 5000"):
        scenario_from_dict(minimal(max_snap_m=0))


def test_name_wrong_type() -> None:
    with pytest.raises(ScenarioError, match=r"'name' must be str, got 2026"):
        scenario_from_dict(minimal(name=2026))


@pytest.mark.parametrize("value", [5, ["roads.gpkg"]])
def test_section_wrong_type(value: Any) -> None:
    with pytest.raises(ScenarioError, match=r"'network' must be a path or a mapping with keys"):
        scenario_from_dict(minimal(network=value))


def test_network_without_path_or_osmnx() -> None:
    with pytest.raises(ScenarioError, match=r"'network' needs 'path'.*or 'osmnx'"):
        scenario_from_dict(minimal(network={"layer": "roads"}))


def test_osmnx_with_bad_key() -> None:
    data = minimal(network={"osmnx": {"plcae": "武汉市"}})
    with pytest.raises(
        ScenarioError, match=r"'network\.osmnx': unknown key 'plcae'\. Did you mean 'place'\?"
    ):
        scenario_from_dict(data)


def test_osmnx_not_a_mapping() -> None:
    with pytest.raises(ScenarioError, match=r"'osmnx' must be a mapping with one of"):
        scenario_from_dict(minimal(network={"osmnx": "武汉市"}))


def test_population_without_elderly_or_path() -> None:
    with pytest.raises(ScenarioError, match=r"'population' needs 'elderly'.*or 'path'"):
        scenario_from_dict(minimal(population={"population": ["p.tif"]}))


def test_population_vector_without_elderly_col() -> None:
    # the message itself says a vector layer needs 'elderly_col'; the workflow reads
    # spec["elderly_col"] without a default
    with pytest.raises(ScenarioError, match=r"elderly_col"):
        scenario_from_dict(minimal(population={"path": "grid.gpkg"}))


def test_stations_mapping_without_path() -> None:
    # the workflow reads spec["path"] for stations: a mapping without it must be rejected
    with pytest.raises(ScenarioError, match=r"'stations'.*'path'"):
        scenario_from_dict(minimal(stations={"crs": "gcj02"}))


def test_map_section_keys_checked() -> None:
    with pytest.raises(ScenarioError, match=r"'map': unknown key 'tile'\. Did you mean 'tiles'"):
        scenario_from_dict(minimal(map={"tile": "amap"}))


# --------------------------------------------------------------------------- file errors
@pytest.mark.parametrize("content", ["- network\n- stations\n", "just text\n", ""])
def test_not_a_mapping(tmp_path: Path, content: str) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"list\.yaml' must be a mapping of keys to values"):
        load_scenario(path)


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("network: {path: roads.gpkg\nstations: [a, b\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"(?s)broken\.yaml' is not valid YAML: .*line 1"):
        load_scenario(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"absent\.yaml' does not exist\. Check the path"):
        load_scenario(tmp_path / "absent.yaml")


def test_scenario_error_is_an_input_error() -> None:
    assert issubclass(ScenarioError, InputError)
    assert issubclass(ScenarioError, ValueError)
