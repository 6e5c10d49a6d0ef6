"""Tables and layers of a run for colleagues and GIS: Excel workbook and GeoPackage.

``coverage.xlsx`` has one sheet per table (units, stations, gap areas, siting, siting
curve, compliance, targets, excluded inputs, and the annual changes when a previous run
was compared), shown in the report language by :mod:`planning.report._sheets`: sheet
names, headers with the GLOSSARY.md terms, codes and recorded phrases translated,
walking times in minutes, shares as percentages and the gap to each target; a
``columns`` sheet maps every header to its identifier and every code shown to its text.
``results.gpkg`` holds every layer (units, stations, service areas, gap areas and their
best spots, demand, siting, developments) in the analysis CRS, ready for QGIS or ArcGIS.
Every cell from data is text (a name such as ``=HYPERLINK(...)`` stays a name), and both
files carry a fixed date instead of the time of writing, so that the same inputs give the
same bytes.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

import planning.report._i18n as _i18n
from planning._writing import workbook_writer, write_gpkg
from planning.report._sheets import (
    code_rows,
    is_share,
    row_is_share,
    visible_sheet,
    with_gap_to_target,
)
from planning.report.layers import compliance_of, reasons_text, siting_of
from planning.results import RunResult

log = logging.getLogger(__name__)

#: Column identifier → (Chinese, English) header. ``{t}`` is a threshold in minutes.
_LABELS: dict[str, tuple[str, str]] = {
    "unit_id": ("单元编号", "Unit ID"),
    "name": ("名称", "Name"),
    "name_en": ("英文名称", "English name"),
    "district_id": ("区编号", "District ID"),
    "level": ("层级", "Level"),
    "area_km2": ("面积（平方公里）", "Area (km²)"),
    "population": ("常住人口", "Resident population"),
    "elderly": ("老年人口（60岁及以上）", "Older people (60+)"),
    "elderly_unreachable": ("远离道路的老年人口", "Older people far from every road"),
    "elderly_no_station": ("无可达设施的老年人口", "Older people with no station reachable"),
    "elderly_covered_{t}min": ("{t}分钟内覆盖的老年人口", "Older people covered within {t} min"),
    "elderly_uncovered_{t}min": (
        "{t}分钟未覆盖的老年人口",
        "Older people not covered within {t} min",
    ),
    "coverage_share_{t}min": ("{t}分钟覆盖率", "Coverage within {t} min"),
    "coverage_share_{t}min_prev": ("上一年度{t}分钟覆盖率", "Coverage within {t} min last year"),
    "coverage_share_{t}min_change": ("{t}分钟覆盖率变化", "Change in coverage within {t} min"),
    "travel_time_s_mean": ("平均步行时间（秒）", "Mean walking time (s)"),
    "travel_time_s_p90": ("90%分位步行时间（秒）", "90th percentile walking time (s)"),
    "travel_time_min_mean": ("平均步行时间（分钟）", "Mean walking time (min)"),
    "travel_time_min_p90": ("90%分位步行时间（分钟）", "90th percentile walking time (min)"),
    "gap_to_target_{t}min": ("距{t}分钟覆盖目标的差距", "Gap to the {t}-min coverage target"),
    "elderly_to_target_{t}min": (
        "达到{t}分钟覆盖目标还需覆盖的老年人口",
        "Older people still to cover for the {t}-min target",
    ),
    "marginal_gain": ("边际新增覆盖老年人口", "Marginal gain (older people)"),
    "gap": ("最优性差距", "Optimality gap"),
    "best_bound": ("最优界", "Best bound"),
    "solve_time_s": ("求解时间（秒）", "Solve time (s)"),
    "selected_ids": ("选中的候选点位", "Selected candidate sites"),
    "label_zh": ("目标", "Target"),
    "label_en": ("目标", "Target"),
    "clause_zh": ("条款", "Clause"),
    "clause_en": ("条款", "Clause"),
    "note_zh": ("说明", "Note"),
    "note_en": ("说明", "Note"),
    "reasons_zh": ("原因", "Reasons"),
    "reasons_en": ("原因", "Reasons"),
    "issues_zh": ("数据问题", "Data issues"),
    "issues_en": ("数据问题", "Data issues"),
    "action_zh": ("处理意见", "Action"),
    "action_en": ("处理意见", "Action"),
    "change": ("变化", "Change"),
    "row": ("行号", "Row"),
    "project_id": ("所属项目", "Project"),
    "phase": ("分期", "Phase"),
    "area": ("面积", "Floor area"),
    "site": ("单处面积", "Single-site area"),
    "land": ("用地", "Land"),
    "timing": ("四同步", "Four synchronizations"),
    "location": ("位置", "Location"),
    "reach": ("步行可达", "Walking reach"),
    "acceptance_withheld": ("不得组织竣工验收", "Completion acceptance withheld"),
    "required_area_m2": ("应配建面积（平方米）", "Required floor area (m²)"),
    "area_shortfall_m2": ("面积缺口（平方米）", "Floor-area shortfall (m²)"),
    "n_sites": ("设施处数", "Sites"),
    "smallest_site_m2": ("最小单处面积（平方米）", "Smallest site (m²)"),
    "site_shortfall_m2": ("单处面积缺口（平方米）", "Single-site shortfall (m²)"),
    "land_shortfall_m2": ("用地缺口（平方米）", "Land shortfall (m²)"),
    "timing_late_days": ("滞后天数", "Days late"),
    "location_outside_m": ("设施在项目外距离（米）", "Facility outside the development (m)"),
    "reach_time_min": ("最远住户步行时间（分钟）", "Longest walk from a home (min)"),
    "reach_excess_min": ("超出时间（分钟）", "Walk over the limit (min)"),
    "reach_straight_m": ("最远住户直线距离（米）", "Farthest home, straight line (m)"),
    "population_prev": ("上一年度常住人口", "Resident population last year"),
    "capacity_per_1000_2sfca": (
        "每千名老年人床位数（两步移动搜索法）",
        "Places per 1,000 older people (2SFCA)",
    ),
    "n_stations": ("设施数", "Stations"),
    "n_stations_prev": ("上一年度设施数", "Stations last year"),
    "elderly_prev": ("上一年度老年人口", "Older people last year"),
    "capacity": ("床位/服务容量", "Capacity (places)"),
    "capacity_prev": ("上一年度床位/服务容量", "Capacity last year"),
    "capacity_per_1000": ("每千名老年人床位数", "Places per 1,000 older people"),
    "capacity_per_1000_catchment": (
        "服务范围内每千名老年人床位数",
        "Places per 1,000 older people in catchment",
    ),
    "station_id": ("设施编号", "Station ID"),
    "kind": ("设施类型", "Kind"),
    "kind_prev": ("上一年度设施类型", "Kind last year"),
    "area_m2": ("面积（平方米）", "Area (m²)"),
    "status": ("状态", "Status"),
    "source": ("来源", "Source"),
    "population_catchment": (
        "服务范围常住人口（最近设施）",
        "Residents for whom it is the nearest",
    ),
    "elderly_catchment": (
        "服务范围老年人口（最近设施）",
        "Older people for whom it is the nearest",
    ),
    "elderly_within_{t}min": ("{t}分钟内老年人口", "Older people within {t} min"),
    "snap_dist_m": ("到路网的接驳距离（米）", "Walk to the network (m)"),
    "snap_status": ("接驳状态", "Snapping status"),
    "gap_id": ("缺口编号", "Gap ID"),
    "reason": ("原因", "Reason"),
    "n_cells": ("格网数", "Cells"),
    "rank_in_unit": ("单元内排序", "Rank in unit"),
    "area_ha": ("面积（公顷）", "Area (ha)"),
    "walk_min_mean": ("到最近设施平均步行时间（分钟）", "Mean walk to nearest station (min)"),
    "walk_min_max": ("到最近设施最长步行时间（分钟）", "Longest walk to nearest station (min)"),
    "beyond_m_mean": ("超出阈值的平均步行距离（米）", "Mean walk beyond the threshold (m)"),
    "beyond_m_max": ("超出阈值的最长步行距离（米）", "Longest walk beyond the threshold (m)"),
    "best_spot_id": ("最佳补点编号", "Best spot ID"),
    "best_spot_elderly": ("最佳补点可覆盖老年人口", "Older people the best spot would cover"),
    "best_spot_lon": ("最佳补点经度", "Best spot longitude"),
    "best_spot_lat": ("最佳补点纬度", "Best spot latitude"),
    "closed_by": ("可补上此片区的拟建点位", "Proposed sites that reach it"),
    "closed_elderly": ("拟建点位可覆盖的老年人口", "Older people the proposed sites reach"),
    "closed_share": ("拟建点位可覆盖的比例", "Share the proposed sites reach"),
    "spot_id": ("补点编号", "Spot ID"),
    "spot_kind": ("补点类型", "Spot kind"),
    "gap_elderly": ("片区老年人口", "Older people of the gap"),
    "elderly_covered": ("可覆盖老年人口", "Older people the spot would cover"),
    "share_covered": ("可覆盖比例", "Share covered"),
    "elderly_covered_all_gaps": ("可覆盖各片区老年人口合计", "Older people covered, all gaps"),
    "rank": ("序号", "Rank"),
    "site_id": ("候选点位编号", "Candidate site ID"),
    "lon": ("经度", "Longitude"),
    "lat": ("纬度", "Latitude"),
    "elderly_newly_covered": ("新增覆盖老年人口", "Older people newly covered"),
    "cumulative_share": ("累计覆盖率", "Cumulative coverage"),
    "dev_id": ("项目编号", "Development ID"),
    "verdict": ("结论", "Verdict"),
    "reasons": ("原因", "Reasons"),
    "households": ("户数", "Households"),
    "facility_area_m2": ("配建养老服务设施面积（平方米）", "Facility floor area (m²)"),
    "area_kind": ("小区类型", "Area kind"),
    "target_id": ("目标编号", "Target ID"),
    "measure": ("指标", "Measure"),
    "threshold_min": ("时间阈值（分钟）", "Threshold (min)"),
    "kinds": ("设施类型", "Kinds"),
    "year": ("目标年份", "Target year"),
    "min": ("要求", "Required"),
    "value": ("现状值", "Value"),
    "value_prev": ("上一年度值", "Value last year"),
    "met": ("是否达标", "Met"),
    "met_prev": ("上一年度是否达标", "Met last year"),
    "units_meeting": ("达标单元数", "Units meeting"),
    "units_meeting_prev": ("上一年度达标单元数", "Units meeting last year"),
    "units_total": ("单元总数", "Units"),
    "units_total_prev": ("上一年度单元总数", "Units last year"),
    "source_id": ("依据编号", "Source ID"),
    "clause": ("条款", "Clause"),
    "confidence": ("可信度", "Confidence"),
    "note": ("说明", "Note"),
    "due": ("到期情况", "Due"),
    "p": ("新增点位数", "Sites added"),
    "covered": ("覆盖老年人口", "Older people covered"),
    "share": ("覆盖率", "Coverage"),
    "item": ("对象", "Item"),
    "count": ("数量", "Count"),
    "ids": ("编号", "IDs"),
}
#: Sheet → (Chinese, English) tab name.
_SHEETS: dict[str, tuple[str, str]] = {
    "units": ("分单元覆盖", "units"),
    "stations": ("设施", "stations"),
    "gaps": ("缺口", "gaps"),
    "siting": ("选址建议", "siting"),
    "siting_curve": ("覆盖曲线", "siting curve"),
    "compliance": ("四同步检查", "compliance"),
    "targets": ("规则集目标", "targets"),
    "excluded": ("被排除的输入", "excluded inputs"),
    "annual_units": ("年度对比_单元", "annual units"),
    "annual_targets": ("年度对比_目标", "annual targets"),
    "stations_added": ("新增设施", "stations added"),
    "stations_closed": ("关闭设施", "stations closed"),
}
_MILESTONES = {
    "planning": ("规划许可", "planning permit"),
    "construction": ("开工", "construction start"),
    "acceptance": ("竣工验收", "completion acceptance"),
    "delivery": ("交付", "delivery"),
}
_PATTERNS = [
    (re.compile("^" + re.escape(k).replace(r"\{t\}", r"(?P<t>[0-9.]+)") + "$"), k)
    for k in _LABELS
    if "{t}" in k
]


def column_label(column: str, language: str) -> str:
    """Return the header of a column identifier in `language` (GLOSSARY.md terms).

    Unknown columns keep their identifier.
    """
    lang = _i18n.lang_code(language)
    pick = 0 if lang == "zh" else 1
    if column in _LABELS:
        return _LABELS[column][pick]
    for pattern, key in _PATTERNS:
        match = pattern.match(column)
        if match:
            return _LABELS[key][pick].format(t=match.group("t"))
    if column.startswith("meets_"):
        base = column.removeprefix("meets_")
        prev = base.endswith("_prev")
        base = base.removesuffix("_prev")
        zh, en = f"达标：{base}", f"Meets {base}"
        if prev:
            zh, en = f"上一年度{zh}", f"{en} last year"
        return zh if lang == "zh" else en
    if column.startswith("n_"):
        kind = _i18n.kind_label(column.removeprefix("n_"), language)
        return f"{kind}数量" if lang == "zh" else f"Stations: {kind}"
    for prefix in ("housing_", "facility_"):
        step = column.removeprefix(prefix)
        if column.startswith(prefix) and step in _MILESTONES:
            who = ("住宅", "housing") if prefix == "housing_" else ("配建设施", "facility")
            return (
                who[0] + _MILESTONES[step][0]
                if lang == "zh"
                else f"{who[1]} {_MILESTONES[step][1]}"
            )
    return column


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop geometry, turn lists into text and make every column Excel-friendly."""
    out = pd.DataFrame(frame.drop(columns=[c for c in frame.columns if c == "geometry"]))
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in out:
        out = out.drop(columns=frame.geometry.name)
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(
                lambda v: reasons_text(v) if isinstance(v, list | tuple | np.ndarray) else v
            )
        elif isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
    return out


