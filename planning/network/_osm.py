"""OpenStreetMap → `Network`: OSM XML/PBF files offline, osmnx downloads.

Files are read with pyosmium, which takes ``.osm``/``.xml`` (also ``.bz2``) and ``.pbf``
alike. Ways pass the walk filter of :mod:`planning.network._walkfilter` (osmnx 2.1's
``network_type="walk"`` filter plus our `exclude` rules). A clipped extract (a bounding-box
export) has ways that reference nodes missing from the file: such a way is split at the
missing references and its pieces of two or more nodes are kept; how many ways were cut
and node references missing are rows of `Network.excluded`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from planning import settings
from planning._errors import InputError
from planning._validate import describe
from planning.network._lines import _network_from_gdf, _to_metric
from planning.network._model import Components, Network, _excluded_frame, _row
from planning.network._walkfilter import (
    NO_HIGHWAY,
    check_exclude,
    describe_filter,
    walk_reason,
)

log = logging.getLogger(__name__)

#: osmnx edge attributes the walk filter reads (added to ``useful_tags_way`` for downloads).
_FILTER_TAGS = (
    "highway", "area", "access", "foot", "service", "bridge", "tunnel", "motorroad",
    "sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right",
)  # fmt: skip
_EARTH_RADIUS_M = 6_371_009.0  # as osmnx.distance.great_circle
_FORMATS = {".pbf": "pbf", ".osm": "osm", ".xml": "osm", ".bz2": "osm.bz2"}


def network_from_xml(
    path: str | Path,
    *,
    crs: Any = None,
    walk_speed_m_s: float | None = None,
    components: Components = "largest",
    exclude: Iterable[str] | None = None,
    network_type: str = "walk",
) -> Network:
    """Build a walking network from an OpenStreetMap file, offline.

    Reads ``.osm`` / ``.xml`` (optionally ``.bz2``) and ``.pbf`` with pyosmium. Ways are
    kept by osmnx 2.1's ``network_type="walk"`` filter, exactly (footways, paths,
    residential streets, ...; not motorways, cycleways, ``foot=no``, private ways), and
    then by our `exclude` rules (see :mod:`planning.network._walkfilter`). Clipped
    extracts are read: ways are split at node references missing from the file.

    Parameters
    ----------
    path : str or Path
        The OSM file.
    crs, walk_speed_m_s, components
        As in :func:`network_from_lines`.
    exclude : iterable of str, optional
        Our rules to apply, out of ``"elevated"``, ``"tunnel"``, ``"motorroad"``,
        ``"no_sidewalk"``; default ``settings.walk_exclude`` (all four); ``()`` applies
        none.
    network_type : str
        Only ``"walk"``.

    Returns
    -------
    Network
        Its ``excluded`` has one row per reason a way was dropped (count of ways, their
        length in metres) and rows for clipping (ways cut, node references missing).

    Raises
    ------
    InputError
        When the file is missing, unreadable, holds no way, or no way is walkable after
        the filter (the message gives the counts dropped per reason).

    """
    path = Path(path)
    rules = _check_options(exclude, network_type)
    if not path.exists():
        msg = f"OSM file {describe(path)} does not exist. Check the path."
        raise InputError(msg)
    ways = _read_ways(path)
    picked = _pick_ways(ways, rules, describe(path))
    gdf = gpd.GeoDataFrame(geometry=_lines(picked.pieces), crs="EPSG:4326")
    gdf = _to_metric(gdf, crs, str(path))
    net = _network_from_gdf(
        gdf,
        source=str(path),
        walk_speed_m_s=walk_speed_m_s,
        node_tolerance_m=0.01,
        components=components,
        noding="endpoints",
    )
    net.excluded = pd.concat([_excluded_frame(picked.rows()), net.excluded], ignore_index=True)
    return net


def _check_options(exclude: Iterable[str] | None, network_type: str) -> tuple[str, ...]:
    if network_type != "walk":
        msg = f"network_type must be 'walk' (the only filter offered), got {network_type!r}."
        raise InputError(msg)
    return check_exclude(settings.walk_exclude if exclude is None else exclude)


# --- reading -------------------------------------------------------------------------------


@dataclass
class _Ways:
    """The ways of an OSM file that have a ``highway`` tag, with their node locations."""

    n_ways: int = 0
    ids: list[int] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    refs: list[np.ndarray] = field(default_factory=list)
    lonlat: list[np.ndarray] = field(default_factory=list)  # NaN where the node is missing


def _read_ways(path: Path) -> _Ways:
    try:
        import osmium
    except ImportError as exc:
        msg = f"Reading {describe(path)} needs pyosmium: `pip install osmium`."
        raise InputError(msg) from exc
    fmt = _FORMATS.get(path.suffix.lower(), "osm")
    if fmt == "osm.bz2" and path.stem.lower().endswith(".pbf"):
        fmt = "pbf"
    out = _Ways()
    try:
        source = osmium.FileProcessor(
            osmium.io.File(str(path), fmt), osmium.osm.NODE | osmium.osm.WAY
        )
        for way in source.with_locations():
            if not isinstance(way, osmium.osm.Way):
                continue
            out.n_ways += 1
            if "highway" not in way.tags:
                continue
            out.ids.append(way.id)
            out.tags.append({t.k: t.v for t in way.tags})
            out.refs.append(np.fromiter((n.ref for n in way.nodes), dtype=np.int64))
            out.lonlat.append(np.array([_lonlat(n.location) for n in way.nodes], dtype=float))
    except Exception as exc:
        msg = f"Cannot read OSM file {describe(path)}: {exc}. Is it an OSM XML/PBF export?"
        raise InputError(msg) from exc
    if out.n_ways == 0:
        msg = (
            f"OSM file {describe(path)} holds no way (no road at all): is it an extract of "
            "the area with its roads, not only points?"
        )
        raise InputError(msg)
    return out


def _lonlat(location: Any) -> tuple[float, float]:
    if location.valid():
        return (location.lon, location.lat)
    return (np.nan, np.nan)


# --- filtering and clipping ----------------------------------------------------------------


@dataclass
class _Picked:
    """The walkable way pieces of a file and the account of what was left out."""

    pieces: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    dropped: dict[str, list[float]] = field(default_factory=dict)  # reason → [ways, metres]
    walkable: int = 0
    cut: int = 0
    missing: int = 0
    short: int = 0

    def rows(self) -> list[dict[str, Any]]:
        rows = _dropped_rows(self.dropped)
        if self.cut:
            rows.append(
                _row(
                    "OSM ways",
                    "cut at nodes missing from the file (clipped extract)",
                    self.cut,
                    0.0,
                )
            )
            rows.append(_row("OSM node references", "missing from the file", self.missing, 0.0))
        if self.short:
            rows.append(
                _row("OSM way pieces", "under 2 nodes left after clipping", self.short, 0.0)
            )
        if self.too_clipped:
            rows.append(_row("OSM extract", self.clip_warning, self.cut, 0.0))
        return rows

    @property
    def too_clipped(self) -> bool:
        return self.cut > self.walkable / 2

    @property
    def clip_warning(self) -> str:
        return (
            f"looks clipped too tightly: {self.cut} of {self.walkable} walkable ways cut at its "
            "edge; export a larger area around the study area"
        )


def _pick_ways(ways: _Ways, rules: tuple[str, ...], name: str) -> _Picked:
    picked = _Picked()
    for tags, refs, lonlat in zip(ways.tags, ways.refs, ways.lonlat, strict=True):
        reason = walk_reason(tags, rules)
        if reason is not None:
            tally = picked.dropped.setdefault(reason, [0, 0.0])
            tally[0] += 1
            tally[1] += _length_m(lonlat)
            continue
        picked.walkable += 1
        present = ~np.isnan(lonlat[:, 0])
        if not present.all():
            picked.cut += 1
            picked.missing += int((~present).sum())
        for piece in _runs(present):
            if len(refs[piece]) >= 2:
                picked.pieces.append((refs[piece], lonlat[piece]))
            else:
                picked.short += 1
    if not picked.pieces:
        raise InputError(_nothing_walkable(ways, picked, rules, name))
    if picked.too_clipped:
        warnings.warn(f"OSM file {name} {picked.clip_warning}.", UserWarning, stacklevel=3)
    log.info("%s: %d walkable ways, %d cut, %d node references missing",
             name, picked.walkable, picked.cut, picked.missing)  # fmt: skip
    return picked


def _runs(present: np.ndarray) -> Iterator[slice]:
    """Slices of the runs of True in a boolean array."""
    edges = np.flatnonzero(np.diff(np.r_[0, present.astype(np.int8), 0]))
    for start, stop in edges.reshape(-1, 2):
        yield slice(int(start), int(stop))


def _length_m(lonlat: np.ndarray) -> float:
    """Great-circle length of a node sequence, over the segments whose ends are present."""
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    h = (
        np.sin(np.diff(lat) / 2) ** 2
        + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    )
    return float(np.nansum(2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))))


def _dropped_rows(dropped: dict[str, list[float]]) -> list[dict[str, Any]]:
    return [
        _row("OSM ways", reason, int(n), metres)
        for reason, (n, metres) in sorted(dropped.items())
        if reason != NO_HIGHWAY
    ]


def _nothing_walkable(ways: _Ways, picked: _Picked, rules: tuple[str, ...], name: str) -> str:
    counts = "; ".join(
        f"{reason}: {int(n)} ways" for reason, (n, _) in sorted(picked.dropped.items())
    )
    clipped, fix = "", "Check the extract covers streets, or relax exclude."
    if picked.walkable:
        clipped = f"; {picked.walkable} walkable ways left under 2 nodes after clipping"
        fix = "The extract is clipped too tightly: export a larger area around the study area."
    return (
        f"OSM file {name} holds no walkable way after the {describe_filter(rules)}: of "
        f"{ways.n_ways} ways, {ways.n_ways - len(ways.ids)} have no highway tag; dropped "
        f"{counts or 'none'}{clipped}. {fix}"
    )


def _lines(pieces: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Cut the way pieces into lines at every node they share (and where a way meets itself)."""
    refs = np.concatenate([r for r, _ in pieces])
    xy = np.concatenate([c for _, c in pieces])
    sizes = np.array([len(r) for r, _ in pieces])
    first = np.zeros(len(refs), dtype=bool)
    first[np.cumsum(sizes) - sizes] = True
    last = np.zeros(len(refs), dtype=bool)
    last[np.cumsum(sizes) - 1] = True
    _, inverse, counts = np.unique(refs, return_inverse=True, return_counts=True)
    junction = (counts[inverse.ravel()] > 1) & ~first & ~last
    # a junction vertex ends one line and starts the next: write it twice
    copies = 1 + junction.astype(int)
    at = np.cumsum(copies) - copies
    starts = np.zeros(int(copies.sum()), dtype=bool)
    starts[at[first]] = True
    starts[at[junction] + 1] = True
    return np.asarray(
        shapely.linestrings(np.repeat(xy, copies, axis=0), indices=np.cumsum(starts) - 1)
    )


