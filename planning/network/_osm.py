"""OpenStreetMap → `Network`: OSM XML/PBF files offline, osmnx downloads, the walk filter."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import pandas as pd

from planning._errors import InputError
from planning._validate import describe
from planning.network._lines import _network_from_gdf, _to_metric
from planning.network._model import Components, Network, _excluded_frame, _row


def network_from_xml(
    path: str | Path,
    *,
    crs: Any = None,
    walk_speed_m_s: float | None = None,
    components: Components = "largest",
    network_type: str = "walk",
) -> Network:
    """Build a walking network from an OpenStreetMap file, offline.

    Reads ``.osm`` / ``.xml`` (optionally ``.bz2``) with osmnx, and ``.pbf`` through
    pyosmium (the ``pbf`` extra), keeping the ways that osmnx's `network_type` filter
    admits (``"walk"``: footways, paths, residential streets, ... but not motorways).

    Parameters
    ----------
    path : str or Path
        The OSM file.
    crs, walk_speed_m_s, components
        As in :func:`network_from_lines`.
    network_type : str
        osmnx network type used to filter ways, default ``"walk"``.

    Returns
    -------
    Network

    """
    import osmnx as ox

    path = Path(path)
    if not path.exists():
        msg = f"OSM file {describe(path)} does not exist. Check the path."
        raise InputError(msg)
    try:
        with tempfile.TemporaryDirectory(prefix="planning-osm-") as tmp:
            xml_path = _pbf_to_xml(path, Path(tmp)) if path.suffix.lower() == ".pbf" else path
            with _osmnx_filter(network_type):
                g = ox.graph_from_xml(xml_path, simplify=False, retain_all=True)
    except InputError:
        raise
    except Exception as exc:
        msg = f"Cannot read OSM file {describe(path)}: {exc}. Is it an OSM XML/PBF export?"
        raise InputError(msg) from exc
    return _network_from_osmnx_graph(g, str(path), crs, walk_speed_m_s, components)


class _osmnx_filter:
    """Temporarily restrict osmnx's XML reader to the ways of a network type."""

    def __init__(self, network_type: str) -> None:
        self.network_type = network_type

    def __enter__(self) -> None:
        import osmnx as ox

        self.saved = ox.settings.useful_tags_way
        ox.settings.useful_tags_way = [*self.saved, "highway", "foot", "access", "area", "service"]

    def __exit__(self, *args: object) -> None:
        import osmnx as ox

        ox.settings.useful_tags_way = self.saved


def _walkable(data: dict[str, Any]) -> bool:
    """Apply osmnx's ``network_type="walk"`` way filter to one edge's tags."""
    hw = data.get("highway")
    hw = hw[0] if isinstance(hw, list) else hw
    if not isinstance(hw, str) or _NOT_WALKABLE.search(hw):
        return False
    return not (
        data.get("area") == "yes"
        or data.get("foot") == "no"
        or data.get("service") == "private"
        or data.get("access") == "private"
    )


_NOT_WALKABLE = re.compile(
    "abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|proposed|raceway|razed"
)


def _pbf_to_xml(path: Path, folder: Path) -> Path:
    try:
        import osmium
    except ImportError as exc:
        msg = (
            f"Reading {describe(path)} (.pbf) needs pyosmium: `pip install planning[pbf]`, "
            "or convert it to .osm XML with osmium-tool first."
        )
        raise InputError(msg) from exc
    out = folder / (path.stem + ".osm")
    with osmium.SimpleWriter(str(out)) as writer:
        for obj in osmium.FileProcessor(str(path)):
            writer.add(obj)
    return out


def _network_from_osmnx_graph(
    g: nx.MultiDiGraph,
    source: str,
    crs: Any,
    walk_speed_m_s: float | None,
    components: Components,
) -> Network:
    import osmnx as ox

    removed = [(u, v, k) for u, v, k, d in g.edges(keys=True, data=True) if not _walkable(d)]
    g = g.copy()
    g.remove_edges_from(removed)
    g.remove_nodes_from([n for n, d in g.degree() if d == 0])
    if g.number_of_edges() == 0:
        msg = f"OSM source '{source}' holds no walkable way (highway=*). Check the extract."
        raise InputError(msg)
    if not g.graph.get("simplified", False):
        g = ox.simplify_graph(g)
    ug = ox.convert.to_undirected(g)
    _, edges = ox.graph_to_gdfs(ug)
    gdf = gpd.GeoDataFrame(geometry=edges.geometry.values, crs=edges.crs)
    gdf = _to_metric(gdf, crs, source)
    excluded = []
    if removed:
        excluded.append(
            _row("OSM way segments", "not walkable (tags, osmnx walk filter)", len(removed), 0.0)
        )
    net = _network_from_gdf(
        gdf,
        source=source,
        walk_speed_m_s=walk_speed_m_s,
        node_tolerance_m=0.01,
        components=components,
        noding="endpoints",
    )
    net.excluded = pd.concat([_excluded_frame(excluded), net.excluded], ignore_index=True)
    return net


def network_from_osmnx(
    *,
    place: str | None = None,
    polygon: Any = None,
    bbox: tuple[float, float, float, float] | None = None,
    crs: Any = None,
    walk_speed_m_s: float | None = None,
    components: Components = "largest",
) -> Network:
    """Download a walking network with osmnx (needs internet; only when asked).

    Exactly one of `place` (a geocodable name), `polygon` (shapely polygon in EPSG:4326)
    or `bbox` (west, south, east, north in degrees) must be given.

    Returns
    -------
    Network

    """
    import osmnx as ox

    given = [x is not None for x in (place, polygon, bbox)]
    if sum(given) != 1:
        msg = "Give exactly one of place=, polygon= or bbox= to download a network with osmnx."
        raise InputError(msg)
    if place is not None:
        g = ox.graph_from_place(place, network_type="walk", retain_all=True)
        source = f"osmnx:place={place}"
    elif polygon is not None:
        g = ox.graph_from_polygon(polygon, network_type="walk", retain_all=True)
        source = "osmnx:polygon"
    else:
        assert bbox is not None
        g = ox.graph_from_bbox(bbox, network_type="walk", retain_all=True)
        source = f"osmnx:bbox={bbox}"
    return _network_from_osmnx_graph(g, source, crs, walk_speed_m_s, components)
