"""Run a scenario end to end: load inputs, compute coverage, write the run folder.

The run folder holds ``index.html`` (the district at a glance), ``units/<unit>.html``
(one gap report per unit), ``map.html`` and ``assets/`` (Leaflet, shared by every map
page), ``coverage.xlsx``, ``results.gpkg`` (every layer), ``charts/*.png``, the tables
``coverage_units.csv``, ``coverage_stations.csv``, ``targets.csv``, ``excluded.csv``
(plus ``siting.csv``, ``compliance.csv`` and ``annual_*.csv`` when present), the layers
``demand.gpkg``, ``service_areas.gpkg``, ``gaps.gpkg``, and ``run.json`` (format
version, inputs with checksums, parameters, rule set, targets, versions, timings and
every excluded input with its reason). With a previous run folder, ``annual.html``
compares this year with last year.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planning import (
    _i18n,
    _scenario_steps,
    annual,
    io,
    network,
    population,
    settings,
    standards,
)
from planning.coverage import accounting, compute_coverage
from planning.results import RUN_FORMAT_VERSION, PreviousRun, RunResult
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
    "matplotlib",
    "openpyxl",
)
#: Files and folders a run writes that may be absent from a later run into the same folder.
_OPTIONAL_OUTPUTS = (
    "annual.html",
    "annual_units.csv",
    "annual_targets.csv",
    "annual_stations.csv",
    "siting.csv",
    "siting_curve.csv",
    "siting.gpkg",
    "compliance.csv",
)


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
    scenario: Scenario | str | Path,
    *,
    out_dir: str | Path | None = None,
    previous: str | Path | None = None,
) -> RunResult:
    """Run a scenario and, when `out_dir` is given, write its run folder.

    Parameters
    ----------
    scenario : Scenario or path
        A loaded scenario or the path of a YAML scenario file.
    out_dir : str or Path, optional
        Folder to write; created if needed.
    previous : str or Path, optional
        Last year's run folder to compare with (the annual report); default the
        scenario's ``previous:`` (relative to the scenario file), else none.

    Returns
    -------
    RunResult

    Raises
    ------
    InputError
        For unusable inputs, an unknown report language or basemap, or a previous run
        folder that cannot be compared (another format version or study area).

    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    check_report_options(sc)
    prev = _read_previous(sc, previous)
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
    if sc.section("siting"):
        with timer.step("siting"):
            result.siting, result.siting_curve = _scenario_steps.run_siting(
                sc, net, demand, stations, units, cov.thresholds_min, inputs
            )
    if sc.section("developments"):
        with timer.step("compliance"):
            result.compliance = _scenario_steps.run_compliance(sc, net, stations, rules, inputs)
    if prev is not None:
        with timer.step("compare"):
            result.comparison = annual.compare_runs(result, prev)
    if out_dir is not None:
        write_run(result, Path(out_dir), timer)
    return result


def check_report_options(sc: Scenario) -> None:
    """Check the report language and basemap of a scenario before any work is done.

    Raises
    ------
    InputError
        When no report template exists for ``language`` or ``map:`` is unusable.

    """
    from planning import maps

    _i18n.lang_code(str(sc.data.get("language", "zh")))
    maps.scenario_tiles(sc)


def _read_previous(sc: Scenario, previous: str | Path | None) -> PreviousRun | None:
    if previous is not None:
        return annual.read_run(Path(previous))
    spec = sc.data.get("previous")
    return annual.read_run(sc.resolve(spec)) if spec else None


def _rules_name(sc: Scenario, spec: dict[str, Any]) -> str | Path:
    name = str(spec.get("name", "china-baseline"))
    if name.endswith((".yaml", ".yml")):
        return sc.resolve(name)
    return name