def workbook_sheets(result: RunResult) -> dict[str, pd.DataFrame | None]:
    """Return the sheets of ``coverage.xlsx`` (None: not computed in this run)."""
    cov = result.coverage
    sites, curve = siting_of(result)
    devs = compliance_of(result)
    sheets: dict[str, pd.DataFrame | None] = {
        "units": _plain(cov.units),
        "stations": _plain(cov.stations),
        "gaps": _plain(cov.gaps),
        "siting": None if sites is None else _plain(sites),
        "siting_curve": None if curve is None else _plain(curve),
        "compliance": None if devs is None else _plain(devs),
        "targets": _plain(cov.targets),
        "excluded": _plain(cov.excluded),
    }
    comp = result.comparison
    if comp is not None:
        sheets["annual_units"] = comp.units
        sheets["annual_targets"] = comp.targets
        sheets["stations_added"] = comp.stations_added
        sheets["stations_closed"] = comp.stations_closed
    if sheets["siting_curve"] is None:
        del sheets["siting_curve"]
    return sheets


def write_workbook(result: RunResult, path: Path, *, headers: str | None = None) -> Path:
    """Write ``coverage.xlsx``: one sheet per table plus a ``columns`` dictionary.

    Sheets show the report language: walking times in minutes, shares as percentages,
    codes and recorded phrases translated, and in ``units`` the gap to each
    spatial-coverage target (:func:`planning.report._sheets.with_gap_to_target`). The
    ``columns`` sheet maps every header to its identifier and every code to its texts.

    Parameters
    ----------
    result : RunResult
    path : Path
    headers : {"zh", "en", "id"}, optional
        Header row language, or ``id`` for the column identifiers; default the
        scenario's language.

    Returns
    -------
    Path

    """
    language = str(result.scenario.data.get("language", "zh"))
    lang = _i18n.lang_code(language)
    headers = headers or lang
    t = _i18n.strings(language)
    sheets = workbook_sheets(result)
    if sheets["units"] is not None:
        sheets["units"] = with_gap_to_target(sheets["units"], result.rules.targets)
    dictionary: list[dict[str, str]] = []
    with workbook_writer(path) as writer:
        for sheet, frame in sheets.items():
            name = _sheet_name(sheet, lang)
            if frame is None:
                note = t["siting_empty"] if sheet == "siting" else t["compliance_empty"]
                pd.DataFrame({t["notes"]: [note]}).to_excel(writer, sheet_name=name, index=False)
                continue
            shares = row_is_share(frame)
            shown = visible_sheet(frame, lang)
            cols = [str(c) for c in shown.columns]
            labels = [c if headers == "id" else column_label(c, headers) for c in cols]
            shown.to_excel(writer, sheet_name=name, index=False, header=labels)
            _format_sheet(writer.sheets[name], cols, shares)
            dictionary += [
                {
                    "sheet": name,
                    "column": c,
                    "code": "",
                    "zh": column_label(c, "zh"),
                    "en": column_label(c, "en"),
                }
                for c in cols
            ]
        dictionary += [dict(r, sheet=_sheet_name(r["sheet"], lang)) for r in code_rows(sheets)]
        table = pd.DataFrame(dictionary, columns=["sheet", "column", "code", "zh", "en"])
        table.to_excel(writer, sheet_name="columns", index=False)
        _format_sheet(writer.sheets["columns"], list(table.columns), None)
    return path


