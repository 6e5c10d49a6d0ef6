"""HTML reports of a run (Jinja2 templates, autoescaped), in Chinese or English.

A run folder gets:

- ``index.html``: the district at a glance — key figures, the interactive map (the
  ``map.html`` page in a frame; a static overview replaces it in print), the targets of
  the rule set, coverage by unit with a link to each unit's page, the largest gaps, and
  the proposed sites and development checks when the run has them;
- ``units/<unit>.html``: one gap report per unit — its figures against the targets, a
  map of its stations, 5/10/15-minute service areas, gaps and proposed sites (Leaflet
  shared from ``assets/``), its largest uncovered clusters, what the proposed sites would
  change, its stations and developments;
- ``annual.html`` when a previous run was compared: a one-page printable summary of
  what changed since last year.

Every page ends with the rule set (sources, confidence, values flagged R), the
parameters, the data attribution and what was excluded.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup
from tqdm.auto import tqdm

from planning import __version__, _i18n, settings
from planning._errors import InputError
from planning.maps import (
    ATTRIBUTION,
    MapData,
    compliance_of,
    map_data,
    map_fragment,
    newly_covered_column,
    reasons_of,
    siting_of,
    unit_label,
    unit_map,
)
from planning.population import assign_units
from planning.results import RunResult

_SAFE_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TOP_GAPS_DISTRICT = 20
_TOP_GAPS_UNIT = 10
_ANNUAL_LIST = 10
#: Changes in a share smaller than this (0.05 percentage points) count as no change: the
#: previous run's CSV holds 6 significant digits.
_CHANGE_EPS = 5e-4


def strings(language: str) -> dict[str, str]:
    """Return the report strings for `language` (``zh``/``zh-CN`` or ``en``).

    Raises
    ------
    InputError
        When no report template exists for the language.

    """
    return _i18n.strings(language)


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("planning", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _num(value: Any, fmt: str = "{:,.0f}") -> str:
    if value is None or isinstance(value, str):
        return "–" if value in (None, "") else str(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "–"
    return fmt.format(x) if math.isfinite(x) else "–"


def _pct(value: Any) -> str:
    return _num(value, "{:.1%}")


def _pp(change: Any, t: Mapping[str, str]) -> str:
    """Return a change of share as signed percentage points ("+3.1 pp"; no "-0.0")."""
    try:
        x = float(change)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(x):
        return "–"
    return f"{round(x * 100, 1) + 0.0:+.1f} {t['pp']}"


def _today() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc).date().isoformat()
    return date.today().isoformat()


def _language(result: RunResult) -> str:
    return str(result.scenario.data.get("language", "zh"))


def unit_pages(units: pd.DataFrame) -> dict[str, str]:
    """Return each unit id's page path (``units/<id>.html``; a numbered name if unsafe)."""
    ids = [str(u) for u in units["unit_id"]]
    lowered = pd.Series([i.lower() for i in ids]).value_counts()
    out: dict[str, str] = {}
    used: set[str] = set()
    for i, uid in enumerate(ids):
        slug = uid if _SAFE_SLUG.match(uid) and lowered[uid.lower()] == 1 else f"unit-{i + 1:04d}"
        if slug.lower() in used:
            slug = f"unit-{i + 1:04d}-x"
        used.add(slug.lower())
        out[uid] = f"units/{slug}.html"
    return out


