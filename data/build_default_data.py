"""Build the project's embedded default dataset (central Wuhan) from the shared source data.

Run from the repository root::

    .venv/bin/python data/build_default_data.py [--shared PATH] [--out PATH]

``--shared`` defaults to ``../shared/data`` relative to the repository root (the folder
described by its own ``README.md``); ``--out`` defaults to this script's folder (``data/``).
The script is deterministic: it uses no clock, no network and, for every random choice, a
generator ``numpy.random.default_rng(20261123)`` created afresh at the start of each step
that draws (centres, stations, candidates, developments), so a change in one step never
shifts the draws of another. This docstring is the provenance record of every output.

Sources (all under ``<shared>/wuhan/``)
---------------------------------------
* ``roads_central/WHroad.shp``: main roads of central Wuhan, EPSG:4326, attribute
  ``streetMID``. OpenStreetMap-derived, ODbL 1.0, "(c) OpenStreetMap contributors".
* ``districts/wuhan_admin.shp``: the 13 district polygons (OSM admin_level 6, 2018-05-14),
  EPSG:4326, with OSM relation ``id``, ``name`` (English) and ``locname`` (Chinese). ODbL 1.0.
* ``worldpop_central/pop_{20..80}_{f,m}_wuhan.tif``: WorldPop 100 m age/sex structure
  (persons per cell; five-year groups 20-24 ... 80+; no group under 20), EPSG:4326,
  0.000833 deg cells, nodata -3.4e38. CC BY 4.0, Tatem (2017), Sci. Data 4, 170004.

Analysis CRS: EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E, metres).

Step 1 - roads (``wuhan_roads.gpkg``, layer ``roads``, EPSG:4547)
-----------------------------------------------------------------
1. Read ``WHroad.shp``; ``road_id`` = ``streetMID``; reproject EPSG:4326 -> EPSG:4547.
2. Drop zero-length lines (shorter than the 0.01 m output precision), then exact duplicate
   geometries: identical coordinate sequences, or identical after ``shapely.normalize``
   (the same line digitised backwards); the copy with the lowest ``road_id`` is kept. The
   counts are printed.
3. Noding of end points: every line end point that lies within 0.5 m of another end point
   without coinciding exactly is counted. End points are clustered by single linkage at
   0.5 m (``scipy.spatial.cKDTree.query_pairs`` + connected components) and every end point
   of a cluster is moved to one shared coordinate: the cluster's most frequent exact
   coordinate (ties: the smallest x, then y). Most such pairs in the source differ only by
   floating-point noise (about 1e-14 deg); the counts of moved end points and of those moved
   by more than 1 mm are printed. Lines whose two ends fall into the same cluster and that
   are shorter than 0.5 m collapse and are dropped (counted).
4. Round every coordinate to 0.01 m, remove repeated consecutive vertices, drop lines that
   became shorter than 0.01 m or duplicates (counted).
5. Informative checks, no change: end points within 0.5 m of the interior of another line
   that does not end there (near-miss T junctions); interior vertices of a line that
   coincide with another line's end point (the line runs through a junction without being
   split there); interior vertices shared by two or more lines that are no end point (the
   lines cross at a common vertex, i.e. an OSM junction node, without being split); pairs
   of crossing lines. These junctions are not joined in the end-point graph (see README).
6. Build an undirected ``networkx`` graph whose nodes are the distinct end points and whose
   edges are the lines; print node, edge and connected-component counts.
   The whole network is written, including the ~125 km of roads that lie outside the study
   area, so that it stays one connected component.

Step 2 - study area and districts (``wuhan_districts.gpkg``, layers ``districts``,
``study_area``, EPSG:4547)
--------------------------------------------------------------------------------------
1. Select the seven central districts by English name (Jianghan JH, Jiang'an JA,
   Qiaokou QK, Wuchang WC, Hanyang HY, Hongshan HS, Qingshan QS); reproject to EPSG:4547.
2. Raw study area = union of the seven districts ∩ (convex hull of the cleaned roads
   buffered by 300 m) ∩ the raster footprint (the WorldPop grid bounds, densified to
   0.001 deg and reprojected), snapped to a 0.01 m grid (``shapely.set_precision``).
3. The final study area is the union of the step-3 faces (below), so that districts, units
   and study area tile exactly; its area differs from the raw one by square metres (printed).
4. District polygons = union of the final units of each district (= district ∩ study area,
   up to the 0.01 m noding and the two fragments of step 3.7). Columns: ``district_id``,
   ``osm_id`` (OSM relation id from ``id``), ``name_zh`` (``locname`` without the bracketed
   pinyin), ``name_en`` (``name``), ``area_km2``. Layer ``study_area``: one row, ``name``,
   ``area_km2``.

Step 3 - planning units (``wuhan_units.gpkg``, layer ``units``, EPSG:4547)
--------------------------------------------------------------------------
Units are derived blocks at roughly sub-district (街道) scale. They are not real 街道/社区.

1. Faces: node the cleaned road lines together with the boundaries of the seven district
   pieces (district ∩ raw study area) and the raw study-area boundary
   (``shapely.union_all(..., grid_size=0.01)``), polygonize, and keep the faces whose
   representative point lies in the raw study area. The faces tile the study area; a face
   never crosses a district boundary. Each face gets the district with which it shares the
   largest area. A face is a *block* if it lies in a face of the road network alone
   (roads polygonized without the boundaries); the others are *edge* faces (the study area
   outside every road-bounded block, near its outer boundary).
2. Population (20+) and elderly (60+) per face: every valid raster cell (step 4) whose
   centre, reprojected to EPSG:4547, lies in the final study area is given to the face
   that contains it (the lowest face index if on a shared edge).
3. Adjacency: two faces are neighbours when their boundaries share a line; the shared
   length is stored and summed when units merge.
4. Slivers: faces smaller than 1 m² (noding artefacts) are merged into the neighbour with
   the longest shared boundary, whatever its district, and take its district.
5. Edge faces: each is merged into the same-district neighbour with the longest shared
   boundary, block neighbours preferred, repeated until no edge face has such a neighbour.
6. Greedy merge within each district: a unit is *below target* while its population is
   below 20,000 or its area below 1 km². Repeatedly take the below-target unit with the
   smallest population (ties: lowest index) and merge it with the same-district neighbour
   sharing the longest boundary among those for which the merged unit stays at or below
   80,000 people and 5 km² (ties: lowest index). The caps are waived for a unit that has
   reached neither lower bound (under 20,000 people and under 1 km²), so that no small
   remnant is left over; a few units therefore slightly exceed 80,000 people. A
   below-target unit with no eligible neighbour cannot grow and is left as it is. Blocks
   larger than 5 km² (e.g. lakes) are never split.
7. District fragments: a unit that reached neither lower bound and has no same-district
   neighbour (a piece of a district cut off from the rest of it inside the study area:
   here two Qingshan fragments, an exclave inside Hongshan and a sliver cut off by the
   road hull) is merged into the neighbouring unit with the longest shared boundary and
   takes its district, so that every unit is a single Polygon. The districts layer is the
   union of the units of each district, so these fragments count for that district.
8. Numbering: within each district, units are numbered west to east by the x coordinate of
   their representative point (ties: north first): ``unit_id`` = ``<district_id>-NN``,
   ``name`` = ``<区名>第NN单元``, ``name_en`` = ``<District> unit NN``, ``level`` =
   ``street``, ``area_km2``, ``population`` (20+) and ``elderly`` (60+) rounded to 0.1.
9. Checks (printed): units' union area vs study area, gap area, total pairwise overlap
   area, population sums vs raster totals.

Step 4 - rasters (``wuhan_elderly_60plus.tif``, ``wuhan_population_20plus.tif``)
------------------------------------------------------------------------------
1. Read the 26 WorldPop rasters (ages 20..80, f and m) and check that they share one grid.
2. Sum in float64: elderly = ages 60, 65, 70, 75, 80 (10 rasters); population = all 26.
   An output cell is nodata when every input is nodata; where only some inputs are nodata
   they count as 0 (the number of such cells is printed; it is 0 in this source).
3. Set to nodata every cell whose centre lies outside the final study area.
4. Write float32, native grid and extent (EPSG:4326, no resampling), nodata -9999,
   DEFLATE with floating-point predictor. Totals before and after masking are printed.

Step 5 - illustrative stations (``wuhan_stations.gpkg``, layer ``stations``, EPSG:4326)
------------------------------------------------------------------------------------
Road nodes = graph nodes strictly inside the study area. All ``source`` = ``illustrative``.

1. Centres (``kind`` = ``centre``): ``round(0.6 * n_units)`` units drawn without
   replacement (rng.choice over units sorted by ``unit_id``). For each, in ``unit_id``
   order, the road node touching the unit that is nearest the unit's elderly-weighted
   centroid (cell centres weighted by elderly; representative point if no elderly);
   capacity ``rng.integers(40, 81)``, ``area_m2`` ``rng.uniform(1000, 2000)`` (rounded).
2. Stations (``kind`` = ``station``): ``round(total elderly / 12,000)`` of them. Node weight =
   elderly in cells whose centres lie within 300 m of the node; nodes are ordered by one
   weighted draw without replacement (rng.choice, p proportional to weight, zero weights
   excluded) and accepted in that order when at least 400 m from every facility already
   placed (centres included). Capacity ``rng.integers(10, 31)``, ``area_m2``
   ``rng.uniform(200, 600)``, drawn in ``station_id`` order.
3. Offset: each point is moved 15 m from its node along the bisector of the widest angle
   between the node's incident roads (perpendicular to the road at a dead end). Gaps are
   tried widest first; the first whose point lies inside the unit (centres) or the study
   area (stations) and at least 7.5 m from every road line wins, else the first inside.
   At a few complex interchanges the point ends up closer than 7.5 m to another road.
4. ``unit_id`` = unit containing the point. Ids: ``C001``... in ``unit_id`` order,
   ``S001``... in (``unit_id``, x) order. ``name`` = ``示例综合中心NNN`` / ``示例养老服务站NNN``;
   ``status`` = ``existing``. Reprojected to EPSG:4326, coordinates rounded to 1e-7 deg.

Step 6 - illustrative candidates (``wuhan_candidates.gpkg``, layer ``candidates``, EPSG:4326)
-----------------------------------------------------------------------------------------
1. Road nodes inside the study area farther than 300 m from every existing centre/station.
2. Ordered by descending elderly within 500 m (cell centres), ties by node coordinates;
   accepted greedily when at least 500 m from every accepted site; at most 400.
3. ``site_id`` ``K0001``... in acceptance order, ``kind`` = ``station``, capacity
   ``rng.integers(10, 31)``, ``cost`` 1.0 except 1.5 for ``round(0.1 * n)`` sites drawn without
   replacement; ``unit_id`` = first unit (in ``unit_id`` order) touching the node (a node on
   a shared boundary belongs to several units). Points lie exactly on the nodes.

Step 7 - illustrative developments (``wuhan_developments.gpkg``, layers ``developments``,
``facilities``, EPSG:4326)
----------------------------------------------------------------------------------------
1. Thirteen rows are designed by hand (``DEVELOPMENTS`` below) for a 四同步 check under:
   facility floor area >= 20 m² per 100 households, every single site >= 350 m², every
   facility milestone on or before the housing milestone (tolerance 0 days), facility
   points inside the development. Six pass everything; D07, D08, D09, D11 fail exactly one
   criterion; D10 is "unknown" on timing only; D12 fails two (area, timing); D13 has no
   facility at all (fails area and single site, timing unknown). ``verdict`` recomputes the
   designed verdicts from the written rows and the script prints them as a table.
2. Area: ``households / rng.uniform(200, 300)`` ha, clipped to 4-15 ha.
3. Placement: a rectangle (aspect ``rng.uniform(1, 1.8)``, long side parallel to the road)
   set back ``rng.uniform(25, 60)`` m beside a random point of a random road line
   (length-weighted) in the study area; accepted when it lies inside one unit, stays 10 m
   clear of every road line, is at least 1,000 m from other developments and every cell
   centre inside it has WorldPop data (land); otherwise another draw.
4. Dates: housing planning = 2019-01-01 + ``rng.integers(0, 900)`` days, construction
   +150..270 days, acceptance +720..900 days, delivery +182 days; facility milestones
   1..60 days earlier unless designed otherwise (same day, 5 months late, missing).
5. Facilities: points inside the rectangle (centre, or centre +- a quarter of the long side
   for two sites); the "outside" case is put 1,200 m beyond the rectangle's side, in the
   first of four directions that stays in the study area.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import heapq
import math
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from rasterio.transform import Affine
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

SEED = 20261123
CRS = "EPSG:4547"
WGS84 = "EPSG:4326"
OGR_DATE = "2026-01-01T00:00:00Z"
GRID_M = 0.01
SNAP_M = 0.5
HULL_BUFFER_M = 300.0
NODATA_OUT = -9999.0
ELDERLY_AGES = (60, 65, 70, 75, 80)
ALL_AGES = tuple(range(20, 85, 5))
POP_LOW, POP_HIGH = 20_000.0, 80_000.0
AREA_LOW, AREA_HIGH = 1.0e6, 5.0e6
SLIVER_M2 = 1.0

#: English OSM ``name`` -> (district_id, English name used in unit names).
DISTRICTS: dict[str, tuple[str, str]] = {
    "Jianghan District": ("JH", "Jianghan"),
    "Jiang'an District": ("JA", "Jiang'an"),
    "Qiaokou District": ("QK", "Qiaokou"),
    "Wuchang District": ("WC", "Wuchang"),
    "Hanyang District": ("HY", "Hanyang"),
    "Hongshan District": ("HS", "Hongshan"),
    "Qingshan District": ("QS", "Qingshan"),
}

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class DevDesign:
    """One designed development: households, facility sites and the designed defects."""

    households: int
    sites: tuple[float, ...]
    timing: str  # early | same | late_acceptance | missing_delivery | late_construction | none
    outside: bool = False
    note: str = ""


#: The designed developments (D01 ... D13), see step 7 of the module docstring.
DEVELOPMENTS: tuple[DevDesign, ...] = (
    DevDesign(1200, (400.0,), "early", note="pass"),
    DevDesign(2500, (520.0,), "early", note="pass"),
    DevDesign(3600, (380.0, 360.0), "early", note="pass, two sites"),
    DevDesign(800, (350.0,), "same", note="pass at the limits: site = 350 m², same-day dates"),
    DevDesign(1800, (360.0,), "early", note="pass at the limit: area = required"),
    DevDesign(3000, (650.0,), "early", note="pass"),
    DevDesign(3000, (480.0,), "early", note="area short by 120 m²"),
    DevDesign(2000, (300.0, 150.0), "early", note="single sites too small (300, 150 m²)"),
    DevDesign(1500, (400.0,), "late_acceptance", note="facility acceptance 5 months late"),
    DevDesign(2200, (460.0,), "missing_delivery", note="facility delivery date missing"),
    DevDesign(1600, (380.0,), "early", outside=True, note="facility 1.2 km outside"),
    DevDesign(
        4000,
        (420.0, 360.0),
        "late_construction",
        note="area short by 20 m² and facility construction 2 months late",
    ),
    DevDesign(1000, (), "none", note="no facility at all: area short by 200 m², no site"),
)


@dataclass
class Report:
    """Figures collected during the build and printed at the end."""

    lines: list[str] = field(default_factory=list)
    verdicts: list[dict] = field(default_factory=list)

    def add(self, key: str, value: object) -> None:
        """Record and print one figure.

        Parameters
        ----------
        key : str
            Label.
        value : object
            Value, formatted with ``str``.
        """
        text = f"{key}: {value}"
        self.lines.append(text)
        print(text, flush=True)


# ----------------------------------------------------------------------------- helpers


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line.

    Parameters
    ----------
    argv : list of str or None
        Arguments (``None``: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
        ``shared`` and ``out`` paths.
    """
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared",
        type=Path,
        default=here.parent.parent / "shared" / "data",
        help="shared source-data folder (default: ../shared/data)",
    )
    parser.add_argument("--out", type=Path, default=here, help="output folder (default: data/)")
    return parser.parse_args(argv)


