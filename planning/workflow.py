"""Run a scenario end to end: load its inputs, compute coverage, run the optional steps.

The steps only orchestrate. Inputs are read by :mod:`planning.io`,
:mod:`planning.network` and :mod:`planning.population`, coverage is computed by
:mod:`planning.coverage`; a ``siting:`` section runs :mod:`planning.siting`, a
``developments:`` section the 四同步 check of :mod:`planning.compliance`. The gaps record
the proposed sites that reach them (:func:`planning.coverage.gap_sites`). With a previous
run folder the run is compared with last year (:mod:`planning.report.annual`); the run
folder is written by :func:`write_run` (:mod:`planning.report.run_folder`, importable
from here with :func:`run_record`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from planning import io, network, population, standards
from planning._errors import ScenarioError
from planning.coverage import accounting, compute_coverage, gap_sites
from planning.network import Network
from planning.report import (
    annual,
    check_out_dir,
    lang_code,
    run_record,
    scenario_tiles,
    write_run,
)
from planning.report.layers import siting_tables
from planning.report.run_folder import StepTimer
from planning.results import PreviousRun, RunResult
from planning.scenario import Scenario, load_scenario
from planning.standards import RuleSet

__all__ = [
    "RunResult",
    "accounting",
    "check_report_options",
    "record_input",
    "run_compliance",
    "run_record",
    "run_scenario",
    "run_siting",
    "write_run",
]

#: Keys of the scenario's ``siting:`` section passed on to the siting models.
SITING_OPTIONS = (
    "target_share", "max_time_min", "capacity_col", "demand_per_place", "require_full",
    "threshold_a_min", "kind_a", "kind_b", "a_counts_for_b", "forced", "forbidden",
    "budget", "cost_col", "equity_share", "unit_level", "mip_rel_gap",
)  # fmt: skip


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
        Run folder to write; created if needed, replaced as a whole when it exists (it
        must then hold only what a run writes). It is checked before any work.
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
    OutputError
        When `out_dir` cannot be written; raised before the computing when it can be
        foreseen (a file, read-only, full, unexpected files), else when writing.

    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    check_report_options(sc)
    if out_dir is not None:
        check_out_dir(Path(out_dir))
    prev = _read_previous(sc, previous)
    timer = StepTimer()
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
            cell_m=sc.data.get("service_area_cell_m"),
        )
    result = RunResult(sc, rules, net, cov, units, None, timer.timings, inputs)
    if sc.siting:
        with timer.step("siting"):
            result.siting, result.siting_curve = run_siting(
                sc, net, demand, stations, units, cov.thresholds_min, inputs
            )
            sites = siting_tables(result.siting)[0]
            if sites is not None:
                cov.gaps = gap_sites(net, cov, sites)
    if sc.section("developments"):
        with timer.step("compliance"):
            result.compliance = run_compliance(sc, net, stations, rules, inputs)
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
    lang_code(str(sc.data.get("language", "zh")))
    scenario_tiles(sc)


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
            exclude=spec.get("exclude"),
        )
    path = sc.resolve(spec["path"])
    net = network.read_network(
        path,
        layer=spec.get("layer"),
        crs=crs,
        walk_speed_m_s=speed,
        components=components,
        noding=spec.get("noding", "vertices"),
        exclude=spec.get("exclude"),
        source_crs=spec.get("crs"),
    )
    record_input(inputs, "network", path)
    return net


def _layer_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    keys = ("layer", "crs", "x_col", "y_col", "columns")
    return {k: spec[k] for k in keys if k in spec}


def _load_units(sc: Scenario, inputs: list[dict[str, Any]]) -> gpd.GeoDataFrame | None:
    spec = sc.section("units")
    if not spec:
        return None
    path = sc.resolve(spec["path"])
    record_input(inputs, "units", path)
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
            record_input(inputs, "population raster", p)
        return population.demand_from_rasters(eld, pop, crs=net.crs, units=units)
    path = sc.resolve(spec["path"])
    record_input(inputs, "population layer", path)
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
    record_input(inputs, "stations", path)
    return io.read_stations(
        path,
        id_col=spec.get("id_col", "station_id"),
        default_kind=spec.get("default_kind"),
        **_layer_kwargs(spec),
    )


def run_siting(
    sc: Scenario,
    net: Network,
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None,
    thresholds_min: tuple[float, ...],
    inputs: list[dict[str, Any]],
) -> tuple[Any, pd.DataFrame | None]:
    """Run the scenario's ``siting:`` section; return the result and the coverage curve.

    Returns
    -------
    tuple
        ``(SitingResult or None, curve table or None)``; ``(None, None)`` without the
        section.
    """
    from planning import siting

    spec = sc.siting
    if not spec:
        return None, None
    candidates = _candidates(sc, spec, inputs)
    threshold = float(spec.get("threshold_min", thresholds_min[-1]))
    common: dict[str, Any] = {
        "threshold_min": threshold,
        "weight": str(spec["weight"]),
        "time_limit_s": float(spec["time_limit_s"]),
        "max_snap_m": sc.max_snap_m,
        "units": units,
    }
    options = {k: spec[k] for k in SITING_OPTIONS if k in spec}
    if candidates is None:
        candidates = siting.generate_candidates(
            net, demand, stations, threshold_min=threshold, weight=common["weight"],
            spacing_m=float(spec["candidate_spacing_m"]), max_snap_m=sc.max_snap_m,
        )  # fmt: skip
    result = siting.site_stations(
        net, demand, stations, candidates, model=str(spec["model"]),
        p=spec.get("p"), **common, **options,
    )  # fmt: skip
    curve = None
    if spec["curve_p_max"]:
        curve_opts = {k: v for k, v in options.items() if k in ("forced", "forbidden")}
        curve, _ = siting.coverage_curve(
            net, demand, stations, candidates, p_max=int(spec["curve_p_max"]), **common,
            **curve_opts,
        )  # fmt: skip
    return result, curve


def _candidates(
    sc: Scenario, spec: dict[str, Any], inputs: list[dict[str, Any]]
) -> gpd.GeoDataFrame | None:
    cand = spec.get("candidates")
    if cand is None:
        return None
    layer = {"path": cand} if isinstance(cand, str) else dict(cand)
    if "path" not in layer:
        msg = "scenario: 'siting.candidates' needs a 'path' to the candidate sites."
        raise ScenarioError(msg)
    path = sc.resolve(layer.pop("path"))
    record_input(inputs, "candidate sites", path)
    return io.read_stations(path, id_col="site_id", default_kind="station", **layer)


def run_compliance(
    sc: Scenario,
    net: Network,
    stations: gpd.GeoDataFrame,
    scenario_rules: RuleSet,
    inputs: list[dict[str, Any]],
) -> Any:
    """Run the scenario's ``developments:`` section (四同步 compliance), or return None.

    The compliance rules are ``developments.rules`` when given, else the scenario's rule
    set, which must then have a ``compliance:`` section.
    """
    from planning import compliance

    spec = sc.section("developments")
    if not spec:
        return None
    path = sc.resolve(spec["path"])
    record_input(inputs, "developments", path)
    facilities = spec.get("facilities")
    fac_path = sc.resolve(facilities) if isinstance(facilities, str) else None
    rules: RuleSet | str | Path = spec.get("rules", scenario_rules)
    if isinstance(rules, str) and rules.endswith((".yaml", ".yml")):
        rules = sc.resolve(rules)
    if isinstance(rules, RuleSet) and not rules.compliance:
        msg = (
            f"scenario: the rule set '{rules.name}' has no compliance rules; name one in "
            "`developments: {rules: ...}`, e.g. guangdong-city, guizhou-2022 or anhui-2022."
        )
        raise ScenarioError(msg)
    asof = spec.get("asof") or (
        dt.date(int(sc.data["year"]), 12, 31) if "year" in sc.data else dt.date.today()
    )
    return compliance.check_developments(
        path, fac_path, rules, asof=asof, network=net if spec.get("reach", True) else None,
        stations=stations, columns=spec.get("columns"), crs=spec.get("crs"),
        layer=spec.get("layer"),
    )  # fmt: skip


def record_input(inputs: list[dict[str, Any]], role: str, path: Path) -> None:
    """Append an input file with its size and SHA-256 (all sidecars of a shapefile)."""
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
