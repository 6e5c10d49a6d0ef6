"""The layers of a run's maps: its tables shaped once, in lon/lat, with escaped tooltips.

:func:`map_data` turns a run (or a coverage result) into a :class:`MapData`: units with
their coverage share and its classes (relative to the target of :func:`target_share`),
the analysis network as one line, stations by kind, service areas per threshold, gaps,
the elderly density points (gridded by :func:`density_raster` into one image) and, when
the run has them, proposed sites and development verdicts. Geometry is kept at about
1 m; each map simplifies it for its own scale. The accessors (:func:`siting_of`,
:func:`compliance_of`, :func:`reasons_of`, ...) read a run's optional siting and
compliance tables for the maps, pages, workbook and charts alike. Every string that
comes from data is HTML-escaped before it reaches a tooltip or popup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

import planning.report._i18n as _i18n
from planning._errors import InputError
from planning.coverage import REASON_NO_PATH, REASON_UNREACHABLE, CoverageResult
from planning.report._geometry import network_lines, to_web
from planning.report._web import _esc, _fmt_num
from planning.report.palette import DENSITY_BINS, ShareClasses, kind_colours, share_classes
from planning.report.tiles import TileSpec, scenario_tiles, tile_layers
from planning.results import ComplianceTables, RunResult, SitingTables
from planning.scenario import Scenario

ATTRIBUTION = (
    "Roads and boundaries © OpenStreetMap contributors (ODbL 1.0); population WorldPop "
    "(CC BY 4.0, Tatem 2017, Sci. Data 4:170004)"
)


def siting_tables(
    siting: SitingTables | pd.DataFrame | None, curve: pd.DataFrame | None = None
) -> tuple[gpd.GeoDataFrame | None, pd.DataFrame | None]:
    """Return (proposed sites, coverage curve) of a siting result, or None for each.

    Parameters
    ----------
    siting : planning.siting.SitingResult, GeoDataFrame or None
        An object whose ``siting`` (or ``sites``) attribute holds the new sites (``rank``,
        ``site_id``, ``kind``, ``lon``, ``lat``, ``unit_id``, ``{weight}_newly_covered``,
        ``cumulative_share``), or that layer itself. Sites without a geometry are placed
        at their ``lon``/``lat`` (WGS-84).
    curve : pandas.DataFrame, optional
        The coverage curve (``p``, ``covered``, ``share``); default the result's ``curve``
        attribute when it has one.

    Returns
    -------
    tuple

    """
    if siting is None:
        return None, curve
    sites = siting if isinstance(siting, pd.DataFrame) else _first_frame(siting, "siting", "sites")
    if curve is None and not isinstance(siting, pd.DataFrame):
        curve = _first_frame(siting, "curve")
    if sites is not None:
        sites = _with_geometry(sites)
        if "rank" in sites:
            sites = sites.sort_values("rank", kind="stable").reset_index(drop=True)
        elif sites.empty:
            sites = sites.assign(rank=pd.Series(dtype=int))
        else:
            sites = sites.assign(rank=np.arange(1, len(sites) + 1))
    return sites, curve


def siting_of(result: RunResult) -> tuple[gpd.GeoDataFrame | None, pd.DataFrame | None]:
    """Return (proposed sites, coverage curve) of a run (``siting``, ``siting_curve``)."""
    return siting_tables(result.siting, result.siting_curve)


def newly_covered_column(sites: pd.DataFrame) -> str | None:
    """Return the sites' ``{weight}_newly_covered`` column (``elderly`` first), or None."""
    if "elderly_newly_covered" in sites:
        return "elderly_newly_covered"
    found = [c for c in sites.columns if str(c).endswith("_newly_covered")]
    return found[0] if found else None