# --- osmnx downloads -----------------------------------------------------------------------


class _osmnx_tags:
    """Temporarily make osmnx keep the way tags the walk filter reads."""

    def __enter__(self) -> None:
        import osmnx as ox

        self.saved = ox.settings.useful_tags_way
        ox.settings.useful_tags_way = list(dict.fromkeys([*self.saved, *_FILTER_TAGS]))

    def __exit__(self, *args: object) -> None:
        import osmnx as ox

        ox.settings.useful_tags_way = self.saved


def _network_from_osmnx_graph(
    g: nx.MultiDiGraph,
    source: str,
    crs: Any,
    walk_speed_m_s: float | None,
    components: Components,
    rules: tuple[str, ...],
) -> Network:
    import osmnx as ox

    dropped: dict[str, list[float]] = {}
    ways: dict[str, set[Any]] = {}
    removed = []
    for u, v, k, d in g.edges(keys=True, data=True):
        reason = walk_reason(d, rules)
        if reason is None:
            continue
        removed.append((u, v, k))
        ways.setdefault(reason, set()).add(str(d.get("osmid")))
        tally = dropped.setdefault(reason, [0, 0.0])
        tally[1] += 0.0 if d.get("reversed") else float(d.get("length", 0.0))
    for reason, ids in ways.items():
        dropped[reason][0] = len(ids)
    g = g.copy()
    g.remove_edges_from(removed)
    g.remove_nodes_from([n for n, deg in g.degree() if deg == 0])
    if g.number_of_edges() == 0:
        counts = "; ".join(f"{r}: {int(n)} ways" for r, (n, _) in sorted(dropped.items()))
        msg = (
            f"OSM source '{source}' holds no walkable way after the {describe_filter(rules)}: "
            f"dropped {counts or 'none'}. Check the area has streets, or relax exclude."
        )
        raise InputError(msg)
    if not g.graph.get("simplified", False):
        g = ox.simplify_graph(g)
    _, edges = ox.graph_to_gdfs(ox.convert.to_undirected(g))
    gdf = gpd.GeoDataFrame(geometry=edges.geometry.values, crs=edges.crs)
    net = _network_from_gdf(
        _to_metric(gdf, crs, source),
        source=source,
        walk_speed_m_s=walk_speed_m_s,
        node_tolerance_m=0.01,
        components=components,
        noding="endpoints",
    )
    rows = _excluded_frame(_dropped_rows(dropped))
    net.excluded = pd.concat([rows, net.excluded], ignore_index=True)
    return net


