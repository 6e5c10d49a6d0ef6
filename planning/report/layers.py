"""Interactive folium maps that work offline, for a district and for each unit.

Maps are built with ``offlinefolium`` (folium with its JavaScript and CSS resources
shipped inside the package). A map keeps only the resources it uses (Leaflet), and a run
folder writes them once into ``assets/`` beside its pages (:func:`save_map`,
:func:`map_fragment`), so a page loads nothing from the internet when tiles are off
(the default) and 128 unit pages share one copy of Leaflet. In Jupyter, a map shows
inline with Leaflet embedded.

Layers can be switched on and off: units coloured by coverage share, elderly density (a
grid of cells), service areas per threshold, gaps, stations by kind, proposed sites and
developments by verdict, each with a legend. Every string that comes from data is
HTML-escaped before it reaches a tooltip, popup, legend or layer name.

Tiles: none (default), OpenStreetMap, 天地图 Tianditu (vector or imagery, with the
annotation layer; needs the user's key) or any ``{z}/{x}/{y}`` URL template, e.g. an
intranet tile server. Tianditu uses CGCS2000 (≈ WGS-84) like the layers; Amap and
Tencent tiles are shifted (GCJ-02) and would not line up.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import geopandas as gpd
import numpy as np
import offlinefolium as folium
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from offlinefolium.elements import _res as _RESOURCES
from offlinefolium.raster_layers import ImageOverlay
from offlinefolium.template import Template
from pyproj import Transformer

from planning import _i18n
from planning._errors import InputError
from planning.coverage import CoverageResult
from planning.results import RunResult

log = logging.getLogger(__name__)

ATTRIBUTION = (
    "Roads and boundaries © OpenStreetMap contributors (ODbL 1.0); population WorldPop "
    "(CC BY 4.0, Tatem 2017, Sci. Data 4:170004)"
)
KIND_COLOURS = {
    "centre": "#7b3294",
    "station": "#008837",
    "daycare": "#0571b0",
    "meal": "#e66101",
    "carehome": "#ca0020",
}
_OTHER_KIND_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]
#: Service-area colours from the shortest threshold to the longest.
THRESHOLD_COLOURS = ["#006d2c", "#31a354", "#74c476", "#bae4b3"]
VERDICT_COLOURS = {"PASS": "#1a9641", "FAIL": "#d7191c", "UNKNOWN": "#7f7f7f"}
GAP_COLOUR = "#d7191c"
SITE_COLOUR = "#111111"
_SHARE_BINS = [
    (0.0, "#d7191c"),
    (0.5, "#fdae61"),
    (0.75, "#ffffbf"),
    (0.9, "#a6d96a"),
    (1.0, "#1a9641"),
]
#: Elderly density classes, older people per km² (lower bounds) and colours.
DENSITY_BINS = [
    (0.0, "#f2f0f7"),
    (1000.0, "#cbc9e2"),
    (2500.0, "#9e9ac8"),
    (5000.0, "#756bb1"),
    (10000.0, "#54278f"),
]
#: Cell size in metres of the density grid on the district map and on unit maps.
DENSITY_CELL_M = {"district": 500.0, "unit": 200.0}
_SIMPLIFY_M = 5.0
_DECIMALS = 5  # lon/lat decimals in the GeoJSON (about 1 m)

_TIANDITU = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
    "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
_OSM = ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap contributors")
_TILE_CHOICES = ("none", "osm", "tianditu", "tianditu-img", "custom")
_LEAFLET_JS = ("leaflet", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js")
_LEAFLET_CSS = ("leaflet_css", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css")
_LEAFLET_LICENSE = """Leaflet 1.9.3, https://leafletjs.com (shipped by the folium-offline package)

BSD 2-Clause License
Copyright (c) 2010-2022, Vladimir Agafonkin
Copyright (c) 2010-2011, CloudMade
All rights reserved.

Redistribution and use in source and binary forms, with or without modification, are
permitted provided that the following conditions are met:
1. Redistributions of source code must retain the above copyright notice, this list of
   conditions and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice, this list
   of conditions and the following disclaimer in the documentation and/or other
   materials provided with the distribution.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY
EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL
THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL,
SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT
OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT
LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""


# --------------------------------------------------------------------------- colours
def share_colour(share: float | None) -> str:
    """Return the fill colour for a coverage share (0–1); grey when unknown."""
    if share is None or not np.isfinite(share):
        return "#bdbdbd"
    colour = _SHARE_BINS[0][1]
    for lower, c in _SHARE_BINS:
        if share >= lower - 1e-12:
            colour = c
    return colour


