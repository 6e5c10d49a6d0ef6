"""Shared test fixtures; here: toy and random road networks for the network/access tests.

Synthetic data use EPSG:32650 (UTM 50N) with an origin near (117°E, 30.7°N), and the
networks are built with ``crs="EPSG:32650"`` so that no reprojection touches the hand
computed lengths.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy.spatial import Delaunay

from planning.network import Network, network_from_lines

#: Metric CRS of every synthetic layer.
CRS = "EPSG:32650"
#: Origin of the synthetic layers (metres, EPSG:32650): about 117°E, 30.7°N.
X0, Y0 = 500_000.0, 3_400_000.0

DATA = Path(__file__).resolve().parent / "data"


def _xy(coords: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(X0 + x, Y0 + y) for x, y in coords]


@pytest.fixture
def make_lines() -> Callable[..., gpd.GeoDataFrame]:
    """Factory: line layer in EPSG:32650 from coordinate lists relative to the origin.

    Each item is a list of (x, y) tuples (a LineString), a list of such lists (a
    MultiLineString) or None (a missing geometry).
    """

    def make(items: Sequence[object], crs: str | None = CRS) -> gpd.GeoDataFrame:
        geoms = []
        for item in items:
            if item is None:
                geoms.append(None)
            elif isinstance(item[0][0], tuple):
                geoms.append(shapely.MultiLineString([_xy(part) for part in item]))
            else:
                geoms.append(shapely.LineString(_xy(item)))
        return gpd.GeoDataFrame(geometry=geoms, crs=crs)

    return make


def _grid_lines(n: int = 4, step: float = 100.0) -> list[list[tuple[float, float]]]:
    out = []
    for i in range(n):
        for j in range(n - 1):
            out.append([(j * step, i * step), ((j + 1) * step, i * step)])
            out.append([(i * step, j * step), (i * step, (j + 1) * step)])
    return out


@pytest.fixture
def grid_net(make_lines: Callable[..., gpd.GeoDataFrame]) -> Network:
    """4 × 4 grid of 100 m edges (16 nodes, 24 edges) at 1 m/s: seconds = metres."""
    return network_from_lines(make_lines(_grid_lines()), crs=CRS, walk_speed_m_s=1.0)


def _random_lines(
    seed: int, n_points: int = 60, size: float = 2000.0
) -> tuple[np.ndarray, list[shapely.LineString]]:
    """Delaunay triangulation of random points as straight or bent LineStrings.

    Returns the node coordinates (absolute, EPSG:32650) and one line per triangulation
    edge; every third edge gets a middle vertex pushed sideways so that lengths differ
    from the straight-line distance.
    """
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0.0, size, (n_points, 2)) + np.array([X0, Y0])
    tri = Delaunay(pts)
    pairs = set()
    for simplex in tri.simplices:
        for a, b in ((0, 1), (1, 2), (0, 2)):
            i, j = sorted((int(simplex[a]), int(simplex[b])))
            pairs.add((i, j))
    lines = []
    for k, (i, j) in enumerate(sorted(pairs)):
        p, q = pts[i], pts[j]
        if k % 3 == 0:
            d = q - p
            normal = np.array([-d[1], d[0]]) / np.hypot(*d)
            mid = (p + q) / 2 + normal * rng.uniform(-0.15, 0.15) * np.hypot(*d)
            lines.append(shapely.LineString([p, mid, q]))
        else:
            lines.append(shapely.LineString([p, q]))
    return pts, lines


@pytest.fixture
def random_network() -> Callable[..., tuple[Network, np.ndarray, list[shapely.LineString]]]:
    """Factory: (network, node coordinates, lines) of a seeded random Delaunay network."""

    def make(
        seed: int, walk_speed_m_s: float = 1.3
    ) -> tuple[Network, np.ndarray, list[shapely.LineString]]:
        pts, lines = _random_lines(seed)
        gdf = gpd.GeoDataFrame(geometry=lines, crs=CRS)
        net = network_from_lines(gdf, crs=CRS, walk_speed_m_s=walk_speed_m_s)
        return net, pts, lines

    return make


@pytest.fixture
def random_lines() -> Callable[..., tuple[np.ndarray, list[shapely.LineString]]]:
    """Factory: (node coordinates, lines) of a seeded random Delaunay triangulation."""
    return _random_lines


@pytest.fixture(scope="session")
def guixi_osm() -> Path:
    """Path of the OpenStreetMap XML extract of Guixi, Jiangxi (lon ≈ 117.2°E)."""
    path = DATA / "guixi_jiangxi.osm"
    assert path.exists(), f"test data {path} is missing"
    return path
