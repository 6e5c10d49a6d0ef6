"""Coverage of older people by stations: per point, per station, per unit, gaps, targets.

Spatial coverage is the share of older people within T minutes on foot of a station;
administrative coverage is the share of units holding a station of a kind; capacity per
1,000 older people uses the two-step floating catchment area (2SFCA). Every table keeps
the accounting visible: for every unit and threshold, elderly = covered + uncovered
(reachable but beyond T) + unreachable (farther than ``max_snap_m`` from every road).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from planning import settings
from planning._errors import InputError
from planning.access import Snapped, coverage_matrix, nearest_times, service_areas, snap_points
from planning.network import Network
from planning.population import assign_units

log = logging.getLogger(__name__)


def col_covered(t_min: float) -> str:
    """Return the per-point column name for coverage within `t_min` minutes."""
    return f"covered_{_fmt(t_min)}min"


def _fmt(t_min: float) -> str:
    return f"{t_min:g}"


@dataclass
class CoverageResult:
    """Everything a coverage run produces (tables are GeoDataFrames in the network CRS).

    Attributes
    ----------
    demand : geopandas.GeoDataFrame
        Demand points with ``travel_time_s_nearest``, ``nearest_station_id``, per kind
        ``travel_time_s_nearest_{kind}``, ``covered_{T}min``, ``capacity_per_1000`` and
        snapping columns.
    stations : geopandas.GeoDataFrame
        Stations with their catchment (``elderly_catchment``: older people for whom it is
        the nearest station) and ``elderly_within_{T}min``.
    units : geopandas.GeoDataFrame
        One row per unit (see :func:`unit_table`).
    service_areas : geopandas.GeoDataFrame
        One polygon per station and threshold with the people reached.
    gaps : geopandas.GeoDataFrame
        Clusters of uncovered cells at the largest threshold, largest first.
    targets : pandas.DataFrame
        The rule set's targets with the values reached and whether they are met.
    excluded : pandas.DataFrame
        Every input left out of a measure, with its reason and counts.

    """

    demand: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    service_areas: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    targets: pd.DataFrame
    excluded: pd.DataFrame
    thresholds_min: tuple[float, ...]
    walk_speed_m_s: float
    totals: dict[str, float] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        cols = ["unit_id", "name", "elderly"] + [
            f"coverage_share_{_fmt(t)}min" for t in self.thresholds_min
        ]
        head = (
            f"<p><b>Coverage</b>: {len(self.stations)} stations, {len(self.units)} units, "
            f"{self.totals.get('elderly', 0):,.0f} older people, walking "
            f"{self.walk_speed_m_s:g} m/s</p>"
        )
        table = self.units[[c for c in cols if c in self.units]].to_html(
            index=False, float_format=lambda x: f"{x:,.3f}", escape=True, max_rows=30
        )
        return head + str(table)


def compute_coverage(
    network: Network,
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None = None,
    *,
    thresholds_min: tuple[float, ...] | list[float] | None = None,
    max_snap_m: float | None = None,
    targets: list[Any] | tuple[Any, ...] = (),
    buffer_m: float | None = None,
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
    buffer_m : float, optional
        Service-area band half-width in metres.

    Returns
    -------
    CoverageResult

    """
    thresholds = tuple(sorted(float(t) for t in (thresholds_min or settings.thresholds_min)))
    if not thresholds or min(thresholds) <= 0:
        msg = f"thresholds_min must be positive minutes, got {thresholds_min}."
        raise InputError(msg)
    _check_stations(stations)
    demand = demand.reset_index(drop=True)
    stations = stations.reset_index(drop=True)
    snap_d = snap_points(network, demand, max_snap_m=max_snap_m)
    snap_s = snap_points(network, stations, max_snap_m=max_snap_m)
    _require_some_reachable(network, stations, snap_s, "stations")
    _require_some_reachable(network, demand, snap_d, "demand points")
    dem = _point_table(network, demand, stations, snap_d, snap_s, thresholds)
    extra = [float(t.threshold_min) for t in targets if getattr(t, "threshold_min", None)]
    cov = coverage_matrix(network, snap_s, snap_d, limit_s=max([*thresholds, *extra]) * 60.0)
    threshold_cap = _capacity_threshold(targets, thresholds)
    dem["capacity_per_1000"] = two_step_fca(
        cov, stations.get("capacity"), dem["elderly"].to_numpy(), limit_s=threshold_cap * 60
    )
    sta = _station_table(stations, dem, cov, snap_s, thresholds)
    areas = _service_area_table(network, stations, snap_s, cov, dem, thresholds, buffer_m)
    unit_tab = unit_table(dem, stations, units, thresholds)
    excluded = _excluded(demand, stations, dem, snap_s)
    cell = demand.attrs.get("cell_shape_m", demand.attrs.get("cell_size_m", 100.0))
    gaps = gap_clusters(dem, thresholds[-1], cell_size_m=cell)
    totals = _totals(dem, thresholds)
    tgt = evaluate_targets(targets, dem, stations, unit_tab, cov)
    return CoverageResult(
        dem,
        sta,
        unit_tab,
        areas,
        gaps,
        tgt,
        excluded,
        thresholds,
        network.walk_speed_m_s,
        totals,
    )


