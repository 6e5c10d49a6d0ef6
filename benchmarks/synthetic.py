"""Synthetic city street grids for the benchmarks (labelled "synthetic" wherever used).

A square lattice of streets with 80 m blocks, every node moved by up to ±8 m and one
block in twenty crossed by a diagonal footpath, built from a fixed seed so that every run
measures the same network. Sizes are named by their approximate node count: ``40k``
(200 × 200 nodes, 16 km × 16 km), ``250k`` (500 × 500, 40 km) and ``1M`` (1000 × 1000,
80 km). Coordinates are in UTM zone 50N (EPSG:32650), placed over Wuhan.

Run ``python benchmarks/synthetic.py 40k`` to print the counts of one grid.
"""

from __future__ import annotations

import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planning.network import Network

#: Nodes per side of each named synthetic grid.
SIDES = {"40k": 200, "250k": 500, "1M": 1000}

BLOCK_M = 80.0
JITTER_M = 8.0
DIAGONAL_SHARE = 0.05
SEED = 20261202
CRS = "EPSG:32650"
ORIGIN = (740_000.0, 3_360_000.0)


def synthetic_grid(size: str, *, walk_speed_m_s: float = 0.8, seed: int = SEED) -> Network:
    """Return the synthetic street grid `size` (``"40k"``, ``"250k"`` or ``"1M"``).

    Parameters
    ----------
    size : str
        A key of ``SIDES``.
    walk_speed_m_s : float
        Walking speed for ``travel_time_s``, metres per second.
    seed : int
        Seed of the jitter and of the diagonals.

    Returns
    -------
    Network
        One connected component; ``source`` starts with ``"synthetic"``.

    """
    if size not in SIDES:
        msg = f"Unknown synthetic grid {size!r}: choose one of {', '.join(SIDES)}."
        raise ValueError(msg)
    side = SIDES[size]
    rng = np.random.default_rng(seed)
    col, row = np.meshgrid(np.arange(side), np.arange(side))
    col, row = col.ravel(), row.ravel()
    x = ORIGIN[0] + col * BLOCK_M + rng.uniform(-JITTER_M, JITTER_M, side * side)
    y = ORIGIN[1] + row * BLOCK_M + rng.uniform(-JITTER_M, JITTER_M, side * side)
    node = (row * side + col).reshape(side, side)
    pairs = [
        (node[:, :-1].ravel(), node[:, 1:].ravel()),  # east-west streets
        (node[:-1, :].ravel(), node[1:, :].ravel()),  # north-south streets
    ]
    corner = node[:-1, :-1].ravel()
    diag = rng.random(len(corner)) < DIAGONAL_SHARE
    pairs.append((corner[diag], corner[diag] + side + 1))  # one diagonal of the block
    u = np.concatenate([p[0] for p in pairs])
    v = np.concatenate([p[1] for p in pairs])
    coords = np.stack([np.column_stack([x[u], y[u]]), np.column_stack([x[v], y[v]])], axis=1)
    geoms = shapely.linestrings(coords)
    length = shapely.length(geoms)
    nodes = gpd.GeoDataFrame(
        {"x": x, "y": y, "component": np.zeros(len(x), dtype=np.int64)},
        geometry=gpd.points_from_xy(x, y),
        crs=CRS,
    )
    edges = gpd.GeoDataFrame(
        {"u": u, "v": v, "length_m": length, "travel_time_s": length / walk_speed_m_s},
        geometry=geoms,
        crs=CRS,
    )
    components = pd.DataFrame(
        {"component": [0], "nodes": [len(x)], "length_m": [round(float(length.sum()), 1)]}
    )
    return Network(
        nodes,
        edges,
        walk_speed_m_s,
        f"synthetic grid {size} ({side} x {side} nodes, {BLOCK_M:.0f} m blocks, seed {seed})",
        components=components,
    )


if __name__ == "__main__":
    for name in sys.argv[1:] or list(SIDES):
        net = synthetic_grid(name)
        print(name, {k: v for k, v in net.summary().items() if k != "excluded"})
