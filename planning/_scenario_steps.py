"""The optional steps of a scenario run: siting (``siting:``) and 四同步 (``developments:``).

Kept apart from :mod:`planning.workflow` so that the loading and coverage steps stay
short; both functions read a validated :class:`planning.scenario.Scenario`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from planning import io
from planning._errors import ScenarioError
from planning.network import Network
from planning.scenario import Scenario
from planning.standards import RuleSet

log = logging.getLogger(__name__)

#: Keys of the scenario's ``siting:`` section passed on to the siting models.
SITING_OPTIONS = (
    "target_share", "max_time_min", "capacity_col", "demand_per_place", "require_full",
    "threshold_a_min", "kind_a", "kind_b", "a_counts_for_b", "forced", "forbidden",
    "budget", "cost_col", "equity_share", "unit_level", "mip_rel_gap",
)  # fmt: skip


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

    spec = sc.section("siting")
    if not spec:
        return None, None
    candidates = _candidates(sc, spec, inputs)
    threshold = float(spec.get("threshold_min", thresholds_min[-1]))
    common: dict[str, Any] = {
        "threshold_min": threshold,
        "weight": str(spec.get("weight", "elderly")),
        "time_limit_s": float(spec.get("time_limit_s", 60.0)),
        "max_snap_m": sc.max_snap_m,
        "units": units,
    }
    options = {k: spec[k] for k in SITING_OPTIONS if k in spec}
    if candidates is None:
        candidates = siting.generate_candidates(
            net, demand, stations, threshold_min=threshold, weight=common["weight"],
            spacing_m=float(spec.get("candidate_spacing_m", 300.0)), max_snap_m=sc.max_snap_m,
        )  # fmt: skip
    result = siting.site_stations(
        net, demand, stations, candidates, model=str(spec.get("model", "mclp")),
        p=spec.get("p"), **common, **options,
    )  # fmt: skip
    curve = None
    p_max = spec.get("curve_p_max")
    if p_max:
        curve_opts = {k: v for k, v in options.items() if k in ("forced", "forbidden")}
        curve, _ = siting.coverage_curve(
            net, demand, stations, candidates, p_max=int(p_max), **common, **curve_opts
        )
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


def write_siting(siting_result: Any, curve: pd.DataFrame | None, out_dir: Path) -> list[str]:
    """Write ``siting_curve.csv`` and ``siting.gpkg`` (proposed sites); return the names.

    ``siting.csv`` and the curve chart are written with the other tables and charts.
    """
    written = []
    if curve is not None:
        table = curve.copy()
        if "selected_ids" in table:
            table["selected_ids"] = table["selected_ids"].map(
                lambda ids: " ".join(map(str, ids)) if isinstance(ids, list | tuple) else ids
            )
        table.to_csv(out_dir / "siting_curve.csv", index=False, float_format="%.10g")
        written.append("siting_curve.csv")
    layer = getattr(siting_result, "siting", None)
    if layer is not None and len(layer):
        path = out_dir / "siting.gpkg"
        path.unlink(missing_ok=True)
        layer.to_file(path, layer="siting", driver="GPKG")
        written.append("siting.gpkg")
    return written