def _check_stations(stations: gpd.GeoDataFrame) -> None:
    for col in ("station_id", "kind"):
        if col not in stations.columns:
            msg = f"stations need a '{col}' column; columns present: {list(stations.columns)}."
            raise InputError(msg)
    if len(stations) == 0:
        msg = "No station given: coverage needs at least one station."
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


def _capacity_threshold(targets: Any, thresholds: tuple[float, ...]) -> float:
    for t in targets:
        if getattr(t, "measure", None) == "capacity_per_1000" and t.threshold_min:
            return float(t.threshold_min)
    return thresholds[-1]


def two_step_fca(
    cov: sparse.csr_matrix,
    capacity: pd.Series | None,
    elderly: np.ndarray,
    *,
    limit_s: float,
) -> np.ndarray:
    """Return capacity per 1,000 older people at each demand point (2SFCA).

    Step 1: each station's ratio R_j = capacity_j / (older people within the limit of j).
    Step 2: each point's accessibility A_i = Σ R_j over stations within the limit of i.

    Parameters
    ----------
    cov : scipy.sparse.csr_matrix
        Station × demand travel times (seconds).
    capacity : pandas.Series or None
        Places per station (NaN counts as 0); None gives NaN everywhere.
    elderly : numpy.ndarray
        Older people per demand point.
    limit_s : float
        Catchment limit in seconds.

    Returns
    -------
    numpy.ndarray
        Places per 1,000 older people, aligned with `elderly`.

    """
    if capacity is None:
        return np.full(len(elderly), np.nan)
    cap = np.nan_to_num(pd.to_numeric(capacity, errors="coerce").to_numpy(dtype=float))
    within = cov.copy()
    within.data = (within.data <= limit_s).astype(float)
    within.eliminate_zeros()
    demand_j = within @ elderly
    ratio = np.divide(cap, demand_j, out=np.zeros_like(cap), where=demand_j > 0)
    return np.asarray(within.T @ ratio) * 1000.0


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


def _service_area_table(
    network: Network,
    stations: gpd.GeoDataFrame,
    snap_s: Snapped,
    cov: sparse.csr_matrix,
    dem: gpd.GeoDataFrame,
    thresholds: tuple[float, ...],
    buffer_m: float | None,
) -> gpd.GeoDataFrame:
    areas = service_areas(network, snap_s, thresholds_min=thresholds, buffer_m=buffer_m)
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


