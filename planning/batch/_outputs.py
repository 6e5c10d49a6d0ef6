"""The batch folder's own files: ``summary.csv``, ``summary.xlsx``, ``map.html``, ``index.html``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planning import __version__
from planning._writing import write_csv
from planning.batch._summary import LABELS, district_row, outline, summary_table
from planning.batch._task import DONE, FAILED, SKIPPED
from planning.report import lang_code
from planning.report.context import _met_text, _num, _pct, _today, strings
from planning.report.export import column_label
from planning.report.layers import ATTRIBUTION
from planning.report.overview import write_districts_map, write_overview


def batch_language(records: list[dict[str, Any]], language: str | None) -> str:
    """Return the batch pages' language: `language`, else the scenarios' most common one."""
    if language:
        return lang_code(language)
    langs = Counter(lang_code(str(r.get("language") or "zh")) for r in records)
    return sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if langs else "zh"


def write_outputs(
    records: list[dict[str, Any]],
    out: Path,
    *,
    language: str | None,
    run_info: dict[str, Any],
) -> pd.DataFrame:
    """Write the summary tables, the map and the page of a batch; return the summary.

    `run_info` holds ``scheduler`` (a description), ``dashboard`` (a link or None),
    ``n_workers`` and ``wall_s``, shown at the foot of the page.
    """
    lang = batch_language(records, language)
    rows, targets = [], []
    for rec in records:
        try:
            row, tg = district_row(rec, out, lang)
        except (OSError, ValueError, KeyError) as exc:
            rec.update(status=FAILED, error=_unreadable(out, rec, exc))
            row, tg = district_row(rec, out, lang)
        rows.append(row)
        targets += tg
    summary = summary_table(rows)
    write_csv(summary, out / "summary.csv", float_format="%.10g")
    target_table = _targets_table(targets, lang)
    _write_workbook(summary, target_table, out / "summary.xlsx", lang)
    thresholds = [str(c).removeprefix("coverage_share_").removesuffix("min") for c in summary]
    thresholds = [t for t in thresholds if t.replace(".", "").isdigit()]
    has_map = _write_map(summary, records, out, thresholds, lang)
    ctx = _page_context(summary, target_table, records, lang, thresholds, has_map)
    ctx.update(
        scheduler=run_info["scheduler"],
        dashboard=run_info.get("dashboard"),
        n_workers=run_info["n_workers"],
        wall=f"{run_info['wall_s']:.1f} s",
    )
    write_overview(ctx, out)
    return summary


def _unreadable(out: Path, rec: dict[str, Any], exc: Exception) -> str:
    return (
        f"error: the run folder {out / str(rec.get('folder'))} cannot be read ({exc}); run "
        "the batch again with --force to redo this district."
    )


def _targets_table(targets: list[dict[str, Any]], lang: str) -> pd.DataFrame:
    cols = [
        "district",
        "target_id",
        f"label_{lang}",
        "measure",
        "threshold_min",
        "year",
        "min",
        "value",
        "met",
        "units_meeting",
        "units_total",
        "source_id",
        "confidence",
    ]
    table = pd.DataFrame(targets)
    if table.empty:
        return pd.DataFrame(columns=cols)
    return table[[c for c in cols if c in table]]


def _write_workbook(summary: pd.DataFrame, targets: pd.DataFrame, path: Path, lang: str) -> None:
    pick = 0 if lang == "zh" else 1

    def header(col: str) -> str:
        return LABELS[col][pick] if col in LABELS else column_label(col, lang)

    columns = pd.DataFrame(
        [
            {"sheet": sheet, "header": header(c), "column": c}
            for sheet, frame in (("summary", summary), ("targets", targets))
            for c in frame.columns
        ]
    )
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        summary.rename(columns=header).to_excel(xw, sheet_name="summary", index=False)
        targets.rename(columns=header).to_excel(xw, sheet_name="targets", index=False)
        columns.to_excel(xw, sheet_name="columns", index=False)
        for ws in xw.book.worksheets:
            ws.freeze_panes = "B2"


def _write_map(
    summary: pd.DataFrame,
    records: list[dict[str, Any]],
    out: Path,
    thresholds: list[str],
    lang: str,
) -> bool:
    rows = []
    for rec, (_, row) in zip(records, summary.iterrows(), strict=True):
        if rec["status"] == FAILED or not thresholds:
            continue
        shape = outline(out / str(rec["folder"]))
        if shape is None:
            continue
        rows.append(
            {
                "name": rec["name"],
                "title": row["title"],
                "href": f"{rec['folder']}/index.html",
                **{f"coverage_share_{t}min": row[f"coverage_share_{t}min"] for t in thresholds},
                "geometry": shape,
            }
        )
    (out / "map.html").unlink(missing_ok=True)
    if not rows:
        return False
    districts = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
    districts.to_file(out / "districts.gpkg", layer="districts", driver="GPKG")
    write_districts_map(districts, thresholds, out, language=lang)
    return True


def _weighted(summary: pd.DataFrame, col: str) -> float | None:
    ok = summary[summary["status"] != FAILED]
    if ok.empty or col not in ok:
        return None
    elderly = ok["elderly"].astype(float)
    covered = ok[col.replace("coverage_share_", "elderly_covered_")].astype(float)
    return float(covered.sum() / elderly.sum()) if elderly.sum() > 0 else None


def _page_context(
    summary: pd.DataFrame,
    targets: pd.DataFrame,
    records: list[dict[str, Any]],
    lang: str,
    thresholds: list[str],
    has_map: bool,
) -> dict[str, Any]:
    t = strings(lang)
    counts = {s: sum(r["status"] == s for r in records) for s in (DONE, SKIPPED, FAILED)}
    ok = summary[summary["status"] != FAILED]
    kpis = [
        {"key": "n_districts", "label": t["batch_n_districts"], "value": f"{len(records):,}"},
        {"key": "n_failed", "label": t["batch_n_failed"], "value": f"{counts[FAILED]:,}"},
        {
            "key": "elderly",
            "label": t["elderly"],
            "value": _num(ok["elderly"].sum() if "elderly" in ok else None),
        },
    ] + [
        {
            "key": f"coverage_share_{th}min",
            "label": t["coverage_within"].format(t=th),
            "value": _pct(_weighted(summary, f"coverage_share_{th}min")),
        }
        for th in thresholds
    ]
    return {
        "lang": "zh-CN" if lang == "zh" else lang,
        "t": t,
        "title": t["batch_title"],
        "today": _today(),
        "version": __version__,
        "n_districts": len(records),
        "kpis": kpis,
        "thresholds": thresholds or ["15"],
        "districts": [_district_cells(row, t, thresholds) for _, row in summary.iterrows()],
        "failures": [
            {"name": r["name"], "scenario": r["scenario"], "error": r.get("error") or ""}
            for r in records
            if r["status"] == FAILED
        ],
        **_target_matrix(targets, summary, lang, t),
        "has_map": has_map,
        "counts": counts,
        "attribution": [t["attribution_osm"], t["attribution_worldpop"], t["attribution_leaflet"]],
        "attribution_en": ATTRIBUTION,
    }


def _present(row: pd.Series, col: str) -> bool:
    return col in row and row[col] is not None and not pd.isna(row[col])


def _district_cells(row: pd.Series, t: dict[str, str], thresholds: list[str]) -> dict[str, Any]:
    status = str(row["status"])
    failed = status == FAILED
    t_max = thresholds[-1] if thresholds else "15"
    gap = "–"
    if _present(row, "largest_gap_elderly") and row["n_gaps"]:
        gap = f"{_num(row['largest_gap_elderly'])} ({row['largest_gap_unit']})"
    sites = "–"
    if _present(row, "sites_proposed"):
        after = row.get(f"coverage_share_{t_max}min_with_sites")
        sites = f"{int(row['sites_proposed'])} ({_pct(after)})"
    verdicts = "–"
    if _present(row, "developments"):
        verdicts = " / ".join(
            str(int(row[f"developments_{k}"])) for k in ("pass", "fail", "unknown")
        )
    targets = "–"
    if _present(row, "targets_total"):
        targets = f"{int(row['targets_met'])} / {int(row['targets_total'])}"
    return {
        "name": str(row["district"]),
        "title": str(row["title"]),
        "href": None if failed or not row.get("folder") else f"{row['folder']}/index.html",
        "status": status,
        "status_label": t.get(f"batch_status_{status}", status),
        "elderly": _num(row.get("elderly")),
        "shares": [
            (f"coverage_share_{th}min", _pct(row.get(f"coverage_share_{th}min")))
            for th in thresholds
        ],
        "uncovered": _num(row.get(f"elderly_uncovered_{t_max}min")),
        "targets": targets,
        "gap": gap,
        "sites": sites,
        "verdicts": verdicts,
    }


def _target_matrix(
    targets: pd.DataFrame, summary: pd.DataFrame, lang: str, t: dict[str, str]
) -> dict[str, Any]:
    if targets.empty:
        return {"targets": [], "target_districts": []}
    names = [str(d) for d in summary.loc[summary["status"] != FAILED, "district"]]
    rows = []
    for tid, group in targets.groupby("target_id", sort=False):
        by = {str(r["district"]): r for _, r in group.iterrows()}
        cells = []
        for name in names:
            r = by.get(name)
            met = None if r is None else r.get("met")
            value = "–" if r is None else _value(r)
            mark = _met_text(None if met is None or pd.isna(met) else bool(met), t)
            cells.append(f"{mark} ({value})")
        label = group.iloc[0].get(f"label_{lang}", tid)
        rows.append({"target_id": str(tid), "label": str(label), "cells": cells})
    return {"targets": rows, "target_districts": names}


def _value(r: pd.Series) -> str:
    value = r.get("value")
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return _pct(value) if r.get("measure") != "capacity_per_1000" else _num(value, "{:.1f}")
