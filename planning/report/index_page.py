"""The values ``index.html`` shows: the district at a glance, priorities first.

Key figures; the priorities (the units furthest from the coverage target, then the
largest gap areas with the best spot to close each); the targets of the rule set;
coverage by unit, in order of priority, with a link to each unit's page; the largest
gaps; and the proposed sites, development checks and annual summary when the run has
them.

A unit's distance from the target is measured in older people: ``to_target`` =
max(0, target share × older people − older people covered within the target's
threshold), the number who would have to be covered for the unit to meet it, with the
shortfall of the share in percentage points beside it. The target is the rule set's
first ``spatial_coverage`` target (at the largest threshold when several); without one,
every older person within the largest threshold (share 100 %).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

import planning.report._i18n as _i18n
from planning.report.context import (
    _annual_summary,
    _as_bool,
    _compliance_context,
    _gap_rows,
    _kpis,
    _met_text,
    _num,
    _pct,
    _site_rows,
    _target_rows,
    base_context,
    unit_pages,
)
from planning.report.layers import siting_of, unit_label
from planning.results import RunResult

_TOP_GAPS_DISTRICT = 20
#: Units and gap areas listed under the priorities.
_TOP_PRIORITIES = 10


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
    target = coverage_target(result)
    order = priority_order(cov.units, target)
    units = [
        _unit_row(u, order.loc[i], ths, target_ids, pages, lang, t)
        for i, u in cov.units.loc[order.index].iterrows()
    ]
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
        target_headers=[_target_header(result, i, lang) for i in target_ids],
        target=target,
        units=units,
        priority_units=[u for u in units if u["to_target_v"] > 0][:_TOP_PRIORITIES],
        priority_gaps=_priority_gaps(cov.gaps, pages, t),
        priority_spots="best_spot_lon" in cov.gaps.columns,
        gaps=_gap_rows(cov.gaps.head(_TOP_GAPS_DISTRICT), pages, t),
        gaps_more=max(len(cov.gaps) - _TOP_GAPS_DISTRICT, 0),
        gaps_closed="closed_by" in cov.gaps.columns,
        charts={k: Path(v).name for k, v in (charts or {}).items()},
        siting=_siting_context(result, t, lang, pages),
        compliance=_compliance_context(result, pages, lang),
        annual=_annual_summary(result, t) if result.comparison is not None else None,
        root="",
    )
    return ctx


def coverage_target(result: RunResult) -> dict[str, Any]:
    """Return the coverage target units are ranked by: id, label, threshold and share.

    The rule set's first ``spatial_coverage`` target at the run's largest threshold,
    else its first ``spatial_coverage`` target at a threshold of the run, else every
    older person within the largest threshold (``min`` 1.0, no id).
    """
    ths = [f"{x:g}" for x in result.coverage.thresholds_min]
    found = [
        r
        for _, r in result.coverage.targets.iterrows()
        if r["measure"] == "spatial_coverage" and f"{float(r['threshold_min']):g}" in ths
    ]
    found.sort(key=lambda r: f"{float(r['threshold_min']):g}" != ths[-1])
    lang = _i18n.lang_code(str(result.scenario.data.get("language", "zh")))
    if not found:
        return {"id": "", "label": "", "threshold": ths[-1], "min": 1.0, "min_text": "100%"}
    r = found[0]
    return {
        "id": str(r["target_id"]),
        "label": str(r[f"label_{lang}"] or r["target_id"]),
        "threshold": f"{float(r['threshold_min']):g}",
        "min": float(r["min"]),
        "min_text": _pct(r["min"]),
    }


def priority_order(units: pd.DataFrame, target: Mapping[str, Any]) -> pd.DataFrame:
    """Return the units' distance from `target`, furthest first.

    Returns
    -------
    pandas.DataFrame
        Indexed like `units`, in priority order: ``to_target`` (older people to cover
        to meet the target, ≥ 0), ``gap_share`` (target share minus the unit's share,
        ≥ 0; NaN for a unit without older people) and ``share``. Ties: the lower share
        first, then ``unit_id``.

    """
    th, share_min = target["threshold"], float(target["min"])
    elderly = units["elderly"].astype(float)
    covered = units[f"elderly_covered_{th}min"].astype(float)
    share = units[f"coverage_share_{th}min"].astype(float)
    table = pd.DataFrame(
        {
            "to_target": (share_min * elderly - covered).clip(lower=0.0),
            "gap_share": (share_min - share).clip(lower=0.0),
            "share": share,
            "unit_id": units["unit_id"].astype(str),
        },
        index=units.index,
    )
    table = table.sort_values(
        ["to_target", "share", "unit_id"], ascending=[False, True, True], na_position="last"
    )
    return table.drop(columns="unit_id")


def _unit_row(
    u: pd.Series,
    priority: pd.Series,
    ths: list[str],
    target_ids: list[str],
    pages: Mapping[str, str],
    lang: str,
    t: dict[str, str],
) -> dict[str, Any]:
    to_target, gap = float(priority["to_target"]), float(priority["gap_share"])
    last = u[f"coverage_share_{ths[-1]}min"]
    return {
        "unit_id": str(u["unit_id"]),
        "name": unit_label({str(k): v for k, v in u.items()}, lang),
        "href": pages.get(str(u["unit_id"]), ""),
        "elderly": _num(u["elderly"]),
        "elderly_v": _sort_value(u["elderly"]),
        "shares": [
            (
                f"coverage_share_{x}min",
                _pct(u[f"coverage_share_{x}min"]),
                _sort_value(u[f"coverage_share_{x}min"]),
            )
            for x in ths
        ],
        "share_max": float(last) if pd.notna(last) else None,
        "uncovered": _num(u[f"elderly_uncovered_{ths[-1]}min"]),
        "uncovered_v": _sort_value(u[f"elderly_uncovered_{ths[-1]}min"]),
        "to_target": _num(to_target),
        "to_target_v": to_target,
        "to_target_s": _sort_value(to_target),
        "gap": _num(gap * 100.0, "{:.1f}"),
        "gap_v": _sort_value(gap),
        "p90": _num(u["travel_time_s_p90"] / 60.0, "{:.1f}"),
        "p90_v": _sort_value(u["travel_time_s_p90"] / 60.0),
        "n_stations": int(u["n_stations"]),
        "meets": [_met_text(_as_bool(u[f"meets_{i}"]), t) for i in target_ids],
    }


def _sort_value(value: Any) -> str:
    """Return a number as the plain text the sorting script reads (empty when missing)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return ""
    return f"{x:.6g}" if math.isfinite(x) else ""