def configure_reproducible_io() -> None:
    """Fix the GeoPackage timestamps so that repeated runs write identical files."""
    os.environ["OGR_CURRENT_DATE"] = OGR_DATE
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": OGR_DATE})


def write_layer(gdf: gpd.GeoDataFrame, path: Path, layer: str, first: bool) -> None:
    """Write one GeoPackage layer; the first layer of a file replaces the file.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Data with CRS.
    path : pathlib.Path
        GeoPackage path.
    layer : str
        Layer name.
    first : bool
        Delete an existing file before writing.
    """
    if first and path.exists():
        path.unlink()
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG")


def unit_vector(angle: float) -> tuple[float, float]:
    """Return the unit vector of an angle in radians (counter-clockwise from east)."""
    return math.cos(angle), math.sin(angle)


def to_wgs84_points(x: FloatArray, y: FloatArray) -> NDArray[np.object_]:
    """Reproject EPSG:4547 coordinates to EPSG:4326 points rounded to 1e-7 degrees.

    Parameters
    ----------
    x, y : numpy.ndarray
        Easting and northing in metres.

    Returns
    -------
    numpy.ndarray
        Shapely points (lon, lat).
    """
    lon, lat = Transformer.from_crs(CRS, WGS84, always_xy=True).transform(x, y)
    return shapely.points(np.round(lon, 7), np.round(lat, 7))


# ----------------------------------------------------------------------------- step 1: roads


def read_roads(shared: Path) -> gpd.GeoDataFrame:
    """Read the central main roads as ``road_id`` + geometry in the analysis CRS.

    Parameters
    ----------
    shared : pathlib.Path
        Shared data folder.

    Returns
    -------
    geopandas.GeoDataFrame
        Roads in EPSG:4547 sorted by ``road_id``.
    """
    raw = gpd.read_file(shared / "wuhan" / "roads_central" / "WHroad.shp")
    roads = gpd.GeoDataFrame(
        {"road_id": raw["streetMID"].astype("int64")}, geometry=raw.geometry.values, crs=raw.crs
    ).to_crs(CRS)
    return roads.sort_values("road_id", ignore_index=True)


def drop_degenerate(roads: gpd.GeoDataFrame, report: Report, label: str) -> gpd.GeoDataFrame:
    """Drop too-short lines and exact duplicate geometries (also reversed duplicates).

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Sorted by ``road_id`` (the first copy is kept).
    report : Report
        Collects the counts.
    label : str
        Stage label for the printed counts.

    Returns
    -------
    geopandas.GeoDataFrame
        The remaining lines.
    """
    geoms = roads.geometry.values
    short = shapely.length(geoms) < GRID_M
    exact = pd.Series(shapely.to_wkb(geoms)).duplicated().to_numpy()
    normal = pd.Series(shapely.to_wkb(shapely.normalize(geoms))).duplicated().to_numpy()
    report.add(f"roads {label}: zero-length (< 0.01 m) lines dropped", int(short.sum()))
    report.add(f"roads {label}: exact duplicate lines dropped", int((exact & ~short).sum()))
    report.add(
        f"roads {label}: reversed duplicate lines dropped", int((normal & ~exact & ~short).sum())
    )
    return roads[~(short | normal)].reset_index(drop=True)


def end_points(geoms: NDArray[np.object_]) -> FloatArray:
    """Return the start points then the end points of lines as an (2n, 2) array."""
    first = shapely.get_coordinates(shapely.get_point(geoms, 0))
    last = shapely.get_coordinates(shapely.get_point(geoms, -1))
    return np.vstack([first, last])


def cluster_representatives(points: FloatArray, tol: float) -> FloatArray:
    """Cluster points by single linkage and return each point's cluster representative.

    Parameters
    ----------
    points : numpy.ndarray
        (n, 2) coordinates.
    tol : float
        Linkage distance.

    Returns
    -------
    numpy.ndarray
        (n, 2): the most frequent exact coordinate of each point's cluster (ties: smallest
        x, then y).
    """
    pairs = cKDTree(points).query_pairs(tol, output_type="ndarray")
    n = len(points)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    rep = points.copy()
    for label in np.unique(labels[pairs[:, 0]]) if len(pairs) else []:
        members = np.flatnonzero(labels == label)
        counts = Counter(map(tuple, points[members].tolist()))
        best = min(counts, key=lambda c: (-counts[c], c[0], c[1]))
        rep[members] = best
    return rep


