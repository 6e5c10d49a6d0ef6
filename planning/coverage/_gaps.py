"""Gap areas: contiguous uncovered demand of one unit, ranked by older people uncovered.

A gap is a set of uncovered demand rows (not reached within the threshold) of one unit
and one reason that touch: for demand on a raster grid, cells that share a side or a
corner (8-neighbour contiguity on the demand's own grid); for point demand, points
within `link_m` of each other (chains of them). Rows in no unit (outside every unit, or
in a hole of one) form gaps of their own, with ``unit_id`` ``"(outside units)"``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from planning._errors import InputError
from planning.access import SNAP_OK, Grid
from planning.access._grid import to_crs
from planning.coverage._columns import _fmt, col_covered
from planning.coverage._result import CoverageResult

#: ``unit_id`` of the gaps made of demand in no unit (outside all units or in a hole).
OUTSIDE_UNITS = "(outside units)"
#: Reason of a gap whose demand is farther than ``max_snap_m`` from every road.
REASON_UNREACHABLE = "unreachable: too far from any road"
#: Reason of a gap whose demand reaches the network but no station on it.
REASON_NO_PATH = "no path to any station"
#: How many median nearest-neighbour spacings link two points of a gap by default.
LINK_FACTOR = 1.5

GAP_COLUMNS = [
    "gap_id",
    "unit_id",
    "rank_in_unit",
    "threshold_min",
    "reason",
    "elderly",
    "population",
    "n_cells",
    "area_m2",
    "area_ha",
    "walk_min_mean",
    "walk_min_max",
    "beyond_m_mean",
    "beyond_m_max",
]


def reason_beyond(threshold_min: float) -> str:
    """Return the reason of a gap whose older people walk longer than the threshold."""
    return f"beyond {_fmt(threshold_min)} min"


def check_threshold(cov: CoverageResult, threshold_min: float | None) -> float:
    """Return `threshold_min` (default the run's largest) or say which ones the run has."""
    if threshold_min is None:
        return float(cov.thresholds_min[-1])
    t = float(threshold_min)
    if t not in cov.thresholds_min:
        valid = ", ".join(_fmt(x) for x in cov.thresholds_min)
        msg = (
            f"threshold_min={threshold_min!r} is not one of this run's thresholds ({valid} "
            "min). Pass one of them, or compute the coverage again with "
            f"thresholds_min=[..., {threshold_min}]."
        )
        raise InputError(msg)
    return t


def gap_areas(
    cov: CoverageResult, threshold_min: float | None = None, *, link_m: float | None = None
) -> gpd.GeoDataFrame:
    """Return the gaps: contiguous areas of demand not covered within `threshold_min`.

    Uncovered demand rows (beyond the threshold, with no path to a station, or farther
    than ``max_snap_m`` from every road) of one unit and one reason are joined when they
    touch: raster demand (``demand.attrs["grid"]``, set by
    :func:`planning.population.demand_from_rasters`) by 8-neighbour contiguity of its
    cells; point demand when two points are at most `link_m` apart. Rows in no unit
    (outside every unit or in a hole of one) form gaps with ``unit_id``
    ``"(outside units)"``. No located row is left out: the older people of the gaps add
    up to every older person not covered at the threshold (checked on every call), but
    for rows without a geometry, which have no place to draw and are counted in
    ``excluded.csv`` as unreachable.

    Parameters
    ----------
    cov : CoverageResult
    threshold_min : float, optional
        One of the run's thresholds in minutes; default the largest.
    link_m : float, optional
        Point demand only: largest distance in metres between two points of one gap;
        default 1.5 × the median distance from a demand point to its nearest neighbour
        (so a regular lattice of points links like 8-neighbour cells). Each point is drawn
        as a disk of radius ``link_m / 2``, so linked points draw one area.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per gap, in the demand's CRS, ranked district-wide by older people
        uncovered (``gap_id`` ``G0001`` is the largest) and within the unit
        (``rank_in_unit``): ``unit_id``, ``threshold_min``, ``reason``, ``elderly``,
        ``population``, ``n_cells`` (cells, or points for point demand), ``area_m2``,
        ``area_ha``, walking time of its older people to the nearest station in minutes
        (``walk_min_mean`` weighted by older people, ``walk_min_max``; NaN without a
        path) and the walk beyond the threshold in metres at the run's walking speed
        (``beyond_m_mean``, ``beyond_m_max``).

    Raises
    ------
    InputError
        When `threshold_min` is not one of the run's thresholds, or `link_m` is not a
        positive distance.

    Examples
    --------
    >>> gaps = gap_areas(result, 15)  # doctest: +SKIP
    >>> gaps.head(10)[["gap_id", "unit_id", "elderly", "area_ha"]]  # doctest: +SKIP

    """
    t = check_threshold(cov, threshold_min)
    dem = cov.demand
    # points without a geometry have no place on a map: they are reported excluded
    placed = ~(dem.geometry.isna() | dem.geometry.is_empty).to_numpy()
    rows = np.flatnonzero(~dem[col_covered(t)].to_numpy(dtype=bool) & placed)
    if len(rows) == 0:
        return gpd.GeoDataFrame(
            columns=[*GAP_COLUMNS, "geometry"], geometry="geometry", crs=dem.crs
        )
    sub = dem.iloc[rows]
    units = sub["unit_id"].astype(object).where(sub["unit_id"].notna(), OUTSIDE_UNITS)
    units = units.astype(str).to_numpy()
    reasons = gap_reasons(sub, t)
    group = pd.factorize(pd.Series(units) + "\x00" + pd.Series(reasons))[0]
    xy = shapely.get_coordinates(sub.geometry.values)
    grid_info = dem.attrs.get("grid")
    if grid_info:
        grid = Grid.of_demand(dem, dem.crs, 1.0)
        r, c = grid.cell_of(xy, dem.crs)
        labels = _label_cells(r, c, group)
        geoms = _cell_geometries(grid, r, c, labels, dem.crs)
        cells = pd.DataFrame({"label": labels, "r": r, "c": c}).drop_duplicates()
        n_cells = cells.groupby("label").size()
    else:
        link = _link_distance(dem, link_m)
        labels = _label_points(xy, group, link)
        geoms = _point_geometries(xy, labels, link)
        n_cells = pd.Series(labels).value_counts().sort_index()
    out = _gap_table(sub, labels, units, reasons, t, cov.walk_speed_m_s)
    out["n_cells"] = n_cells.to_numpy().astype(int)
    gaps = gpd.GeoDataFrame(out, geometry=geoms, crs=dem.crs)
    gaps["area_m2"] = gaps.geometry.area.round(1)
    gaps["area_ha"] = (gaps["area_m2"] / 1e4).round(3)
    gaps = _ranked(gaps)
    _check_accounting(gaps, sub, t)
    return gaps


def gap_reasons(sub: pd.DataFrame, t: float) -> np.ndarray:
    """Return the reason each uncovered demand row is not covered within `t` minutes."""
    ok = sub["snap_status"].to_numpy() == SNAP_OK
    finite = np.isfinite(sub["travel_time_s_nearest"].to_numpy(dtype=float))
    return np.where(ok, np.where(finite, reason_beyond(t), REASON_NO_PATH), REASON_UNREACHABLE)


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    graph = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    return np.asarray(csgraph.connected_components(graph, directed=False)[1])


def _label_cells(rows: np.ndarray, cols: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Label rows of one group whose cells share a side or a corner (or are one cell)."""
    n = len(rows)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    r, c = rows - rows.min() + 1, cols - cols.min() + 1
    h, w = int(r.max()) + 2, int(c.max()) + 2
    key = (group.astype(np.int64) * h + r) * w + c
    order = np.argsort(key, kind="stable")
    keys = key[order]
    src, dst = [np.arange(n)], [np.arange(n)]
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            probe = key + dr * w + dc
            at = np.clip(np.searchsorted(keys, probe), 0, n - 1)
            hit = keys[at] == probe
            src.append(np.flatnonzero(hit))
            dst.append(order[at[hit]])
    return _components(n, np.concatenate(src), np.concatenate(dst))


def _link_distance(dem: gpd.GeoDataFrame, link_m: float | None) -> float:
    if link_m is not None:
        link = float(link_m)
        if not np.isfinite(link) or link <= 0:
            msg = f"link_m must be a positive distance in metres, got {link_m!r}."
            raise InputError(msg)
        return link
    xy = shapely.get_coordinates(dem.geometry.values)
    if len(xy) < 2:
        msg = (
            "gap_areas: the point demand has fewer than two points, so its spacing (and "
            "the default link_m) is undefined; pass link_m in metres."
        )
        raise InputError(msg)
    dist, _ = cKDTree(xy).query(xy, k=2)
    spacing = float(np.median(dist[:, 1]))
    if spacing <= 0:
        msg = (
            "gap_areas: more than half of the demand points share their location with "
            "another, so the median spacing (and the default link_m) is 0; pass link_m in "
            "metres."
        )
        raise InputError(msg)
    return LINK_FACTOR * spacing


def _label_points(xy: np.ndarray, group: np.ndarray, link: float) -> np.ndarray:
    n = len(xy)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = cKDTree(xy).query_pairs(link, output_type="ndarray")
    pairs = pairs[group[pairs[:, 0]] == group[pairs[:, 1]]]
    return _components(n, pairs[:, 0], pairs[:, 1])


def _cell_geometries(
    grid: Grid, rows: np.ndarray, cols: np.ndarray, labels: np.ndarray, crs: object
) -> list[shapely.Geometry]:
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    polys = [grid.polygon(rows[idx], cols[idx]) for idx in np.split(order, bounds) if len(idx)]
    return to_crs(polys, grid.crs, crs)


def _point_geometries(xy: np.ndarray, labels: np.ndarray, link: float) -> list[shapely.Geometry]:
    disks = np.asarray(shapely.buffer(shapely.points(xy), link / 2.0, quad_segs=8), dtype=object)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return [shapely.union_all(disks[idx]) for idx in np.split(order, bounds) if len(idx)]


def _gap_table(
    sub: pd.DataFrame,
    labels: np.ndarray,
    units: np.ndarray,
    reasons: np.ndarray,
    t: float,
    speed: float,
) -> pd.DataFrame:
    time_s = sub["travel_time_s_nearest"].to_numpy(dtype=float)
    finite = np.isfinite(time_s)
    eld = sub["elderly"].to_numpy(dtype=float)
    w = np.where(finite, eld, 0.0)
    frame = pd.DataFrame(
        {
            "label": labels,
            "row": np.arange(len(labels)),
            "unit_id": units,
            "reason": reasons,
            "elderly": eld,
            "population": sub["population"].to_numpy(dtype=float),
            "w": w,
            "wt": w * np.where(finite, time_s, 0.0),
            "n_finite": finite.astype(int),
            "t_sum": np.where(finite, time_s, 0.0),
            "t_max": np.where(finite, time_s, -np.inf),
        }
    )
    agg = frame.groupby("label").agg(
        unit_id=("unit_id", "first"),
        reason=("reason", "first"),
        elderly=("elderly", "sum"),
        population=("population", "sum"),
        w=("w", "sum"),
        wt=("wt", "sum"),
        n_finite=("n_finite", "sum"),
        t_sum=("t_sum", "sum"),
        t_max=("t_max", "max"),
        first_row=("row", "min"),
    )
    # weighted by older people; a gap of people without older people takes the plain mean
    mean_s = np.where(
        agg["w"] > 0,
        agg["wt"] / agg["w"].where(agg["w"] > 0, 1.0),
        agg["t_sum"] / agg["n_finite"].where(agg["n_finite"] > 0, 1),
    )
    has_path = agg["n_finite"].to_numpy() > 0
    mean_s = np.where(has_path, mean_s, np.nan)
    max_s = np.where(has_path, agg["t_max"].to_numpy(), np.nan)
    return pd.DataFrame(
        {
            "unit_id": agg["unit_id"].to_numpy(),
            "threshold_min": t,
            "reason": agg["reason"].to_numpy(),
            "elderly": agg["elderly"].to_numpy(),
            "population": agg["population"].to_numpy(),
            "walk_min_mean": np.round(mean_s / 60.0, 2),
            "walk_min_max": np.round(max_s / 60.0, 2),
            "beyond_m_mean": np.round((mean_s - t * 60.0) * speed, 1),
            "beyond_m_max": np.round((max_s - t * 60.0) * speed, 1),
            "first_row": agg["first_row"].to_numpy(),
        }
    )


def _ranked(gaps: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    gaps = gaps.sort_values(
        ["elderly", "population", "unit_id", "first_row"],
        ascending=[False, False, True, True],
        ignore_index=True,
        kind="stable",
    )
    width = max(4, len(str(len(gaps))))
    gaps["gap_id"] = [f"G{i + 1:0{width}d}" for i in range(len(gaps))]
    gaps["rank_in_unit"] = gaps.groupby("unit_id", sort=False).cumcount().astype(int) + 1
    return gpd.GeoDataFrame(gaps[[*GAP_COLUMNS, "geometry"]], geometry="geometry", crs=gaps.crs)


def _check_accounting(gaps: gpd.GeoDataFrame, sub: pd.DataFrame, t: float) -> None:
    want = float(sub["elderly"].sum())
    got = float(gaps["elderly"].sum())
    if not np.isclose(got, want, rtol=1e-9, atol=1e-6):
        msg = (
            f"Gap accounting mismatch at {_fmt(t)} min: the gaps hold {got} older people, "
            f"{want} are not covered. This is a bug; please report it with the inputs."
        )
        raise RuntimeError(msg)