def compliance_table(
    compliance: ComplianceTables | pd.DataFrame | None,
) -> gpd.GeoDataFrame | None:
    """Return the development verdicts of a compliance result (or None).

    Accepts a :class:`planning.compliance.ComplianceResult` (its ``geo`` layer: ``dev_id``,
    ``name``, ``verdict`` PASS/FAIL/UNKNOWN, ``reasons_zh``/``reasons_en``), an object
    with a ``developments`` GeoDataFrame, or the frame itself (``reasons`` may be a text
    or a list of texts).
    """
    if compliance is None:
        return None
    frame = (
        compliance
        if isinstance(compliance, pd.DataFrame)
        else _first_frame(compliance, "geo", "developments", "verdicts")
    )
    return None if frame is None else _with_geometry(frame)


def compliance_of(result: RunResult) -> gpd.GeoDataFrame | None:
    """Return the development verdicts of a run's ``compliance`` (or None)."""
    return compliance_table(result.compliance)


def reasons_text(value: object) -> str:
    """Return a development's reasons as one line (lists joined with "; ")."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, list | tuple | np.ndarray):
        return "; ".join(str(v) for v in value)
    return str(value)


def reasons_of(row: Mapping[str, Any], lang: str) -> str:
    """Return a development's reasons in `lang` (``reasons_zh``/``_en``, else ``reasons``)."""
    for key in (f"reasons_{lang}", "reasons", "reasons_en", "reasons_zh"):
        text = reasons_text(row.get(key))
        if text:
            return text
    return ""


def _first_frame(obj: object, *names: str) -> pd.DataFrame | None:
    for name in names:
        value = getattr(obj, name, None)
        if isinstance(value, pd.DataFrame):
            return value
    return None


