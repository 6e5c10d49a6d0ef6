"""The values ``index.html`` shows: the district at a glance.

Key figures, the targets of the rule set, coverage by unit with a link to each unit's
page, the largest gaps, and the proposed sites, development checks and annual summary
when the run has them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

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
        gaps_closed="closed_by" in cov.gaps.columns,
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