def _download(
    ox: Any, place: Any, polygon: Any, bbox: Any, options: dict[str, Any]
) -> tuple[Any, str]:
    with _osmnx_tags():
        if place is not None:
            return ox.graph_from_place(place, **options), f"osmnx:place={place}"
        if polygon is not None:
            return ox.graph_from_polygon(polygon, **options), "osmnx:polygon"
        return ox.graph_from_bbox(bbox, **options), f"osmnx:bbox={bbox}"


def network_from_osmnx(
    *,
    place: str | None = None,
    polygon: Any = None,
    bbox: tuple[float, float, float, float] | None = None,
    crs: Any = None,
    walk_speed_m_s: float | None = None,
    components: Components = "largest",
    exclude: Iterable[str] | None = None,
) -> Network:
    """Download a walking network with osmnx (needs internet; only when asked).

    Exactly one of `place` (a geocodable name), `polygon` (shapely polygon in EPSG:4326)
    or `bbox` (west, south, east, north in degrees) must be given. osmnx downloads the ways
    of its ``network_type="walk"`` filter; our `exclude` rules then apply as in
    :func:`network_from_xml`.

    Returns
    -------
    Network

    """
    import osmnx as ox

    rules = _check_options(exclude, "walk")
    given = [x is not None for x in (place, polygon, bbox)]
    if sum(given) != 1:
        msg = "Give exactly one of place=, polygon= or bbox= to download a network with osmnx."
        raise InputError(msg)
    options: dict[str, Any] = {"network_type": "walk", "retain_all": True, "simplify": False}
    try:
        g, source = _download(ox, place, polygon, bbox, options)
    except (OSError, ValueError) as exc:
        # requests' ConnectionError and Timeout are OSErrors; osmnx's empty answers and
        # geocoding failures are ValueErrors
        msg = (
            f"The osmnx download of the network failed ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'}). It needs "
            "internet access to OpenStreetMap; offline, download an extract (.osm.pbf, e.g. "
            "from Geofabrik) on a connected machine and give it as `network: {path: "
            "city.osm.pbf}`."
        )
        raise InputError(msg) from exc
    return _network_from_osmnx_graph(g, source, crs, walk_speed_m_s, components, rules)
