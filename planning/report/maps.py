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

The layers come from :func:`planning.report.layers.map_data`, the basemap from
:mod:`planning.report.tiles` (none by default); :func:`save_map`, :func:`map_fragment`
and :func:`write_assets` write the pages and their shared assets.
"""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import numpy as np
import offlinefolium as folium
import shapely
from branca.element import Element, MacroElement
from offlinefolium.raster_layers import ImageOverlay
from offlinefolium.template import Template

import planning.report._i18n as _i18n
from planning._errors import InputError
from planning.coverage import CoverageResult
from planning.report._offline import (
    _LEAFLET_CSS,
    _LEAFLET_JS,
    MapFragment,
    map_fragment,
    save_map,
    write_assets,
)
from planning.report._web import _esc, _round_coords
from planning.report.layers import ATTRIBUTION, DensityRaster, MapData, density_raster, map_data
from planning.report.palette import (
    _SHARE_BINS,
    DENSITY_BINS,
    GAP_COLOUR,
    SITE_COLOUR,
    THRESHOLD_COLOURS,
    VERDICT_COLOURS,
    share_colour,
)
from planning.report.tiles import TileSpec, tile_layers
from planning.results import RunResult

__all__ = [
    "DENSITY_CELL_M",
    "MapFragment",
    "coverage_map",
    "map_fragment",
    "save_map",
    "unit_map",
    "write_assets",
]

#: Cell size in metres of the density grid on the district map and on unit maps.
DENSITY_CELL_M = {"district": 500.0, "unit": 200.0}


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
    b.gaps(data.gaps)
    b.stations(data.stations)
    b.sites(data.sites)
    b.developments(data.developments)
    return b.finish()


def _replace_tiles(data: MapData, tiles: str) -> MapData:
    from dataclasses import replace

    return replace(data, tiles=tile_layers(tiles))


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
