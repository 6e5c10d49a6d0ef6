"""Run a scenario end to end: load inputs, compute coverage, write the run folder.

The run folder holds ``coverage_units.csv``, ``coverage_stations.csv``,
``demand.gpkg``, ``service_areas.gpkg``, ``gaps.gpkg``, ``map.html``, ``index.html`` and
``run.json`` (inputs with checksums, parameters, rule set, versions, timings and every
excluded input with its reason).
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planning import io, network, population, settings, standards
from planning._errors import InputError
from planning.coverage import CoverageResult, compute_coverage
from planning.scenario import Scenario, load_scenario

log = logging.getLogger(__name__)

_VERSIONS = (
    "planning",
    "numpy",
    "scipy",
    "pandas",
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "networkx",
    "osmnx",
    "rasterio",
    "folium",
    "folium-offline",
    "jinja2",
)


@dataclass
class RunResult:
    """What a scenario run produced, in memory and on disk."""

    scenario: Scenario
    rules: standards.RuleSet
    network: network.Network
    coverage: CoverageResult
    units: gpd.GeoDataFrame | None
    out_dir: Path | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)

    def _repr_html_(self) -> str:
        return self.coverage._repr_html_()


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 3)
        log.info("%s: %.2f s", name, self.timings[name])


def run_scenario(
    scenario: Scenario | str | Path, *, out_dir: str | Path | None = None
) -> RunResult:
    """Run a scenario and, when `out_dir` is given, write its run folder.

    Parameters
    ----------
    scenario : Scenario or path
        A loaded scenario or the path of a YAML scenario file.
    out_dir : str or Path, optional
        Folder to write; created if needed.

    Returns
    -------
    RunResult

    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    timer = _Timer()
    rule_spec = sc.data.get("rules", "china-baseline")
    if isinstance(rule_spec, dict):
        rules = standards.load_rules(
            _rules_name(sc, rule_spec), overrides=rule_spec.get("overrides")
        )
    else:
        rules = standards.load_rules(_rules_name(sc, {"name": rule_spec}))
    speed = sc.walk_speed_m_s or rules.walk.speed_m_s
    thresholds = sc.thresholds_min or tuple(rules.thresholds_min)
    inputs: list[dict[str, Any]] = []
    with timer.step("network"):
        net = _load_network(sc, speed, inputs)
    with timer.step("units"):
        units = _load_units(sc, inputs)
    with timer.step("population"):
        demand = _load_population(sc, net, units, inputs)
    with timer.step("stations"):
        stations = _load_stations(sc, inputs)
    with timer.step("coverage"):
        cov = compute_coverage(
            net,
            demand,
            stations,
            units,
            thresholds_min=thresholds,
            max_snap_m=sc.max_snap_m,
            targets=list(rules.targets),
            buffer_m=sc.data.get("service_area_buffer_m"),
        )
    result = RunResult(sc, rules, net, cov, units, None, timer.timings, inputs)
    if out_dir is not None:
        write_run(result, Path(out_dir), timer)
    return result


def _rules_name(sc: Scenario, spec: dict[str, Any]) -> str | Path:
    name = str(spec.get("name", "china-baseline"))
    if name.endswith((".yaml", ".yml")):
        return sc.resolve(name)
    return name


def _record(inputs: list[dict[str, Any]], role: str, path: Path) -> None:
    files = [path] if path.is_file() else []
    if path.suffix.lower() == ".shp":
        files = sorted(path.parent.glob(path.stem + ".*"))
    digest = hashlib.sha256()
    size = 0
    for f in files:
        data = f.read_bytes()
        digest.update(data)
        size += len(data)
    inputs.append({"role": role, "path": str(path), "bytes": size, "sha256": digest.hexdigest()})


def _load_network(sc: Scenario, speed: float, inputs: list[dict[str, Any]]) -> network.Network:
    spec = sc.section("network")
    crs = sc.data.get("analysis_crs")
    components = spec.get("components", "largest")
    if "osmnx" in spec:
        query = spec["osmnx"]
        bbox = tuple(query["bbox"]) if "bbox" in query else None
        inputs.append({"role": "network", "path": f"osmnx download {query}", "sha256": ""})
        return network.network_from_osmnx(
            place=query.get("place"),
            bbox=bbox,
            crs=crs,
            walk_speed_m_s=speed,
            components=components,
        )
    path = sc.resolve(spec["path"])
    net = network.read_network(
        path, layer=spec.get("layer"), crs=crs, walk_speed_m_s=speed, components=components
    )
    _record(inputs, "network", path)
    return net


def _layer_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    keys = ("layer", "crs", "x_col", "y_col", "columns")
    return {k: spec[k] for k in keys if k in spec}


def _load_units(sc: Scenario, inputs: list[dict[str, Any]]) -> gpd.GeoDataFrame | None:
    spec = sc.section("units")
    if not spec:
        return None
    path = sc.resolve(spec["path"])
    _record(inputs, "units", path)
    kwargs = _layer_kwargs(spec)
    return io.read_units(path, default_level=spec.get("default_level", "street"), **kwargs)


def _paths(sc: Scenario, value: Any) -> list[Path]:
    values = value if isinstance(value, list) else [value]
    return [sc.resolve(v) for v in values]