def _with_geometry(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame and frame.crs:
        return frame
    if {"lon", "lat"} <= set(frame.columns):
        geometry = gpd.points_from_xy(frame["lon"], frame["lat"])
        base = pd.DataFrame(frame).drop(columns=["geometry"], errors="ignore")
        return gpd.GeoDataFrame(base, geometry=geometry, crs=4326)
    msg = (
        "a siting or compliance table needs a geometry with a CRS or lon/lat columns "
        f"(WGS-84); columns present: {list(frame.columns)}."
    )
    raise InputError(msg)


@dataclass
class MapData:
    """The layers of a run prepared once for every map (EPSG:4326, strings escaped).

    Each frame holds a ``tip`` column (escaped HTML for the tooltip) and the columns its
    style needs; ``classes`` colour the units by their coverage share within the largest
    threshold (relative to the rule set's target for it); ``network`` holds the analysis
    network as one line (empty without one); ``links`` maps unit ids to their page
    paths (relative to the district map), empty when there are no unit pages.
    """

    t: dict[str, str]
    lang: str
    thresholds: tuple[float, ...]
    units: gpd.GeoDataFrame
    classes: ShareClasses
    network: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    kind_colours: dict[str, str]
    areas: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    density: DensityPoints
    sites: gpd.GeoDataFrame | None
    developments: gpd.GeoDataFrame | None
    tiles: list[TileSpec]
    links: dict[str, str]


def _coverage_of(
    result: RunResult | CoverageResult,
) -> tuple[CoverageResult, gpd.GeoDataFrame | None, gpd.GeoDataFrame | None, Scenario | None]:
    if isinstance(result, CoverageResult):
        return result, None, None, None
    return result.coverage, siting_of(result)[0], compliance_of(result), result.scenario


def target_share(cov: CoverageResult) -> float | None:
    """Return the target share for coverage within the largest threshold, or None.

    The rule set's ``spatial_coverage`` target at that threshold (of any station kind
    first); None when the rule set has none.
    """
    targets = cov.targets
    if targets.empty or not {"measure", "threshold_min", "min"} <= set(targets.columns):
        return None
    at = targets[
        (targets["measure"] == "spatial_coverage")
        & (targets["threshold_min"].astype(float) == float(cov.thresholds_min[-1]))
    ]
    if at.empty:
        return None
    if "kinds" in at:
        at = at.sort_values("kinds", key=lambda k: k.astype(str) != "any", kind="stable")
    return float(at["min"].iloc[0])


def _network_layer(result: RunResult | CoverageResult) -> gpd.GeoDataFrame:
    if isinstance(result, CoverageResult):
        return gpd.GeoDataFrame({"tip": []}, geometry=[], crs=4326)
    return network_lines(result.network.edges)


def map_data(
    result: RunResult | CoverageResult,
    *,
    language: str | None = None,
    tiles: str | list[TileSpec] | None = None,
    links: Mapping[str, str] | None = None,
) -> MapData:
    """Prepare the layers of a run (or of a coverage result) for its maps.

    Parameters
    ----------
    result : RunResult or CoverageResult
    language : str, optional
        ``zh`` or ``en``; default the scenario's language, else ``zh``.
    tiles : str or list of TileSpec, optional
        Basemap (see :func:`tile_layers`); default the scenario's ``map:`` section.
    links : mapping of str to str, optional
        Unit id → path of its gap report page, for the links in unit popups.

    Returns
    -------
    MapData

    """
    cov, sites, devs, scenario = _coverage_of(result)
    if language is None:
        language = str(scenario.data.get("language", "zh")) if scenario is not None else "zh"
    t = _i18n.strings(language)
    lang = _i18n.lang_code(language)
    if tiles is None:
        specs = scenario_tiles(scenario) if scenario is not None else []
    else:
        specs = tiles if isinstance(tiles, list) else tile_layers(tiles)
    links = dict(links or {})
    stations = _station_layer(cov.stations, t, lang)
    units = _unit_layer(cov, t, lang, links)
    return MapData(
        t=t,
        lang=lang,
        thresholds=tuple(cov.thresholds_min),
        units=units,
        classes=share_classes(units["share"], target=target_share(cov)),
        network=_network_layer(result),
        stations=stations,
        kind_colours=kind_colours(stations["kind"]) if len(stations) else {},
        areas=_area_layer(cov.service_areas, t),
        gaps=_gap_layer(cov.gaps, t),
        density=density_points(cov.demand),
        sites=None if sites is None else _site_layer(sites, t, lang),
        developments=None if devs is None else _development_layer(devs, t, lang),
        tiles=specs,
        links=links,
    )


def unit_label(row: Mapping[str, Any], lang: str) -> str:
    """Return a unit's display name (``name_en`` in English when present), unescaped."""
    name = row.get("name_en") if lang == "en" else None
    if name is None or (isinstance(name, float) and not np.isfinite(name)) or name == "":
        name = row.get("name", row.get("unit_id"))
    return str(name)


def _unit_layer(
    cov: CoverageResult, t: dict[str, str], lang: str, links: Mapping[str, str]
) -> gpd.GeoDataFrame:
    t_max = f"{cov.thresholds_min[-1]:g}"
    share_col = f"coverage_share_{t_max}min"
    units = cov.units
    rows = []
    for _, u in units.iterrows():
        share = float(u[share_col]) if pd.notna(u[share_col]) else float("nan")
        tip = (
            f"<b>{_esc(unit_label(u, lang))}</b> ({_esc(u['unit_id'])})<br>"
            f"{_esc(t['elderly'])}: {_fmt_num(u['elderly'])}<br>"
            f"{_esc(t['coverage_within'].format(t=t_max))}: {_fmt_num(share, '{:.1%}')}<br>"
            f"{_esc(t['uncovered'])}: {_fmt_num(u[f'elderly_uncovered_{t_max}min'])}"
        )
        link = links.get(str(u["unit_id"]))
        popup = tip
        if link:
            href = html.escape(quote(link, safe="/"), quote=True)
            popup += f'<br><a href="{href}" target="_top">{_esc(t["open_unit_report"])} →</a>'
        rows.append({"unit_id": str(u["unit_id"]), "tip": tip, "popup": popup, "share": share})
    frame = pd.DataFrame(rows, columns=["unit_id", "tip", "popup", "share"])
    return gpd.GeoDataFrame(frame, geometry=to_web(units).geometry.values, crs=4326)


def _station_layer(stations: gpd.GeoDataFrame, t: dict[str, str], lang: str) -> gpd.GeoDataFrame:
    sta = to_web(stations)
    t_max_cols = [c for c in sta.columns if c.startswith("elderly_within_")]
    within = t_max_cols[-1] if t_max_cols else None
    tips = []
    for _, s in sta.iterrows():
        tip = (
            f"<b>{_esc(s.get('name', s['station_id']))}</b> ({_esc(s['station_id'])})<br>"
            f"{_esc(t['kind'])}: {_esc(_i18n.kind_label(s['kind'], lang))}"
        )
        if "capacity" in s and pd.notna(s["capacity"]):
            tip += f"<br>{_esc(t['capacity'])}: {_fmt_num(s['capacity'])}"
        if within:
            minutes = within.removeprefix("elderly_within_").removesuffix("min")
            label = t["elderly_within"].format(t=minutes)
            tip += f"<br>{_esc(label)}: {_fmt_num(s[within])}"
        tips.append(tip)
    return gpd.GeoDataFrame(
        {
            "station_id": sta["station_id"].astype(str).to_numpy(),
            "kind": sta["kind"].astype(str).to_numpy(),
            "tip": tips,
        },
        geometry=sta.geometry.values,
        crs=4326,
    )


def _area_layer(areas: gpd.GeoDataFrame, t: dict[str, str]) -> gpd.GeoDataFrame:
    geoms = np.asarray(areas.geometry.values)
    keep = areas[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    web = to_web(keep)
    tips = [
        f"{_esc(sid)} · {_fmt_num(th, '{:g}')} {_esc(t['min'])}<br>"
        f"{_esc(t['elderly'])}: {_fmt_num(e)}"
        for sid, th, e in zip(web["station_id"], web["threshold_min"], web["elderly"], strict=True)
    ]
    return gpd.GeoDataFrame(
        {
            "station_id": web["station_id"].astype(str).to_numpy(),
            "threshold_min": web["threshold_min"].astype(float).to_numpy(),
            "tip": tips,
        },
        geometry=web.geometry.values,
        crs=4326,
    )


def _gap_layer(gaps: gpd.GeoDataFrame, t: dict[str, str]) -> gpd.GeoDataFrame:
    """Return the gap areas for the maps, each with its tooltip (figures and best spot)."""
    if gaps.empty:
        return gpd.GeoDataFrame({"gap_id": [], "unit_id": [], "tip": []}, geometry=[], crs=4326)
    web = to_web(gaps)
    return gpd.GeoDataFrame(
        {
            "gap_id": web["gap_id"].astype(str).to_numpy(),
            "unit_id": web["unit_id"].astype(str).to_numpy(),
            "reason": web["reason"].astype(str).to_numpy(),
            "elderly": web["elderly"].astype(float).to_numpy(),
            "tip": [_gap_tip(g, t) for _, g in web.iterrows()],
        },
        geometry=web.geometry.values,
        crs=4326,
    )


def gap_reason_text(reason: str, t: Mapping[str, str]) -> str:
    """Return the reason of a gap (as :func:`planning.coverage.gap_areas` words it), translated."""
    match = re.fullmatch(r"beyond ([0-9.]+) min", reason)
    if match:
        return t["reason_beyond"].format(t=match.group(1))
    names = {REASON_UNREACHABLE: t["reason_far"], REASON_NO_PATH: t["reason_no_path"]}
    return names.get(reason, reason)


def _gap_tip(g: pd.Series, t: dict[str, str]) -> str:
    lines = [
        f"<b>{_esc(g['gap_id'])}</b> · {_esc(g['unit_id'])}",
        _esc(gap_reason_text(str(g["reason"]), t)),
        f"{_esc(t['elderly'])}: {_fmt_num(g['elderly'])} · {_esc(t['area'])}: "
        f"{_fmt_num(g['area_ha'], '{:.1f}')}",
        f"{_esc(t['walk_mean_max'])}: {_fmt_num(g['walk_min_mean'], '{:.1f}')} / "
        f"{_fmt_num(g['walk_min_max'], '{:.1f}')}",
    ]
    lon, lat = g.get("best_spot_lon"), g.get("best_spot_lat")
    if pd.notna(lon) and pd.notna(lat):
        lines.append(
            f"{_esc(t['best_spot_elderly'])}: {_fmt_num(g.get('best_spot_elderly'))} · "
            f"{_esc(t['best_spot_location'])}: {float(lon):.5f}, {float(lat):.5f}"
        )
    if g.get("closed_by"):
        lines.append(f"{_esc(t['closed_by'])}: {_esc(g['closed_by'])}")
    return "<br>".join(lines)


def _located(demand: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Demand points that have a geometry (those without are reported excluded)."""
    geom = demand.geometry
    return demand[~(geom.isna() | geom.is_empty).to_numpy()]


def density_grid(demand: gpd.GeoDataFrame, cell_m: float) -> gpd.GeoDataFrame:
    """Aggregate older people of the demand points into square cells of `cell_m` metres.

    Returns
    -------
    geopandas.GeoDataFrame
        ``elderly``, ``elderly_per_km2`` and the cell polygon, in the demand's CRS;
        cells without older people are left out.

    """
    demand = _located(demand)
    crs = demand.crs
    if crs is None or not crs.is_projected:
        demand = demand.to_crs(demand.estimate_utm_crs())
    eld = demand["elderly"].to_numpy(dtype=float)
    x, y = demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()
    ix, iy = np.floor(x / cell_m).astype(np.int64), np.floor(y / cell_m).astype(np.int64)
    frame = pd.DataFrame({"ix": ix, "iy": iy, "elderly": eld})
    sums = frame.groupby(["ix", "iy"], sort=True)["elderly"].sum().reset_index()
    sums = sums[sums["elderly"] > 0]
    x0, y0 = sums["ix"].to_numpy() * cell_m, sums["iy"].to_numpy() * cell_m
    boxes = shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)
    return gpd.GeoDataFrame(
        {
            "elderly": sums["elderly"].to_numpy(),
            "elderly_per_km2": sums["elderly"].to_numpy() / (cell_m * cell_m / 1e6),
        },
        geometry=boxes,
        crs=demand.crs,
    )


@dataclass(frozen=True)
class DensityPoints:
    """Older people per demand point in Web-Mercator metres (EPSG:3857), for rasters."""

    x: np.ndarray
    y: np.ndarray
    elderly: np.ndarray
    scale: float  # Mercator metres per ground metre at the study area's latitude


@dataclass(frozen=True)
class DensityRaster:
    """An RGBA image of elderly density classes and its lon/lat bounds."""

    rgba: np.ndarray
    bounds: list[list[float]]


def density_points(demand: gpd.GeoDataFrame) -> DensityPoints:
    """Return the demand points with older people, in Web-Mercator metres."""
    pts = _located(demand)
    pts = pts[pts["elderly"].to_numpy() > 0]
    if pts.empty:
        return DensityPoints(np.empty(0), np.empty(0), np.empty(0), 1.0)
    lat0 = float(np.mean(pts.to_crs(4326).total_bounds[[1, 3]]))
    merc = pts.geometry.to_crs(3857)
    return DensityPoints(
        merc.x.to_numpy(),
        merc.y.to_numpy(),
        pts["elderly"].to_numpy(dtype=float),
        1.0 / np.cos(np.radians(lat0)),
    )


def density_raster(
    points: DensityPoints, cell_m: float, *, window: tuple[float, ...] | None = None
) -> DensityRaster | None:
    """Grid older people into square cells of `cell_m` ground metres, coloured by class.

    The grid is regular in Web Mercator, so that Leaflet draws it without distortion.
    Returns None when no older person lies in the window (lon/lat west, south, east,
    north).
    """
    x, y, eld = points.x, points.y, points.elderly
    if window is not None and len(x):
        (wx0, wx1), (wy0, wy1) = _to_mercator(window)
        keep = (x >= wx0) & (x <= wx1) & (y >= wy0) & (y <= wy1)
        x, y, eld = x[keep], y[keep], eld[keep]
    if not len(x):
        return None
    c = cell_m * points.scale
    x0, y1 = np.floor(x.min() / c) * c, np.ceil(y.max() / c) * c
    cols = np.floor((x - x0) / c).astype(np.int64)
    rows = np.floor((y1 - y) / c).astype(np.int64)
    rows = np.clip(rows, 0, None)
    grid = np.zeros((rows.max() + 1, cols.max() + 1))
    np.add.at(grid, (rows, cols), eld)
    per_km2 = grid / (cell_m * cell_m / 1e6)
    rgba = np.zeros((*grid.shape, 4), dtype=np.uint8)
    for lower, colour in DENSITY_BINS:
        rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        rgba[(per_km2 >= lower) & (grid > 0)] = [*rgb, 200]
    to_lonlat = Transformer.from_crs(3857, 4326, always_xy=True)
    west, south = to_lonlat.transform(x0, y1 - grid.shape[0] * c)
    east, north = to_lonlat.transform(x0 + grid.shape[1] * c, y1)
    return DensityRaster(rgba, [[float(south), float(west)], [float(north), float(east)]])


def _to_mercator(window: tuple[float, ...]) -> tuple[tuple[float, float], tuple[float, float]]:
    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    x0, y0 = to_merc.transform(window[0], window[1])
    x1, y1 = to_merc.transform(window[2], window[3])
    return (x0, x1), (y0, y1)


def _site_layer(sites: gpd.GeoDataFrame, t: dict[str, str], lang: str) -> gpd.GeoDataFrame:
    web = to_web(sites)
    web["geometry"] = web.geometry.representative_point()
    newly = newly_covered_column(web)
    tips = []
    for i, s in web.iterrows():
        rank = s.get("rank", i + 1)
        tip = f"<b>{_esc(t['proposed_site'])} #{_esc(rank)}</b> ({_esc(s.get('site_id', ''))})"
        if "kind" in s:
            tip += f"<br>{_esc(t['kind'])}: {_esc(_i18n.kind_label(s['kind'], lang))}"
        if newly:
            tip += f"<br>{_esc(t['newly_covered'])}: {_fmt_num(s[newly])}"
        if "cumulative_share" in s:
            share = _fmt_num(s["cumulative_share"], "{:.1%}")
            tip += f"<br>{_esc(t['cumulative_share'])}: {share}"
        tips.append(tip)
    web["tip"] = tips
    web["rank_label"] = [_esc(r) for r in web.get("rank", pd.Series(range(1, len(web) + 1)))]
    return web


def _development_layer(devs: gpd.GeoDataFrame, t: dict[str, str], lang: str) -> gpd.GeoDataFrame:
    web = to_web(devs)
    verdict = web.get("verdict", pd.Series(["UNKNOWN"] * len(web), index=web.index))
    web["verdict"] = verdict.fillna("UNKNOWN").astype(str).str.upper()
    tips = []
    for _, d in web.iterrows():
        reasons = reasons_of(d, lang)
        tip = (
            f"<b>{_esc(d.get('name', d.get('dev_id', '')))}</b> ({_esc(d.get('dev_id', ''))})<br>"
            f"{_esc(t['verdict'])}: {_esc(t.get('verdict_' + d['verdict'], d['verdict']))}"
        )
        if reasons:
            tip += f"<br>{_esc(reasons)}"
        tips.append(tip)
    web["tip"] = tips
    return web