def snap_end_points(roads: gpd.GeoDataFrame, report: Report) -> gpd.GeoDataFrame:
    """Move near-coincident end points (< 0.5 m apart) to one shared coordinate.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Cleaned lines in EPSG:4547.
    report : Report
        Collects the counts.

    Returns
    -------
    geopandas.GeoDataFrame
        Lines with snapped end points (collapsed short lines removed).
    """
    geoms = roads.geometry.values
    ends = end_points(geoms)
    tree = cKDTree(ends)
    near = [
        any(not np.array_equal(ends[i], ends[j]) for j in tree.query_ball_point(p, SNAP_M))
        for i, p in enumerate(ends)
    ]
    rep = cluster_representatives(ends, SNAP_M)
    moved = np.linalg.norm(rep - ends, axis=1)
    report.add("end points within 0.5 m of another end point without coinciding", int(sum(near)))
    report.add("end points moved by snapping", int((moved > 0).sum()))
    report.add("end points moved by more than 1 mm", int((moved > 1e-3).sum()))
    report.add("largest snapping move (m)", round(float(moved.max()), 3))
    n = len(geoms)
    coords = [shapely.get_coordinates(g) for g in geoms]
    for i, c in enumerate(coords):
        c[0], c[-1] = rep[i], rep[n + i]
    collapsed = np.array(
        [
            np.array_equal(c[0], c[-1]) and shapely.length(shapely.linestrings(c)) < SNAP_M
            for c in coords
        ]
    )
    report.add("lines collapsed by snapping (dropped)", int(collapsed.sum()))
    out = roads.copy()
    out.geometry = gpd.GeoSeries([shapely.linestrings(c) for c in coords], crs=CRS)
    return out[~collapsed].reset_index(drop=True)