# --------------------------------------------------------------------------- shared context
def base_context(result: RunResult, language: str | None = None) -> dict[str, Any]:
    """Return what every page shows: title, rule set, parameters, attribution, exclusions."""
    language = language or _language(result)
    t = strings(language)
    lang = _i18n.lang_code(language)
    cov = result.coverage
    title = result.scenario.data.get("title")
    if isinstance(title, dict):
        title = title.get(lang) or next(iter(title.values()), None)
    net = result.network.summary()
    return {
        "lang": _i18n.html_lang(language),
        "code": lang,
        "t": t,
        "name": result.scenario.name,
        "title": str(title or result.scenario.name),
        "year": result.scenario.data.get("year"),
        "version": __version__,
        "today": _today(),
        "thresholds": [f"{x:g}" for x in cov.thresholds_min],
        "rules": _rules_context(result, lang),
        "params": {
            "speed": f"{cov.walk_speed_m_s:g}",
            "thresholds": ", ".join(f"{x:g}" for x in cov.thresholds_min),
            "max_snap": f"{result.scenario.max_snap_m:g}",
            "buffer": f"{_buffer_m(result):g}",
            "network": net,
        },
        "excluded": [
            {**e, "count": _num(e.get("count")), "elderly": _num(e.get("elderly", 0.0))}
            for e in cov.excluded.to_dict(orient="records")
        ]
        + [
            {
                "item": f"network: {e['item']}",
                "reason": e.get("reason", ""),
                "count": _num(e.get("count")),
                "elderly": "–",
                "ids": "",
            }
            for e in net.get("excluded", [])
        ],
        "attribution": [t["attribution_osm"], t["attribution_worldpop"], t["attribution_leaflet"]],
        "attribution_en": ATTRIBUTION,
        "comparison": result.comparison is not None,
        "compact": False,
    }


def _buffer_m(result: RunResult) -> float:
    value = result.scenario.data.get("service_area_buffer_m", settings.service_area_buffer_m)
    return float(value)


def _rules_context(result: RunResult, lang: str) -> dict[str, Any]:
    rules = result.rules
    return {
        "name": rules.name,
        "title": rules.title.for_lang(lang),
        "description": rules.description.for_lang(lang),
        "origin": rules.origin or "",
        "overridden": list(rules.overridden),
        "walk": {
            "speed": f"{rules.walk.speed_m_s:g}",
            "confidence": rules.walk.confidence,
            "source": rules.walk.source_id,
        },
        "sources": [
            {"id": s.id, "citation": s.citation, "year": s.year or "", "url": s.url or ""}
            for s in rules.sources.values()
        ],
        "unverified": [
            {
                "path": u.path,
                "value": _plain_value(u.value),
                "source": u.source_id,
                "clause": u.clause or "",
            }
            for u in rules.unverified()
        ],
    }