def _target_header(result: RunResult, target_id: str, lang: str) -> dict[str, str]:
    """Return the short name of a target (its label before a colon) and the full label."""
    rows = result.coverage.targets[result.coverage.targets["target_id"] == target_id]
    label = str(rows.iloc[0][f"label_{lang}"] or target_id) if len(rows) else target_id
    short = re.split(r"[：:（(]", label, maxsplit=1)[0].strip() or label
    return {"id": target_id, "short": short, "label": label}


def _priority_gaps(
    gaps: pd.DataFrame, pages: Mapping[str, str], t: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Return the largest gap areas, each with its best spot's id (when the table has one)."""
    if gaps.empty:
        return []
    ranked = gaps.sort_values(["elderly", "gap_id"], ascending=[False, True], kind="stable")
    top = ranked.head(_TOP_PRIORITIES)
    rows = _gap_rows(top, pages, t)
    ids = top["best_spot_id"] if "best_spot_id" in top else pd.Series("", index=top.index)
    for row, sid in zip(rows, ids, strict=True):
        row["spot_id"] = str(sid) if pd.notna(sid) and str(sid) else "–"
    return rows


def _uncovered_total(result: RunResult) -> float:
    th = f"{result.coverage.thresholds_min[-1]:g}"
    return float(result.coverage.units[f"elderly_uncovered_{th}min"].sum())


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
