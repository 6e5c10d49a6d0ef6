"""Interactive folium maps that work offline, for a district and for each unit.

Maps are built with ``offlinefolium`` (folium with its JavaScript and CSS resources
shipped inside the package). A map keeps only the resources it uses (Leaflet), and a run
folder writes them once into ``assets/`` beside its pages (:func:`save_map`,
:func:`map_fragment`), so a page loads nothing from the internet when tiles are off
(the default) and 128 unit pages share one copy of Leaflet. In Jupyter, a map shows
inline with Leaflet embedded.

Layers can be switched on and off: units coloured by coverage share (classes relative
to the rule set's target, spread by natural breaks), elderly density (one image), the
analysis road network as a light context line (the maps need no basemap to be read),
service areas per threshold, gaps, stations by kind, proposed sites and developments by
verdict. The legend shows the layers that are on; the scale bar is metric. A click
anywhere on the district map opens the unit under it, whatever layers lie on top (see
:mod:`planning.report._controls` for the panes and controls). Each map simplifies its
layers for its first view (:mod:`planning.report._geometry`). Every string that comes
from data is HTML-escaped before it reaches a tooltip, popup, legend or layer name.

The layers come from :func:`planning.report.layers.map_data`, the basemap from
:mod:`planning.report.tiles` (none by default); :func:`save_map`, :func:`map_fragment`
and :func:`write_assets` write the pages and their shared assets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import offlinefolium as folium
import shapely
from branca.element import Element
from offlinefolium.raster_layers import ImageOverlay

import planning.report._i18n as _i18n
from planning._errors import InputError
from planning.coverage import CoverageResult
from planning.report._controls import (
    Attribution,
    FocusWithoutScroll,
    Legend,
    MetricScale,
    SharedLines,
    UnitClick,
    add_panes,
    pane,
)
from planning.report._geometry import MIN_TOLERANCE_M, map_tolerance_m, polygon_image, simplify_web
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
    DENSITY_BINS,
    GAP_COLOUR,
    NETWORK_COLOUR,
    NO_DATA_COLOUR,
    SITE_COLOUR,
    THRESHOLD_COLOURS,
    VERDICT_COLOURS,
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
    "write_shared_network",
]

#: Cell size in metres of the density grid on the district map and on unit maps.
DENSITY_CELL_M = {"district": 500.0, "unit": 200.0}
#: Most gap areas a map draws as areas with a tooltip; the smaller rest form one image
#: of cells of `GAP_IMAGE_CELL_M` metres (district map, unit maps).
MAX_GAP_FEATURES = 500
GAP_IMAGE_CELL_M = {"district": 100.0, "unit": 50.0}


def _new_map(bounds: np.ndarray, tiles: list[TileSpec], *, height: str, padding: int = 0) -> Any:
    west, south, east, north = (float(v) for v in bounds)
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=None,
        zoom_start=12,
        control_scale=False,
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
    Attribution(ATTRIBUTION).add_to(m)
    FocusWithoutScroll().add_to(m)
    add_panes(m)
    return m


def _geojson(gdf: gpd.GeoDataFrame, columns: list[str]) -> str:
    """Return a FeatureCollection of `gdf` with only `columns` as properties (NaN: null).

    Features are numbered (``id``), so that folium's per-feature styles name them by
    number rather than by their first property (a whole tooltip, written once more).
    """
    props = gdf[columns].astype(object)
    props = props.where(props.notna(), None).to_dict(orient="records")
    geoms = shapely.to_geojson(np.asarray(gdf.geometry.values))
    features = ",".join(
        f'{{"type":"Feature","id":{i},"geometry":{g},"properties":{json.dumps(p)}}}'
        for i, (g, p) in enumerate(zip(geoms, props, strict=True))
    )
    return f'{{"type":"FeatureCollection","features":[{features}]}}'


def _add_polygons(
    group: Any,
    gdf: gpd.GeoDataFrame,
    style: Any,
    *,
    extra: tuple[str, ...] = (),
    **options: Any,
) -> Any:
    layer = folium.GeoJson(
        _geojson(gdf, ["tip", *extra]),
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True),
        **options,
    )
    layer.add_to(group)
    return layer


def _legend_row(
    colour: str, label: str, *, dot: bool = False, line: bool = False, rule: bool = False
) -> str:
    style = f"background:{colour}" if not line else f"border:2px solid {colour};background:none"
    if rule:  # a road: a thin line
        style = f"border:0;border-top:2px solid {colour};height:0;vertical-align:3px"
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
    """Add the layers of a `MapData` (optionally cut to a window) to a map with a legend.

    Layers are simplified for the map's first view (:func:`map_tolerance_m` of
    `bounds`); each legend section shows while its layers are on.
    """

    def __init__(self, data: MapData, m: Any, *, scope: str, bounds: np.ndarray) -> None:
        self.d, self.m, self.scope = data, m, scope
        self.t = data.t
        self.tolerance_m = map_tolerance_m(bounds)
        self.sections: list[tuple[str, list[Any]]] = []
        self.notes: list[str] = []
        self.unit_layer: Any = None

    def note_empty(self, label: str) -> None:
        self.notes.append(f'<div class="empty">{_esc(label)}</div>')

    def units(self, units: gpd.GeoDataFrame, highlight: str | None) -> None:
        t_max = f"{self.d.thresholds[-1]:g}"
        label = self.t["layer_units"].format(t=t_max)
        group = folium.FeatureGroup(name=_layer_name(label))
        classes = self.d.classes
        units = simplify_web(units, self.tolerance_m, coverage=True)
        units = units.assign(
            own=(units["unit_id"] == highlight).astype(int),
            fill=[classes.colour(s) for s in units["share"]],
        )

        def style(f: dict[str, Any]) -> dict[str, Any]:
            own = bool(f["properties"]["own"])
            return {
                "fillColor": f["properties"]["fill"],
                "color": "#000" if own else "#666",
                "weight": 3 if own else 0.8,
                "fillOpacity": 0.6 if own or highlight is None else 0.3,
            }

        district = self.scope == "district"
        extra = ("own", "fill", *(["popup"] if district else []))
        self.unit_layer = _add_polygons(group, units, style, extra=extra, pane=pane("units"))
        group.add_to(self.m)
        self.sections.append((f"<h4>{_esc(label)}</h4>{self._class_rows(district)}", [group]))

    def _class_rows(self, counts: bool) -> str:
        classes = self.d.classes
        index = [classes.index(s) for s in self.d.units["share"]]
        rows = []
        for i, (colour, text) in enumerate(zip(classes.colours, classes.labels(), strict=True)):
            met = classes.target is not None and i == len(classes.colours) - 1
            text = self.t["class_target_met"].format(range=text) if met else text
            if counts:
                text += f" ({sum(1 for k in index if k == i)})"
            rows.append(_legend_row(colour, text))
        if any(k is None for k in index):
            rows.append(_legend_row(NO_DATA_COLOUR, self.t["class_no_elderly"]))
        if classes.target is not None:
            target = self.t["class_target_note"].format(target=f"{classes.target:.0%}")
            rows.append(f"<div><small>{_esc(target)}</small></div>")
        return "".join(rows)

    def network(self, lines: gpd.GeoDataFrame, *, shared: str | None = None) -> None:
        """Draw the network: `lines` simplified, or the file `shared` links (all of it)."""
        lines = simplify_web(lines, self.tolerance_m)
        if lines.empty:
            return
        label = self.t["layer_network"]
        group = folium.FeatureGroup(name=_layer_name(label))
        style = {"color": NETWORK_COLOUR, "weight": 1, "opacity": 0.7}
        if shared is None:
            folium.GeoJson(
                _geojson(lines, []),
                style_function=lambda f: style,
                pane=pane("network"),
                interactive=False,
            ).add_to(group)
        group.add_to(self.m)
        if shared is not None:  # after the group: its script fills the group
            SharedLines(shared, group, style).add_to(self.m)
        self.sections.append((_legend_row(NETWORK_COLOUR, label, rule=True), [group]))

    def density(self, raster: DensityRaster | None, cell_m: float) -> None:
        label = self.t["layer_density"]
        if raster is None:
            self.note_empty(self.t["empty_density"])
            return
        overlay = ImageOverlay(
            raster.rgba,
            bounds=raster.bounds,
            name=_layer_name(f"{label} ({cell_m:g} m)"),
            show=False,
            pixelated=True,
            opacity=0.75,
            pane=pane("density"),
        )
        overlay.add_to(self.m)
        ramp = _ramp([(c, f"{lower:,.0f}") for lower, c in DENSITY_BINS])
        self.sections.append((f"<h4>{_esc(label)} (/km²)</h4>{ramp}", [overlay]))

    def service_areas(self, areas: gpd.GeoDataFrame) -> None:
        areas = simplify_web(areas, self.tolerance_m)
        heading = len(self.sections)
        self.sections.append((f"<h4>{_esc(self.t['layer_service_areas'])}</h4>", []))
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
            self.sections[heading][1].append(group)
            self.sections.append((_legend_row(colour, label), [group]))

    def gaps(self, gaps: gpd.GeoDataFrame) -> None:
        """Draw the gaps: the largest as areas with tooltips, the rest as one image.

        Beyond :data:`MAX_GAP_FEATURES` areas (a city without stations in its outskirts
        has thousands), the smaller ones, by older people, are drawn as one image of
        cells of :data:`GAP_IMAGE_CELL_M` for the map's scope, in the same layer.
        """
        label = self.t["layer_gaps"].format(t=f"{self.d.thresholds[-1]:g}")
        gaps = simplify_web(gaps, self.tolerance_m)
        if gaps.empty:
            self.note_empty(self.t["empty_gaps"].format(t=f"{self.d.thresholds[-1]:g}"))
            return
        group = folium.FeatureGroup(name=_layer_name(label, len(gaps)))
        order = np.argsort(-gaps["elderly"].to_numpy(dtype=float), kind="stable")
        areas, rest = gaps.iloc[order[:MAX_GAP_FEATURES]], gaps.iloc[order[MAX_GAP_FEATURES:]]
        image = polygon_image(rest, GAP_COLOUR, cell_m=GAP_IMAGE_CELL_M[self.scope])
        if image is not None:
            ImageOverlay(image[0], bounds=image[1], pixelated=True, interactive=False).add_to(group)
        style = {"fillColor": GAP_COLOUR, "color": GAP_COLOUR, "weight": 0.8, "fillOpacity": 0.45}
        _add_polygons(group, areas, lambda f: style)
        group.add_to(self.m)
        row = _legend_row(GAP_COLOUR, label)
        if len(rest):
            note = self.t["gaps_as_image"].format(n=f"{len(rest):,}", top=f"{len(areas):,}")
            row += f"<div><small>{_esc(note)}</small></div>"
        self.sections.append((row, [group]))

    def stations(self, stations: gpd.GeoDataFrame) -> None:
        if stations.empty:
            self.note_empty(self.t["empty_stations"])
            return
        heading = len(self.sections)
        self.sections.append((f"<h4>{_esc(self.t['layer_stations'])}</h4>", []))
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
            self.sections[heading][1].append(group)
            self.sections.append((_legend_row(colour, label, dot=True), [group]))

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
        self.sections.append((_legend_row(SITE_COLOUR, label, dot=True), [group]))

    def developments(self, devs: gpd.GeoDataFrame | None) -> None:
        if devs is None:
            return
        if devs.empty:
            self.note_empty(self.t["empty_developments"])
            return
        heading = len(self.sections)
        self.sections.append((f"<h4>{_esc(self.t['layer_developments'])}</h4>", []))
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
            self.sections[heading][1].append(group)
            self.sections.append((_legend_row(colour, label, line=True), [group]))

    def finish(self) -> Any:
        district = self.scope == "district"
        corner = "bottomleft" if district else "bottomright"
        Legend(self.sections, "".join(self.notes), corner).add_to(self.m)
        MetricScale("bottomright" if district else "bottomleft").add_to(self.m)
        if district and self.unit_layer is not None:
            UnitClick(self.unit_layer).add_to(self.m)
        folium.LayerControl(collapsed=not district).add_to(self.m)
        return self.m


def coverage_map(
    result: RunResult | CoverageResult | MapData,
    *,
    tiles: str | None = None,
    language: str | None = None,
    height: str = "100%",
) -> Any:
    """Return the district map of a run: every unit, layer and legend.

    The first view fits the units; a click anywhere opens the popup of the unit under
    it (with the link to its page), whatever layers are on; the legend shows the
    layers that are on, with the classes of the units relative to the target.

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
    m = _new_map(bounds, data.tiles, height=height)
    b = _MapBuilder(data, m, scope="district", bounds=bounds)
    b.units(data.units, None)
    cell = DENSITY_CELL_M["district"]
    b.density(density_raster(data.density, cell), cell)
    b.network(data.network)
    b.service_areas(data.areas)
    b.gaps(data.gaps)
    b.stations(data.stations)
    b.sites(data.sites)
    b.developments(data.developments)
    return b.finish()