def _record(inputs: list[dict[str, Any]], role: str, path: Path) -> None:
    _scenario_steps.record_input(inputs, role, path)


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
        path,
        layer=spec.get("layer"),
        crs=crs,
        walk_speed_m_s=speed,
        components=components,
        noding=spec.get("noding", "vertices"),
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
    from planning import charts, export, maps, report

    timer = timer or _Timer()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale(out_dir)
    result.out_dir = out_dir
    language = str(result.scenario.data.get("language", "zh"))
    with timer.step("write tables"):
        _write_tables(result, out_dir)
        if result.siting is not None:
            _scenario_steps.write_siting(result.siting, result.siting_curve, out_dir)
    with timer.step("workbook"):
        export.write_workbook(result, out_dir / "coverage.xlsx")
    with timer.step("geopackage"):
        export.write_geopackage(result, out_dir / "results.gpkg")
    with timer.step("charts"):
        chart_files = charts.write_charts(result, out_dir, language=language)
    with timer.step("map"):
        pages = report.unit_pages(result.coverage.units)
        data = maps.map_data(result, links=pages)
        assets = out_dir / "assets"
        maps.write_assets(assets)
        title = f"{report.base_context(result)['title']} — {data.t['map_title']}"
        page = maps.save_map(
            maps.coverage_map(data),
            out_dir / "map.html",
            assets_dir=assets,
            title=title,
            lang=_i18n.html_lang(language),
        )
        log.info("map: %s", page)
    with timer.step("report"):
        report.write_report(result, out_dir, data=data, charts=chart_files)
    result.timings_s = timer.timings
    (out_dir / "run.json").write_text(
        json.dumps(run_record(result), ensure_ascii=False, indent=2, default=_json_default),
        encoding="utf-8",
    )
    return out_dir


def _remove_stale(out_dir: Path) -> None:
    """Remove outputs of an earlier run into the same folder that this run may not write."""
    for name in _OPTIONAL_OUTPUTS:
        (out_dir / name).unlink(missing_ok=True)
    for pattern in ("units/*.html", "charts/*.png"):
        for path in out_dir.glob(pattern):
            path.unlink()


def _write_tables(result: RunResult, out_dir: Path) -> None:
    from planning import export

    cov = result.coverage
    units = pd.DataFrame(cov.units.drop(columns="geometry"))
    units.to_csv(out_dir / "coverage_units.csv", index=False, float_format="%.10g")
    sta = pd.DataFrame(cov.stations.drop(columns="geometry"))
    sta.to_csv(out_dir / "coverage_stations.csv", index=False, float_format="%.10g")
    cov.targets.to_csv(out_dir / "targets.csv", index=False, float_format="%.10g")
    cov.excluded.to_csv(out_dir / "excluded.csv", index=False)
    _to_gpkg(cov.demand, out_dir / "demand.gpkg", "demand")
    _to_gpkg(cov.service_areas, out_dir / "service_areas.gpkg", "service_areas")
    _to_gpkg(cov.gaps, out_dir / "gaps.gpkg", "gaps")
    sheets = export.workbook_sheets(result)
    optional = {
        "siting.csv": sheets.get("siting"),
        "compliance.csv": sheets.get("compliance"),
        "annual_units.csv": sheets.get("annual_units"),
        "annual_targets.csv": sheets.get("annual_targets"),
    }
    if result.comparison is not None:
        comp = result.comparison
        optional["annual_stations.csv"] = pd.concat(
            [
                comp.stations_added.assign(change="added"),
                comp.stations_closed.assign(change="closed"),
                comp.stations_changed.assign(change="changed"),
            ],
            ignore_index=True,
        )
    for name, frame in optional.items():
        if frame is not None:
            frame.to_csv(out_dir / name, index=False, float_format="%.10g")


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
        "format_version": RUN_FORMAT_VERSION,
        "scenario": str(result.scenario.path) if result.scenario.path else None,
        "name": result.scenario.name,
        "year": result.scenario.data.get("year"),
        "language": result.scenario.data.get("language", "zh"),
        "extent_lonlat": annual.extent_lonlat(result),
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
        "targets": _records(cov.targets),
        "excluded": excluded,
        "siting": result.siting is not None,
        "compliance": result.compliance is not None,
        "previous": None
        if result.comparison is None
        else {
            "path": str(result.comparison.previous.path),
            "name": result.comparison.previous.record.get("name"),
            "year": result.comparison.previous_year,
        },
        "outputs": _outputs(result.out_dir),
        "versions": _versions(),
        "timings_s": result.timings_s,
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a table as JSON-ready records (NaN as None)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in r.items()} for r in clean.to_dict(orient="records")]


def _outputs(out_dir: Path | None) -> dict[str, int]:
    """Return the files of a run folder with their sizes in bytes (unit pages summed)."""
    if out_dir is None:
        return {}
    out: dict[str, int] = {}
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file() and p.name != "run.json"):
        rel = path.relative_to(out_dir)
        key = f"{rel.parts[0]}/*" if rel.parts[0] == "units" else rel.as_posix()
        out[key] = out.get(key, 0) + path.stat().st_size
    return out
