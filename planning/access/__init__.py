"""Snapping, the travel-time engine and service areas on a `Network`.

Points (demand, stations, candidate sites) are snapped to the nearest point of the
nearest edge, not only the nearest node. The connector from the point to the edge and
the part of the edge to each end node are walked at the network's speed. A point
farther than ``max_snap_m`` from every edge is reported unreachable.

Travel times run on ``scipy.sparse.csgraph.dijkstra``. Each source is a virtual node
joined to the two end nodes of its edge; a target's time is the best of its two end
nodes plus its own connector, or the direct walk along a shared edge. Nearest-station
times take one multi-source pass; what each source reaches within a limit takes bounded
searches on the subgraph within straight-line reach of its tile of sources, stored as a
sparse source × target matrix (never a dense one).

Service areas are drawn from the same engine: every cell of a grid (the demand's own
raster grid, or a square grid) near a station is snapped and timed like a demand point,
and the cells reached within T are vectorised. A point is inside a station's T-minute
polygon exactly when the engine counts it reached, at the grid's resolution.

The parts: ``_snap`` (snapping), ``_bounded`` (tiles and bounded searches), ``_engine``
(nearest times and reach), ``_grid`` (the cell grid), ``_areas`` (service areas).
"""

from __future__ import annotations

from planning.access._areas import (
    AreaCells,
    reachable_intervals,
    service_area_cells,
    service_areas,
)
from planning.access._engine import MIN_TIME_S, coverage_matrix, nearest_times
from planning.access._grid import Grid
from planning.access._snap import (
    SNAP_NO_GEOMETRY,
    SNAP_OK,
    SNAP_TOO_FAR,
    Snapped,
    snap_points,
)

__all__ = [
    "MIN_TIME_S",
    "SNAP_NO_GEOMETRY",
    "SNAP_OK",
    "SNAP_TOO_FAR",
    "AreaCells",
    "Grid",
    "Snapped",
    "coverage_matrix",
    "nearest_times",
    "reachable_intervals",
    "service_area_cells",
    "service_areas",
    "snap_points",
]
