"""Scenario files: one YAML file names the inputs, parameters and rule set of a run.

Unknown keys are rejected with a suggestion; paths are resolved against the folder of
the scenario file. See ``scenarios/wuhan-central.yaml`` for a complete example::

    name: my-district
    network: {path: roads.gpkg, layer: roads}          # or {osmnx: {place: "..."}}
    # OSM networks: network: {path: city.osm.pbf, exclude: [elevated, tunnel]}
    population:
      elderly: [pop_60_f.tif, pop_60_m.tif]            # rasters summed, or
      # path: grid.gpkg, elderly_col: age60, population_col: total
    stations: {path: stations.csv, crs: gcj02}
    units: {path: units.gpkg}
    walk_speed_m_s: 0.8
    thresholds_min: [5, 10, 15]
    rules: china-baseline
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from planning import _params, settings
from planning._errors import InputError, ScenarioError
from planning._validate import suggest

_LAYER_KEYS = {"path", "layer", "crs", "x_col", "y_col", "columns"}
_SCHEMA: dict[str, Any] = {
    "name": str,
    "title": (str, dict),
    "description": (str, dict),
    "year": int,
    "language": str,
    "network": {"path", "layer", "crs", "components", "osmnx", "noding", "exclude"},
    "population": {
        "elderly",
        "population",
        "path",
        "layer",
        "crs",
        "elderly_col",
        "population_col",
        "columns",
    },
    "stations": _LAYER_KEYS | {"id_col", "default_kind"},
    "units": _LAYER_KEYS | {"default_level"},
    "analysis_crs": (str, int),
    "walk_speed_m_s": (int, float),
    "thresholds_min": list,
    "max_snap_m": (int, float),
    "service_area_cell_m": (int, float),
    "rules": (str, dict),
    "map": {"tiles", "tiles_key", "tiles_url", "attribution"},
    "previous": str,
    "siting": {
        "model",
        "p",
        "threshold_min",
        "candidates",
        "candidate_spacing_m",
        "curve_p_max",
        "time_limit_s",
        "weight",
        "target_share",
        "max_time_min",
        "capacity_col",
        "demand_per_place",
        "require_full",
        "threshold_a_min",
        "kind_a",
        "kind_b",
        "a_counts_for_b",
        "forced",
        "forbidden",
        "budget",
        "cost_col",
        "equity_share",
        "unit_level",
        "mip_rel_gap",
    },
    "developments": {"path", "layer", "crs", "columns", "facilities", "rules", "asof", "reach"},
}
_REQUIRED = ("network", "population", "stations")
_OSMNX_KEYS = {"place", "polygon", "bbox"}


@dataclass
class Scenario:
    """A validated scenario: the parsed file, its folder and resolved parameters."""

    path: Path | None
    data: dict[str, Any]
    base_dir: Path
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Scenario name (file stem when not given)."""
        default = self.path.stem if self.path else "scenario"
        return str(self.data.get("name", default))

    @property
    def walk_speed_m_s(self) -> float | None:
        """Walking speed set by the scenario, or None to use the rule set's."""
        value = self.data.get("walk_speed_m_s")
        return None if value is None else float(value)

    @property
    def thresholds_min(self) -> tuple[float, ...] | None:
        """Thresholds in minutes set by the scenario, or None."""
        value = self.data.get("thresholds_min")
        return None if value is None else tuple(float(t) for t in value)

    @property
    def max_snap_m(self) -> float:
        """Largest connector from a point to the network, metres."""
        return float(self.data.get("max_snap_m", settings.max_snap_m))

    @property
    def siting(self) -> dict[str, Any]:
        """The ``siting:`` section with its defaults filled in, or ``{}`` without one.

        Defaults: ``model: mclp``, ``weight: elderly``, ``time_limit_s: 60``,
        ``candidate_spacing_m: 300`` and ``curve_p_max`` = ``p`` (0, no curve, for a model
        without ``p``); ``threshold_min`` defaults to the largest threshold of the run.
        """
        spec = self.section("siting")
        return _params.siting_defaults(spec) if spec else {}

    def resolve(self, value: str | Path) -> Path:
        """Resolve a path from the scenario against the scenario's folder."""
        p = Path(value)
        return p if p.is_absolute() else (self.base_dir / p)

    def section(self, key: str) -> dict[str, Any]:
        """Return a section as a dict (a bare string is taken as its ``path``)."""
        value = self.data.get(key)
        if value is None:
            return {}
        if isinstance(value, str):
            return {"path": value}
        return dict(value)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file.

    Raises
    ------
    ScenarioError
        When the file is missing, not YAML, misses a required section, has an unknown
        key (with the closest valid key suggested) or a value of the wrong type.

    """
    path = Path(path)
    if not path.exists():
        msg = f"Scenario file '{path}' does not exist. Check the path."
        raise ScenarioError(msg)
    if not path.is_file():
        msg = f"Scenario file '{path}' is a folder, not a file. Give the YAML file inside it."
        raise ScenarioError(msg)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        msg = (
            f"Scenario file '{path}' is not UTF-8 text ({exc.reason} at byte {exc.start}). "
            "Save it as UTF-8 (most editors: Save with encoding › UTF-8)."
        )
        raise ScenarioError(msg) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"Scenario file '{path}' is not valid YAML: {exc}"
        raise ScenarioError(msg) from exc
    return scenario_from_dict(data, base_dir=path.parent, path=path)


def scenario_from_dict(
    data: Any, *, base_dir: str | Path = ".", path: Path | None = None
) -> Scenario:
    """Validate a scenario given as a dict (paths relative to `base_dir`)."""
    where = f"scenario '{path}'" if path else "scenario"
    if not isinstance(data, dict):
        msg = f"{where} must be a mapping of keys to values, got {type(data).__name__}."
        raise ScenarioError(msg)
    _check_keys(data, set(_SCHEMA), where)
    for key in _REQUIRED:
        if key not in data:
            msg = (
                f"{where} has no '{key}' section; it is required. See scenarios/wuhan-central.yaml."
            )
            raise ScenarioError(msg)
    for key, spec in _SCHEMA.items():
        if key in data:
            _check_value(data[key], spec, f"{where}: '{key}'")
    _check_parameters(data, where)
    return Scenario(path, data, Path(base_dir))


def _check_keys(data: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            msg = (
                f"{where}: unknown key '{key}'.{suggest(str(key), sorted(allowed))} "
                f"Valid keys: {', '.join(sorted(allowed))}."
            )
            raise ScenarioError(msg)


def _check_value(value: Any, spec: Any, where: str) -> None:
    if isinstance(spec, set):
        if isinstance(value, str):
            return
        if not isinstance(value, dict):
            msg = f"{where} must be a path or a mapping with keys {sorted(spec)}."
            raise ScenarioError(msg)
        _check_keys(value, spec, where)
        osm = value.get("osmnx")
        if osm is not None:
            if not isinstance(osm, dict):
                msg = f"{where}: 'osmnx' must be a mapping with one of {sorted(_OSMNX_KEYS)}."
                raise ScenarioError(msg)
            _check_keys(osm, _OSMNX_KEYS, where.rstrip("'") + ".osmnx'")
        return
    if isinstance(spec, type):
        spec = (spec,)
    if not isinstance(value, spec) or isinstance(value, bool):
        names = " or ".join(t.__name__ for t in spec)
        msg = f"{where} must be {names}, got {value!r}."
        raise ScenarioError(msg)


def _check_parameters(data: dict[str, Any], where: str) -> None:
    _params.check_top(data, where)
    _params.check_siting(data.get("siting"), where)
    _params.check_developments(data.get("developments"), where)
    if "analysis_crs" in data:
        _params.check_crs(data["analysis_crs"], "analysis_crs", where, projected=True)
    for key in ("network", "population", "stations", "units", "developments"):
        value = data.get(key)
        if isinstance(value, dict) and value.get("crs") is not None:
            _params.check_crs(value["crs"], f"{key}.crs", where)
    net = data.get("network")
    if isinstance(net, dict):
        _check_choice(net, "noding", ("vertices", "endpoints", "crossings"), where)
        _check_choice(net, "components", ("largest", "keep"), where)
    pop = data.get("population")
    if not isinstance(pop, dict) or (
        "elderly" not in pop and not {"path", "elderly_col"} <= set(pop)
    ):
        msg = (
            f"{where}: 'population' needs 'elderly' (a list of rasters) or 'path' with "
            "'elderly_col' (a vector layer with counts), e.g. "
            "`population: {elderly: [pop_60.tif], population: [pop_all.tif]}`."
        )
        raise ScenarioError(msg)
    for key in ("stations", "units"):
        value = data.get(key)
        if isinstance(value, dict) and "path" not in value:
            msg = f"{where}: '{key}' needs a 'path' to the layer (with the other keys beside it)."
            raise ScenarioError(msg)
    net = data.get("network")
    if isinstance(net, dict) and "path" not in net and "osmnx" not in net:
        msg = f"{where}: 'network' needs 'path' (a road or OSM file) or 'osmnx' (a download)."
        raise ScenarioError(msg)
    if isinstance(net, dict) and "exclude" in net:
        _check_exclude(net["exclude"], where)


def _check_exclude(value: Any, where: str) -> None:
    """Refuse an unknown walk-filter rule in ``network: {exclude: [...]}``."""
    from planning.network._walkfilter import check_exclude

    if value is None or not isinstance(value, list):
        msg = f"{where}: 'network.exclude' must be a list of rule names, e.g. [elevated, tunnel]."
        raise ScenarioError(msg)
    try:
        check_exclude(value)
    except InputError as exc:
        raise ScenarioError(f"{where}: 'network.exclude': {exc}") from exc


def _check_choice(section: dict[str, Any], key: str, choices: tuple[str, ...], where: str) -> None:
    value = section.get(key)
    if value is not None and value not in choices:
        msg = (
            f"{where}: 'network.{key}' = {value!r} is not one of {', '.join(choices)}."
            f"{suggest(str(value), choices)}"
        )
        raise ScenarioError(msg)