def _plain_value(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "–".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _target_rows(result: RunResult, lang: str, t: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for _, r in result.coverage.targets.iterrows():
        fmt = "{:.1%}" if r["measure"] in ("spatial_coverage", "admin_coverage") else "{:.1f}"
        src = result.rules.sources.get(r["source_id"])
        met = None if r["met"] is None or r["met"] != r["met"] else bool(r["met"])
        total = r["units_total"]
        rows.append(
            {
                "id": r["target_id"],
                "label": r[f"label_{lang}"] or r["target_id"],
                "value_text": _num(r["value"], fmt),
                "min_text": "≥ " + fmt.format(r["min"]),
                "met": met,
                "met_text": _met_text(met, t),
                "units_text": ""
                if total is None or total != total
                else f"{int(r['units_meeting'])} / {int(total)}",
                "source": src.citation if src is not None else r["source_id"],
                "clause": r["clause"],
                "note": r["note"],
                "confidence": r["confidence"],
                "year": "" if r["year"] is None or r["year"] != r["year"] else int(r["year"]),
            }
        )
    return rows


def _met_text(met: bool | None, t: dict[str, str]) -> str:
    return t["unknown"] if met is None else (t["yes"] if met else t["no"])


def _kpis(row: Mapping[str, Any], ths: list[str], t: dict[str, str]) -> list[dict[str, str]]:
    kpis = [{"key": "elderly", "label": t["elderly"], "value": _num(row["elderly"])}]
    for th in ths:
        key = f"coverage_share_{th}min"
        kpis.append(
            {"key": key, "label": t["coverage_within"].format(t=th), "value": _pct(row[key])}
        )
    kpis.append(
        {
            "key": f"elderly_uncovered_{ths[-1]}min",
            "label": t["uncovered_t"].format(t=ths[-1]),
            "value": _num(row.get(f"elderly_uncovered_{ths[-1]}min")),
        }
    )
    kpis.append(
        {
            "key": "elderly_unreachable",
            "label": t["unreachable"],
            "value": _num(row.get("elderly_unreachable")),
        }
    )
    return kpis


# --------------------------------------------------------------------------- index
def index_context(
    result: RunResult,
    language: str | None = None,
    *,
    charts: Mapping[str, Path] | None = None,
    pages: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return the values ``index.html`` shows (plain Python types, unescaped)."""
    ctx = base_context(result, language)
    t, lang, ths = ctx["t"], ctx["code"], ctx["thresholds"]
    cov = result.coverage
    pages = pages if pages is not None else unit_pages(cov.units)
    target_ids = [c.removeprefix("meets_") for c in cov.units.columns if c.startswith("meets_")]
    units = []
    for _, u in cov.units.iterrows():
        units.append(
            {
                "unit_id": str(u["unit_id"]),
                "name": unit_label(u, lang),
                "href": pages.get(str(u["unit_id"]), ""),
                "elderly": _num(u["elderly"]),
                "shares": [
                    (f"coverage_share_{x}min", _pct(u[f"coverage_share_{x}min"])) for x in ths
                ],
                "share_max": float(u[f"coverage_share_{ths[-1]}min"])
                if pd.notna(u[f"coverage_share_{ths[-1]}min"])
                else None,
                "uncovered": _num(u[f"elderly_uncovered_{ths[-1]}min"]),
                "p90": _num(u["travel_time_s_p90"] / 60.0, "{:.1f}"),
                "n_stations": int(u["n_stations"]),
                "meets": [_met_text(_as_bool(u[f"meets_{i}"]), t) for i in target_ids],
            }
        )
    totals = dict(cov.totals)
    kpi_row = {**totals, f"elderly_uncovered_{ths[-1]}min": _uncovered_total(result)}
    ctx.update(
        kpis=[
            *_kpis(kpi_row, ths, t),
            {"key": "n_stations", "label": t["stations"], "value": f"{len(cov.stations):,}"},
            {"key": "n_units", "label": t["units"], "value": f"{len(cov.units):,}"},
        ],
        targets=_target_rows(result, lang, t),
        target_ids=target_ids,
        units=units,
        gaps=_gap_rows(cov.gaps.head(_TOP_GAPS_DISTRICT), pages, t),
        gaps_more=max(len(cov.gaps) - _TOP_GAPS_DISTRICT, 0),
        charts={k: Path(v).name for k, v in (charts or {}).items()},
        siting=_siting_context(result, t, lang, pages),
        compliance=_compliance_context(result, pages, lang),
        annual=_annual_summary(result, t) if result.comparison is not None else None,
        root="",
    )
    return ctx


def _uncovered_total(result: RunResult) -> float:
    th = f"{result.coverage.thresholds_min[-1]:g}"
    return float(result.coverage.units[f"elderly_uncovered_{th}min"].sum())


def _as_bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    return bool(value)


def _reason_text(reason: str, t: Mapping[str, str]) -> str:
    """Return a gap reason of coverage.py in the report language."""
    match = re.fullmatch(r"beyond ([0-9.]+) min", reason)
    if match:
        return t["reason_beyond"].format(t=match.group(1))
    return t["reason_far"] if reason == "far from every road" else reason


def _gap_rows(
    gaps: gpd.GeoDataFrame, pages: Mapping[str, str], t: Mapping[str, str], prefix: str = ""
) -> list[dict[str, Any]]:
    if gaps.empty:
        return []
    points = gaps.geometry.representative_point().to_crs(4326)
    rows = []
    for (_, g), p in zip(gaps.iterrows(), points, strict=True):
        href = pages.get(str(g["unit_id"]), "")
        rows.append(
            {
                "gap_id": g["gap_id"],
                "unit_id": g["unit_id"],
                "href": prefix + href if href else "",
                "reason": _reason_text(str(g["reason"]), t),
                "elderly": _num(g["elderly"]),
                "area": _num(g["area_m2"] / 1e4, "{:.1f}"),
                "cells": _num(g["n_cells"]),
                "location": f"{p.x:.5f}, {p.y:.5f}",
            }
        )
    return rows


def _units_of(layer: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> pd.Series:
    if "unit_id" in layer and layer["unit_id"].notna().all():
        ids: pd.Series = layer["unit_id"].astype(str)
        return ids
    return assign_units(layer.to_crs(units.crs), units[["unit_id", "geometry"]]).astype(str)


def _site_rows(
    sites: gpd.GeoDataFrame, pages: Mapping[str, str], lang: str, prefix: str = ""
) -> list[dict[str, Any]]:
    rows = []
    newly = newly_covered_column(sites)
    for i, s in sites.iterrows():
        uid = str(s.get("unit_id", ""))
        rows.append(
            {
                "rank": s.get("rank", i + 1),
                "site_id": s.get("site_id", ""),
                "kind": _i18n.kind_label(s.get("kind", ""), lang),
                "unit_id": uid,
                "href": prefix + pages[uid] if uid in pages else "",
                "newly": _num(s.get(newly)) if newly else "–",
                "cumulative": _pct(s.get("cumulative_share")),
                "location": f"{s.geometry.x:.5f}, {s.geometry.y:.5f}",
            }
        )
    return rows


def _siting_context(
    result: RunResult, t: dict[str, str], lang: str, pages: Mapping[str, str]
) -> dict[str, Any] | None:
    sites, curve = siting_of(result)
    if sites is None:
        return None
    sites = sites.to_crs(4326)
    th = f"{result.coverage.thresholds_min[-1]:g}"
    before = result.coverage.totals.get(f"coverage_share_{th}min")
    after = sites["cumulative_share"].max() if "cumulative_share" in sites and len(sites) else None
    summary = (
        t["siting_summary"].format(n=len(sites), t=th, before=_pct(before), after=_pct(after))
        if after is not None
        else ""
    )
    return {
        "rows": _site_rows(sites, pages, lang),
        "summary": summary,
        "empty": sites.empty,
        "has_curve": curve is not None,
    }


def _compliance_context(
    result: RunResult, pages: Mapping[str, str], lang: str, prefix: str = ""
) -> dict[str, Any] | None:
    devs = compliance_of(result)
    if devs is None:
        return None
    verdicts = devs.get("verdict", pd.Series(dtype=str)).fillna("UNKNOWN").astype(str).str.upper()
    counts = {v: int((verdicts == v).sum()) for v in ("PASS", "FAIL", "UNKNOWN")}
    units = _units_of(devs, result.coverage.units) if len(devs) else pd.Series(dtype=str)
    rows = []
    for (i, d), v, uid in zip(devs.iterrows(), verdicts, units, strict=True):
        rows.append(
            {
                "dev_id": d.get("dev_id", i),
                "name": d.get("name", ""),
                "verdict": v,
                "unit_id": uid,
                "href": prefix + pages[uid] if uid in pages else "",
                "reasons": reasons_of(d, lang),
                "withheld": _as_bool(d.get("acceptance_withheld")),
            }
        )
    order = {"FAIL": 0, "UNKNOWN": 1, "PASS": 2}
    rows.sort(key=lambda r: (order.get(r["verdict"], 3), str(r["dev_id"])))
    return {"rows": rows, "counts": counts, "empty": devs.empty}


def _annual_summary(result: RunResult, t: dict[str, str]) -> dict[str, Any]:
    comp = result.comparison
    assert comp is not None
    totals = []
    for key, v in comp.totals.items():
        label = (
            t["coverage_within"].format(t=key.removeprefix("coverage_share_").removesuffix("min"))
            if key.startswith("coverage_share_")
            else t["elderly"]
            if key == "elderly"
            else t["stations"]
        )
        share = key.startswith("coverage_share_")
        prev, now = v["prev"], v["this"]
        change = None if prev is None or now is None else now - prev
        totals.append(
            {
                "key": key,
                "label": label,
                "prev": _pct(prev) if share else _num(prev),
                "this": _pct(now) if share else _num(now),
                "change": (_pp(change, t) if share else _num(change, "{:+,.0f}"))
                if change is not None
                else "–",
            }
        )
    return {
        "year": comp.year,
        "previous_year": comp.previous_year,
        "previous_name": comp.previous.record.get("name", ""),
        "previous_path": str(comp.previous.path),
        "totals": totals,
        "n_added": len(comp.stations_added),
        "n_closed": len(comp.stations_closed),
        "notes": [t[n.key].format(**n.params) for n in comp.notes],
    }


# --------------------------------------------------------------------------- unit pages
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
        stations=_unit_stations(result, uid, cache["station_units"], lang),
        siting=_unit_siting(result, u, cache["effect"], t, pages, lang),
        compliance=_unit_compliance(cache["compliance"], uid),
        annual=_unit_annual(result, uid, t),
        map=None,
    )
    if data is not None and assets_dir is not None:
        frag = map_fragment(unit_map(data, uid), assets_url="../assets", assets_dir=assets_dir)
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


# --------------------------------------------------------------------------- annual page
def annual_context(
    result: RunResult, language: str | None = None, *, charts: Mapping[str, Path] | None = None
) -> dict[str, Any]:
    """Return the values of ``annual.html``, the one-page annual comparison."""
    comp = result.comparison
    if comp is None:
        msg = (
            "annual_context needs a run compared with a previous one (run_scenario(previous=...))."
        )
        raise InputError(msg)
    ctx = base_context(result, language)
    t, lang = ctx["t"], ctx["code"]
    pages = unit_pages(result.coverage.units)
    summary = _annual_summary(result, t)
    th = f"{comp.thresholds_min[-1]:g}" if comp.thresholds_min else None
    change = f"coverage_share_{th}min_change" if th else None
    both = comp.units[comp.units["status"] == "both"]
    improved = declined = pd.DataFrame()
    if change and change in both:
        ordered = both.sort_values([change, "unit_id"], ascending=[False, True], kind="stable")
        improved = ordered[ordered[change] > _CHANGE_EPS].head(_ANNUAL_LIST // 2 + 1)
        declined = ordered[ordered[change] < -_CHANGE_EPS].iloc[::-1].head(_ANNUAL_LIST // 2 + 1)
    ctx.update(
        root="",
        compact=True,
        annual=summary,
        title_annual=t["annual_title"].format(year=comp.year)
        if comp.year
        else t["annual_title_noyear"],
        threshold=th,
        targets=[_annual_target(r, lang, t) for _, r in comp.targets.iterrows()],
        improved=[_annual_unit(r, th, pages, t) for _, r in improved.iterrows()],
        declined=[_annual_unit(r, th, pages, t) for _, r in declined.iterrows()],
        added=_station_list(comp.stations_added, lang),
        closed=_station_list(comp.stations_closed, lang),
        added_more=max(len(comp.stations_added) - _ANNUAL_LIST, 0),
        closed_more=max(len(comp.stations_closed) - _ANNUAL_LIST, 0),
        changed=len(comp.stations_changed),
        charts={k: Path(v).name for k, v in (charts or {}).items()},
    )
    return ctx


def _annual_target(r: pd.Series, lang: str, t: dict[str, str]) -> dict[str, Any]:
    fmt = "{:.1%}" if r["measure"] in ("spatial_coverage", "admin_coverage") else "{:.1f}"
    met, met_prev = _as_bool(r["met"]), _as_bool(_bool_text(r.get("met_prev")))
    return {
        "label": r[f"label_{lang}"] or r["target_id"],
        "min_text": "≥ " + fmt.format(r["min"]),
        "year": "" if r["year"] is None or r["year"] != r["year"] else int(r["year"]),
        "prev": _num(r.get("value_prev"), fmt),
        "this": _num(r["value"], fmt),
        "met_prev": _met_text(met_prev, t),
        "met": _met_text(met, t),
        "status": r["status"],
        "status_text": t[f"status_{r['status']}"],
        "due": t[r["due"]] if r["due"] else "",
        "confidence": r["confidence"],
    }


def _bool_text(value: Any) -> Any:
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return value


def _annual_unit(
    r: pd.Series, th: str | None, pages: Mapping[str, str], t: dict[str, str]
) -> dict[str, Any]:
    col = f"coverage_share_{th}min"
    return {
        "unit_id": r["unit_id"],
        "name": r["name"] if isinstance(r["name"], str) else r["unit_id"],
        "href": pages.get(str(r["unit_id"]), ""),
        "prev": _pct(r.get(f"{col}_prev")),
        "this": _pct(r.get(col)),
        "change": _pp(r.get(f"{col}_change"), t),
        "stations": f"{_num(r.get('n_stations_prev'))} → {_num(r.get('n_stations'))}",
    }


def _station_list(frame: pd.DataFrame, lang: str) -> list[dict[str, str]]:
    return [
        {
            "station_id": str(s["station_id"]),
            "name": str(s.get("name", "")),
            "kind": _i18n.kind_label(s.get("kind", ""), lang),
            "unit_id": "" if pd.isna(s.get("unit_id")) else str(s.get("unit_id")),
        }
        for _, s in frame.head(_ANNUAL_LIST).iterrows()
    ]


# --------------------------------------------------------------------------- writing
def _render(template: str, ctx: Mapping[str, Any]) -> str:
    return _env().get_template(template).render(**ctx)


def write_index(
    result: RunResult,
    out_dir: Path,
    *,
    charts: Mapping[str, Path] | None = None,
    pages: Mapping[str, str] | None = None,
) -> Path:
    """Render ``index.html`` of a run folder and return its path."""
    ctx = index_context(result, charts=charts, pages=pages)
    path = out_dir / "index.html"
    path.write_text(_render("index.html.j2", ctx), encoding="utf-8")
    return path


def write_unit_pages(
    result: RunResult, out_dir: Path, *, data: MapData | None = None
) -> list[Path]:
    """Render one gap report per unit into ``out_dir/units`` (maps share ``assets/``)."""
    pages = unit_pages(result.coverage.units)
    data = data if data is not None else map_data(result, links=pages)
    (out_dir / "units").mkdir(parents=True, exist_ok=True)
    assets = out_dir / "assets"
    cache: dict[str, Any] = {}
    template = _env().get_template("unit.html.j2")
    written = []
    for uid, page in tqdm(pages.items(), desc="unit pages", disable=not settings.progress):
        ctx = unit_context(result, uid, data=data, pages=pages, cache=cache, assets_dir=assets)
        path = out_dir / page
        path.write_text(template.render(**ctx), encoding="utf-8")
        written.append(path)
    return written


def write_annual(
    result: RunResult, out_dir: Path, *, charts: Mapping[str, Path] | None = None
) -> Path:
    """Render ``annual.html`` (the annual comparison) and return its path."""
    path = out_dir / "annual.html"
    path.write_text(
        _render("annual.html.j2", annual_context(result, charts=charts)), encoding="utf-8"
    )
    return path


def write_report(
    result: RunResult,
    out_dir: Path,
    *,
    data: MapData | None = None,
    charts: Mapping[str, Path] | None = None,
) -> list[Path]:
    """Render every page of a run folder: index, unit pages and the annual page."""
    pages = unit_pages(result.coverage.units)
    out = [write_index(result, out_dir, charts=charts, pages=pages)]
    out += write_unit_pages(result, out_dir, data=data)
    if result.comparison is not None:
        out.append(write_annual(result, out_dir, charts=charts))
    return out