def round_lines(roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Round coordinates to 0.01 m and drop repeated consecutive vertices.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Lines in EPSG:4547.

    Returns
    -------
    geopandas.GeoDataFrame
        Rounded lines.
    """
    geoms = shapely.transform(roads.geometry.values, lambda c: np.round(c, 2))
    out = roads.copy()
    out.geometry = gpd.GeoSeries(shapely.remove_repeated_points(geoms, 0.0), crs=CRS)
    return out


def unsplit_junctions(geoms: NDArray[np.object_]) -> tuple[int, int]:
    """Count line vertices where roads meet without the lines being split there.

    Parameters
    ----------
    geoms : numpy.ndarray
        Final lines.

    Returns
    -------
    tuple of int
        Distinct interior vertices that coincide with another line's end point (the line
        runs through a graph node), and distinct interior vertices shared by two or more
        lines that are no end point (the lines cross at a common vertex).
    """
    coords, line = shapely.get_coordinates(geoms, return_index=True)
    first = np.r_[True, line[1:] != line[:-1]]
    last = np.r_[line[1:] != line[:-1], True]
    table = pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1], "line": line})
    ends = set(zip(table.x[first | last], table.y[first | last], strict=True))
    inner = table[~(first | last)]
    through = {k for k in zip(inner.x, inner.y, strict=True) if k in ends}
    shared = inner.groupby(["x", "y"])["line"].nunique()
    crossing = {k for k in shared[shared > 1].index if k not in ends}
    return len(through), len(crossing)


def noding_checks(roads: gpd.GeoDataFrame, report: Report) -> None:
    """Count near-miss T junctions and unsplit junctions (informative, no change).

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Final lines.
    report : Report
        Collects the counts.
    """
    geoms = roads.geometry.values
    ends = end_points(geoms)
    n = len(geoms)
    owner = np.concatenate([np.arange(n), np.arange(n)])
    tree = shapely.STRtree(geoms)
    pts = shapely.points(ends)
    pi, li = tree.query(pts, predicate="dwithin", distance=SNAP_M)
    starts, stops = ends[:n], ends[n:]
    at_end = np.all(ends[pi] == starts[li], axis=1) | np.all(ends[pi] == stops[li], axis=1)
    joined = shapely.intersects(pts[pi], geoms[li])
    near_miss = np.unique(pi[(owner[pi] != li) & ~at_end & ~joined])
    report.add(
        "end points within 0.5 m of another line's interior (not joined, kept)", len(near_miss)
    )
    through, crossing = unsplit_junctions(geoms)
    report.add("lines running through a graph node without being split there (vertices)", through)
    report.add("lines crossing at a shared vertex without being split (vertices)", crossing)
    a, b = tree.query(geoms, predicate="crosses")
    report.add("pairs of lines crossing (any vertex; kept as is)", int((a < b).sum()))


def road_graph(roads: gpd.GeoDataFrame) -> nx.Graph:
    """Build the undirected graph of end points (nodes) joined by lines (edges).

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Final lines.

    Returns
    -------
    networkx.Graph
        Nodes are ``(x, y)`` tuples; edge attribute ``road_id`` (lowest of parallel lines).
    """
    graph = nx.Graph()
    ends = end_points(roads.geometry.values)
    n = len(roads)
    for i, road_id in enumerate(roads["road_id"].to_numpy()):
        u, v = tuple(ends[i]), tuple(ends[n + i])
        if not graph.has_edge(u, v):
            graph.add_edge(u, v, road_id=int(road_id))
    return graph


def build_roads(shared: Path, report: Report) -> tuple[gpd.GeoDataFrame, nx.Graph]:
    """Run step 1: read, clean, snap, round and check the road network.

    Parameters
    ----------
    shared : pathlib.Path
        Shared data folder.
    report : Report
        Collects the figures.

    Returns
    -------
    tuple
        The roads (EPSG:4547) and their end-point graph.
    """
    roads = read_roads(shared)
    report.add("roads read", len(roads))
    roads = drop_degenerate(roads, report, "source")
    roads = snap_end_points(roads, report)
    roads = drop_degenerate(round_lines(roads), report, "after rounding")
    noding_checks(roads, report)
    graph = road_graph(roads)
    report.add("road lines written", len(roads))
    report.add("road length (km)", round(float(roads.length.sum()) / 1000.0, 1))
    report.add("road graph nodes", graph.number_of_nodes())
    report.add("road graph connected components", nx.number_connected_components(graph))
    return roads, graph


# ----------------------------------------------------------------------------- step 2: area


def read_districts(shared: Path) -> gpd.GeoDataFrame:
    """Read the seven central districts with their ids and names.

    Parameters
    ----------
    shared : pathlib.Path
        Shared data folder.

    Returns
    -------
    geopandas.GeoDataFrame
        ``district_id``, ``osm_id``, ``name_zh``, ``name_en``, geometry (EPSG:4547),
        sorted by ``district_id``.
    """
    raw = gpd.read_file(shared / "wuhan" / "districts" / "wuhan_admin.shp")
    raw = raw[raw["name"].isin(list(DISTRICTS))]
    out = gpd.GeoDataFrame(
        {
            "district_id": [DISTRICTS[n][0] for n in raw["name"]],
            "osm_id": raw["id"].astype("int64").to_numpy(),
            "name_zh": [str(s).split(" (")[0].strip() for s in raw["locname"]],
            "name_en": raw["name"].astype(str).to_numpy(),
        },
        geometry=raw.geometry.values,
        crs=raw.crs,
    ).to_crs(CRS)
    if len(out) != len(DISTRICTS):
        raise RuntimeError(f"expected {len(DISTRICTS)} districts, found {len(out)}")
    return out.sort_values("district_id", ignore_index=True)


def raster_footprint(transform: Affine, shape: tuple[int, int]) -> shapely.Polygon:
    """Return the raster's bounds as a polygon in the analysis CRS.

    Parameters
    ----------
    transform : affine.Affine
        Raster transform (EPSG:4326).
    shape : tuple of int
        (rows, cols).

    Returns
    -------
    shapely.Polygon
        Densified and reprojected footprint.
    """
    left, top = transform * (0, 0)
    right, bottom = transform * (shape[1], shape[0])
    box = shapely.segmentize(shapely.box(left, bottom, right, top), 0.001)
    return gpd.GeoSeries([box], crs=WGS84).to_crs(CRS).iloc[0]


def raw_study_area(
    districts: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, footprint: shapely.Polygon
) -> shapely.Polygon:
    """Intersect the districts' union, the buffered road hull and the raster footprint.

    Parameters
    ----------
    districts : geopandas.GeoDataFrame
        The seven districts.
    roads : geopandas.GeoDataFrame
        Final roads.
    footprint : shapely.Polygon
        Raster footprint.

    Returns
    -------
    shapely.Polygon
        The raw study area on a 0.01 m grid.
    """
    union = shapely.union_all(districts.geometry.values)
    hull = shapely.convex_hull(shapely.union_all(roads.geometry.values)).buffer(HULL_BUFFER_M)
    area = shapely.intersection(shapely.intersection(union, hull), footprint)
    return shapely.set_precision(area, GRID_M)


# ----------------------------------------------------------------------------- step 4: rasters


def read_worldpop(shared: Path, report: Report) -> tuple[FloatArray, FloatArray, dict]:
    """Sum the WorldPop rasters into elderly (60+) and population (20+) arrays.

    Parameters
    ----------
    shared : pathlib.Path
        Shared data folder.
    report : Report
        Collects the figures.

    Returns
    -------
    tuple
        Elderly and population arrays (float64, NaN = nodata) and the raster profile.
    """
    folder = shared / "wuhan" / "worldpop_central"
    elderly = population = None
    nodata_count = None
    profile: dict = {}
    for age in ALL_AGES:
        for sex in ("f", "m"):
            with rasterio.open(folder / f"pop_{age}_{sex}_wuhan.tif") as src:
                band = src.read(1).astype(np.float64)
                nodata = np.float64(np.float32(src.nodata))
                if not profile:
                    profile = dict(src.profile)
                elif src.transform != profile["transform"] or src.crs != profile["crs"]:
                    raise RuntimeError(f"{src.name}: grid differs from the first raster")
            missing = band == nodata
            band[missing] = 0.0
            nodata_count = missing.astype(int) + (0 if nodata_count is None else nodata_count)
            population = band if population is None else population + band
            if age in ELDERLY_AGES:
                elderly = band if elderly is None else elderly + band
    n_inputs = 2 * len(ALL_AGES)
    report.add("raster inputs", n_inputs)
    report.add(
        "cells with some but not all inputs nodata (taken as 0)",
        int(((nodata_count > 0) & (nodata_count < n_inputs)).sum()),
    )
    all_missing = nodata_count == n_inputs
    population[all_missing] = np.nan
    elderly[all_missing] = np.nan
    return elderly, population, profile


def cell_centres(profile: dict) -> tuple[FloatArray, FloatArray]:
    """Return the raster cell centres in the analysis CRS, flattened row by row.

    Parameters
    ----------
    profile : dict
        Raster profile (EPSG:4326).

    Returns
    -------
    tuple of numpy.ndarray
        Easting and northing of every cell centre.
    """
    rows, cols = np.indices((profile["height"], profile["width"]))
    lon, lat = profile["transform"] * (cols.ravel() + 0.5, rows.ravel() + 0.5)
    x, y = Transformer.from_crs(WGS84, CRS, always_xy=True).transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def write_raster(path: Path, values: FloatArray, profile: dict, description: str) -> None:
    """Write a float32, deflate-compressed GeoTIFF with nodata -9999 on the native grid.

    Parameters
    ----------
    path : pathlib.Path
        Output path.
    values : numpy.ndarray
        Cell values, NaN = nodata.
    profile : dict
        Source profile (grid and CRS).
    description : str
        Stored as the band description and an ``IMAGEDESCRIPTION`` tag.
    """
    out = np.where(np.isnan(values), NODATA_OUT, values).astype(np.float32)
    meta = {
        "driver": "GTiff",
        "dtype": "float32",
        "nodata": NODATA_OUT,
        "count": 1,
        "width": profile["width"],
        "height": profile["height"],
        "crs": profile["crs"],
        "transform": profile["transform"],
        "compress": "deflate",
        "predictor": 3,
        "zlevel": 9,
    }
    if path.exists():
        path.unlink()
    with rasterio.open(path, "w", **meta) as dst:
        dst.write(out, 1)
        dst.set_band_description(1, description)
        dst.update_tags(
            TIFFTAG_IMAGEDESCRIPTION=description,
            SOURCE="WorldPop (CC BY 4.0), Tatem 2017 Sci. Data 4:170004; "
            "built by data/build_default_data.py",
        )


def mask_rasters(
    elderly: FloatArray, population: FloatArray, inside: NDArray[np.bool_], report: Report
) -> None:
    """Set cells whose centre is outside the study area to nodata, in place.

    Parameters
    ----------
    elderly, population : numpy.ndarray
        Arrays (NaN = nodata), modified in place.
    inside : numpy.ndarray
        Flattened boolean mask of cell centres in the study area.
    report : Report
        Collects the totals.
    """
    report.add(
        "raster cells (rows x cols)", f"{elderly.size} ({elderly.shape[0]} x {elderly.shape[1]})"
    )
    report.add("cells with data before masking", int((~np.isnan(population)).sum()))
    report.add("elderly 60+ before masking", round(float(np.nansum(elderly)), 1))
    report.add("population 20+ before masking", round(float(np.nansum(population)), 1))
    outside = ~inside.reshape(elderly.shape)
    elderly[outside] = np.nan
    population[outside] = np.nan
    report.add("cells with data after masking", int((~np.isnan(population)).sum()))
    report.add("elderly 60+ after masking", round(float(np.nansum(elderly)), 1))
    report.add("population 20+ after masking", round(float(np.nansum(population)), 1))


# ----------------------------------------------------------------------------- step 3: faces


def polygon_faces(
    roads: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, study: shapely.Polygon
) -> tuple[NDArray[np.object_], NDArray[np.bool_]]:
    """Polygonize roads + district and study-area boundaries into faces of the study area.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Final roads.
    districts : geopandas.GeoDataFrame
        The seven districts.
    study : shapely.Polygon
        Raw study area.

    Returns
    -------
    tuple
        Faces (sorted by representative point) and a flag: True for road blocks.
    """
    pieces = shapely.set_precision(shapely.intersection(districts.geometry.values, study), GRID_M)
    lines = [*roads.geometry.values, *shapely.boundary(pieces), shapely.boundary(study)]
    noded = shapely.union_all(lines, grid_size=GRID_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    reps = shapely.point_on_surface(faces)
    keep = shapely.contains(study, reps)
    faces, reps = faces[keep], reps[keep]
    order = np.lexsort((shapely.get_y(reps), shapely.get_x(reps)))
    faces, reps = faces[order], reps[order]
    road_net = shapely.union_all(roads.geometry.values, grid_size=GRID_M)
    blocks = shapely.union_all(shapely.get_parts(shapely.polygonize(shapely.get_parts(road_net))))
    return faces, shapely.contains(blocks, reps)


def face_districts(faces: NDArray[np.object_], districts: gpd.GeoDataFrame) -> NDArray[np.str_]:
    """Give each face the district with which it shares the largest area.

    Parameters
    ----------
    faces : numpy.ndarray
        Face polygons.
    districts : geopandas.GeoDataFrame
        The seven districts.

    Returns
    -------
    numpy.ndarray
        District id per face.
    """
    shares = np.stack(
        [shapely.area(shapely.intersection(faces, g)) for g in districts.geometry.values], axis=1
    )
    return districts["district_id"].to_numpy()[shares.argmax(axis=1)]


def assign_points(
    polygons: NDArray[np.object_], x: FloatArray, y: FloatArray, distance: float = 0.0
) -> IntArray:
    """Return, for each point, the index of the first polygon that contains or touches it.

    Parameters
    ----------
    polygons : numpy.ndarray
        Polygons.
    x, y : numpy.ndarray
        Point coordinates.
    distance : float, default 0.0
        If positive, polygons within this distance count as touching.

    Returns
    -------
    numpy.ndarray
        Polygon index per point, -1 where none.
    """
    tree = shapely.STRtree(polygons)
    points = shapely.points(x, y)
    if distance > 0:
        pi, gi = tree.query(points, predicate="dwithin", distance=distance)
    else:
        pi, gi = tree.query(points, predicate="intersects")
    out = np.full(len(x), -1, dtype=np.int64)
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, dtype=bool)
    out[pi[first]] = gi[first]
    return out


def face_adjacency(faces: NDArray[np.object_]) -> dict[int, dict[int, float]]:
    """Return, for each face, its neighbours and the length of their shared boundary.

    Parameters
    ----------
    faces : numpy.ndarray
        Face polygons from one polygonize (shared edges are identical).

    Returns
    -------
    dict
        ``adj[i][j]`` = shared boundary length in metres (> 0 only).
    """
    tree = shapely.STRtree(faces)
    a, b = tree.query(faces, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    bounds = shapely.boundary(faces)
    lengths = shapely.length(shapely.intersection(bounds[a], bounds[b]))
    adj: dict[int, dict[int, float]] = {i: {} for i in range(len(faces))}
    for i, j, length in zip(a.tolist(), b.tolist(), lengths.tolist(), strict=True):
        if length > 0:
            adj[i][j] = length
            adj[j][i] = length
    return adj


# ----------------------------------------------------------------------------- step 3: merge


@dataclass
class UnitState:
    """Units during merging: population, area, district, member faces and adjacency."""

    pop: dict[int, float]
    area: dict[int, float]
    district: dict[int, str]
    members: dict[int, list[int]]
    adj: dict[int, dict[int, float]]
    edge: dict[int, bool]

    def merge(self, keep: int, drop: int) -> None:
        """Merge unit ``drop`` into unit ``keep`` (sums, members, shared lengths).

        Parameters
        ----------
        keep, drop : int
            Unit indices.
        """
        self.pop[keep] += self.pop.pop(drop)
        self.area[keep] += self.area.pop(drop)
        self.members[keep] += self.members.pop(drop)
        drop_edge = self.edge.pop(drop)
        self.edge[keep] = self.edge[keep] and drop_edge
        self.district.pop(drop)
        for other, length in self.adj.pop(drop).items():
            self.adj[other].pop(drop)
            if other != keep:
                self.adj[other][keep] = self.adj[other].get(keep, 0.0) + length
                self.adj[keep][other] = self.adj[other][keep]

    def same_district(self, u: int) -> dict[int, float]:
        """Return the neighbours of ``u`` in its own district with shared lengths."""
        return {n: v for n, v in self.adj[u].items() if self.district[n] == self.district[u]}

    def below_target(self, u: int) -> bool:
        """Return True while ``u`` has fewer than 20,000 people or less than 1 km²."""
        return self.pop[u] < POP_LOW or self.area[u] < AREA_LOW


def longest(neighbours: dict[int, float]) -> int:
    """Return the neighbour with the longest shared boundary (ties: lowest index)."""
    return min(neighbours, key=lambda n: (-neighbours[n], n))


def absorb_slivers(state: UnitState) -> int:
    """Merge faces under 1 m² into their longest-boundary neighbour (any district).

    Parameters
    ----------
    state : UnitState
        Modified in place.

    Returns
    -------
    int
        Number of slivers merged.
    """
    count = 0
    for u in sorted(state.area):
        if u in state.area and state.area[u] < SLIVER_M2 and state.adj[u]:
            target = longest(state.adj[u])
            state.merge(target, u)
            count += 1
    return count


def absorb_edges(state: UnitState) -> int:
    """Merge edge faces into a same-district neighbour (blocks preferred), repeatedly.

    Parameters
    ----------
    state : UnitState
        Modified in place.

    Returns
    -------
    int
        Number of edge faces merged.
    """
    count, changed = 0, True
    while changed:
        changed = False
        for u in sorted(u for u in state.edge if state.edge[u]):
            if u not in state.edge:
                continue
            nbs = state.same_district(u)
            blocks = {n: v for n, v in nbs.items() if not state.edge[n]}
            if blocks or nbs:
                state.merge(longest(blocks or nbs), u)
                count, changed = count + 1, True
    return count


def greedy_merge(state: UnitState) -> int:
    """Merge the smallest below-target unit with its longest-boundary eligible neighbour.

    Parameters
    ----------
    state : UnitState
        Modified in place.

    Returns
    -------
    int
        Number of merges.
    """
    heap = [(p, u) for u, p in state.pop.items()]
    heapq.heapify(heap)
    merges = 0
    while heap:
        p, u = heapq.heappop(heap)
        if state.pop.get(u) != p or not state.below_target(u):
            continue
        tiny = state.pop[u] < POP_LOW and state.area[u] < AREA_LOW
        eligible = {
            n: v
            for n, v in state.same_district(u).items()
            if tiny
            or (
                state.pop[u] + state.pop[n] <= POP_HIGH
                and state.area[u] + state.area[n] <= AREA_HIGH
            )
        }
        if not eligible:
            continue
        n = longest(eligible)
        keep, drop = min(u, n), max(u, n)
        state.merge(keep, drop)
        heapq.heappush(heap, (state.pop[keep], keep))
        merges += 1
    return merges


def absorb_exclaves(state: UnitState) -> list[tuple[str, str, float, float]]:
    """Give small district fragments cut off from their district to a neighbouring unit.

    Parameters
    ----------
    state : UnitState
        Modified in place.

    Returns
    -------
    list of tuple
        (from district, to district, area m², population) per fragment.
    """
    moved = []
    for u in sorted(state.pop):
        if u not in state.pop or state.same_district(u) or not state.adj[u]:
            continue
        if state.pop[u] >= POP_LOW or state.area[u] >= AREA_LOW:
            continue
        target = longest(state.adj[u])
        moved.append((state.district[u], state.district[target], state.area[u], state.pop[u]))
        state.merge(target, u)
    return moved


# ----------------------------------------------------------------------------- step 3: units


def number_units(groups: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Number units west to east within each district and add names.

    Parameters
    ----------
    groups : geopandas.GeoDataFrame
        ``district_id``, ``population``, ``elderly``, geometry.
    districts : geopandas.GeoDataFrame
        Districts with ``name_zh`` and ``name_en``.

    Returns
    -------
    geopandas.GeoDataFrame
        Units with the public columns, sorted by ``unit_id``.
    """
    reps = shapely.point_on_surface(groups.geometry.values)
    groups = groups.assign(_x=shapely.get_x(reps), _y=-shapely.get_y(reps))
    groups = groups.sort_values(["district_id", "_x", "_y"], ignore_index=True)
    number = groups.groupby("district_id").cumcount() + 1
    zh = dict(zip(districts["district_id"], districts["name_zh"], strict=True))
    en = {code: short for code, short in DISTRICTS.values()}
    units = gpd.GeoDataFrame(
        {
            "unit_id": [f"{d}-{k:02d}" for d, k in zip(groups["district_id"], number, strict=True)],
            "name": [
                f"{zh[d]}第{k:02d}单元" for d, k in zip(groups["district_id"], number, strict=True)
            ],
            "name_en": [
                f"{en[d]} unit {k:02d}" for d, k in zip(groups["district_id"], number, strict=True)
            ],
            "district_id": groups["district_id"].to_numpy(),
            "level": "street",
            "area_km2": np.round(shapely.area(groups.geometry.values) / 1e6, 4),
            "population": np.round(groups["population"].to_numpy(), 1),
            "elderly": np.round(groups["elderly"].to_numpy(), 1),
        },
        geometry=groups.geometry.values,
        crs=CRS,
    )
    return units.sort_values("unit_id", ignore_index=True)