def _load_population(
    sc: Scenario,
    net: network.Network,
    units: gpd.GeoDataFrame | None,
    inputs: list[dict[str, Any]],
) -> gpd.GeoDataFrame:
    spec = sc.section("population")
    if "elderly" in spec:
        eld = _paths(sc, spec["elderly"])
        pop = _paths(sc, spec["population"]) if "population" in spec else None
        for p in eld + (pop or []):
            _record(inputs, "population raster", p)
        return population.demand_from_rasters(eld, pop, crs=net.crs, units=units)
    path = sc.resolve(spec["path"])
    _record(inputs, "population layer", path)
    layer = io.read_layer(path, **_layer_kwargs(spec))
    return population.demand_from_vector(
        layer,
        elderly_col=spec["elderly_col"],
        population_col=spec.get("population_col"),
        crs=net.crs,
        units=units,
        name=str(path),
    )


def _load_stations(sc: Scenario, inputs: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    spec = sc.section("stations")
    path = sc.resolve(spec["path"])
    _record(inputs, "stations", path)
    return io.read_stations(
        path,
        id_col=spec.get("id_col", "station_id"),
        default_kind=spec.get("default_kind"),
        **_layer_kwargs(spec),
    )


def write_run(result: RunResult, out_dir: Path, timer: _Timer | None = None) -> Path:
    """Write the run folder of `result` into `out_dir` and return its path."""
    from planning import maps, report

    timer = timer or _Timer()
    out_dir.mkdir(parents=True, exist_ok=True)
    cov = result.coverage
    with timer.step("write tables"):
        _write_tables(cov, out_dir)
    with timer.step("map"):
        maps.coverage_map(result).save(str(out_dir / "map.html"))
    with timer.step("report"):
        report.write_index(result, out_dir)
    result.out_dir = out_dir
    result.timings_s = timer.timings
    (out_dir / "run.json").write_text(
        json.dumps(run_record(result), ensure_ascii=False, indent=2, default=_json_default),
        encoding="utf-8",
    )
    return out_dir


def _write_tables(cov: CoverageResult, out_dir: Path) -> None:
    units = pd.DataFrame(cov.units.drop(columns="geometry"))
    units.to_csv(out_dir / "coverage_units.csv", index=False, float_format="%.6g")
    sta = pd.DataFrame(cov.stations.drop(columns="geometry"))
    sta.to_csv(out_dir / "coverage_stations.csv", index=False, float_format="%.6g")
    cov.targets.to_csv(out_dir / "targets.csv", index=False, float_format="%.6g")
    cov.excluded.to_csv(out_dir / "excluded.csv", index=False)
    _to_gpkg(cov.demand, out_dir / "demand.gpkg", "demand")
    _to_gpkg(cov.service_areas, out_dir / "service_areas.gpkg", "service_areas")
    _to_gpkg(cov.gaps, out_dir / "gaps.gpkg", "gaps")


def _to_gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    if path.exists():
        path.unlink()
    out = gdf.copy()
    for col in out.columns:
        if out[col].dtype == object and col != "geometry":
            out[col] = out[col].astype("string")
    out.to_file(path, layer=layer, driver="GPKG")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_record(result: RunResult) -> dict[str, Any]:
    """Return the provenance record written as ``run.json``."""
    cov = result.coverage
    excluded: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in cov.excluded.to_dict(orient="records")
    ]
    excluded += [
        dict(r, item=f"network: {r['item']}") for r in result.network.summary()["excluded"]
    ]
    return {
        "scenario": str(result.scenario.path) if result.scenario.path else None,
        "name": result.scenario.name,
        "inputs": result.inputs,
        "parameters": {
            "walk_speed_m_s": cov.walk_speed_m_s,
            "thresholds_min": list(cov.thresholds_min),
            "max_snap_m": result.scenario.max_snap_m,
            "service_area_buffer_m": result.scenario.data.get(
                "service_area_buffer_m", settings.service_area_buffer_m
            ),
            "analysis_crs": result.network.crs.to_string(),
        },
        "rules": result.rules.to_dict(),
        "network": {k: v for k, v in result.network.summary().items() if k != "excluded"},
        "totals": cov.totals,
        "accounting": accounting(cov),
        "excluded": excluded,
        "versions": _versions(),
        "timings_s": result.timings_s,
    }


def accounting(cov: CoverageResult) -> dict[str, Any]:
    """Check that every older person is covered, uncovered or excluded, per threshold.

    Raises
    ------
    InputError
        Never for valid data: a mismatch means a bug, and is reported loudly.

    """
    dem = cov.demand
    eld = dem["elderly"].to_numpy()
    reach = dem["snap_status"].to_numpy() == "ok"
    out: dict[str, Any] = {"elderly_in": float(eld.sum())}
    for t in cov.thresholds_min:
        c = dem[f"covered_{t:g}min"].to_numpy()
        row = {
            "covered": float(eld[c].sum()),
            "uncovered": float(eld[~c & reach].sum()),
            "excluded_unreachable": float(eld[~reach].sum()),
        }
        if not np.isclose(sum(row.values()), out["elderly_in"], rtol=1e-9, atol=1e-6):
            msg = f"Accounting mismatch at {t:g} min: {row} vs {out['elderly_in']}."
            raise InputError(msg)
        out[f"{t:g}min"] = row
    return out
