"""Compute coverage: points, stations and service areas of one run, and its accounting."""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from planning import settings
from planning._errors import InputError
from planning.access import (
    Grid,
    Snapped,
    coverage_matrix,
    nearest_times,
    service_area_cells,
    snap_points,
)
from planning.coverage._columns import _fmt, col_covered
from planning.coverage._gaps import gap_areas
from planning.coverage._result import CoverageResult
from planning.coverage._shift import shift_warning
from planning.coverage._spots import best_spots, with_best_spots
from planning.coverage._targets import _capacity_threshold, evaluate_targets, two_step_fca
from planning.coverage._units import unit_table
from planning.network import Network

log = logging.getLogger(__name__)


def compute_coverage(
    network: Network,
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None = None,
    *,
    thresholds_min: tuple[float, ...] | list[float] | None = None,
    max_snap_m: float | None = None,
    targets: list[Any] | tuple[Any, ...] = (),
    cell_m: float | None = None,
) -> CoverageResult:
    """Compute coverage of the demand by the stations on the network.

    Parameters
    ----------
    network : Network
    demand : geopandas.GeoDataFrame
        Demand points (``population``, ``elderly``, ``unit_id``).
    stations : geopandas.GeoDataFrame
        Stations with ``station_id``, ``kind`` and optionally ``capacity``.
    units : geopandas.GeoDataFrame, optional
        Units with ``unit_id``, ``name``, ``level``.
    thresholds_min : list of float, optional
        Walking-time thresholds in minutes; default ``settings.thresholds_min``.
    max_snap_m : float, optional
        Largest connector in metres; default ``settings.max_snap_m``.
    targets : list of planning.standards.Target
        Targets to check (from the rule set in force).
    cell_m : float, optional
        Cell size in metres of the grid the service areas are drawn on when the demand
        has no raster grid; default ``settings.service_area_cell_m``.

    Returns
    -------
    CoverageResult

    """
    thresholds = tuple(sorted(float(t) for t in (thresholds_min or settings.thresholds_min)))
    if not thresholds or min(thresholds) <= 0:
        msg = f"thresholds_min must be positive minutes, got {thresholds_min}."
        raise InputError(msg)
    _check_stations(stations)
    _check_demand(demand)
    shifted = shift_warning(network, stations)
    if shifted:
        log.warning(shifted)
    demand = demand.reset_index(drop=True)
    stations = stations.reset_index(drop=True)
    snap_d = snap_points(network, demand, max_snap_m=max_snap_m)
    snap_s = snap_points(network, stations, max_snap_m=max_snap_m)
    _require_some_reachable(network, stations, snap_s, "stations")
    _require_some_reachable(network, demand, snap_d, "demand points")
    dem = _point_table(network, demand, stations, snap_d, snap_s, thresholds)
    # the snapping limit travels with the demand, so that siting on it snaps alike
    dem.attrs["max_snap_m"] = settings.max_snap_m if max_snap_m is None else float(max_snap_m)
    extra = [float(t.threshold_min) for t in targets if getattr(t, "threshold_min", None)]
    cov = coverage_matrix(network, snap_s, snap_d, limit_s=max([*thresholds, *extra]) * 60.0)
    threshold_cap = _capacity_threshold(targets, thresholds)
    dem["capacity_per_1000"] = two_step_fca(
        cov, stations.get("capacity"), dem["elderly"].to_numpy(), limit_s=threshold_cap * 60
    )
    sta = _station_table(stations, dem, cov, snap_s, thresholds)
    cell = settings.service_area_cell_m if cell_m is None else float(cell_m)
    grid = Grid.of_demand(demand, network.crs, cell)
    own_grid = bool(demand.attrs.get("grid"))
    points = None if own_grid else (shapely.get_coordinates(dem.geometry.values), cov)
    area_cells = service_area_cells(
        network, snap_s, thresholds_min=thresholds, grid=grid, max_snap_m=max_snap_m, points=points
    )
    areas = _service_area_table(network, stations, area_cells.areas, cov, dem)
    unit_tab = unit_table(dem, stations, units, thresholds)
    excluded = _excluded(demand, stations, dem, snap_s, units)
    totals = _totals(dem, thresholds)
    tgt = evaluate_targets(targets, dem, stations, unit_tab, cov)
    result = CoverageResult(
        dem,
        sta,
        unit_tab,
        areas,
        gpd.GeoDataFrame(),
        tgt,
        excluded,
        thresholds,
        network.walk_speed_m_s,
        totals,
        area_cells.dissolved(network.crs),
        _grid_label(demand, cell),
        settings.max_snap_m if max_snap_m is None else float(max_snap_m),
    )
    gaps = gap_areas(result)
    result.best_spots = best_spots(network, result, gaps)
    result.gaps = with_best_spots(gaps, result.best_spots)
    log.info(
        "gaps at %s min: %d areas, %.0f older people; best spots found",
        _fmt(thresholds[-1]), len(gaps), float(gaps["elderly"].sum()),
    )  # fmt: skip
    return result