def unit_table(
    dem: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None,
    thresholds: tuple[float, ...],
) -> gpd.GeoDataFrame:
    """Aggregate point coverage per unit.

    Columns: ``unit_id``, ``name``, ``level``, ``population``, ``elderly``,
    ``elderly_unreachable``, per threshold T ``elderly_covered_{T}min``,
    ``elderly_uncovered_{T}min`` (reachable, beyond T) and ``coverage_share_{T}min``
    (covered / all older people of the unit), ``travel_time_s_mean`` and
    ``travel_time_s_p90`` (weighted by older people, reachable points only),
    ``n_stations``, ``n_{kind}``, ``capacity``, ``capacity_per_1000`` (places in the
    unit per 1,000 older people) and ``capacity_per_1000_2sfca`` (elderly-weighted
    mean of the 2SFCA value).

    Returns
    -------
    geopandas.GeoDataFrame

    """
    if units is None:
        base = gpd.GeoDataFrame(
            {"unit_id": ["all"], "name": ["study area"], "level": ["all"]},
            geometry=[shapely.convex_hull(shapely.union_all(dem.geometry.values))],
            crs=dem.crs,
        )
        dem = dem.assign(unit_id="all")
    else:
        base = units.to_crs(dem.crs).reset_index(drop=True)
    rows = [_unit_row(g, thresholds) for _, g in dem.groupby("unit_id", sort=True)]
    stats = pd.DataFrame(rows).set_index("unit_id") if rows else pd.DataFrame()
    # values computed here replace same-named columns of the unit layer
    base = base.drop(columns=[c for c in stats.columns if c in base.columns])
    out = base.merge(stats, left_on="unit_id", right_index=True, how="left")
    empty_cols = [c for c in stats.columns if c.startswith(("population", "elderly"))]
    out[empty_cols] = out[empty_cols].fillna(0.0)
    for t in thresholds:
        share = f"coverage_share_{_fmt(t)}min"
        out[share] = np.where(
            out["elderly"] > 0, out[f"elderly_covered_{_fmt(t)}min"] / out["elderly"], np.nan
        )
    return _add_station_counts(out, stations)


