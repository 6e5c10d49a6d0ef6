"""Per-unit coverage tables: older people covered, uncovered and unreachable, times, stations."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planning.coverage._columns import _fmt, col_covered
from planning.population import assign_units


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
