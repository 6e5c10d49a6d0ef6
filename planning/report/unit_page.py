"""The values of one unit's gap report, ``units/<unit>.html``.

Its figures against the targets, its map (stations, 5/10/15-minute service areas, gaps,
elderly density and proposed sites; Leaflet shared from ``assets/``), its largest
uncovered clusters, what the proposed sites would change (recomputed on the network),
its stations, its developments and its change since last year.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

import planning.report._i18n as _i18n
from planning._errors import InputError
from planning.report.context import (
    _as_bool,
    _compliance_context,
    _gap_rows,
    _kpis,
    _met_text,
    _num,
    _pct,
    _pp,
    _site_rows,
    _target_rows,
    _units_of,
    base_context,
    unit_pages,
)
from planning.report.layers import MapData, siting_of, unit_label
from planning.report.maps import map_fragment, unit_map, write_shared_network
from planning.results import RunResult

_TOP_GAPS_UNIT = 10


def unit_target_values(result: RunResult) -> dict[str, pd.Series]:
    """Return each target's value per unit (index ``unit_id``), as the unit pages show it.

    ``spatial_coverage``: share of the unit's older people within the threshold of a
    station of the target's kinds; ``admin_coverage``: 1.0 when the unit holds such a
    station, else 0.0; ``capacity_per_1000``: the unit's 2SFCA places per 1,000.
    """
    cov = result.coverage
    dem = cov.demand[cov.demand["unit_id"].notna()]
    eld = dem["elderly"].to_numpy(dtype=float)
    units = cov.units.set_index(cov.units["unit_id"].astype(str))
    out: dict[str, pd.Series] = {}
    for target in result.rules.targets:
        kinds = tuple(target.kinds or ())
        if target.measure == "spatial_coverage" and target.threshold_min:
            cols = [
                f"travel_time_s_nearest_{k}" for k in kinds if f"travel_time_s_nearest_{k}" in dem
            ]
            time = dem[cols].min(axis=1) if kinds else dem["travel_time_s_nearest"]
            if kinds and not cols:
                time = pd.Series(np.inf, index=dem.index)
            covered = (time.to_numpy(dtype=float) <= float(target.threshold_min) * 60.0) * eld
            by_unit = pd.Series(covered, index=dem.index).groupby(dem["unit_id"].astype(str)).sum()
            total = pd.Series(eld, index=dem.index).groupby(dem["unit_id"].astype(str)).sum()
            out[target.id] = (by_unit / total.replace(0, np.nan)).reindex(units.index)
        elif target.measure == "admin_coverage":
            cols = [f"n_{k}" for k in kinds if f"n_{k}" in units] if kinds else ["n_stations"]
            has = units[cols].sum(axis=1) > 0 if cols else pd.Series(False, index=units.index)
            out[target.id] = has.astype(float)
        elif target.measure == "capacity_per_1000" and "capacity_per_1000_2sfca" in units:
            out[target.id] = units["capacity_per_1000_2sfca"]
    return out


def _unit_targets(
    result: RunResult,
    u: Mapping[str, Any],
    values: Mapping[str, pd.Series],
    t: dict[str, str],
    lang: str,
) -> list[dict[str, Any]]:
    rows = []
    uid = str(u["unit_id"])
    for r in _target_rows(result, lang, t):
        target = result.rules.target(r["id"])
        value = values[r["id"]].get(uid) if r["id"] in values else None
        met = _as_bool(u.get(f"meets_{r['id']}"))
        note = ""
        if target.measure == "admin_coverage":
            value_text = "–" if value is None else (t["yes"] if value else t["no"])
            if target.level and str(u.get("level")) != target.level:
                met = None
                note = t["not_evaluated_level"].format(
                    level=t.get(f"level_{target.level}", target.level),
                    unit_level=t.get(f"level_{u.get('level')}", str(u.get("level"))),
                )
            required = t["yes"]
        else:
            share = target.measure == "spatial_coverage"
            value_text = _pct(value) if share else _num(value, "{:.1f}")
            required = r["min_text"]
            if met is None and value is not None and value == value:
                met = bool(value >= target.min)
        rows.append(
            {
                **r,
                "value_text": value_text,
                "min_text": required,
                "met": met,
                "met_text": _met_text(met, t),
                "unit_note": note,
            }
        )
    return rows


def _siting_effect(result: RunResult) -> pd.DataFrame | None:
    """Per unit, older people covered within the largest threshold once every site is built.

    Sites are snapped to the network and their reach added to the stations'. Returns
    None when no site can be reached (then pages list the sites of each unit only).
    """
    from planning.access import coverage_matrix, snap_points

    sites, _ = siting_of(result)
    if sites is None or sites.empty:
        return None
    cov, net = result.coverage, result.network
    th = cov.thresholds_min[-1]
    snap_s = snap_points(net, sites.to_crs(net.crs), max_snap_m=result.scenario.max_snap_m)
    if not snap_s.ok.any():
        return None
    dem = cov.demand
    snap_d = snap_points(net, dem, max_snap_m=result.scenario.max_snap_m)
    reach = coverage_matrix(net, snap_s, snap_d, limit_s=th * 60.0, progress=False)
    hit = np.zeros(len(dem), dtype=bool)
    hit[reach.indices[reach.data <= th * 60.0]] = True
    covered = dem[f"covered_{th:g}min"].to_numpy() | hit
    eld = dem["elderly"].to_numpy(dtype=float)
    unit = dem["unit_id"].astype(str)
    frame = pd.DataFrame({"unit_id": unit, "with": eld * covered, "all": eld})
    out = frame.groupby("unit_id").sum()
    out["share_with_sites"] = out["with"] / out["all"].replace(0, np.nan)
    return out


def unit_context(
    result: RunResult,
    unit_id: str,
    *,
    language: str | None = None,
    data: MapData | None = None,
    pages: Mapping[str, str] | None = None,
    cache: dict[str, Any] | None = None,
    assets_dir: Path | None = None,
) -> dict[str, Any]:
    """Return the values of one unit's gap report (and its map when `assets_dir` is given)."""
    ctx = base_context(result, language)
    t, lang, ths = ctx["t"], ctx["code"], ctx["thresholds"]
    cov = result.coverage
    pages = pages if pages is not None else unit_pages(cov.units)
    cache = cache if cache is not None else {}
    match = cov.units[cov.units["unit_id"].astype(str) == str(unit_id)]
    if match.empty:
        msg = f"No unit {unit_id!r} in this run; units are e.g. {list(cov.units['unit_id'][:5])}."
        raise InputError(msg)
    u = match.iloc[0]
    uid = str(u["unit_id"])
    if "values" not in cache:
        cache["values"] = unit_target_values(result)
        cache["station_units"] = _units_of(cov.stations, cov.units) if len(cov.stations) else None
        cache["effect"] = _siting_effect(result) if result.siting is not None else None
        cache["compliance"] = _compliance_context(result, pages, lang, "../")
    kpis = [
        *_kpis(u, ths, t),
        {
            "key": "travel_time_s_mean",
            "label": t["mean_time"],
            "value": _num(u["travel_time_s_mean"] / 60.0, "{:.1f}"),
        },
        {
            "key": "travel_time_s_p90",
            "label": t["p90"],
            "value": _num(u["travel_time_s_p90"] / 60.0, "{:.1f}"),
        },
        {"key": "n_stations", "label": t["stations"], "value": f"{int(u['n_stations']):,}"},
    ]
    if "capacity_per_1000" in u:
        kpis.append(
            {
                "key": "capacity_per_1000",
                "label": t["capacity_per_1000"],
                "value": _num(u["capacity_per_1000"], "{:.1f}"),
            }
        )
    gaps = cov.gaps[cov.gaps["unit_id"].astype(str) == uid]
    ctx.update(
        root="../",
        unit={
            "unit_id": uid,
            "name": unit_label(u, lang),
            "level": t.get(f"level_{u.get('level')}", str(u.get("level", ""))),
            "district": u.get("district_id", ""),
        },
        kpis=kpis,
        targets=_unit_targets(result, u, cache["values"], t, lang),
        gaps=_gap_rows(gaps.head(_TOP_GAPS_UNIT), pages, t, "../"),
        gaps_more=max(len(gaps) - _TOP_GAPS_UNIT, 0),
        gaps_closed="closed_by" in cov.gaps.columns,
        stations=_unit_stations(result, uid, cache["station_units"], lang),
        siting=_unit_siting(result, u, cache["effect"], t, pages, lang),
        compliance=_unit_compliance(cache["compliance"], uid),
        annual=_unit_annual(result, uid, t),
        map=None,
    )
    if data is not None and assets_dir is not None:
        if "network_script" not in cache:
            write_shared_network(data, assets_dir)
            cache["network_script"] = "../assets/network.js"
        m = unit_map(data, uid, network_script=cache["network_script"])
        frag = map_fragment(m, assets_url="../assets", assets_dir=assets_dir)
        ctx["map"] = {
            "head": Markup(frag.head),
            "body": Markup(frag.body),
            "script": Markup(frag.script),
        }
    return ctx


