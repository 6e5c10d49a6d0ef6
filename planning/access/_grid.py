"""The cell grid on which service areas are evaluated and drawn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio import features

from planning._errors import InputError


@dataclass(frozen=True)
class Grid:
    """A grid of cells: a CRS and the affine transform of cell (row, col) to coordinates.

    Service areas are evaluated at the cell centres and drawn as unions of cells, so a
    point at a cell centre is inside a station's polygon exactly when the engine counts
    it reached. Demand from rasters carries its raster's grid (``demand.attrs["grid"]``);
    other demand uses a square grid in the network's CRS.

    Attributes
    ----------
    crs : pyproj.CRS
    transform : affine.Affine
        Maps (col, row) to the coordinates of the cell's upper-left corner.

    """

    crs: CRS
    transform: Affine

    @classmethod
    def square(cls, crs: Any, cell_m: float) -> Grid:
        """Return a square grid of `cell_m` metres aligned on the origin of `crs`."""
        if not np.isfinite(cell_m) or cell_m <= 0:
            msg = f"The service-area cell size must be a positive number of metres, got {cell_m}."
            raise InputError(msg)
        return cls(CRS.from_user_input(crs), Affine(cell_m, 0.0, 0.0, 0.0, -cell_m, 0.0))

    @classmethod
    def of_demand(cls, demand: gpd.GeoDataFrame, crs: Any, cell_m: float) -> Grid:
        """Return the raster grid of `demand` when it has one, else a square grid."""
        info = demand.attrs.get("grid")
        if info:
            return cls(CRS.from_user_input(info["crs"]), Affine(*info["transform"]))
        return cls.square(crs, cell_m)

    def centres(self, rows: np.ndarray, cols: np.ndarray, crs: Any) -> np.ndarray:
        """Return the ``(n, 2)`` cell-centre coordinates in `crs`."""
        t = self.transform
        c, r = cols + 0.5, rows + 0.5
        x, y = t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f
        return np.column_stack(_to(self.crs, crs, x, y))

    def cell_of(self, xy: np.ndarray, crs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return the (rows, cols) of the cells holding the ``(n, 2)`` points of `crs`."""
        gx, gy = _to(crs, self.crs, xy[:, 0], xy[:, 1])
        inv = ~self.transform
        col = np.floor(inv.a * gx + inv.b * gy + inv.c).astype(np.int64)
        row = np.floor(inv.d * gx + inv.e * gy + inv.f).astype(np.int64)
        return row, col

    def cells_near(self, xy: np.ndarray, crs: Any, radius: float) -> tuple[np.ndarray, ...]:
        """Return (rows, cols) of every cell meeting a square of half-side `radius`.

        Parameters
        ----------
        xy : numpy.ndarray
            ``(n, 2)`` centres of the squares in `crs` (metric).
        crs : CRS-like
        radius : float
            Half-side in metres.

        Returns
        -------
        rows, cols : numpy.ndarray
            Unique cells, sorted by row then column.

        """
        if len(xy) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        ox, oy = np.array([-1, 1, 1, -1, 0, 0, -1, 1]), np.array([-1, -1, 1, 1, -1, 1, 0, 0])
        cx = (xy[:, :1] + radius * ox).ravel()
        cy = (xy[:, 1:] + radius * oy).ravel()
        gx, gy = _to(crs, self.crs, cx, cy)
        inv = ~self.transform
        col = (inv.a * gx + inv.b * gy + inv.c).reshape(-1, 8)
        row = (inv.d * gx + inv.e * gy + inv.f).reshape(-1, 8)
        c0, c1 = np.floor(col.min(1)).astype(np.int64) - 1, np.floor(col.max(1)).astype(np.int64)
        r0, r1 = np.floor(row.min(1)).astype(np.int64) - 1, np.floor(row.max(1)).astype(np.int64)
        w, h = c1 - c0 + 2, r1 - r0 + 2
        n = w * h
        owner = np.repeat(np.arange(len(xy)), n)
        k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        rows, cols = r0[owner] + k // w[owner], c0[owner] + k % w[owner]
        lo_r, lo_c = int(rows.min()), int(cols.min())
        span = int(cols.max()) - lo_c + 1
        key = np.unique((rows - lo_r) * span + (cols - lo_c))
        return key // span + lo_r, key % span + lo_c

    def polygon(self, rows: np.ndarray, cols: np.ndarray) -> shapely.Geometry:
        """Return the union of the cells as a (Multi)Polygon in the grid's CRS."""
        if len(rows) == 0:
            return shapely.Polygon()
        r0, c0 = int(rows.min()), int(cols.min())
        mask = np.zeros((int(rows.max()) - r0 + 1, int(cols.max()) - c0 + 1), dtype=np.uint8)
        mask[rows - r0, cols - c0] = 1
        window = self.transform @ Affine.translation(c0, r0)
        parts: list[shapely.Polygon] = [
            shapely.Polygon(geom["coordinates"][0], geom["coordinates"][1:])
            for geom, _ in features.shapes(mask, mask=mask.astype(bool), transform=window)
        ]
        if len(parts) == 1:
            return parts[0]
        parts.sort(key=lambda p: tuple(shapely.bounds(p)))
        return shapely.multipolygons(parts)


def _to(src: Any, dst: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    src, dst = CRS.from_user_input(src), CRS.from_user_input(dst)
    if src == dst:
        return x, y
    fx, fy = Transformer.from_crs(src, dst, always_xy=True).transform(x, y)
    return np.asarray(fx), np.asarray(fy)


def to_crs(geoms: list[shapely.Geometry], src: Any, dst: Any) -> list[shapely.Geometry]:
    """Return `geoms` transformed from `src` to `dst` vertex by vertex."""
    if CRS.from_user_input(src) == CRS.from_user_input(dst):
        return geoms
    tf = Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)

    def move(coords: np.ndarray) -> np.ndarray:
        x, y = tf.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return list(shapely.transform(np.array(geoms, dtype=object), move))
