"""Build the walking network: OSM files, line layers or an osmnx download → `Network`.

A `Network` holds nodes and undirected edges as GeoDataFrames in a projected metric CRS,
with ``length_m`` and ``travel_time_s`` per edge at a given walking speed, and a record of
what was excluded (zero-length lines, invalid geometries, dropped components). All heavy
computation runs on its sparse matrix (:meth:`Network.csr`), see :mod:`planning.access`.

The readers: :func:`network_from_lines` (road centre-line layers, ``_lines``),
:func:`network_from_xml` and :func:`network_from_osmnx` (OpenStreetMap, ``_osm``), and
:func:`read_network`, which chooses one by file type. The type itself is in ``_model``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd

from planning._errors import InputError
from planning._files import check_file
from planning._validate import describe
from planning.network._lines import choose_metric_crs, network_from_lines
from planning.network._model import Components, Network, Noding
from planning.network._osm import network_from_osmnx, network_from_xml

__all__ = [
    "Components",
    "Network",
    "Noding",
    "choose_metric_crs",
    "network_from_lines",
    "network_from_osmnx",
    "network_from_xml",
    "read_network",
]

_OSM_SUFFIXES = {".osm", ".xml", ".bz2", ".pbf"}
_WGS84 = {"EPSG:4326", "4326", "WGS84", "WGS-84"}
_LINE_SUFFIXES = {".shp", ".gpkg", ".geojson", ".json", ".fgb", ".gml", ".kml", ".zip"}


def read_network(
    source: str | Path | gpd.GeoDataFrame,
    *,
    layer: str | None = None,
    crs: Any = None,
    walk_speed_m_s: float | None = None,
    components: Components = "largest",
    noding: Noding = "vertices",
    exclude: Iterable[str] | None = None,
    source_crs: Any = None,
) -> Network:
    """Build a network from a path, choosing the reader by file type.

    ``.osm``, ``.xml``, ``.osm.bz2`` and ``.pbf`` go to :func:`network_from_xml` (which
    alone uses `exclude`, its walk-filter rules); line layers (``.shp``, ``.gpkg``,
    ``.geojson``, ...) and GeoDataFrames to :func:`network_from_lines`, which alone uses
    `source_crs`, the CRS of a layer that carries none (``network: {crs: ...}``; OSM data
    is always WGS-84, so stating another CRS for an OSM file is an error).

    Returns
    -------
    Network

    """
    if isinstance(source, gpd.GeoDataFrame):
        return network_from_lines(
            source,
            crs=crs,
            walk_speed_m_s=walk_speed_m_s,
            components=components,
            noding=noding,
            source_crs=source_crs,
        )
    path = Path(source)
    suffix = path.suffix.lower()
    check_file(path, "OSM" if suffix in _OSM_SUFFIXES else "road")
    if suffix in _OSM_SUFFIXES:
        if source_crs is not None and str(source_crs).strip().upper() not in _WGS84:
            msg = (
                f"OpenStreetMap file {describe(path)} is always in WGS-84, but the scenario "
                f"says `crs: {source_crs}`. Remove `crs` from the `network:` section."
            )
            raise InputError(msg)
        return network_from_xml(
            path, crs=crs, walk_speed_m_s=walk_speed_m_s, components=components, exclude=exclude
        )
    if suffix in _LINE_SUFFIXES:
        return network_from_lines(
            path,
            layer=layer,
            crs=crs,
            walk_speed_m_s=walk_speed_m_s,
            components=components,
            noding=noding,
            source_crs=source_crs,
        )
    msg = (
        f"Unknown road file type {describe(path)}: expected one of "
        f"{', '.join(sorted(_OSM_SUFFIXES | _LINE_SUFFIXES))}."
    )
    raise InputError(msg)