def density_colour(per_km2: float) -> str:
    """Return the fill colour for an elderly density in older people per km²."""
    colour = DENSITY_BINS[0][1]
    for lower, c in DENSITY_BINS:
        if per_km2 >= lower:
            colour = c
    return colour


def kind_colours(kinds: Iterable[str]) -> dict[str, str]:
    """Return a colour per station kind: GLOSSARY kinds fixed, others in sorted order."""
    out: dict[str, str] = {}
    others = 0
    for kind in sorted({str(k) for k in kinds}):
        if kind in KIND_COLOURS:
            out[kind] = KIND_COLOURS[kind]
        else:
            out[kind] = _OTHER_KIND_COLOURS[others % len(_OTHER_KIND_COLOURS)]
            others += 1
    return out


# --------------------------------------------------------------------------- tiles
@dataclass(frozen=True)
class TileSpec:
    """One basemap tile layer: URL template, attribution (plain text), name, subdomains."""

    url: str
    attribution: str
    name: str
    subdomains: str = "abc"
    overlay: bool = False


def tile_layers(
    tiles: str | None,
    *,
    key: str | None = None,
    url: str | None = None,
    attribution: str | None = None,
) -> list[TileSpec]:
    """Return the tile layers of a basemap choice (none: an empty list, no internet).

    Parameters
    ----------
    tiles : {None, "none", "osm", "tianditu", "tianditu-img", "custom"} or URL template
        ``tianditu`` is the 天地图 vector map with its annotation layer (``cva_w``),
        ``tianditu-img`` the imagery with ``cia_w``; both need `key`. ``custom`` (or a
        URL given directly) needs a ``{z}``/``{x}``/``{y}`` template, e.g. an intranet
        tile server.
    key : str, optional
        The user's Tianditu key (``tk``).
    url : str, optional
        URL template for ``custom``.
    attribution : str, optional
        Attribution text shown on the map (custom tiles need one to be lawful).

    Returns
    -------
    list of TileSpec

    Raises
    ------
    InputError
        For an unknown choice, Tianditu without a key, or a URL without ``{z}/{x}/{y}``.

    """
    choice = "none" if tiles is None else str(tiles).strip()
    if "{z}" in choice or choice.startswith(("http://", "https://", "//")):
        choice, url = "custom", choice
    choice = {"openstreetmap": "osm", "": "none"}.get(choice.lower(), choice.lower())
    if choice == "none":
        return []
    if choice == "osm":
        return [TileSpec(_OSM[0], attribution or _OSM[1], "OpenStreetMap")]
    if choice in ("tianditu", "tianditu-img"):
        return _tianditu(choice, key, attribution)
    if choice == "custom":
        return [_custom_tiles(url, attribution)]
    msg = (
        f"map.tiles = {tiles!r} is not a basemap choice; use one of {', '.join(_TILE_CHOICES)} "
        "or a URL template with {z}, {x} and {y}."
    )
    raise InputError(msg)


def _tianditu(choice: str, key: str | None, attribution: str | None) -> list[TileSpec]:
    if not key:
        msg = (
            f"map.tiles = {choice} needs your 天地图 (Tianditu) key: add `tiles_key: YOUR_KEY` "
            "under `map:` in the scenario (keys are issued at console.tianditu.gov.cn), or "
            "use `tiles: none` to draw no basemap."
        )
        raise InputError(msg)
    tk = quote(str(key), safe="")
    base, notes = ("img", "cia") if choice == "tianditu-img" else ("vec", "cva")
    attr = attribution or "© 天地图 Tianditu"
    return [
        TileSpec(_TIANDITU.format(layer=base, key=tk), attr, "天地图 Tianditu", "01234567"),
        TileSpec(
            _TIANDITU.format(layer=notes, key=tk), attr, "天地图注记", "01234567", overlay=True
        ),
    ]


def _custom_tiles(url: str | None, attribution: str | None) -> TileSpec:
    if not url or not all(p in url for p in ("{z}", "{x}")) or not ("{y}" in url or "{-y}" in url):
        msg = (
            f"map.tiles: custom tiles need `tiles_url` with {{z}}, {{x}} and {{y}}, e.g. "
            f"'http://tiles.intranet/{{z}}/{{x}}/{{y}}.png'; got {url!r}."
        )
        raise InputError(msg)
    host = (urlparse(url).hostname or "").lower()
    if any(s in host for s in ("autonavi", "amap", "gtimg", "qq.com", "baidu", "bdimg")):
        log.warning(
            "tiles from %s are in shifted coordinates (GCJ-02/BD-09): the layers, in WGS-84, "
            "will sit 300-900 m off the basemap",
            host,
        )
    return TileSpec(url, attribution or host or "basemap", "basemap")