def _replace_tiles(data: MapData, tiles: str) -> MapData:
    from dataclasses import replace

    return replace(data, tiles=tile_layers(tiles))


def unit_map(
    data: MapData,
    unit_id: str,
    *,
    pad_m: float = 400.0,
    height: str = "460px",
    network_script: str | None = None,
) -> Any:
    """Return the map of one unit: its gaps, stations, service areas and sites nearby.

    Layers are cut to the unit's extent plus `pad_m` metres and simplified for that
    extent, so a page stays small.

    Parameters
    ----------
    data : MapData
        From :func:`map_data`.
    unit_id : str
    pad_m : float
        Margin around the unit, metres.
    height : str
        CSS height of the map.
    network_script : str, optional
        URL of the file :func:`write_shared_network` wrote: the page links it instead of
        holding its own piece of the network (pages of one run share one copy).

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
    b = _MapBuilder(data, m, scope="unit", bounds=np.asarray(window))
    b.units(_window(data.units, window, clip=True), str(unit_id))
    cell = DENSITY_CELL_M["unit"]
    b.density(density_raster(data.density, cell, window=window), cell)
    b.network(_window(data.network, window, clip=True), shared=network_script)
    b.service_areas(_window(data.areas, window, clip=True))
    b.gaps(data.gaps[data.gaps["unit_id"] == str(unit_id)])
    b.stations(_window(data.stations, window, clip=False))
    b.sites(None if data.sites is None else _window(data.sites, window, clip=False))
    b.developments(
        None if data.developments is None else _window(data.developments, window, clip=False)
    )
    return b.finish()


def write_shared_network(data: MapData, assets_dir: str | Path) -> Path:
    """Write the network of `data` as ``network.js`` into `assets_dir` and return its path.

    The file sets ``window.planningNetwork`` to the network as GeoJSON (lon/lat rounded to
    about 1 m), for the unit maps (see `network_script` of :func:`unit_map`), simplified
    for the map of the smallest unit.
    """
    path = Path(assets_dir) / "network.js"
    path.parent.mkdir(parents=True, exist_ok=True)
    sides = data.units.bounds.to_numpy()
    tolerance = min((map_tolerance_m(b) for b in sides), default=MIN_TOLERANCE_M)
    lines = simplify_web(data.network, tolerance)
    text = f"window.planningNetwork = {_geojson(lines, [])};\n"
    path.write_text(text, encoding="utf-8")
    return path


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
