"""Interactive folium maps that work offline.

Maps are built with ``offlinefolium`` (folium with Leaflet and its plugins embedded in
the HTML), so a saved map loads nothing from the internet when tiles are off (the
default). Every string that comes from data is HTML-escaped before it reaches a popup
or tooltip.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import offlinefolium as folium
import pandas as pd

if TYPE_CHECKING:
    from planning.workflow import RunResult

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
THRESHOLD_COLOURS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b"]
_SHARE_BINS = [
    (0.0, "#d7191c"),
    (0.5, "#fdae61"),
    (0.75, "#ffffbf"),
    (0.9, "#a6d96a"),
    (1.0, "#1a9641"),
]
TILES = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap contributors"),
}


def share_colour(share: float) -> str:
    """Return the fill colour for a coverage share (0–1); grey when unknown."""
    if share is None or not np.isfinite(share):
        return "#bdbdbd"
    colour = _SHARE_BINS[0][1]
    for lower, c in _SHARE_BINS:
        if share >= lower - 1e-12:
            colour = c
    return colour


def _escaped(gdf: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    """Keep `columns`, HTML-escape strings, round floats; reproject to EPSG:4326."""
    out = gdf[[c for c in columns if c in gdf] + ["geometry"]].copy()
    for col in out.columns:
        if col == "geometry":
            continue
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(3)
        elif not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(lambda v: html.escape(str(v)) if v is not None else "")
    return out.to_crs(4326)


def base_map(bounds: tuple[float, ...], *, tiles: str | None = None) -> Any:
    """Return an empty offline map fitted to `bounds` (lon/lat: west, south, east, north).

    Parameters
    ----------
    bounds : tuple of float
    tiles : {None, "osm"} or URL template, optional
        Basemap; None (default) draws no tiles and needs no internet.

    """
    west, south, east, north = bounds
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=None,
        zoom_start=12,
        control_scale=True,
    )
    if tiles:
        url, attr = TILES.get(tiles, (tiles, "basemap"))
        folium.TileLayer(url, attr=html.escape(attr), name="basemap").add_to(m)
    m.fit_bounds([[south, west], [north, east]])
    footer = "<div style='position:fixed;bottom:2px;left:4px;z-index:900;font:11px sans-serif;"
    footer += f"background:rgba(255,255,255,.8);padding:1px 4px'>{html.escape(ATTRIBUTION)}</div>"
    root: Any = m.get_root()
    root.html.add_child(folium.Element(footer))
    return m


def coverage_map(result: RunResult, *, tiles: str | None = None) -> Any:
    """Return the coverage map of a run: units, service areas, gaps and stations.

    Layers can be switched on and off: units coloured by the share of older people
    within the largest threshold, service areas per threshold, gaps, stations by kind.
    """
    cov = result.coverage
    t_max = cov.thresholds_min[-1]
    units = cov.units
    b = units.to_crs(4326).total_bounds if len(units) else cov.demand.to_crs(4326).total_bounds
    m = base_map(tuple(float(x) for x in b), tiles=tiles or _scenario_tiles(result))
    _add_units(m, units, t_max)
    _add_service_areas(m, cov.service_areas, cov.thresholds_min)
    _add_gaps(m, cov.gaps)
    _add_stations(m, cov.stations)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _scenario_tiles(result: RunResult) -> str | None:
    spec = result.scenario.section("map")
    tiles = spec.get("tiles")
    return None if tiles in (None, "none") else str(tiles)


def _add_units(m: Any, units: gpd.GeoDataFrame, t_max: float) -> None:
    share = f"coverage_share_{t_max:g}min"
    cols = ["unit_id", "name", "elderly", share, f"elderly_uncovered_{t_max:g}min"]
    data = _escaped(units.assign(geometry=units.geometry.simplify(5.0)), cols)
    layer = folium.FeatureGroup(name=f"Units: coverage within {t_max:g} min")
    folium.GeoJson(
        data.to_json(),
        style_function=lambda f: {
            "fillColor": share_colour(f["properties"].get(share)),
            "color": "#555",
            "weight": 1,
            "fillOpacity": 0.45,
        },
        tooltip=folium.GeoJsonTooltip(fields=[c for c in cols if c in data]),
    ).add_to(layer)
    layer.add_to(m)


def _add_service_areas(m: Any, areas: gpd.GeoDataFrame, thresholds: tuple[float, ...]) -> None:
    for i, t in enumerate(sorted(thresholds, reverse=True)):
        sub = areas[(areas["threshold_min"] == t) & ~areas.geometry.is_empty]
        if sub.empty:
            continue
        colour = THRESHOLD_COLOURS[min(i, len(THRESHOLD_COLOURS) - 1)]
        data = _escaped(
            sub.assign(geometry=sub.geometry.simplify(5.0)),
            ["station_id", "kind", "threshold_min", "elderly", "area_m2"],
        )
        layer = folium.FeatureGroup(name=f"Service areas {t:g} min", show=t == thresholds[-1])
        folium.GeoJson(
            data.to_json(),
            style_function=lambda f, c=colour: {
                "fillColor": c,
                "color": c,
                "weight": 0.5,
                "fillOpacity": 0.25,
            },
            tooltip=folium.GeoJsonTooltip(fields=["station_id", "threshold_min", "elderly"]),
        ).add_to(layer)
        layer.add_to(m)


def _add_gaps(m: Any, gaps: gpd.GeoDataFrame) -> None:
    if gaps.empty:
        return
    # one feature per unit and reason keeps the map light; gaps.gpkg has every cluster
    merged = gaps.dissolve(by=["unit_id", "reason"], as_index=False, aggfunc={"elderly": "sum"})
    merged["geometry"] = merged.geometry.simplify(10.0)
    data = _escaped(merged, ["unit_id", "reason", "elderly"])
    layer = folium.FeatureGroup(name="Gaps (older people not covered)")
    folium.GeoJson(
        data.to_json(),
        style_function=lambda f: {
            "fillColor": "#d7191c",
            "color": "#d7191c",
            "weight": 0,
            "fillOpacity": 0.35,
        },
        tooltip=folium.GeoJsonTooltip(fields=["unit_id", "reason", "elderly"]),
    ).add_to(layer)
    layer.add_to(m)


def _add_stations(m: Any, stations: gpd.GeoDataFrame) -> None:
    data = _escaped(stations, ["station_id", "name", "kind", "capacity", "elderly_catchment"])
    for kind, sub in data.groupby("kind", sort=True):
        layer = folium.FeatureGroup(name=f"Stations: {kind}")
        colour = KIND_COLOURS.get(html.unescape(str(kind)), "#333333")
        for _, row in sub.iterrows():
            label = "<br>".join(f"{k}: {row[k]}" for k in sub.columns if k != "geometry")
            folium.CircleMarker(
                [row.geometry.y, row.geometry.x],
                radius=5,
                color=colour,
                fill=True,
                fill_opacity=0.9,
                popup=folium.Popup(label, max_width=300),
                tooltip=str(row["station_id"]),
            ).add_to(layer)
        layer.add_to(m)
