"""What every page of a run folder shows, and the rows that several pages share.

:func:`base_context` holds the title, the rule set (sources, confidence, values flagged
R), the parameters, the data attribution and what was excluded; :func:`unit_pages` names
each unit's page. The helpers format numbers, shares and changes for the report language
and build the rows of targets, key figures, gaps, proposed sites and developments, and
the annual summary, that the index, unit and annual pages place.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

import geopandas as gpd
import pandas as pd

import planning.report._i18n as _i18n
from planning import __version__
from planning.population import assign_units
from planning.report.layers import (
    ATTRIBUTION,
    compliance_of,
    gap_reason_text,
    newly_covered_column,
    reasons_of,
)
from planning.results import RunResult

_SAFE_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def strings(language: str) -> dict[str, str]:
    """Return the report strings for `language` (``zh``/``zh-CN`` or ``en``).

    Raises
    ------
    InputError
        When no report template exists for the language.

    """
    return _i18n.strings(language)


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
            "area_grid": cov.area_grid,
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


def _as_bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    return bool(value)


def _gap_rows(
    gaps: gpd.GeoDataFrame, pages: Mapping[str, str], t: Mapping[str, str], prefix: str = ""
) -> list[dict[str, Any]]:
    """Return the rows of a "largest uncovered areas" table, with each one's best spot."""
    if gaps.empty:
        return []
    points = gaps.geometry.representative_point().to_crs(4326)
    rows = []
    for (_, g), p in zip(gaps.iterrows(), points, strict=True):
        href = pages.get(str(g["unit_id"]), "")
        lon, lat = g.get("best_spot_lon"), g.get("best_spot_lat")
        spot = f"{lon:.5f}, {lat:.5f}" if pd.notna(lon) and pd.notna(lat) else "–"
        rows.append(
            {
                "gap_id": g["gap_id"],
                "unit_id": g["unit_id"],
                "href": prefix + href if href else "",
                "reason": gap_reason_text(str(g["reason"]), t),
                "elderly": _num(g["elderly"]),
                "area": _num(g["area_ha"], "{:.1f}"),
                "cells": _num(g["n_cells"]),
                "walk": (
                    f"{_num(g['walk_min_mean'], '{:.1f}')} / {_num(g['walk_min_max'], '{:.1f}')}"
                ),
                "spot_elderly": _num(g.get("best_spot_elderly")),
                "spot": spot,
                "closed_by": str(g.get("closed_by", "") or "") or "–",
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