def merge_faces(
    faces: NDArray[np.object_],
    is_block: NDArray[np.bool_],
    face_district: NDArray[np.str_],
    face_pop: FloatArray,
    report: Report,
) -> UnitState:
    """Run steps 3.3-3.7: slivers, edges, greedy merge and exclaves.

    Parameters
    ----------
    faces : numpy.ndarray
        Face polygons.
    is_block : numpy.ndarray
        True for road blocks.
    face_district : numpy.ndarray
        District id per face.
    face_pop : numpy.ndarray
        Population (20+) per face.
    report : Report
        Collects the counts.

    Returns
    -------
    UnitState
        The final units as groups of faces.
    """
    n = len(faces)
    state = UnitState(
        pop=dict(enumerate(face_pop.tolist())),
        area=dict(enumerate(shapely.area(faces).tolist())),
        district=dict(enumerate(face_district.tolist())),
        members={i: [i] for i in range(n)},
        adj=face_adjacency(faces),
        edge=dict(enumerate((~is_block).tolist())),
    )
    report.add(
        "faces (blocks + edge faces)", f"{n} ({int(is_block.sum())} + {int((~is_block).sum())})"
    )
    report.add("edge face area (km²)", round(float(shapely.area(faces[~is_block]).sum()) / 1e6, 3))
    report.add("sliver faces (< 1 m²) merged", absorb_slivers(state))
    report.add("edge faces merged into blocks", absorb_edges(state))
    report.add("greedy merges", greedy_merge(state))
    for src, dst, area, pop in absorb_exclaves(state):
        report.add(
            f"district fragment {src} given to a {dst} unit (area m², population)",
            f"{area:.0f}, {pop:.1f}",
        )
    below = [u for u in state.pop if state.below_target(u)]
    report.add("units still below target (cannot grow under the caps)", len(below))
    return state


def build_units(
    faces: NDArray[np.object_],
    state: UnitState,
    face_pop: FloatArray,
    face_eld: FloatArray,
    districts: gpd.GeoDataFrame,
) -> tuple[gpd.GeoDataFrame, NDArray[np.int64]]:
    """Assemble unit polygons from their faces and number them.

    Parameters
    ----------
    faces : numpy.ndarray
        Face polygons.
    state : UnitState
        Final groups.
    face_pop, face_eld : numpy.ndarray
        Population (20+) and elderly per face.
    districts : geopandas.GeoDataFrame
        The seven districts (names).

    Returns
    -------
    tuple
        Units (sorted by ``unit_id``) and, per face, the row index of its unit.
    """
    keys = sorted(state.members)
    geoms = [shapely.coverage_union_all(faces[state.members[k]]) for k in keys]
    geoms = [
        g.geoms[0] if g.geom_type == "MultiPolygon" and len(g.geoms) == 1 else g for g in geoms
    ]
    groups = gpd.GeoDataFrame(
        {
            "key": keys,
            "district_id": [state.district[k] for k in keys],
            "population": [float(face_pop[state.members[k]].sum()) for k in keys],
            "elderly": [float(face_eld[state.members[k]].sum()) for k in keys],
        },
        geometry=geoms,
        crs=CRS,
    )
    units = number_units(groups, districts)
    reps = shapely.point_on_surface(groups.geometry.values)
    row = assign_points(units.geometry.values, shapely.get_x(reps), shapely.get_y(reps))
    row_of_key = dict(zip(keys, row.tolist(), strict=True))
    face_unit = np.empty(len(faces), dtype=np.int64)
    for k in keys:
        face_unit[state.members[k]] = row_of_key[k]
    return units, face_unit


def check_tiling(units: gpd.GeoDataFrame, study: shapely.Geometry, report: Report) -> None:
    """Report union, gap and overlap areas of the units against the study area.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Final units.
    study : shapely.Geometry
        Final study area.
    report : Report
        Collects the figures.
    """
    geoms = units.geometry.values
    union = shapely.union_all(geoms)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = a < b
    overlap = float(shapely.area(shapely.intersection(geoms[a[keep]], geoms[b[keep]])).sum())
    report.add("study area (km²)", round(study.area / 1e6, 4))
    report.add("units union area - study area (m²)", round(union.area - study.area, 4))
    report.add(
        "gap area: study area minus units (m²)", round(shapely.difference(study, union).area, 4)
    )
    report.add("total pairwise overlap area of units (m²)", round(overlap, 4))
    kinds = Counter(units.geom_type)
    report.add("unit geometry types", dict(sorted(kinds.items())))


