"""Basemap tiles of the maps: none by default (no internet), OSM, 天地图 or a URL template.

Tiles: none (default), OpenStreetMap, 天地图 Tianditu (vector or imagery, with the
annotation layer; needs the user's key) or any ``{z}/{x}/{y}`` URL template, e.g. an
intranet tile server. Tianditu uses CGCS2000 (≈ WGS-84) like the layers; Amap and
Tencent tiles are shifted (GCJ-02) and would not line up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote, urlparse

from planning._errors import InputError
from planning.scenario import Scenario

log = logging.getLogger(__name__)

_TIANDITU = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
    "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
_OSM = ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap contributors")
_TILE_CHOICES = ("none", "osm", "tianditu", "tianditu-img", "custom")


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


def scenario_tiles(scenario: Scenario | None) -> list[TileSpec]:
    """Return the tile layers set in a scenario's ``map:`` section (none by default)."""
    spec = scenario.section("map") if scenario is not None else {}
    return tile_layers(
        spec.get("tiles"),
        key=spec.get("tiles_key"),
        url=spec.get("tiles_url"),
        attribution=spec.get("attribution"),
    )