def _sheet_name(sheet: str, lang: str) -> str:
    """Return a sheet's tab name in `lang` (Excel allows 31 characters)."""
    label = _SHEETS.get(sheet)
    return (label[0] if lang == "zh" else label[1])[:31] if label else sheet[:31]


def _format_sheet(ws: Any, columns: list[str], share_rows: np.ndarray | None) -> None:
    ws.freeze_panes = "A2"
    if ws.max_row > 1:
        ws.auto_filter.ref = ws.dimensions
    for i, col in enumerate(columns, start=1):
        letter = ws.cell(row=1, column=i).column_letter
        header = str(ws.cell(row=1, column=i).value or "")
        ws.column_dimensions[letter].width = min(max(len(header) * 1.6, 10), 40)
        fmt = _number_format(col)
        by_row = (
            share_rows is not None and share_rows.any() and col in ("min", "value", "value_prev")
        )
        if not fmt and not by_row:
            continue
        for r, (cell,) in enumerate(ws.iter_rows(min_row=2, min_col=i, max_col=i)):
            if by_row and share_rows is not None:
                cell.number_format = "0.0%" if share_rows[r] else "#,##0.0"
            elif fmt:
                cell.number_format = fmt


def _number_format(col: str) -> str | None:
    if is_share(col):
        return "0.0%"
    if col.startswith(("elderly", "population", "covered")) or col.endswith("_elderly"):
        return "#,##0"
    if col in ("capacity", "households"):
        return "#,##0"
    if col.startswith(("travel_time_min", "walk_min")):
        return "0.0"
    if col.startswith("capacity_per_1000") or col.endswith(("_m", "_m2", "_km2", "_ha")):
        return "#,##0.0"
    return None