def _unit_row(g: pd.DataFrame, thresholds: tuple[float, ...]) -> dict[str, Any]:
    eld = g["elderly"].to_numpy()
    time = g["travel_time_s_nearest"].to_numpy()
    reach = np.isfinite(time)
    row: dict[str, Any] = {
        "unit_id": g["unit_id"].iloc[0],
        "population": float(g["population"].sum()),
        "elderly": float(eld.sum()),
        "elderly_unreachable": float(eld[g["snap_status"].to_numpy() != "ok"].sum()),
        "elderly_no_station": float(eld[~reach & (g["snap_status"].to_numpy() == "ok")].sum()),
    }
    for t in thresholds:
        cov = g[col_covered(t)].to_numpy()
        row[f"elderly_covered_{_fmt(t)}min"] = float(eld[cov].sum())
        row[f"elderly_uncovered_{_fmt(t)}min"] = float(eld[~cov & reach].sum())
    w = eld[reach]
    has = w.sum() > 0
    row["travel_time_s_mean"] = float(np.average(time[reach], weights=w)) if has else np.nan
    row["travel_time_s_p90"] = weighted_quantile(time[reach], w, 0.9) if has else np.nan
    cap = g["capacity_per_1000"].to_numpy()
    ok = np.isfinite(cap)
    row["capacity_per_1000_2sfca"] = (
        float(np.average(cap[ok], weights=eld[ok])) if ok.any() and eld[ok].sum() > 0 else np.nan
    )
    return row


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Return the `q` quantile of `values` weighted by `weights` (lower, no interpolation).

    The smallest value whose cumulative weight reaches `q` of the total.
    """
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    k = int(np.searchsorted(cum, q * cum[-1] - 1e-12 * cum[-1]))
    return float(v[min(k, len(v) - 1)])


def _add_station_counts(out: gpd.GeoDataFrame, stations: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    st = stations.to_crs(out.crs)
    units = out[["unit_id", "geometry"]]
    st = st.assign(unit_id=assign_units(st, units).to_numpy())
    counts = st.groupby(["unit_id", "kind"]).size().unstack(fill_value=0)
    out["n_stations"] = out["unit_id"].map(st.groupby("unit_id").size()).fillna(0).astype(int)
    for kind in sorted(st["kind"].astype(str).unique()):
        col = counts[kind] if kind in counts else pd.Series(dtype=int)
        out[f"n_{kind}"] = out["unit_id"].map(col).fillna(0).astype(int)
    if "capacity" in st:
        cap = st.assign(capacity=pd.to_numeric(st["capacity"], errors="coerce"))
        out["capacity"] = out["unit_id"].map(cap.groupby("unit_id")["capacity"].sum()).fillna(0)
        out["capacity_per_1000"] = np.where(
            out["elderly"] > 0, out["capacity"] / out["elderly"] * 1000.0, np.nan
        )
    return out


def gap_clusters(
    dem: gpd.GeoDataFrame,
    t_min: float,
    *,
    cell_size_m: float | tuple[float, float] = 100.0,
) -> gpd.GeoDataFrame:
    """Group uncovered demand cells into connected gap polygons per unit.

    Each uncovered point (beyond `t_min`, or unreachable) is drawn as a square cell of
    `cell_size_m` (or a rectangle of (width, height) metres, as raster cells in degrees
    become once projected); touching cells of one unit and one reason form one gap.

    Returns
    -------
    geopandas.GeoDataFrame
        ``gap_id``, ``unit_id``, ``reason``, ``elderly``, ``population``, ``n_cells``,
        ``area_m2``; largest ``elderly`` first.

    """
    cov = dem[col_covered(t_min)].to_numpy()
    gap = dem[~cov & (dem["elderly"].to_numpy() > 0)].copy()
    cols = ["gap_id", "unit_id", "reason", "elderly", "population", "n_cells", "area_m2"]
    if gap.empty:
        return gpd.GeoDataFrame(columns=[*cols, "geometry"], geometry="geometry", crs=dem.crs)
    gap["reason"] = np.where(
        gap["snap_status"] == "ok", f"beyond {_fmt(t_min)} min", "far from every road"
    )
    gap["unit_id"] = gap["unit_id"].fillna("(outside units)")
    dx, dy = cell_size_m if isinstance(cell_size_m, tuple) else (cell_size_m, cell_size_m)
    # half a cell plus a centimetre, so that neighbouring cells touch and merge
    hx, hy = dx / 2.0 + 0.01, dy / 2.0 + 0.01
    x, y = gap.geometry.x.to_numpy(), gap.geometry.y.to_numpy()
    gap = gap.set_geometry(shapely.box(x - hx, y - hy, x + hx, y + hy), crs=dem.crs)
    merged = gap.dissolve(by=["unit_id", "reason"], as_index=False)[
        ["unit_id", "reason", "geometry"]
    ]
    parts = merged.explode(index_parts=False, ignore_index=True)
    centres = gpd.GeoDataFrame(
        gap[["unit_id", "reason", "elderly", "population"]],
        geometry=gap.geometry.centroid,
        crs=dem.crs,
    )
    hit = gpd.sjoin(centres, parts.reset_index(names="part"), predicate="within")
    hit = hit[
        (hit["unit_id_left"] == hit["unit_id_right"]) & (hit["reason_left"] == hit["reason_right"])
    ]
    sums = hit.groupby("part").agg(
        elderly=("elderly", "sum"), population=("population", "sum"), n_cells=("elderly", "size")
    )
    parts = parts.join(sums).fillna({"elderly": 0.0, "population": 0.0, "n_cells": 0})
    parts["area_m2"] = parts.geometry.area.round(1)
    parts = parts.sort_values(["elderly", "unit_id"], ascending=[False, True], ignore_index=True)
    parts["gap_id"] = [f"G{i + 1:04d}" for i in range(len(parts))]
    return gpd.GeoDataFrame(parts[[*cols, "geometry"]], geometry="geometry", crs=dem.crs)


def _excluded(
    demand: gpd.GeoDataFrame, stations: gpd.GeoDataFrame, dem: gpd.GeoDataFrame, snap_s: Snapped
) -> pd.DataFrame:
    rows = list(demand.attrs.get("report", []))
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
    return frame.fillna({"ids": ""})


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


def _time_to_kinds(dem: pd.DataFrame, kinds: Any) -> np.ndarray:
    if not kinds:
        return np.asarray(dem["travel_time_s_nearest"].to_numpy(dtype=float))
    cols = [f"travel_time_s_nearest_{k}" for k in kinds if f"travel_time_s_nearest_{k}" in dem]
    if not cols:
        return np.full(len(dem), np.inf)
    return np.asarray(dem[cols].min(axis=1).to_numpy(dtype=float))


def evaluate_targets(
    targets: list[Any] | tuple[Any, ...],
    dem: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    unit_tab: gpd.GeoDataFrame,
    cov: sparse.csr_matrix,
) -> pd.DataFrame:
    """Check each target of the rule set; add ``meets_{id}`` columns to `unit_tab`.

    ``spatial_coverage``: share of all older people within the target's threshold of a
    station of its kinds (any kind when none is given), overall and per unit.
    ``admin_coverage``: share of units at the target's level with a station of its kinds.
    ``capacity_per_1000``: places of its kinds per 1,000 older people by 2SFCA within
    its threshold, weighted by older people over the study area.

    Returns
    -------
    pandas.DataFrame
        One row per target: ``target_id``, ``measure``, ``value``, ``min``, ``met``,
        ``units_meeting``, ``units_total`` and the target's label and source fields.

    """
    rows = [_evaluate_one(t, dem, stations, unit_tab, cov) for t in targets]
    cols = [
        "target_id",
        "measure",
        "label_zh",
        "label_en",
        "threshold_min",
        "kinds",
        "level",
        "year",
        "min",
        "value",
        "met",
        "units_meeting",
        "units_total",
        "source_id",
        "clause",
        "confidence",
        "note",
    ]
    return pd.DataFrame(rows, columns=cols)


def _evaluate_one(
    t: Any,
    dem: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    unit_tab: gpd.GeoDataFrame,
    cov: sparse.csr_matrix,
) -> dict[str, Any]:
    kinds = tuple(t.kinds or ())
    label = dict(t.label or {})
    row: dict[str, Any] = {
        "target_id": t.id,
        "measure": t.measure,
        "label_zh": label.get("zh", ""),
        "label_en": label.get("en", ""),
        "threshold_min": t.threshold_min,
        "kinds": ", ".join(kinds) or "any",
        "level": t.level or "",
        "year": t.year,
        "min": t.min,
        "value": np.nan,
        "met": None,
        "units_meeting": None,
        "units_total": None,
        "source_id": t.source_id,
        "clause": t.clause or "",
        "confidence": t.confidence,
        "note": t.note or "",
    }
    eld = dem["elderly"].to_numpy()
    if t.measure == "spatial_coverage":
        covered = _time_to_kinds(dem, kinds) <= float(t.threshold_min) * 60.0
        row["value"] = float(eld[covered].sum() / eld.sum()) if eld.sum() > 0 else np.nan
        per_unit = (
            pd.Series(eld * covered, index=dem.index).groupby(dem["unit_id"]).sum()
            / pd.Series(eld, index=dem.index).groupby(dem["unit_id"]).sum()
        )
        share = unit_tab["unit_id"].map(per_unit)
        unit_tab[f"meets_{t.id}"] = share >= t.min
        row["units_meeting"] = int((share >= t.min).sum())
        row["units_total"] = int(share.notna().sum())
    elif t.measure == "admin_coverage":
        at_level = unit_tab[unit_tab["level"] == t.level] if "level" in unit_tab else unit_tab[:0]
        if len(at_level):
            kind_cols = (
                [f"n_{k}" for k in kinds if f"n_{k}" in at_level] if kinds else ["n_stations"]
            )
            has = at_level[kind_cols].sum(axis=1) > 0 if kind_cols else at_level["unit_id"].isna()
            unit_tab[f"meets_{t.id}"] = unit_tab["unit_id"].isin(at_level["unit_id"][has])
            row.update(
                value=float(has.mean()), units_meeting=int(has.sum()), units_total=len(at_level)
            )
        else:
            row["note"] = (row["note"] + f" No unit at level '{t.level}': not evaluated.").strip()
    elif t.measure == "capacity_per_1000":
        keep = np.ones(len(stations), bool) if not kinds else stations["kind"].isin(kinds)
        cap = stations["capacity"].where(keep, 0.0) if "capacity" in stations else None
        limit = float(t.threshold_min) * 60.0 if t.threshold_min else float(cov.data.max(initial=0))
        acc = two_step_fca(cov, cap, eld, limit_s=limit)
        row["value"] = float(np.average(acc, weights=eld)) if eld.sum() > 0 else np.nan
    if row["value"] == row["value"]:
        row["met"] = bool(row["value"] >= t.min)
    return row


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
