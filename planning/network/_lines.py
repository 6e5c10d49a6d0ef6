"""Line layers (road centre lines) → `Network`: reading, noding, nodes, components, CRS."""

from __future__ import annotations

import logging
from itertools import pairwise
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from planning import coords, settings
from planning._errors import CRSError, InputError
from planning._files import read_vector
from planning._validate import describe, require_crs, require_not_empty
from planning.network._model import Components, Network, Noding, _check_speed, _excluded_frame, _row

log = logging.getLogger(__name__)


def choose_metric_crs(gdf: gpd.GeoDataFrame) -> CRS:
    """Choose a projected metric CRS for a layer.

    Inside China (lon 73–135°E, lat 18–54°N) this is the CGCS2000 3-degree Gauss-Krüger
    zone with the central meridian in the projection name (EPSG:4534–4554), as Chinese
    planning data use; elsewhere the UTM zone of the layer's centre.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Any layer with a CRS.

    Returns
    -------
    pyproj.CRS

    """
    require_crs(gdf, "layer")
    lon0, lat0, lon1, lat1 = gdf.to_crs(4326).total_bounds
    lon, lat = (lon0 + lon1) / 2.0, (lat0 + lat1) / 2.0
    if 73.5 <= lon <= 136.5 and 18.0 <= lat <= 54.0:
        zone = int(np.clip(np.floor(lon / 3.0 + 0.5), 25, 45)) * 3
        return CRS.from_epsg(4534 + (zone - 75) // 3)
    return CRS.from_user_input(gdf.estimate_utm_crs())


def _to_metric(gdf: gpd.GeoDataFrame, crs: Any, name: str) -> gpd.GeoDataFrame:
    target = choose_metric_crs(gdf) if crs is None else CRS.from_user_input(crs)
    if not target.is_projected:
        msg = (
            f"The analysis CRS for {name} must be projected in metres, got {target.name}. "
            "Pass a projected CRS (e.g. crs='EPSG:4547' for CGCS2000 zone 114°E) or leave it "
            "out to choose one automatically."
        )
        raise CRSError(msg)
    return gdf.to_crs(target)


def network_from_lines(
    lines: gpd.GeoDataFrame | str | Path,
    *,
    layer: str | None = None,
    crs: Any = None,
    walk_speed_m_s: float | None = None,
    node_tolerance_m: float = 0.5,
    noding: Noding = "vertices",
    components: Components = "largest",
    source_crs: Any = None,
) -> Network:
    """Build a walking network from a line layer (road centre lines).

    Lines become edges between nodes; end points closer than `node_tolerance_m` become
    one node. How lines are split first is chosen by `noding`:

    - ``"vertices"`` (default): split every line at each vertex it shares with another
      line (a junction digitised as a common vertex, as in OSM). Lines that cross
      without a common vertex (bridges, tunnels) stay unconnected.
    - ``"endpoints"``: lines are joined only at their end points (a layer already split
      at every junction).
    - ``"crossings"``: planar noding, every line is split wherever it crosses or touches
      another. Use it for layers digitised without junction vertices, knowing that it
      also joins roads at bridges.

    Parameters
    ----------
    lines : geopandas.GeoDataFrame or path
        LineStrings or MultiLineStrings (shapefile, GeoPackage, GeoJSON, ...).
    layer : str, optional
        Layer name inside a multi-layer file.
    crs : CRS-like, optional
        Projected analysis CRS; chosen with :func:`choose_metric_crs` when omitted.
    walk_speed_m_s : float, optional
        Walking speed in metres per second; default ``settings.walk_speed_m_s``.
    node_tolerance_m : float
        End points within this distance in metres are merged into one node.
    noding : {"vertices", "endpoints", "crossings"}
        Where lines are split into edges (see above).
    components : {"largest", "keep"}
        Keep only the largest connected component (others are reported in
        ``Network.excluded``) or keep them all (they are reported in
        ``Network.components``).
    source_crs : CRS-like, ``"gcj02"`` or ``"bd09"``, optional
        CRS of a layer that carries none (``network: {crs: ...}`` in a scenario); GCJ-02
        and BD-09 lines are converted to WGS-84 first. A layer that has a CRS keeps it
        (stating another one is an error).

    Returns
    -------
    Network

    """
    name = str(lines) if isinstance(lines, str | Path) else "lines"
    gdf = _read_lines(lines, layer=layer, source_crs=source_crs)
    gdf = _to_metric(gdf, crs, name)
    return _network_from_gdf(
        gdf,
        source=name,
        walk_speed_m_s=walk_speed_m_s,
        node_tolerance_m=node_tolerance_m,
        components=components,
        noding=noding,
    )


def _read_lines(
    lines: gpd.GeoDataFrame | str | Path, *, layer: str | None, source_crs: Any = None
) -> gpd.GeoDataFrame:
    if isinstance(lines, gpd.GeoDataFrame):
        gdf = lines
        name: str | Path = "lines"
    else:
        name = Path(lines)
        gdf = read_vector(name, layer=layer, what="road")
    require_not_empty(gdf, name)
    gdf = coords.declare_crs(gdf, source_crs, str(name))
    types = set(gdf.geom_type.dropna())
    bad = types - {"LineString", "MultiLineString"}
    if bad:
        row = gdf.index[gdf.geom_type.isin(bad)][0]
        msg = (
            f"Road layer {describe(name)} must hold lines, but feature {row} is a "
            f"{gdf.geom_type.loc[row]}. Export only the road centre lines."
        )
        raise InputError(msg)
    return gdf


def _network_from_gdf(
    gdf: gpd.GeoDataFrame,
    *,
    source: str,
    walk_speed_m_s: float | None,
    node_tolerance_m: float,
    components: Components,
    noding: Noding = "vertices",
) -> Network:
    speed = settings.walk_speed_m_s if walk_speed_m_s is None else float(walk_speed_m_s)
    _check_speed(speed)
    if components not in ("largest", "keep"):
        msg = f"components must be 'largest' or 'keep', got {components!r}."
        raise InputError(msg)
    excluded: list[dict[str, Any]] = []
    geoms = gdf.geometry
    bad = geoms.isna() | geoms.is_empty
    if bad.any():
        excluded.append(_row("road features", "empty or missing geometry", int(bad.sum()), 0.0))
    geoms = geoms[~bad].explode(ignore_index=True)
    geoms = geoms[shapely.get_num_coordinates(geoms.values) >= 2]
    lengths = geoms.length.to_numpy()
    zero = lengths <= 0
    if zero.any():
        excluded.append(_row("road lines", "zero length", int(zero.sum()), 0.0))
    geoms = geoms[~zero].reset_index(drop=True)
    if len(geoms) == 0:
        msg = f"Road layer '{source}' has no usable line (all empty or zero length)."
        raise InputError(msg)
    geoms = gpd.GeoSeries(_split_lines(geoms.values, noding), crs=geoms.crs)
    nodes_xy, u, v = _node_end_points(geoms.values, node_tolerance_m)
    return _assemble(nodes_xy, u, v, geoms, speed, source, excluded, components)


def _split_lines(lines: np.ndarray, noding: str) -> np.ndarray:
    """Split lines into edges at shared vertices or at every crossing."""
    if noding == "endpoints":
        return lines
    if noding == "crossings":
        noded = shapely.get_parts(shapely.union_all(lines))
        return np.asarray(noded[shapely.length(noded) > 0])
    if noding != "vertices":
        msg = f"noding must be 'vertices', 'endpoints' or 'crossings', got {noding!r}."
        raise InputError(msg)
    xy, line = shapely.get_coordinates(lines, return_index=True)
    # vertices are the same point when they agree to the centimetre
    _, vertex = np.unique(np.round(xy, 2), axis=0, return_inverse=True)
    vertex = vertex.ravel()
    pairs = np.unique(np.column_stack([vertex, line]), axis=0)
    shared = np.bincount(pairs[:, 0], minlength=int(vertex.max()) + 1)[vertex] >= 2
    first = np.r_[True, line[1:] != line[:-1]]
    last = np.r_[line[1:] != line[:-1], True]
    cut = shared & ~first & ~last
    if not cut.any():
        return lines
    out: list[Any] = []
    starts = np.flatnonzero(first)
    ends = np.flatnonzero(last)
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        inner = a + np.flatnonzero(cut[a : b + 1])
        if len(inner) == 0:
            out.append(lines[k])
            continue
        bounds = [a, *inner.tolist(), b]
        out.extend(shapely.LineString(xy[i : j + 1]) for i, j in pairwise(bounds))
    log.info("split %d lines at %d shared vertices", int(np.unique(line[cut]).size), int(cut.sum()))
    return np.asarray(out, dtype=object)


def _node_end_points(
    lines: np.ndarray, tolerance_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    starts = shapely.get_coordinates(shapely.get_point(lines, 0))
    ends = shapely.get_coordinates(shapely.get_point(lines, -1))
    pts = np.vstack([starts, ends])
    pairs = cKDTree(pts).query_pairs(r=max(tolerance_m, 0.0), output_type="ndarray")
    n = len(pts)
    adj = sparse.coo_matrix(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1]) if len(pairs) else ([], [])),
        shape=(n, n),
    )
    _, label = csgraph.connected_components(adj, directed=False)
    # number the nodes in order of first appearance, average the merged coordinates
    _, first, inverse = np.unique(label, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    node_of_pt = rank[inverse]
    k = len(order)
    xy = np.zeros((k, 2))
    np.add.at(xy, node_of_pt, pts)
    xy /= np.bincount(node_of_pt, minlength=k)[:, None]
    m = len(lines)
    return xy, node_of_pt[:m], node_of_pt[m:]


def _assemble(
    nodes_xy: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    geoms: gpd.GeoSeries,
    speed: float,
    source: str,
    excluded: list[dict[str, Any]],
    components: Components,
) -> Network:
    n = len(nodes_xy)
    adj = sparse.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    n_comp, comp = csgraph.connected_components(adj, directed=False)
    lengths = geoms.length.to_numpy()
    comp_len = np.bincount(comp[u], weights=lengths, minlength=n_comp)
    comp_nodes = np.bincount(comp, minlength=n_comp)
    # renumber components by descending length so that component 0 is the largest
    order = np.lexsort((np.arange(n_comp), -comp_len))
    new_id = np.empty(n_comp, dtype=int)
    new_id[order] = np.arange(n_comp)
    comp = new_id[comp]
    comp_table = pd.DataFrame(
        {
            "component": np.arange(n_comp),
            "nodes": comp_nodes[order],
            "length_m": np.round(comp_len[order], 1),
        }
    )
    keep_edge = np.ones(len(u), dtype=bool)
    if components == "largest" and n_comp > 1:
        keep_edge = comp[u] == 0
        dropped = ~keep_edge
        excluded.append(
            _row(
                "road lines",
                f"on {n_comp - 1} small disconnected component(s), dropped",
                int(dropped.sum()),
                float(lengths[dropped].sum()),
            )
        )
    log.info("network %s: %d nodes, %d components", source, n, n_comp)
    return _subset(nodes_xy, comp, u, v, geoms, keep_edge, speed, source, excluded, comp_table)


def _subset(
    nodes_xy: np.ndarray,
    comp: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    geoms: gpd.GeoSeries,
    keep_edge: np.ndarray,
    speed: float,
    source: str,
    excluded: list[dict[str, Any]],
    comp_table: pd.DataFrame,
) -> Network:
    u, v = u[keep_edge], v[keep_edge]
    used = np.unique(np.concatenate([u, v]))
    remap = np.full(len(nodes_xy), -1)
    remap[used] = np.arange(len(used))
    crs = geoms.crs
    nodes = gpd.GeoDataFrame(
        {"x": nodes_xy[used, 0], "y": nodes_xy[used, 1], "component": comp[used]},
        geometry=gpd.points_from_xy(nodes_xy[used, 0], nodes_xy[used, 1]),
        crs=crs,
    )
    geom = geoms[keep_edge].reset_index(drop=True)
    length = geom.length.to_numpy()
    edges = gpd.GeoDataFrame(
        {
            "u": remap[u],
            "v": remap[v],
            "length_m": length,
            "travel_time_s": length / speed,
        },
        geometry=geom.values,
        crs=crs,
    )
    return Network(nodes, edges, speed, source, _excluded_frame(excluded), comp_table)