def scenario_tiles(scenario: Any) -> list[TileSpec]:
    """Return the tile layers set in a scenario's ``map:`` section (none by default)."""
    spec = scenario.section("map") if scenario is not None else {}
    return tile_layers(
        spec.get("tiles"),
        key=spec.get("tiles_key"),
        url=spec.get("tiles_url"),
        attribution=spec.get("attribution"),
    )


# --------------------------------------------------------------------------- optional results
def siting_tables(
    siting: Any, curve: pd.DataFrame | None = None
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


def siting_of(result: Any) -> tuple[gpd.GeoDataFrame | None, pd.DataFrame | None]:
    """Return (proposed sites, coverage curve) of a run (``siting``, ``siting_curve``)."""
    return siting_tables(getattr(result, "siting", None), getattr(result, "siting_curve", None))


def newly_covered_column(sites: pd.DataFrame) -> str | None:
    """Return the sites' ``{weight}_newly_covered`` column (``elderly`` first), or None."""
    if "elderly_newly_covered" in sites:
        return "elderly_newly_covered"
    found = [c for c in sites.columns if str(c).endswith("_newly_covered")]
    return found[0] if found else None


def compliance_table(compliance: Any) -> gpd.GeoDataFrame | None:
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


def compliance_of(result: Any) -> gpd.GeoDataFrame | None:
    """Return the development verdicts of a run's ``compliance`` (or None)."""
    return compliance_table(getattr(result, "compliance", None))


def reasons_text(value: Any) -> str:
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


def _first_frame(obj: Any, *names: str) -> Any:
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


# --------------------------------------------------------------------------- map data
@dataclass
class MapData:
    """The layers of a run prepared once for every map (EPSG:4326, strings escaped).

    Each frame holds a ``tip`` column (escaped HTML for the tooltip) and the columns its
    style needs; ``links`` maps unit ids to their page paths (relative to the district
    map), empty when there are no unit pages.
    """

    t: dict[str, str]
    lang: str
    thresholds: tuple[float, ...]
    units: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    kind_colours: dict[str, str]
    areas: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    density: DensityPoints
    sites: gpd.GeoDataFrame | None
    developments: gpd.GeoDataFrame | None
    tiles: list[TileSpec]
    links: dict[str, str]


def _coverage_of(result: Any) -> tuple[CoverageResult, Any, Any, Any]:
    if isinstance(result, CoverageResult):
        return result, None, None, None
    return result.coverage, siting_of(result)[0], compliance_of(result), result.scenario


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
    return MapData(
        t=t,
        lang=lang,
        thresholds=tuple(cov.thresholds_min),
        units=_unit_layer(cov, t, lang, links),
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


def _esc(value: Any) -> str:
    """Escape a data value for HTML *and* for folium's templates.

    branca compiles every rendered fragment again as a Jinja template, so braces from
    data would be evaluated (``{{ 7*7 }}`` becomes 49, ``{% x`` breaks the map): they are
    written as HTML character references, which display as braces.
    """
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return html.escape(str(value)).replace("{", "&#123;").replace("}", "&#125;")


def _fmt_num(value: Any, fmt: str = "{:,.0f}") -> str:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "–"
    return fmt.format(x) if np.isfinite(x) else "–"


def _round_coords(geoms: Any) -> np.ndarray:
    return np.asarray(
        shapely.transform(np.asarray(geoms), lambda c: np.round(c, _DECIMALS)), dtype=object
    )


def _to_web(gdf: gpd.GeoDataFrame, *, simplify_m: float | None = None) -> gpd.GeoDataFrame:
    out = gdf
    if simplify_m and out.crs is not None and out.crs.is_projected:
        out = out.set_geometry(out.geometry.simplify(simplify_m))
    out = out.to_crs(4326)
    return out.set_geometry(_round_coords(out.geometry.values), crs=4326)


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
    return gpd.GeoDataFrame(
        frame, geometry=_to_web(units, simplify_m=_SIMPLIFY_M).geometry.values, crs=4326
    )


def _station_layer(stations: gpd.GeoDataFrame, t: dict[str, str], lang: str) -> gpd.GeoDataFrame:
    sta = _to_web(stations)
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
    keep = areas[~areas.geometry.is_empty & areas.geometry.notna()]
    web = _to_web(keep, simplify_m=_SIMPLIFY_M)
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
    if gaps.empty:
        return gpd.GeoDataFrame({"gap_id": [], "unit_id": [], "tip": []}, geometry=[], crs=4326)
    web = _to_web(gaps, simplify_m=_SIMPLIFY_M)
    tips = [
        f"<b>{_esc(g)}</b> · {_esc(u)}<br>{_esc(r)}<br>{_esc(t['elderly'])}: {_fmt_num(e)}"
        for g, u, r, e in zip(
            web["gap_id"], web["unit_id"], web["reason"], web["elderly"], strict=True
        )
    ]
    return gpd.GeoDataFrame(
        {
            "gap_id": web["gap_id"].astype(str).to_numpy(),
            "unit_id": web["unit_id"].astype(str).to_numpy(),
            "reason": web["reason"].astype(str).to_numpy(),
            "elderly": web["elderly"].astype(float).to_numpy(),
            "tip": tips,
        },
        geometry=web.geometry.values,
        crs=4326,
    )


def density_grid(demand: gpd.GeoDataFrame, cell_m: float) -> gpd.GeoDataFrame:
    """Aggregate older people of the demand points into square cells of `cell_m` metres.

    Returns
    -------
    geopandas.GeoDataFrame
        ``elderly``, ``elderly_per_km2`` and the cell polygon, in the demand's CRS;
        cells without older people are left out.

    """
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
    pts = demand[demand["elderly"].to_numpy() > 0]
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
    web = _to_web(sites)
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
    web = _to_web(devs)
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


# --------------------------------------------------------------------------- map building
class _Legend(MacroElement):  # type: ignore[misc]
    """A Leaflet control with the legend (HTML built from escaped text)."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        .planning-legend { background: rgba(255,255,255,.92); padding: 6px 8px;
          font: 12px/1.35 system-ui, "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
          border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3);
          max-height: 45vh; overflow-y: auto; max-width: 260px; }
        .planning-legend h4 { margin: 4px 0 2px; font-size: 12px; }
        .planning-legend i { display: inline-block; width: 14px; height: 11px;
          margin-right: 5px; vertical-align: -1px; border: 1px solid rgba(0,0,0,.25); }
        .planning-legend i.dot { border-radius: 50%; width: 10px; height: 10px; }
        .planning-legend .empty { color: #777; font-style: italic; }
        .planning-legend .ramp, .planning-legend .ramp-l { display: flex; width: 210px; }
        .planning-legend .ramp span { flex: 1; height: 10px; border: 1px solid rgba(0,0,0,.15); }
        .planning-legend .ramp-l small { flex: 1; font-size: 10px; color: #444; }
        .site-rank { background: #111; color: #fff; border: 2px solid #fff;
          border-radius: 50%; width: 22px; height: 22px; line-height: 18px;
          text-align: center; font: bold 11px sans-serif; box-shadow: 0 0 3px #000; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
        {{ this.get_name() }}.onAdd = function (map) {
            var div = L.DomUtil.create("div", "planning-legend");
            div.innerHTML = {{ this.content|tojson }};
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, content: str, position: str = "bottomright") -> None:
        super().__init__()
        self._name = "Legend"
        self.content = content
        self.position = position


class _Attribution(MacroElement):  # type: ignore[misc]
    """Add the data attribution (escaped text) to the map's attribution control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text = _esc(text)


def _new_map(bounds: np.ndarray, tiles: list[TileSpec], *, height: str, padding: int = 0) -> Any:
    west, south, east, north = (float(v) for v in bounds)
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=None,
        zoom_start=12,
        control_scale=True,
        height=height,
    )
    # keep only the resources these maps use (no jQuery, Bootstrap, Font Awesome)
    m.default_js = [_LEAFLET_JS]
    m.default_css = [_LEAFLET_CSS]
    for spec in tiles:
        folium.TileLayer(
            spec.url,
            attr=_esc(spec.attribution),
            name=_esc(spec.name),
            subdomains=spec.subdomains,
            overlay=spec.overlay,
            control=True,
        ).add_to(m)
    m.fit_bounds([[south, west], [north, east]], padding=(padding, padding))
    # an empty icon: browsers ask for /favicon.ico otherwise, which no run folder has
    root: Any = m.get_root()
    root.header.add_child(Element('<link rel="icon" href="data:,">'), name="icon")
    _Attribution(ATTRIBUTION).add_to(m)
    return m


def _geojson(gdf: gpd.GeoDataFrame, columns: list[str]) -> str:
    """Return a FeatureCollection of `gdf` with only `columns` as properties (NaN: null)."""
    props = gdf[columns].astype(object)
    props = props.where(props.notna(), None).to_dict(orient="records")
    geoms = shapely.to_geojson(np.asarray(gdf.geometry.values))
    features = ",".join(
        f'{{"type":"Feature","geometry":{g},"properties":{json.dumps(p)}}}'
        for g, p in zip(geoms, props, strict=True)
    )
    return f'{{"type":"FeatureCollection","features":[{features}]}}'


def _add_polygons(
    group: Any,
    gdf: gpd.GeoDataFrame,
    style: Any,
    *,
    popup: bool = False,
    extra: tuple[str, ...] = (),
) -> None:
    cols = ["tip", *(["popup"] if popup else []), *extra]
    folium.GeoJson(
        _geojson(gdf, cols),
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False) if popup else None,
    ).add_to(group)