def geopackage_layers(result: RunResult) -> dict[str, gpd.GeoDataFrame]:
    """Return the layers of ``results.gpkg`` (those present in the run)."""
    cov = result.coverage
    layers = {
        "units": cov.units,
        "stations": cov.stations,
        "service_areas": cov.service_areas[~cov.service_areas.geometry.is_empty],
        "covered_areas": _non_empty(cov.covered_areas),
        "gaps": cov.gaps,
        "gap_best_spots": cov.best_spots[cov.best_spots.geometry.notna()],
        "demand": cov.demand,
    }
    sites, _ = siting_of(result)
    devs = compliance_of(result)
    if sites is not None:
        layers["siting"] = sites.to_crs(cov.units.crs)
    if devs is not None:
        layers["developments"] = devs.to_crs(cov.units.crs)
    if result.comparison is not None:
        change = result.comparison.units.drop(columns=["name"], errors="ignore")
        layers["annual_units"] = cov.units[["unit_id", "name", "geometry"]].merge(
            change, on="unit_id", how="left"
        )
    return layers


def _non_empty(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if gdf.empty or gdf.geometry.name not in gdf:
        return gdf
    return gdf[~gdf.geometry.is_empty]


#: Layers written without a spatial index: the demand points, a third of the file (QGIS
#: builds one on request: Layer Properties › Source › Create Spatial Index).
_NO_SPATIAL_INDEX = ("demand",)


def write_geopackage(result: RunResult, path: Path) -> Path:
    """Write every layer of the run into one GeoPackage (analysis CRS) and return it.

    Every layer has a spatial index except the demand points (see `_NO_SPATIAL_INDEX`).
    """
    if path.exists():
        path.unlink()
    for name, gdf in geopackage_layers(result).items():
        if gdf.empty:
            log.info("results.gpkg: layer %s is empty, written without features", name)
        index = "NO" if name in _NO_SPATIAL_INDEX else "YES"
        write_gpkg(gpkg_layer(gdf), path, name, SPATIAL_INDEX=index)
    return path


def gpkg_layer(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a copy GDAL can write: text for objects and lists, no timezone dates."""
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        if out[col].dtype == object:
            out[col] = (
                out[col]
                .map(lambda v: reasons_text(v) if isinstance(v, list | tuple | np.ndarray) else v)
                .astype("string")
            )
        elif isinstance(out[col].dtype, pd.BooleanDtype):
            out[col] = out[col].astype("float")
    return out