def _unit_stations(
    result: RunResult, uid: str, station_units: pd.Series | None, lang: str
) -> list[dict[str, Any]]:
    if station_units is None:
        return []
    sta = result.coverage.stations
    within = [c for c in sta.columns if c.startswith("elderly_within_")]
    rows = []
    for _, s in sta[(station_units == uid).to_numpy()].iterrows():
        rows.append(
            {
                "station_id": s["station_id"],
                "name": s.get("name", ""),
                "kind": _i18n.kind_label(s["kind"], lang),
                "capacity": _num(s.get("capacity")),
                "within": _num(s[within[-1]]) if within else "–",
            }
        )
    return rows


def _unit_siting(
    result: RunResult,
    u: Mapping[str, Any],
    effect: pd.DataFrame | None,
    t: dict[str, str],
    pages: Mapping[str, str],
    lang: str,
) -> dict[str, Any] | None:
    sites, _ = siting_of(result)
    if sites is None:
        return None
    uid = str(u["unit_id"])
    sites = sites.to_crs(4326)
    here = (
        sites[(_units_of(sites, result.coverage.units) == uid).to_numpy()] if len(sites) else sites
    )
    th = f"{result.coverage.thresholds_min[-1]:g}"
    out: dict[str, Any] = {
        "rows": _site_rows(here, pages, lang, "../"),
        "effect": "",
        "approx": effect is None,
    }
    if effect is not None and uid in effect.index:
        before = u[f"coverage_share_{th}min"]
        after = effect.loc[uid, "share_with_sites"]
        newly = effect.loc[uid, "with"] - u[f"elderly_covered_{th}min"]
        out["effect"] = t["siting_unit_effect"].format(
            t=th, before=_pct(before), after=_pct(after), newly=_num(newly)
        )
    return out


def _unit_compliance(ctx: dict[str, Any] | None, uid: str) -> list[dict[str, Any]] | None:
    if ctx is None:
        return None
    return [r for r in ctx["rows"] if r["unit_id"] == uid]


def _unit_annual(result: RunResult, uid: str, t: dict[str, str]) -> dict[str, Any] | None:
    comp = result.comparison
    if comp is None:
        return None
    row = comp.units[comp.units["unit_id"] == uid]
    if row.empty or not comp.thresholds_min:
        return None
    r = row.iloc[0]
    th = f"{comp.thresholds_min[-1]:g}"
    col = f"coverage_share_{th}min"
    change = r.get(f"{col}_change")
    return {
        "threshold": th,
        "status": r["status"],
        "prev": _pct(r.get(f"{col}_prev")),
        "this": _pct(r.get(col)),
        "change": _pp(change, t),
        "stations_prev": _num(r.get("n_stations_prev")),
        "stations": _num(r.get("n_stations")),
    }