def _legend_row(colour: str, label: str, *, dot: bool = False, line: bool = False) -> str:
    style = f"background:{colour}" if not line else f"border:2px solid {colour};background:none"
    cls = ' class="dot"' if dot else ""
    return f'<div><i{cls} style="{style}"></i>{_esc(label)}</div>'


def _ramp(steps: list[tuple[str, str]]) -> str:
    """Return a one-row colour ramp with the lower bound of each class under it."""
    cells = "".join(f'<span style="background:{c}"></span>' for c, _ in steps)
    labels = "".join(f"<small>{_esc(text)}</small>" for _, text in steps)
    return f'<div class="ramp">{cells}</div><div class="ramp-l">{labels}</div>'


def _layer_name(label: str, count: int | None = None) -> str:
    return _esc(label if count is None else f"{label} ({count:,})")


class _MapBuilder:
    """Add the layers of a `MapData` (optionally cut to a window) to a map with a legend."""

    def __init__(self, data: MapData, m: Any, *, scope: str) -> None:
        self.d, self.m, self.scope = data, m, scope
        self.t = data.t
        self.legend: list[str] = []

    def note_empty(self, label: str) -> None:
        self.legend.append(f'<div class="empty">{_esc(label)}</div>')

    def units(self, units: gpd.GeoDataFrame, highlight: str | None) -> None:
        t_max = f"{self.d.thresholds[-1]:g}"
        label = self.t["layer_units"].format(t=t_max)
        group = folium.FeatureGroup(name=_layer_name(label))

        units = units.assign(own=(units["unit_id"] == highlight).astype(int))

        def style(f: dict[str, Any]) -> dict[str, Any]:
            own = bool(f["properties"]["own"])
            return {
                "fillColor": share_colour(f["properties"]["share"]),
                "color": "#000" if own else "#555",
                "weight": 3 if own else 1,
                "fillOpacity": 0.5 if own or highlight is None else 0.2,
            }

        _add_polygons(group, units, style, popup=self.scope == "district", extra=("own", "share"))
        group.add_to(self.m)
        self.legend.append(f"<h4>{_esc(label)}</h4>")
        self.legend.append(_ramp([(c, f"{lower:.0%}") for lower, c in _SHARE_BINS]))

    def density(self, raster: DensityRaster | None, cell_m: float) -> None:
        label = self.t["layer_density"]
        if raster is None:
            self.note_empty(self.t["empty_density"])
            return
        ImageOverlay(
            raster.rgba,
            bounds=raster.bounds,
            name=_layer_name(f"{label} ({cell_m:g} m)"),
            show=False,
            pixelated=True,
            opacity=0.75,
        ).add_to(self.m)
        self.legend.append(f"<h4>{_esc(label)} (/km²)</h4>")
        self.legend.append(_ramp([(c, f"{lower:,.0f}") for lower, c in DENSITY_BINS]))

    def service_areas(self, areas: gpd.GeoDataFrame) -> None:
        self.legend.append(f"<h4>{_esc(self.t['layer_service_areas'])}</h4>")
        ths = list(self.d.thresholds)
        for i, th in reversed(list(enumerate(ths))):
            colour = THRESHOLD_COLOURS[min(i, len(THRESHOLD_COLOURS) - 1)]
            sub = areas[areas["threshold_min"] == th]
            label = self.t["layer_service_area_t"].format(t=f"{th:g}")
            if sub.empty:
                self.note_empty(self.t["empty_layer"].format(layer=label))
                continue
            group = folium.FeatureGroup(name=_layer_name(label, len(sub)), show=th == ths[-1])
            _add_polygons(
                group,
                sub,
                lambda f, c=colour: {"fillColor": c, "color": c, "weight": 0.6, "fillOpacity": 0.2},
            )
            group.add_to(self.m)
            self.legend.append(_legend_row(colour, label))

    def gaps(self, gaps: gpd.GeoDataFrame) -> None:
        label = self.t["layer_gaps"].format(t=f"{self.d.thresholds[-1]:g}")
        if gaps.empty:
            self.note_empty(self.t["empty_gaps"].format(t=f"{self.d.thresholds[-1]:g}"))
            return
        group = folium.FeatureGroup(name=_layer_name(label, len(gaps)))
        _add_polygons(
            group,
            gaps,
            lambda f: {
                "fillColor": GAP_COLOUR,
                "color": GAP_COLOUR,
                "weight": 0.5,
                "fillOpacity": 0.45,
            },
        )
        group.add_to(self.m)
        self.legend.append(_legend_row(GAP_COLOUR, label))

    def stations(self, stations: gpd.GeoDataFrame) -> None:
        self.legend.append(f"<h4>{_esc(self.t['layer_stations'])}</h4>")
        if stations.empty:
            self.note_empty(self.t["empty_stations"])
            return
        for kind, sub in stations.groupby("kind", sort=True):
            colour = self.d.kind_colours.get(str(kind), "#333333")
            label = f"{self.t['station']}: {_i18n.kind_label(kind, self.d.lang)}"
            group = folium.FeatureGroup(name=_layer_name(label, len(sub)))
            folium.GeoJson(
                _geojson(sub, ["tip"]),
                marker=folium.CircleMarker(radius=6, fill=True, weight=1.5),
                style_function=lambda f, c=colour: {
                    "color": "#ffffff",
                    "fillColor": c,
                    "fillOpacity": 0.95,
                },
                tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
            ).add_to(group)
            group.add_to(self.m)
            self.legend.append(_legend_row(colour, label, dot=True))

    def sites(self, sites: gpd.GeoDataFrame | None) -> None:
        if sites is None:
            return
        label = self.t["layer_sites"]
        if sites.empty:
            self.note_empty(self.t["empty_sites"])
            return
        group = folium.FeatureGroup(name=_layer_name(label, len(sites)))
        for _, s in sites.iterrows():
            folium.Marker(
                [s.geometry.y, s.geometry.x],
                icon=folium.DivIcon(
                    html=f'<div class="site-rank">{s["rank_label"]}</div>',
                    icon_size=(22, 22),
                    icon_anchor=(11, 11),
                    class_name="site-icon",
                ),
                tooltip=folium.Tooltip(s["tip"]),
            ).add_to(group)
        group.add_to(self.m)
        self.legend.append(_legend_row(SITE_COLOUR, label, dot=True))

    def developments(self, devs: gpd.GeoDataFrame | None) -> None:
        if devs is None:
            return
        self.legend.append(f"<h4>{_esc(self.t['layer_developments'])}</h4>")
        if devs.empty:
            self.note_empty(self.t["empty_developments"])
            return
        for verdict in ("FAIL", "UNKNOWN", "PASS"):
            sub = devs[devs["verdict"] == verdict]
            if sub.empty:
                continue
            colour = VERDICT_COLOURS[verdict]
            label = f"{self.t['development']}: {self.t['verdict_' + verdict]}"
            group = folium.FeatureGroup(name=_layer_name(label, len(sub)))
            points = sub[sub.geom_type == "Point"]
            areas = sub[sub.geom_type != "Point"]
            if len(areas):
                _add_polygons(
                    group,
                    areas,
                    lambda f, c=colour: {
                        "fillColor": c,
                        "color": c,
                        "weight": 2.5,
                        "fillOpacity": 0.35,
                    },
                )
            if len(points):
                folium.GeoJson(
                    _geojson(points, ["tip"]),
                    marker=folium.CircleMarker(radius=7, fill=True, weight=2),
                    style_function=lambda f, c=colour: {
                        "color": "#000",
                        "fillColor": c,
                        "fillOpacity": 0.9,
                    },
                    tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
                ).add_to(group)
            group.add_to(self.m)
            self.legend.append(_legend_row(colour, label, line=True))

    def finish(self) -> Any:
        corner = "bottomleft" if self.scope == "district" else "bottomright"
        _Legend("".join(self.legend), corner).add_to(self.m)
        folium.LayerControl(collapsed=self.scope == "unit").add_to(self.m)
        return self.m


