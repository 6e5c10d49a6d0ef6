"""The pages of a batch folder: many districts at a glance, and a small map of all of them.

The map holds district-level layers only (one outline per district, coloured by its
coverage share at each threshold; detail stays in each district's run folder) and is built
with the same offline folium machinery as a run's maps (Leaflet in ``assets/``). The page
``index.html`` is rendered from ``templates/batch.html.j2`` with the run pages' styles;
its values come from the batch (:mod:`planning.batch`), already formatted, and every data
string is escaped by the template.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import offlinefolium as folium

from planning.report._controls import Legend
from planning.report._i18n import html_lang, strings
from planning.report._offline import save_map, write_assets
from planning.report._web import _esc
from planning.report.maps import _add_polygons, _new_map, _ramp
from planning.report.pages import _render
from planning.report.palette import _SHARE_BINS, share_colour


def districts_map(
    districts: gpd.GeoDataFrame,
    thresholds: list[str],
    *,
    language: str = "zh",
    height: str = "100%",
) -> Any:
    """Return a map of district outlines coloured by coverage share, one layer per threshold.

    Parameters
    ----------
    districts : geopandas.GeoDataFrame
        One row per district: ``name``, ``title``, ``href`` (its run folder's page) and
        ``coverage_share_{T}min`` for each threshold, any CRS.
    thresholds : list of str
        Thresholds in minutes as they appear in the column names (``["5", "10", "15"]``).
    language : str
        ``zh`` or ``en``.
    height : str
        CSS height of the map.

    Returns
    -------
    offlinefolium.Map

    """
    t = strings(language)
    web = districts.to_crs(4326)
    m = _new_map(web.total_bounds, [], height=height)
    ramp = _ramp([(c, f"{lower:.0%}") for lower, c in _SHARE_BINS])
    sections: list[tuple[str, list[Any]]] = []
    for i, th in enumerate(thresholds):
        col = f"coverage_share_{th}min"
        label = t["coverage_within"].format(t=th)
        layer = web.assign(
            share=web[col].astype(float),
            tip=[
                _esc(f"{title} — {label}: {share:.1%}")
                for title, share in zip(web["title"], web[col].astype(float), strict=True)
            ],
            popup=[
                f'<b>{_esc(title)}</b><br><a href="{_esc(href)}" target="_top">'
                f"{_esc(t['batch_open_district'])}</a>"
                for title, href in zip(web["title"], web["href"], strict=True)
            ],
        )
        group = folium.FeatureGroup(name=_esc(label), overlay=False, show=i == len(thresholds) - 1)

        def style(f: dict[str, Any]) -> dict[str, Any]:
            share = f["properties"]["share"]
            return {
                "fillColor": share_colour(share),
                "color": "#333",
                "weight": 2,
                "fillOpacity": 0.6,
            }

        popup = folium.GeoJsonPopup(fields=["popup"], labels=False)
        _add_polygons(group, layer, style, extra=("share", "popup"), popup=popup)
        group.add_to(m)
        sections.append((f"<h4>{_esc(label)}</h4>{ramp}", [group]))
    Legend(sections, f"<p>{_esc(t['batch_map_legend'])}</p>", "bottomleft").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def write_districts_map(
    districts: gpd.GeoDataFrame, thresholds: list[str], out_dir: Path, *, language: str
) -> Path:
    """Write ``map.html`` of a batch folder (Leaflet in ``assets/``) and return its path."""
    assets = out_dir / "assets"
    write_assets(assets)
    t = strings(language)
    return save_map(
        districts_map(districts, thresholds, language=language),
        out_dir / "map.html",
        assets_dir=assets,
        title=t["batch_map_title"],
        lang=html_lang(language),
    )


def write_overview(ctx: Mapping[str, Any], out_dir: Path) -> Path:
    """Render ``index.html`` of a batch folder from `ctx` and return its path."""
    path = out_dir / "index.html"
    path.write_text(_render("batch.html.j2", ctx), encoding="utf-8")
    return path