def district_layer(units: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Dissolve the units into the district polygons clipped to the study area.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Final units.
    districts : geopandas.GeoDataFrame
        District attributes.

    Returns
    -------
    geopandas.GeoDataFrame
        ``district_id``, ``osm_id``, ``name_zh``, ``name_en``, ``area_km2``, geometry.
    """
    geoms = [
        shapely.coverage_union_all(units.geometry.values[units["district_id"] == d])
        for d in districts["district_id"]
    ]
    out = gpd.GeoDataFrame(districts.drop(columns="geometry"), geometry=geoms, crs=CRS)
    out.insert(4, "area_km2", np.round(shapely.area(out.geometry.values) / 1e6, 4))
    return out


# ----------------------------------------------------------------------------- step 5: stations


@dataclass
class Cells:
    """Valid raster cells inside the study area: centres (EPSG:4547), values and unit row."""

    x: FloatArray
    y: FloatArray
    elderly: FloatArray
    population: FloatArray
    unit: IntArray

    def elderly_within(self, px: FloatArray, py: FloatArray, radius: float) -> FloatArray:
        """Sum the elderly of the cells whose centres are within ``radius`` of each point.

        Parameters
        ----------
        px, py : numpy.ndarray
            Point coordinates.
        radius : float
            Radius in metres.

        Returns
        -------
        numpy.ndarray
            Elderly per point.
        """
        tree = cKDTree(np.column_stack([self.x, self.y]))
        hits = tree.query_ball_point(np.column_stack([px, py]), radius)
        return np.array([self.elderly[h].sum() if h else 0.0 for h in hits])


@dataclass
class Nodes:
    """Road-graph nodes strictly inside the study area with the bearings of their roads."""

    x: FloatArray
    y: FloatArray
    bearings: list[list[float]]
    road_tree: shapely.STRtree


def road_nodes(roads: gpd.GeoDataFrame, graph: nx.Graph, study: shapely.Geometry) -> Nodes:
    """Collect the graph nodes inside the study area, sorted by (x, y), with road bearings.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Final roads.
    graph : networkx.Graph
        End-point graph.
    study : shapely.Geometry
        Final study area.

    Returns
    -------
    Nodes
        Node coordinates and, per node, the bearing (radians) of each incident line.
    """
    bearing: dict[tuple[float, float], list[float]] = {}
    for geom in roads.geometry.values:
        c = shapely.get_coordinates(geom)
        for a, b in ((c[0], c[1]), (c[-1], c[-2])):
            bearing.setdefault((a[0], a[1]), []).append(math.atan2(b[1] - a[1], b[0] - a[0]))
    xy = np.array(sorted(graph.nodes))
    keep = shapely.contains_xy(study, xy[:, 0], xy[:, 1])
    xy = xy[keep]
    return Nodes(
        xy[:, 0],
        xy[:, 1],
        [sorted(bearing[(x, y)]) for x, y in xy.tolist()],
        shapely.STRtree(roads.geometry.values),
    )


def offset_angles(bearings: list[float]) -> list[float]:
    """Return offset directions, best first: bisectors of the widest gaps between roads.

    Parameters
    ----------
    bearings : list of float
        Sorted bearings (radians) of the lines meeting at the node.

    Returns
    -------
    list of float
        Candidate directions; at a dead end, the two perpendiculars to the road.
    """
    if len(bearings) == 1:
        return [bearings[0] + math.pi / 2, bearings[0] - math.pi / 2]
    gaps = []
    for i, b in enumerate(bearings):
        nxt = bearings[(i + 1) % len(bearings)] + (2 * math.pi if i == len(bearings) - 1 else 0)
        gaps.append((-(nxt - b), i, b + (nxt - b) / 2))
    return [angle for _, _, angle in sorted(gaps)]


def offset_point(
    x: float,
    y: float,
    bearings: list[float],
    region: shapely.Geometry,
    road_tree: shapely.STRtree,
    dist: float = 15.0,
) -> tuple[float, float]:
    """Move a node ``dist`` metres off the roads, preferring a spot inside ``region``.

    Directions are tried widest gap first; the first that falls inside ``region`` and at
    least ``dist / 2`` from every road line wins, else the first inside ``region``, else
    the widest gap.

    Parameters
    ----------
    x, y : float
        Node coordinates.
    bearings : list of float
        Bearings of the node's roads.
    region : shapely.Geometry
        The point should fall inside it.
    road_tree : shapely.STRtree
        Tree of all road lines.
    dist : float, default 15.0
        Offset in metres.

    Returns
    -------
    tuple of float
        The offset point.
    """
    options = []
    for angle in offset_angles(bearings):
        ux, uy = unit_vector(angle)
        options.append((x + dist * ux, y + dist * uy))
    inside = [o for o in options if shapely.contains_xy(region, *o)]
    for px, py in inside:
        if not len(road_tree.query(shapely.Point(px, py), predicate="dwithin", distance=dist / 2)):
            return px, py
    return (inside or options)[0]


def place_centres(units: gpd.GeoDataFrame, nodes: Nodes, cells: Cells) -> pd.DataFrame:
    """Place centres in 60 % of the units, near the units' elderly-weighted centroids.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Final units sorted by ``unit_id``.
    nodes : Nodes
        Road nodes.
    cells : Cells
        Valid cells.

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y`` (offset point), ``nx``, ``ny`` (node), ``capacity``, ``area_m2``.
    """
    rng = np.random.default_rng(SEED)
    chosen = np.sort(rng.choice(len(units), size=round(0.6 * len(units)), replace=False))
    geoms = units.geometry.values
    tree = shapely.STRtree(geoms)
    ni, ui = tree.query(shapely.points(nodes.x, nodes.y), predicate="dwithin", distance=0.05)
    rows = []
    for u in chosen.tolist():
        w = cells.elderly[cells.unit == u]
        if w.sum() > 0:
            cx = float(np.average(cells.x[cells.unit == u], weights=w))
            cy = float(np.average(cells.y[cells.unit == u], weights=w))
        else:
            rep = shapely.point_on_surface(geoms[u])
            cx, cy = rep.x, rep.y
        pool = ni[ui == u] if (ui == u).any() else np.arange(len(nodes.x))
        best = pool[np.argmin(np.hypot(nodes.x[pool] - cx, nodes.y[pool] - cy))]
        px, py = offset_point(
            nodes.x[best], nodes.y[best], nodes.bearings[best], geoms[u], nodes.road_tree
        )
        rows.append(
            {
                "x": px,
                "y": py,
                "nx": nodes.x[best],
                "ny": nodes.y[best],
                "capacity": int(rng.integers(40, 81)),
                "area_m2": float(round(rng.uniform(1000, 2000))),
            }
        )
    return pd.DataFrame(rows)


def place_stations(
    nodes: Nodes, cells: Cells, centres: pd.DataFrame, study: shapely.Geometry
) -> pd.DataFrame:
    """Place one station per 12,000 elderly at sampled nodes at least 400 m apart.

    Parameters
    ----------
    nodes : Nodes
        Road nodes.
    cells : Cells
        Valid cells.
    centres : pandas.DataFrame
        Centres already placed (their nodes count for the spacing).
    study : shapely.Geometry
        Final study area.

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y``, ``nx``, ``ny`` of the stations (capacities are drawn later).
    """
    rng = np.random.default_rng(SEED)
    target = round(float(cells.elderly.sum()) / 12_000)
    weight = cells.elderly_within(nodes.x, nodes.y, 300.0)
    order = rng.choice(
        len(weight), size=int((weight > 0).sum()), replace=False, p=weight / weight.sum()
    )
    placed = [(float(a), float(b)) for a, b in zip(centres["nx"], centres["ny"], strict=True)]
    rows = []
    for i in order.tolist():
        if len(rows) == target:
            break
        arr = np.array(placed)
        if len(arr) and np.hypot(arr[:, 0] - nodes.x[i], arr[:, 1] - nodes.y[i]).min() < 400:
            continue
        placed.append((nodes.x[i], nodes.y[i]))
        px, py = offset_point(nodes.x[i], nodes.y[i], nodes.bearings[i], study, nodes.road_tree)
        rows.append({"x": px, "y": py, "nx": nodes.x[i], "ny": nodes.y[i]})
    return pd.DataFrame(rows)


def build_stations(
    units: gpd.GeoDataFrame, nodes: Nodes, cells: Cells, study: shapely.Geometry, report: Report
) -> gpd.GeoDataFrame:
    """Run step 5: centres and stations, with ids, names and attributes, in EPSG:4326.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Final units.
    nodes : Nodes
        Road nodes.
    cells : Cells
        Valid cells.
    study : shapely.Geometry
        Final study area.
    report : Report
        Collects the counts.

    Returns
    -------
    geopandas.GeoDataFrame
        The ``stations`` layer.
    """
    centres = place_centres(units, nodes, cells)
    stations = place_stations(nodes, cells, centres, study)
    ids = units["unit_id"].to_numpy()
    for frame in (centres, stations):
        frame["unit_id"] = ids[
            assign_points(units.geometry.values, frame["x"].to_numpy(), frame["y"].to_numpy())
        ]
    stations = stations.sort_values(["unit_id", "x"], ignore_index=True)
    rng = np.random.default_rng(SEED)
    stations["capacity"] = rng.integers(10, 31, size=len(stations))
    stations["area_m2"] = np.round(rng.uniform(200, 600, size=len(stations)))
    centres = centres.assign(
        kind="centre",
        station_id=[f"C{i:03d}" for i in range(1, len(centres) + 1)],
        name=[f"示例综合中心{i:03d}" for i in range(1, len(centres) + 1)],
    )
    stations = stations.assign(
        kind="station",
        station_id=[f"S{i:03d}" for i in range(1, len(stations) + 1)],
        name=[f"示例养老服务站{i:03d}" for i in range(1, len(stations) + 1)],
    )
    both = pd.concat([centres, stations], ignore_index=True)
    report.add("stations by kind", {"centre": len(centres), "station": len(stations)})
    out = gpd.GeoDataFrame(
        {
            "station_id": both["station_id"],
            "name": both["name"],
            "kind": both["kind"],
            "capacity": both["capacity"].astype("int64"),
            "area_m2": both["area_m2"].astype("float64"),
            "status": "existing",
            "unit_id": both["unit_id"],
            "source": "illustrative",
        },
        geometry=to_wgs84_points(both["x"].to_numpy(), both["y"].to_numpy()),
        crs=WGS84,
    )
    return out.sort_values("station_id", ignore_index=True)


# ----------------------------------------------------------------------------- step 6: sites


def build_candidates(
    units: gpd.GeoDataFrame, nodes: Nodes, cells: Cells, stations: gpd.GeoDataFrame, report: Report
) -> gpd.GeoDataFrame:
    """Run step 6: thin road nodes to candidate sites >= 500 m apart, away from stations.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Final units.
    nodes : Nodes
        Road nodes.
    cells : Cells
        Valid cells.
    stations : geopandas.GeoDataFrame
        Existing centres and stations (EPSG:4326).
    report : Report
        Collects the count.

    Returns
    -------
    geopandas.GeoDataFrame
        The ``candidates`` layer (EPSG:4326).
    """
    fac = stations.to_crs(CRS).geometry
    dist, _ = cKDTree(np.column_stack([fac.x, fac.y])).query(np.column_stack([nodes.x, nodes.y]))
    free = np.flatnonzero(dist > 300.0)
    score = cells.elderly_within(nodes.x[free], nodes.y[free], 500.0)
    order = free[np.lexsort((nodes.y[free], nodes.x[free], -score))]
    chosen: list[int] = []
    for i in order.tolist():
        if len(chosen) == 400:
            break
        if (
            chosen
            and np.hypot(nodes.x[chosen] - nodes.x[i], nodes.y[chosen] - nodes.y[i]).min() < 500.0
        ):
            continue
        chosen.append(i)
    x, y = nodes.x[chosen], nodes.y[chosen]
    rng = np.random.default_rng(SEED)
    capacity = rng.integers(10, 31, size=len(chosen))
    cost = np.ones(len(chosen))
    cost[rng.choice(len(chosen), size=round(0.1 * len(chosen)), replace=False)] = 1.5
    unit_row = assign_points(units.geometry.values, x, y, distance=0.05)
    report.add("candidate sites", len(chosen))
    return gpd.GeoDataFrame(
        {
            "site_id": [f"K{i:04d}" for i in range(1, len(chosen) + 1)],
            "kind": "station",
            "capacity": capacity.astype("int64"),
            "cost": cost,
            "unit_id": units["unit_id"].to_numpy()[unit_row],
            "source": "illustrative",
        },
        geometry=to_wgs84_points(x, y),
        crs=WGS84,
    )


# ----------------------------------------------------------------------------- step 7: devs


def add_months(day: dt.date, months: int) -> dt.date:
    """Add calendar months to a date (day of month clipped to 28)."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, min(day.day, 28))


def milestone_dates(design: DevDesign, rng: np.random.Generator) -> dict[str, str | None]:
    """Draw the housing milestones and derive the facility milestones from the design.

    Parameters
    ----------
    design : DevDesign
        The designed development.
    rng : numpy.random.Generator
        Shared generator of step 7.

    Returns
    -------
    dict
        ISO dates (``None`` = unknown) for the four housing and four facility milestones.
    """
    stages = ("planning", "construction", "acceptance", "delivery")
    planning = dt.date(2019, 1, 1) + dt.timedelta(days=int(rng.integers(0, 900)))
    construction = planning + dt.timedelta(days=int(rng.integers(150, 271)))
    acceptance = construction + dt.timedelta(days=int(rng.integers(720, 901)))
    housing = dict(
        zip(
            stages,
            (planning, construction, acceptance, acceptance + dt.timedelta(days=182)),
            strict=True,
        )
    )
    early = rng.integers(1, 61, size=4)
    facility: dict[str, dt.date | None] = {
        s: housing[s] - dt.timedelta(days=int(e)) for s, e in zip(stages, early, strict=True)
    }
    if design.timing == "same":
        facility = dict(housing)
    elif design.timing == "late_acceptance":
        facility["acceptance"] = add_months(housing["acceptance"], 5)
        facility["delivery"] = facility["acceptance"] + dt.timedelta(days=14)
    elif design.timing == "late_construction":
        facility["construction"] = add_months(housing["construction"], 2)
    elif design.timing == "missing_delivery":
        facility["delivery"] = None
    elif design.timing == "none":
        facility = dict.fromkeys(stages)
    out: dict[str, str | None] = {f"housing_{s}": housing[s].isoformat() for s in stages}
    for s in stages:
        value = facility[s]
        out[f"facility_{s}"] = value.isoformat() if value else None
    return out


@dataclass
class Placement:
    """Where a development went: rectangle, unit row, centre and axes."""

    polygon: shapely.Polygon
    unit: int
    centre: tuple[float, float]
    along: tuple[float, float]
    away: tuple[float, float]
    length: float
    depth: float


def rectangle(
    cx: float,
    cy: float,
    along: tuple[float, float],
    away: tuple[float, float],
    length: float,
    depth: float,
) -> shapely.Polygon:
    """Return a rectangle of ``length`` x ``depth`` centred on (cx, cy) along two axes."""
    corners = [
        (
            cx + sa * along[0] * length / 2 + sd * away[0] * depth / 2,
            cy + sa * along[1] * length / 2 + sd * away[1] * depth / 2,
        )
        for sa, sd in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]
    return shapely.Polygon(corners)


def try_place(area: float, rng: np.random.Generator, ctx: dict) -> Placement | None:
    """Draw one candidate position for a development and test it.

    Parameters
    ----------
    area : float
        Rectangle area in m².
    rng : numpy.random.Generator
        Shared generator of step 7.
    ctx : dict
        ``lines``, ``p`` (draw weights), ``units``, ``road_tree``, ``cell_tree``, ``cells``
        (x, y, valid), ``taken`` (placed polygons).

    Returns
    -------
    Placement or None
        The placement, or None when the draw fails a test.
    """
    line = ctx["lines"][rng.choice(len(ctx["lines"]), p=ctx["p"])]
    s = rng.uniform(0.0, line.length)
    side = 1.0 if rng.random() < 0.5 else -1.0
    aspect, setback = rng.uniform(1.0, 1.8), rng.uniform(25.0, 60.0)
    a = line.interpolate(max(s - 5.0, 0.0))
    b = line.interpolate(min(s + 5.0, line.length))
    norm = math.hypot(b.x - a.x, b.y - a.y)
    if norm == 0:
        return None
    along = ((b.x - a.x) / norm, (b.y - a.y) / norm)
    away = (-along[1] * side, along[0] * side)
    length = math.sqrt(area * aspect)
    depth = area / length
    p = line.interpolate(s)
    cx, cy = p.x + away[0] * (setback + depth / 2), p.y + away[1] * (setback + depth / 2)
    poly = rectangle(cx, cy, along, away, length, depth)
    within = ctx["units_tree"].query(poly, predicate="within")
    if len(within) != 1 or len(ctx["road_tree"].query(poly, predicate="dwithin", distance=10.0)):
        return None
    if any(shapely.distance(poly, t) < 1000.0 for t in ctx["taken"]):
        return None
    hits = ctx["cell_tree"].query_ball_point((cx, cy), math.hypot(length, depth) / 2)
    cx_, cy_, valid = ctx["cells"]
    inner = [h for h in hits if shapely.contains_xy(poly, cx_[h], cy_[h])]
    if not inner or not all(valid[h] for h in inner):
        return None
    return Placement(poly, int(within[0]), (cx, cy), along, away, length, depth)


def facility_xy(
    design: DevDesign, place: Placement, study: shapely.Geometry, taken: list[shapely.Polygon]
) -> list[tuple[float, float]]:
    """Place the facility points of a development (inside, or 1.2 km outside by design).

    Parameters
    ----------
    design : DevDesign
        The designed development.
    place : Placement
        Its rectangle.
    study : shapely.Geometry
        Final study area.
    taken : list of shapely.Polygon
        All development polygons.

    Returns
    -------
    list of tuple
        One point per site.
    """
    cx, cy = place.centre
    (ax, ay), (wx, wy) = place.along, place.away
    if len(design.sites) == 2:
        q = place.length / 4
        return [(cx - q * ax, cy - q * ay), (cx + q * ax, cy + q * ay)]
    if not design.sites:
        return []
    if not design.outside:
        return [(cx, cy)]
    for (dx, dy), half in (
        ((wx, wy), place.depth / 2),
        ((-wx, -wy), place.depth / 2),
        ((ax, ay), place.length / 2),
        ((-ax, -ay), place.length / 2),
    ):
        px, py = cx + dx * (half + 1200.0), cy + dy * (half + 1200.0)
        if shapely.contains_xy(study, px, py) and not any(
            shapely.contains_xy(t, px, py) for t in taken
        ):
            return [(px, py)]
    raise RuntimeError("no direction keeps the outside facility in the study area")


def placement_context(
    units: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, cells_all: tuple, study: shapely.Geometry
) -> dict:
    """Prepare the look-ups used to place developments.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Final units.
    roads : geopandas.GeoDataFrame
        Final roads.
    cells_all : tuple
        (x, y, valid) of every cell centre in the masked grid.
    study : shapely.Geometry
        Final study area.

    Returns
    -------
    dict
        See :func:`try_place`.
    """
    geoms = roads.geometry.values
    inside = shapely.contains(study, shapely.point_on_surface(geoms))
    lines = geoms[inside]
    lengths = shapely.length(lines)
    return {
        "lines": lines,
        "p": lengths / lengths.sum(),
        "units_tree": shapely.STRtree(units.geometry.values),
        "road_tree": shapely.STRtree(geoms),
        "cell_tree": cKDTree(np.column_stack(cells_all[:2])),
        "cells": cells_all,
        "taken": [],
    }


def verdict(
    design: DevDesign, row: dict, place: Placement, points: list[tuple[float, float]]
) -> dict[str, str]:
    """Evaluate a development under the 四同步 rules the rows were designed for.

    Parameters
    ----------
    design : DevDesign
        The designed development.
    row : dict
        Its attribute row (dates).
    place : Placement
        Its rectangle.
    points : list of tuple
        Facility points (EPSG:4547).

    Returns
    -------
    dict
        Verdict per criterion (``pass``, ``fail ...``, ``unknown``, ``n/a``) and overall.
    """
    required = design.households / 100 * 20
    total = sum(design.sites)
    out = {"area": "pass" if total >= required else f"fail (short {required - total:g} m²)"}
    small = [s for s in design.sites if s < 350]
    out["site"] = (
        "fail (no site)"
        if not design.sites
        else f"fail ({', '.join(f'{s:g}' for s in small)} m² < 350)"
        if small
        else "pass"
    )
    late, unknown = [], []
    for stage in ("planning", "construction", "acceptance", "delivery"):
        h, f = row[f"housing_{stage}"], row[f"facility_{stage}"]
        if h is None or f is None:
            unknown.append(stage)
        elif f > h:
            days = (dt.date.fromisoformat(f) - dt.date.fromisoformat(h)).days
            late.append(f"{stage} +{days} d")
    out["timing"] = (
        f"fail ({', '.join(late)})"
        if late
        else f"unknown ({', '.join(unknown)} missing)"
        if unknown
        else "pass"
    )
    dist = [shapely.distance(place.polygon, shapely.Point(p)) for p in points]
    out["location"] = (
        "n/a" if not points else "pass" if max(dist) == 0 else f"fail ({max(dist):.0f} m outside)"
    )
    flags = list(out.values())
    out["overall"] = (
        "fail"
        if any(v.startswith("fail") for v in flags)
        else "unknown"
        if any(v.startswith("unknown") for v in flags)
        else "pass"
    )
    return out


def to_wgs84_geometry(geom: shapely.Geometry) -> shapely.Geometry:
    """Reproject one EPSG:4547 geometry to EPSG:4326, coordinates rounded to 1e-7 deg."""
    transformer = Transformer.from_crs(CRS, WGS84, always_xy=True)

    def project(coords: FloatArray) -> FloatArray:
        """Reproject an (n, 2) coordinate array and round it."""
        lon, lat = transformer.transform(coords[:, 0], coords[:, 1])
        return np.round(np.column_stack([lon, lat]), 7)

    return shapely.transform(geom, project)


def place_one(design: DevDesign, rng: np.random.Generator, ctx: dict) -> Placement:
    """Draw the area of a development and positions until one passes every test.

    Parameters
    ----------
    design : DevDesign
        The designed development.
    rng : numpy.random.Generator
        Shared generator of step 7.
    ctx : dict
        From :func:`placement_context`; the placed polygon is appended to ``taken``.

    Returns
    -------
    Placement
        The accepted placement.
    """
    area = float(np.clip(design.households / rng.uniform(200, 300), 4, 15)) * 1e4
    for _ in range(20_000):
        place = try_place(area, rng, ctx)
        if place is not None:
            ctx["taken"].append(place.polygon)
            return place
    raise RuntimeError("could not place a development")


def build_developments(
    units: gpd.GeoDataFrame, ctx: dict, study: shapely.Geometry, report: Report
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Run step 7: place the designed developments and their facility points.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Final units.
    ctx : dict
        From :func:`placement_context`.
    study : shapely.Geometry
        Final study area.
    report : Report
        Collects the count and the verdict table.

    Returns
    -------
    tuple of geopandas.GeoDataFrame
        The ``developments`` and ``facilities`` layers (EPSG:4326).
    """
    rng = np.random.default_rng(SEED)
    rows, places = [], []
    for k, design in enumerate(DEVELOPMENTS, start=1):
        place = place_one(design, rng, ctx)
        places.append(place)
        rows.append(
            {
                "dev_id": f"D{k:02d}",
                "name": f"示例新建小区{k:02d}",
                "households": design.households,
                "area_kind": "new",
                "facility_area_m2": float(sum(design.sites)),
                **milestone_dates(design, rng),
                "unit_id": units["unit_id"].iloc[place.unit],
                "source": "illustrative",
            }
        )
    facilities = []
    for design, place, row in zip(DEVELOPMENTS, places, rows, strict=True):
        points = facility_xy(design, place, study, ctx["taken"])
        facilities += [(row["dev_id"], a, p) for a, p in zip(design.sites, points, strict=True)]
        report.verdicts.append(
            {
                **row,
                "design": design,
                "area_ha": place.polygon.area / 1e4,
                **verdict(design, row, place, points),
            }
        )
    report.add("developments", len(rows))
    devs = gpd.GeoDataFrame(
        rows, geometry=[to_wgs84_geometry(p.polygon) for p in places], crs=WGS84
    )
    xy = np.array([p for _, _, p in facilities], dtype=float).reshape(-1, 2)
    fac = gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i:02d}" for i in range(1, len(facilities) + 1)],
            "dev_id": [d for d, _, _ in facilities],
            "area_m2": [float(a) for _, a, _ in facilities],
        },
        geometry=to_wgs84_points(xy[:, 0], xy[:, 1]),
        crs=WGS84,
    )
    return devs.sort_values("dev_id", ignore_index=True), fac


def verdict_table(verdicts: list[dict]) -> str:
    """Format the designed verdicts as a Markdown table.

    Parameters
    ----------
    verdicts : list of dict
        Rows collected by :func:`build_developments`.

    Returns
    -------
    str
        The table.
    """
    head = (
        "| dev | households | required m² | facility m² (sites) | shortfall m² | area ha | "
        "area | single site | timing | location | overall | design |\n"
        "|---|---:|---:|---|---:|---:|---|---|---|---|---|---|"
    )
    lines = [head]
    for v in verdicts:
        d: DevDesign = v["design"]
        required = d.households / 100 * 20
        sites = " + ".join(f"{s:g}" for s in d.sites) or "none"
        lines.append(
            f"| {v['dev_id']} | {d.households} | {required:g} | {sum(d.sites):g} ({sites}) | "
            f"{max(required - sum(d.sites), 0):g} | {v['area_ha']:.1f} | {v['area']} | "
            f"{v['site']} | {v['timing']} | {v['location']} | {v['overall']} | {d.note} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- orchestration

#: Output layers, their CRS and their attribute columns (an API read by other code).
LAYERS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("wuhan_roads.gpkg", "roads"): (CRS, ("road_id",)),
    ("wuhan_districts.gpkg", "districts"): (
        CRS,
        ("district_id", "osm_id", "name_zh", "name_en", "area_km2"),
    ),
    ("wuhan_districts.gpkg", "study_area"): (CRS, ("name", "area_km2")),
    ("wuhan_units.gpkg", "units"): (
        CRS,
        ("unit_id", "name", "name_en", "district_id", "level", "area_km2", "population", "elderly"),
    ),
    ("wuhan_stations.gpkg", "stations"): (
        WGS84,
        ("station_id", "name", "kind", "capacity", "area_m2", "status", "unit_id", "source"),
    ),
    ("wuhan_candidates.gpkg", "candidates"): (
        WGS84,
        ("site_id", "kind", "capacity", "cost", "unit_id", "source"),
    ),
    ("wuhan_developments.gpkg", "developments"): (
        WGS84,
        (
            "dev_id",
            "name",
            "households",
            "area_kind",
            "facility_area_m2",
            "housing_planning",
            "housing_construction",
            "housing_acceptance",
            "housing_delivery",
            "facility_planning",
            "facility_construction",
            "facility_acceptance",
            "facility_delivery",
            "unit_id",
            "source",
        ),
    ),
    ("wuhan_developments.gpkg", "facilities"): (WGS84, ("facility_id", "dev_id", "area_m2")),
}
RASTERS = ("wuhan_elderly_60plus.tif", "wuhan_population_20plus.tif")


def make_study_area(
    roads: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, profile: dict, report: Report
) -> tuple[NDArray[np.object_], NDArray[np.bool_], shapely.Geometry]:
    """Build the raw study area, its faces and the final study area (union of faces).

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Final roads.
    districts : geopandas.GeoDataFrame
        The seven districts.
    profile : dict
        Raster profile.
    report : Report
        Collects the areas.

    Returns
    -------
    tuple
        Faces, block flags and the final study area.
    """
    footprint = raster_footprint(profile["transform"], (profile["height"], profile["width"]))
    raw = raw_study_area(districts, roads, footprint)
    faces, is_block = polygon_faces(roads, districts, raw)
    study = shapely.coverage_union_all(faces)
    report.add("raw study area (km²)", round(raw.area / 1e6, 4))
    report.add("final study area (union of faces) minus raw (m²)", round(study.area - raw.area, 3))
    report.add(
        "study area geometry", f"{study.geom_type}, {shapely.get_num_interior_rings(study)} holes"
    )
    return faces, is_block, study


def finish_rasters(
    elderly: FloatArray,
    population: FloatArray,
    profile: dict,
    study: shapely.Geometry,
    out: Path,
    report: Report,
) -> tuple[FloatArray, FloatArray]:
    """Mask the rasters to the study area, write them and return the cell centres.

    Parameters
    ----------
    elderly, population : numpy.ndarray
        Summed arrays (NaN = nodata), masked in place.
    profile : dict
        Raster profile.
    study : shapely.Geometry
        Final study area.
    out : pathlib.Path
        Output folder.
    report : Report
        Collects the totals.

    Returns
    -------
    tuple of numpy.ndarray
        Cell-centre coordinates (EPSG:4547), flattened.
    """
    cx, cy = cell_centres(profile)
    mask_rasters(elderly, population, shapely.contains_xy(study, cx, cy), report)
    write_raster(
        out / RASTERS[0],
        elderly,
        profile,
        "WorldPop persons aged 60+ per cell (ages 60-80+, f+m), central Wuhan",
    )
    write_raster(
        out / RASTERS[1],
        population,
        profile,
        "WorldPop persons aged 20+ per cell (ages 20-80+, f+m), central Wuhan",
    )
    return cx, cy


def make_units(
    faces: NDArray[np.object_],
    is_block: NDArray[np.bool_],
    districts: gpd.GeoDataFrame,
    centres: tuple[FloatArray, FloatArray],
    values: tuple[FloatArray, FloatArray],
    report: Report,
) -> tuple[gpd.GeoDataFrame, Cells]:
    """Give cells to faces, merge faces into units and number them.

    Parameters
    ----------
    faces : numpy.ndarray
        Face polygons.
    is_block : numpy.ndarray
        Block flags.
    districts : geopandas.GeoDataFrame
        The seven districts.
    centres : tuple of numpy.ndarray
        Cell centres (EPSG:4547), flattened.
    values : tuple of numpy.ndarray
        Masked elderly and population arrays (NaN = nodata).
    report : Report
        Collects the figures.

    Returns
    -------
    tuple
        Units and the valid cells with their unit row.
    """
    elderly, population = (v.ravel() for v in values)
    valid = ~np.isnan(population)
    x, y = centres[0][valid], centres[1][valid]
    face_of = assign_points(faces, x, y)
    if (face_of < 0).any():
        raise RuntimeError("a valid cell centre lies in no face")
    face_pop = np.bincount(face_of, population[valid], minlength=len(faces))
    face_eld = np.bincount(face_of, elderly[valid], minlength=len(faces))
    state = merge_faces(faces, is_block, face_districts(faces, districts), face_pop, report)
    units, face_unit = build_units(faces, state, face_pop, face_eld, districts)
    cells = Cells(x, y, elderly[valid], population[valid], face_unit[face_of])
    return units, cells


def report_units(units: gpd.GeoDataFrame, cells: Cells, report: Report) -> None:
    """Print unit counts, size statistics and the population check.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Final units.
    cells : Cells
        Valid cells.
    report : Report
        Collects the figures.
    """
    report.add("units", len(units))
    report.add("units per district", units.groupby("district_id").size().to_dict())
    for col in ("area_km2", "population", "elderly"):
        q = units[col].quantile([0, 0.5, 1]).round(3).tolist()
        report.add(f"unit {col} min / median / max", " / ".join(f"{v:g}" for v in q))
    report.add(
        "units population sum - raster total",
        round(float(units["population"].sum() - cells.population.sum()), 1),
    )
    report.add(
        "units elderly sum - raster total",
        round(float(units["elderly"].sum() - cells.elderly.sum()), 1),
    )


def verify_outputs(out: Path, report: Report) -> None:
    """Re-read every output, check CRS, columns and ordering, and print size and sha256.

    Parameters
    ----------
    out : pathlib.Path
        Output folder.
    report : Report
        Collects sizes and hashes.
    """
    for (name, layer), (crs, columns) in LAYERS.items():
        gdf = gpd.read_file(out / name, layer=layer)
        if gdf.crs != crs or tuple(c for c in gdf.columns if c != "geometry") != columns:
            raise RuntimeError(f"{name}:{layer}: unexpected CRS or columns {list(gdf.columns)}")
        if not gdf[columns[0]].is_monotonic_increasing:
            raise RuntimeError(f"{name}:{layer}: not sorted by {columns[0]}")
    names = sorted({n for n, _ in LAYERS} | set(RASTERS))
    total = 0
    for name in names:
        data = (out / name).read_bytes()
        total += len(data)
        report.add(
            f"file {name}", f"{len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}"
        )
    report.add("total size (MB)", round(total / 1e6, 2))


def write_geography(
    out: Path,
    roads: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    study: shapely.Geometry,
) -> None:
    """Write roads, districts + study area and units.

    Parameters
    ----------
    out : pathlib.Path
        Output folder.
    roads, districts, units : geopandas.GeoDataFrame
        Layers in EPSG:4547.
    study : shapely.Geometry
        Final study area.
    """
    write_layer(roads, out / "wuhan_roads.gpkg", "roads", first=True)
    write_layer(
        district_layer(units, districts), out / "wuhan_districts.gpkg", "districts", first=True
    )
    area = gpd.GeoDataFrame(
        {"name": ["central Wuhan study area"], "area_km2": [round(study.area / 1e6, 4)]},
        geometry=[study],
        crs=CRS,
    )
    write_layer(area, out / "wuhan_districts.gpkg", "study_area", first=False)
    write_layer(units, out / "wuhan_units.gpkg", "units", first=True)


def main(argv: list[str] | None = None) -> int:
    """Build every output; see the module docstring.

    Parameters
    ----------
    argv : list of str or None
        Command-line arguments.

    Returns
    -------
    int
        Exit status (0).
    """
    args = parse_args(argv)
    configure_reproducible_io()
    out: Path = args.out
    report = Report()
    roads, graph = build_roads(args.shared, report)
    districts = read_districts(args.shared)
    elderly, population, profile = read_worldpop(args.shared, report)
    faces, is_block, study = make_study_area(roads, districts, profile, report)
    cx, cy = finish_rasters(elderly, population, profile, study, out, report)
    units, cells = make_units(faces, is_block, districts, (cx, cy), (elderly, population), report)
    report_units(units, cells, report)
    check_tiling(units, study, report)
    write_geography(out, roads, districts, units, study)
    nodes = road_nodes(roads, graph, study)
    report.add("road nodes inside the study area", len(nodes.x))
    stations = build_stations(units, nodes, cells, study, report)
    write_layer(stations, out / "wuhan_stations.gpkg", "stations", first=True)
    write_layer(
        build_candidates(units, nodes, cells, stations, report),
        out / "wuhan_candidates.gpkg",
        "candidates",
        first=True,
    )
    ctx = placement_context(units, roads, (cx, cy, ~np.isnan(population.ravel())), study)
    devs, facilities = build_developments(units, ctx, study, report)
    write_layer(devs, out / "wuhan_developments.gpkg", "developments", first=True)
    write_layer(facilities, out / "wuhan_developments.gpkg", "facilities", first=False)
    print(verdict_table(report.verdicts))
    verify_outputs(out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