def coverage_map(
    result: RunResult | CoverageResult | MapData,
    *,
    tiles: str | None = None,
    language: str | None = None,
    height: str = "100%",
) -> Any:
    """Return the district map of a run: every unit, layer and legend.

    Parameters
    ----------
    result : RunResult, CoverageResult or MapData
        What to draw; a `MapData` prepared by :func:`map_data` is reused as it is.
    tiles : str, optional
        Basemap (see :func:`tile_layers`); default the scenario's, else none.
    language : str, optional
        ``zh`` or ``en``; default the scenario's.
    height : str
        CSS height of the map (``"100%"`` fills a page; e.g. ``"600px"`` in Jupyter).

    Returns
    -------
    offlinefolium.Map
        Display it in Jupyter, or write it with :func:`save_map`.

    """
    data = result if isinstance(result, MapData) else map_data(result, language=language)
    if tiles is not None:
        data = _replace_tiles(data, tiles)
    bounds = data.units.total_bounds if len(data.units) else data.stations.total_bounds
    b = _MapBuilder(data, _new_map(bounds, data.tiles, height=height), scope="district")
    b.units(data.units, None)
    cell = DENSITY_CELL_M["district"]
    b.density(density_raster(data.density, cell), cell)
    b.service_areas(data.areas)
    b.gaps(_dissolved_gaps(data.gaps))
    b.stations(data.stations)
    b.sites(data.sites)
    b.developments(data.developments)
    return b.finish()