def _check_stations(stations: gpd.GeoDataFrame) -> None:
    for col in ("station_id", "kind"):
        if col not in stations.columns:
            msg = f"stations need a '{col}' column; columns present: {list(stations.columns)}."
            raise InputError(msg)
    if len(stations) == 0:
        msg = "No station given: coverage needs at least one station."
        raise InputError(msg)
    if stations.crs is None:
        msg = (
            "`stations` has no CRS, so they cannot be placed on the network. Give it one, "
            "e.g. `stations.set_crs('EPSG:4326')` for longitude/latitude (read files with "
            "`io.read_stations`, which asks for it)."
        )
        raise InputError(msg)


def _check_demand(demand: gpd.GeoDataFrame) -> None:
    if demand.crs is None:
        msg = (
            "`demand` has no CRS, so its points cannot be placed on the network. Give it one, "
            "e.g. `demand.set_crs('EPSG:4326')`, or build it with `population.demand_from_*`."
        )
        raise InputError(msg)
    for col in ("elderly", "population"):
        if col not in demand.columns:
            msg = f"`demand` needs a '{col}' column; columns present: {list(demand.columns)}."
            raise InputError(msg)
        values = pd.to_numeric(demand[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            rows = ", ".join(map(str, demand.index[bad][:5]))
            msg = (
                f"`demand['{col}']` must hold finite counts ≥ 0, but {int(bad.sum())} rows do "
                f"not (rows {rows}: {demand[col][bad].iloc[0]!r}). Fill them in, e.g. "
                f"`demand['{col}'] = demand['{col}'].fillna(0)`, or drop the rows."
            )
            raise InputError(msg)


def _require_some_reachable(
    network: Network, layer: gpd.GeoDataFrame, snapped: Snapped, name: str
) -> None:
    """Raise when no point of a layer is near the network: wrong CRS, swapped or shifted."""
    if snapped.ok.any():
        return
    lon_lat = layer.to_crs(4326).total_bounds.round(4).tolist()
    net = network.edges.to_crs(4326).total_bounds.round(4).tolist()
    msg = (
        f"None of the {len(layer)} {name} lies within max_snap_m of the road network: their "
        f"extent (lon/lat) is {lon_lat}, the network's is {net}. Are the coordinates in "
        "another CRS (e.g. GCJ-02 from Amap: set `crs: gcj02`), lat/lon swapped, or for "
        "another area?"
    )
    raise InputError(msg)


def _subset(snapped: Snapped, mask: np.ndarray) -> Snapped:
    return Snapped(
        snapped.index[mask],
        snapped.edge[mask],
        snapped.pos_m[mask],
        snapped.snap_dist_m[mask],
        snapped.status[mask],
    )


def _point_table(
    network: Network,
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    snap_d: Snapped,
    snap_s: Snapped,
    thresholds: tuple[float, ...],
) -> gpd.GeoDataFrame:
    dem = demand.copy()
    time_s, nearest = nearest_times(network, snap_s, snap_d)
    ids = stations["station_id"].to_numpy()
    dem["travel_time_s_nearest"] = time_s
    dem["nearest_station_id"] = np.where(nearest >= 0, ids[np.clip(nearest, 0, None)], None)
    for kind in sorted(stations["kind"].astype(str).unique()):
        mask = (stations["kind"].astype(str) == kind).to_numpy()
        t_kind, _ = nearest_times(network, _subset(snap_s, mask), snap_d)
        dem[f"travel_time_s_nearest_{kind}"] = t_kind
    for t in thresholds:
        dem[col_covered(t)] = time_s <= t * 60.0
    snap = snap_d.to_frame()
    dem["snap_dist_m"] = snap["snap_dist_m"].to_numpy()
    dem["snap_status"] = snap["snap_status"].to_numpy()
    return dem


def _station_table(
    stations: gpd.GeoDataFrame,
    dem: gpd.GeoDataFrame,
    cov: sparse.csr_matrix,
    snap_s: Snapped,
    thresholds: tuple[float, ...],
) -> gpd.GeoDataFrame:
    sta = stations.copy()
    catch = dem.groupby("nearest_station_id")[["population", "elderly"]].sum()
    sta["population_catchment"] = sta["station_id"].map(catch["population"]).fillna(0.0)
    sta["elderly_catchment"] = sta["station_id"].map(catch["elderly"]).fillna(0.0)
    eld = dem["elderly"].to_numpy()
    for t in thresholds:
        within = cov.copy()
        within.data = (within.data <= t * 60.0).astype(float)
        sta[f"elderly_within_{_fmt(t)}min"] = np.asarray(within @ eld)
    snap = snap_s.to_frame()
    sta["snap_dist_m"] = snap["snap_dist_m"].to_numpy()
    sta["snap_status"] = snap["snap_status"].to_numpy()
    if "capacity" in sta:
        cap = pd.to_numeric(sta["capacity"], errors="coerce")
        sta["capacity_per_1000_catchment"] = np.where(
            sta["elderly_catchment"] > 0, cap / sta["elderly_catchment"] * 1000.0, np.nan
        )
    return sta


def _grid_label(demand: gpd.GeoDataFrame, cell_m: float) -> str:
    if demand.attrs.get("grid"):
        dx, dy = demand.attrs.get("cell_shape_m", (cell_m, cell_m))
        return f"demand raster, {dx:.0f} × {dy:.0f} m"
    return f"{cell_m:g} m squares"


def _service_area_table(
    network: Network,
    stations: gpd.GeoDataFrame,
    areas: pd.DataFrame,
    cov: sparse.csr_matrix,
    dem: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    pos = areas["source"].to_numpy()
    eld, pop = dem["elderly"].to_numpy(), dem["population"].to_numpy()
    people_e, people_p = [], []
    for p, t in zip(pos, areas["threshold_min"], strict=True):
        row = cov.getrow(int(p))
        hit = row.indices[row.data <= t * 60.0]
        people_e.append(float(eld[hit].sum()))
        people_p.append(float(pop[hit].sum()))
    out = gpd.GeoDataFrame(
        {
            "station_id": stations["station_id"].to_numpy()[pos],
            "kind": stations["kind"].to_numpy()[pos],
            "threshold_min": areas["threshold_min"].to_numpy(),
            "reach_length_m": areas["reach_length_m"].to_numpy(),
            "area_m2": areas["area_m2"].to_numpy(),
            "population": people_p,
            "elderly": people_e,
        },
        geometry=list(areas["geometry"]),
        crs=network.crs,
    )
    return out


def _excluded(
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    dem: gpd.GeoDataFrame,
    snap_s: Snapped,
    units: gpd.GeoDataFrame | None,
) -> pd.DataFrame:
    rows = list(demand.attrs.get("report", []))
    rows += [] if units is None else list(units.attrs.get("report", []))
    bad = dem["snap_status"] != "ok"
    for reason, g in dem[bad].groupby("snap_status"):
        rows.append(
            {
                "item": "demand points",
                "reason": f"unreachable: {reason}",
                "count": len(g),
                "population": round(float(g["population"].sum()), 3),
                "elderly": round(float(g["elderly"].sum()), 3),
                "ids": "",
            }
        )
    off = ~snap_s.ok
    if off.any():
        ids = stations["station_id"].to_numpy()[off]
        rows.append(
            {
                "item": "stations",
                "reason": f"unreachable: {snap_s.status[off][0]}",
                "count": int(off.sum()),
                "population": 0.0,
                "elderly": 0.0,
                "ids": ", ".join(map(str, ids)),
            }
        )
    frame = pd.DataFrame(rows, columns=["item", "reason", "count", "population", "elderly", "ids"])
    frame["ids"] = frame["ids"].astype(object).where(frame["ids"].notna(), "")
    return frame


def _totals(dem: gpd.GeoDataFrame, thresholds: tuple[float, ...]) -> dict[str, float]:
    eld = dem["elderly"].to_numpy()
    out = {
        "population": float(dem["population"].sum()),
        "elderly": float(eld.sum()),
        "elderly_unreachable": float(eld[dem["snap_status"].to_numpy() != "ok"].sum()),
        "elderly_outside_units": float(eld[dem["unit_id"].isna().to_numpy()].sum()),
    }
    for t in thresholds:
        cov = dem[col_covered(t)].to_numpy()
        out[f"elderly_covered_{_fmt(t)}min"] = float(eld[cov].sum())
        out[f"coverage_share_{_fmt(t)}min"] = (
            float(eld[cov].sum() / eld.sum()) if eld.sum() else 0.0
        )
    return out


def accounting(cov: CoverageResult) -> dict[str, Any]:
    """Check that every older person is covered, uncovered or excluded, per threshold.

    Raises
    ------
    InputError
        Never for valid data: a mismatch means a bug, and is reported loudly.

    """
    dem = cov.demand
    eld = dem["elderly"].to_numpy()
    reach = dem["snap_status"].to_numpy() == "ok"
    out: dict[str, Any] = {"elderly_in": float(eld.sum())}
    for t in cov.thresholds_min:
        c = dem[col_covered(t)].to_numpy()
        row = {
            "covered": float(eld[c].sum()),
            "uncovered": float(eld[~c & reach].sum()),
            "excluded_unreachable": float(eld[~reach].sum()),
        }
        if not np.isclose(sum(row.values()), out["elderly_in"], rtol=1e-9, atol=1e-6):
            msg = f"Accounting mismatch at {t:g} min: {row} vs {out['elderly_in']}."
            raise InputError(msg)
        out[f"{t:g}min"] = row
    return out
