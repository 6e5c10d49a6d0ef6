"""Tables and layers of a run for colleagues and GIS: Excel workbook and GeoPackage.

``coverage.xlsx`` has one sheet per table (units, stations, gaps, siting, compliance,
targets, and the annual changes when a previous run was compared), headers in the
report language with the GLOSSARY.md terms (or the column identifiers), and a
``columns`` sheet that maps every header to its identifier. ``results.gpkg`` holds every
layer (units, stations, service areas, gap areas and their best spots, demand, siting,
developments) in the analysis CRS, ready for QGIS or ArcGIS. Every cell from data is
text (a name such as ``=HYPERLINK(...)`` stays a name), and both files carry a fixed date
instead of the time of writing, so that the same inputs give the same bytes.
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
    "label_zh": ("目标（中文）", "Target (Chinese)"),
    "label_en": ("目标（英文）", "Target (English)"),
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
    headers = headers or _i18n.lang_code(language)
    t = _i18n.strings(language)
    dictionary: list[dict[str, str]] = []
    with workbook_writer(path) as writer:
        for sheet, frame in workbook_sheets(result).items():
            if frame is None:
                note = t["siting_empty"] if sheet == "siting" else t["compliance_empty"]
                pd.DataFrame({"note": [note]}).to_excel(writer, sheet_name=sheet, index=False)
                continue
            labels = [c if headers == "id" else column_label(c, headers) for c in frame.columns]
            frame.to_excel(writer, sheet_name=sheet, index=False, header=labels)
            _format_sheet(writer.sheets[sheet], list(frame.columns))
            dictionary += [
                {
                    "sheet": sheet,
                    "column": c,
                    "zh": column_label(c, "zh"),
                    "en": column_label(c, "en"),
                }
                for c in frame.columns
            ]
        pd.DataFrame(dictionary).to_excel(writer, sheet_name="columns", index=False)
        _format_sheet(writer.sheets["columns"], ["sheet", "column", "zh", "en"])
    return path


def _format_sheet(ws: Any, columns: list[str]) -> None:
    ws.freeze_panes = "A2"
    if ws.max_row > 1:
        ws.auto_filter.ref = ws.dimensions
    for i, col in enumerate(columns, start=1):
        letter = ws.cell(row=1, column=i).column_letter
        header = str(ws.cell(row=1, column=i).value or "")
        ws.column_dimensions[letter].width = min(max(len(header) * 1.6, 10), 40)
        fmt = _number_format(col)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = fmt


def _number_format(col: str) -> str | None:
    if "share" in col:
        return "0.0%"
    if col.startswith(("elderly", "population")) or col in ("capacity", "households"):
        return "#,##0"
    if col.startswith(("travel_time_s", "capacity_per_1000")) or col.endswith("_m"):
        return "0.0"
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