def _replace_tiles(data: MapData, tiles: str) -> MapData:
    from dataclasses import replace

    return replace(data, tiles=tile_layers(tiles))


def _dissolved_gaps(gaps: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One feature per unit and reason: keeps the district map light (the GPKG has all)."""
    if gaps.empty:
        return gaps
    merged = gaps.dissolve(by=["unit_id", "reason"], as_index=False, aggfunc={"elderly": "sum"})
    merged["tip"] = [
        f"<b>{_esc(u)}</b><br>{_esc(r)}<br>{_fmt_num(e)}"
        for u, r, e in zip(merged["unit_id"], merged["reason"], merged["elderly"], strict=True)
    ]
    return merged.set_geometry(_round_coords(merged.geometry.values), crs=4326)


def unit_map(data: MapData, unit_id: str, *, pad_m: float = 400.0, height: str = "460px") -> Any:
    """Return the map of one unit: its gaps, stations, service areas and sites nearby.

    Layers are cut to the unit's extent plus `pad_m` metres, so a page stays small.

    Parameters
    ----------
    data : MapData
        From :func:`map_data`.
    unit_id : str
    pad_m : float
        Margin around the unit, metres.
    height : str
        CSS height of the map.

    Returns
    -------
    offlinefolium.Map

    """
    match = data.units[data.units["unit_id"] == str(unit_id)]
    if match.empty:
        msg = f"unit_map: no unit {unit_id!r}; units are e.g. {list(data.units['unit_id'][:5])}."
        raise InputError(msg)
    west, south, east, north = match.total_bounds
    pad_lat = pad_m / 111_320.0
    pad_lon = pad_m / (111_320.0 * max(np.cos(np.radians((south + north) / 2)), 0.1))
    window = (west - pad_lon, south - pad_lat, east + pad_lon, north + pad_lat)
    m = _new_map(match.total_bounds, data.tiles, height=height, padding=24)
    b = _MapBuilder(data, m, scope="unit")
    b.units(_window(data.units, window, clip=False), str(unit_id))
    cell = DENSITY_CELL_M["unit"]
    b.density(density_raster(data.density, cell, window=window), cell)
    b.service_areas(_window(data.areas, window, clip=True))
    b.gaps(data.gaps[data.gaps["unit_id"] == str(unit_id)])
    b.stations(_window(data.stations, window, clip=False))
    b.sites(None if data.sites is None else _window(data.sites, window, clip=False))
    b.developments(
        None if data.developments is None else _window(data.developments, window, clip=False)
    )
    return b.finish()


def _window(gdf: gpd.GeoDataFrame, box: tuple[float, ...], *, clip: bool) -> gpd.GeoDataFrame:
    if gdf.empty:
        return gdf
    west, south, east, north = box
    hits = gdf.sindex.query(shapely.box(west, south, east, north), predicate="intersects")
    out = gdf.iloc[np.sort(hits)]
    if clip and len(out):
        geoms = shapely.clip_by_rect(out.geometry.values, *box)
        out = out.set_geometry(_round_coords(geoms), crs=4326)
        out = out[~out.geometry.is_empty]
    return out


# --------------------------------------------------------------------------- saving
@dataclass(frozen=True)
class MapFragment:
    """A rendered map to place in a page: ``head`` (links, styles), ``body``, ``script``."""

    head: str
    body: str
    script: str


def _resources(root: Any) -> list[tuple[str, str, str]]:
    """List (name, url, kind) of the JS/CSS resources of every element under `root`."""
    found: dict[str, tuple[str, str, str]] = {}

    def walk(el: Any) -> None:
        for name, url in getattr(el, "default_js", []):
            found.setdefault(name, (name, url, "js"))
        for name, url in getattr(el, "default_css", []):
            found.setdefault(name, (name, url, "css"))
        for child in el._children.values():
            walk(child)

    walk(root)
    return list(found.values())


def _renumber(root: Any) -> None:
    """Give every element a sequential id, so the same map gives the same HTML."""
    counter = 0

    def walk(el: Any) -> None:
        nonlocal counter
        for child in el._children.values():
            counter += 1
            child._id = f"{counter:04d}"
            walk(child)

    walk(root)


def write_assets(assets_dir: Path) -> list[Path]:
    """Write Leaflet's JavaScript, CSS and licence into `assets_dir` and return the paths."""
    assets_dir.mkdir(parents=True, exist_ok=True)
    out = [_write_asset(assets_dir, url) for _, url in (_LEAFLET_JS, _LEAFLET_CSS)]
    lic = assets_dir / "LICENSE-leaflet.txt"
    lic.write_text(_LEAFLET_LICENSE, encoding="utf-8")
    return [*out, lic]


def _write_asset(assets_dir: Path, url: str) -> Path:
    if url not in _RESOURCES:
        msg = f"offlinefolium ships no copy of {url}; this map cannot be made offline."
        raise InputError(msg)
    assets_dir.mkdir(parents=True, exist_ok=True)
    path = assets_dir / Path(urlparse(url).path).name
    content = _RESOURCES[url]
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        path.write_text(content, encoding="utf-8")
    return path


def _render(m: Any, assets_url: str | None, assets_dir: Path | None) -> Any:
    root = m.get_root()
    _renumber(root)
    for child in root._children.values():
        child.render()
    if assets_url is not None and assets_dir is not None:
        for name, url, kind in _resources(root):
            file = _write_asset(assets_dir, url).name
            href = html.escape(f"{assets_url}/{file}", quote=True)
            tag = (
                f'<script src="{href}"></script>'
                if kind == "js"
                else f'<link rel="stylesheet" href="{href}">'
            )
            root.header._children[name] = Element(tag)
    return root


def save_map(
    m: Any,
    path: str | Path,
    *,
    assets_dir: str | Path | None = None,
    title: str | None = None,
    lang: str = "zh-CN",
) -> Path:
    """Write a map as a standalone HTML page and return its path.

    Parameters
    ----------
    m : offlinefolium.Map
    path : str or Path
    assets_dir : str or Path, optional
        Folder for Leaflet's files (linked by a relative path); when None, they are
        embedded in the page (about 170 kB).
    title : str, optional
        Page title (plain text).
    lang : str
        Value of the page's ``lang`` attribute.

    Returns
    -------
    Path

    """
    path = Path(path)
    root = m.get_root()
    root.title = None if title is None else _esc(title)
    if assets_dir is None:
        _renumber(root)
        page = root.render()
    else:
        adir = Path(assets_dir)
        root = _render(m, Path(_relpath(adir, path.parent)).as_posix(), adir)
        page = root._template.render(this=root, kwargs={})
    page = page.replace("<html>", f'<html lang="{html.escape(lang, quote=True)}">', 1)
    path.write_text(page, encoding="utf-8")
    return path


def map_fragment(m: Any, *, assets_url: str, assets_dir: str | Path) -> MapFragment:
    """Render a map into the three parts a page template places (assets linked).

    The map's own page-wide styles (full-page body, fixed viewport) are left out; the
    map takes the height it was built with.
    """
    root = _render(m, assets_url, Path(assets_dir))
    for own in ("meta_http", "icon"):  # the page template has its own
        root.header._children.pop(own, None)
    name = m.get_name()
    height = f"{m.height[0]:g}{m.height[1]}"
    root.header._children[name] = Element(
        "<style>#" + name + " { position: relative; width: 100%; height: " + height + "; }"
        " .leaflet-container { font-size: 1rem; }</style>"
    )
    return MapFragment(
        head=root.header.render(), body=root.html.render(), script=root.script.render()
    )


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target.resolve(), start.resolve())
