"""The values of ``annual.html``: one printable page of what changed since last year.

Totals this year and last, the targets (met or not, due or overdue), the units whose
coverage changed most, and the stations added and closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

import planning.report._i18n as _i18n
from planning._errors import InputError
from planning.report.context import (
    _annual_summary,
    _as_bool,
    _met_text,
    _num,
    _pct,
    _pp,
    base_context,
    unit_pages,
)
from planning.results import RunResult

_ANNUAL_LIST = 10
#: Changes in a share smaller than this (0.05 percentage points) count as no change: the
#: previous run's CSV holds 6 significant digits.
_CHANGE_EPS = 5e-4


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
