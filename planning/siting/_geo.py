"""The geo layer of siting: the arrays of the ``from_geodataframe`` builders.

Demand and sites are snapped to the network, reach comes from
:func:`planning.access.coverage_matrix`, sites get their units and those off the network
are left out with the reason; :class:`GeoInput` turns a result's site positions back
into a layer. The maths below this layer never sees a GeoDataFrame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planning import settings
from planning._errors import InputError
from planning._validate import require_columns, require_unique, suggest
from planning.access import coverage_matrix, snap_points
from planning.network import Network
from planning.population import assign_units

log = logging.getLogger(__name__)


@dataclass
class GeoInput:
    """Sites as a table (stations first, then candidates), for labels and layers."""

    sites: gpd.GeoDataFrame
    excluded: pd.DataFrame
    weight: str
    unit_ids: list[str] | None

    def siting(self, res: Any) -> gpd.GeoDataFrame:
        """Return the new sites of a result as a layer, in selection order."""
        s = self.sites.iloc[res.selected]
        cum = res.existing_covered + np.cumsum(res.added_demand)
        out = gpd.GeoDataFrame(
            {
                "rank": np.arange(1, len(s) + 1),
                "site_id": s["site_id"].to_numpy(),
                "kind": s["kind"].to_numpy(),
                "lon": s["lon"].to_numpy(),
                "lat": s["lat"].to_numpy(),
                "unit_id": s["unit_id"].to_numpy(),
                f"{self.weight}_newly_covered": res.added_demand,
                "cumulative_share": cum / res.total_demand if res.total_demand else cum * 0,
            },
            geometry=s.geometry.to_numpy(),
            crs=self.sites.crs,
        )
        if res.site_load is not None:
            out["capacity"] = s["capacity"].to_numpy()
            out["assigned"] = res.site_load[res.selected]
        return out

    def site_layer(self, table: pd.DataFrame) -> gpd.GeoDataFrame:
        """Return a table with a ``site`` position column as a layer."""
        s = self.sites.iloc[table["site"].to_numpy()]
        cols = {c: s[c].to_numpy() for c in ("kind", "lon", "lat", "unit_id")}
        out = table.drop(columns="site").assign(**cols)
        return gpd.GeoDataFrame(out, geometry=s.geometry.to_numpy(), crs=self.sites.crs)


def build_geo(
    network: Network,
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | None,
    candidates: gpd.GeoDataFrame,
    limits_s: list[float],
    *,
    weight: str = "elderly",
    max_snap_m: float | None = None,
    units: gpd.GeoDataFrame | None = None,
    unit_level: str | None = None,
    unit_col: str = "unit_id",
    cost_col: str = "cost",
    capacity_col: str | None = None,
    need_site_units: bool = False,
    equity: bool = False,
) -> tuple[GeoInput, dict[str, Any]]:
    """Snap, reach and label: return the site table and the ``from_cost_matrix`` arrays."""
    require_columns(demand, [weight], "demand")
    max_snap_m = demand.attrs.get("max_snap_m") if max_snap_m is None else max_snap_m
    w = pd.to_numeric(demand[weight], errors="coerce").to_numpy(float)
    sites, excluded = site_table(network, stations, candidates, max_snap_m, cost_col, capacity_col)
    unit_ids, d_units = units_for(demand, sites, units, unit_level, unit_col, need_site_units)
    if equity and d_units is None:
        msg = (
            "equity_share needs the unit of every demand point: give demand a "
            f"'{unit_col}' column, or pass `units` (with `unit_level`)."
        )
        raise InputError(msg)
    snap_d = snap_points(network, demand, max_snap_m=max_snap_m)
    snap_s = snap_points(network, sites, max_snap_m=max_snap_m)
    times = coverage_matrix(network, snap_s, snap_d, limit_s=max(limits_s)).T.tocsr()
    arrays = {
        "cost_matrix": times, "weights": w, "existing": sites["existing"].to_numpy(bool),
        "site_ids": sites["site_id"].to_numpy(object), "costs": sites["cost"].to_numpy(float),
        "demand_units": d_units,
    }  # fmt: skip
    log.info("siting arrays: %d demand × %d sites, %d reachable pairs", *times.shape, times.nnz)
    return GeoInput(sites, excluded, weight, unit_ids), arrays


def site_table(
    network: Network,
    stations: gpd.GeoDataFrame | None,
    candidates: gpd.GeoDataFrame,
    max_snap_m: float | None,
    cost_col: str,
    capacity_col: str | None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    require_columns(candidates, ["site_id"], "candidates")
    require_unique(candidates["site_id"].astype(str), "site_id", "candidates")
    frames = []
    for layer, id_col, existing in ((stations, "station_id", True), (candidates, "site_id", False)):
        if layer is None or len(layer) == 0:
            continue
        require_columns(layer, [id_col], "stations" if existing else "candidates")
        t = layer.to_crs(network.crs).rename(columns={id_col: "site_id"})
        t["site_id"] = t["site_id"].astype(str)
        t["existing"] = existing
        t["kind"] = t["kind"].astype(str) if "kind" in t else "station"
        t["cost"] = pd.to_numeric(t[cost_col], errors="coerce") if cost_col in t else 1.0
        for col in ["capacity"] if capacity_col else []:
            if capacity_col not in t:
                name = "stations" if existing else "candidates"
                msg = f"The capacitated model needs a '{capacity_col}' column in {name}."
                raise InputError(msg)
            t[col] = pd.to_numeric(t[capacity_col], errors="coerce")
        frames.append(t)
    sites = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=network.crs)
    dup = sites["site_id"][sites["site_id"].duplicated()]
    if len(dup):
        msg = (
            f"Site id {dup.iloc[0]!r} is used by an existing station and a candidate site: "
            "give candidates ids of their own."
        )
        raise InputError(msg)
    for col in ["cost"] + (["capacity"] if capacity_col else []):
        bad = sites[col].isna() | (sites[col] < 0)
        if bad.any():
            row = sites[bad].iloc[0]
            msg = (
                f"Site {row['site_id']!r} has {col} {row[col]}: {col} must be a number ≥ 0. "
                f"Fix the '{col}' value of that site."
            )
            raise InputError(msg)
    return drop_unreachable(network, sites, max_snap_m)


def drop_unreachable(
    network: Network, sites: gpd.GeoDataFrame, max_snap_m: float | None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    snap = snap_points(network, sites, max_snap_m=max_snap_m)
    cand = ~sites["existing"].to_numpy(bool)
    if not snap.ok[cand].any():
        lim = settings.max_snap_m if max_snap_m is None else max_snap_m
        msg = (
            f"None of the {int(cand.sum())} candidate sites lies within max_snap_m={lim:g} m "
            "of the road network: are they in another CRS (e.g. GCJ-02: read them with "
            "`crs='gcj02'`), for another area, or is max_snap_m too small?"
        )
        raise InputError(msg)
    bad = ~snap.ok
    excluded = pd.DataFrame(
        {
            "site_id": sites.loc[bad, "site_id"].to_numpy(),
            "existing": sites.loc[bad, "existing"].to_numpy(),
            "reason": snap.status[bad],
        }
    )
    if bad.any():
        log.warning(
            "%d sites excluded (not on the network): %s", bad.sum(), list(excluded.site_id[:5])
        )
    sites = sites[~bad].reset_index(drop=True)
    ll = sites.geometry.to_crs(4326)
    sites["lon"], sites["lat"] = ll.x.round(7), ll.y.round(7)
    return sites, excluded


def units_for(
    demand: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None,
    unit_level: str | None,
    unit_col: str,
    need_site_units: bool,
) -> tuple[list[str] | None, np.ndarray | None]:
    """Label sites (``unit_id`` column, in place) and return unit ids and demand units."""
    if unit_level is not None:
        if units is None:
            msg = "unit_level needs the unit polygons: pass `units` (read with io.read_units)."
            raise InputError(msg)
        levels = sorted(units["level"].astype(str).unique()) if "level" in units else []
        if unit_level not in levels:
            msg = (
                f"Unit level {unit_level!r} does not exist in `units`: levels present are "
                f"{levels}.{suggest(unit_level, levels)} Pass one of them."
            )
            raise InputError(msg)
        units = units[units["level"].astype(str) == unit_level]
        sites["unit_id"] = assign_units(sites, units).to_numpy()
        return units["unit_id"].astype(str).tolist(), assign_units(demand, units).to_numpy()
    if unit_col in sites and sites[unit_col].notna().any():
        sites["unit_id"] = sites[unit_col].where(sites[unit_col].notna(), None)
    elif units is not None:
        sites["unit_id"] = assign_units(sites, units).to_numpy()
    elif need_site_units:
        msg = (
            f"The 1+N model needs the unit of every site: add a '{unit_col}' column to "
            "stations and candidates, or pass `units` (and `unit_level`)."
        )
        raise InputError(msg)
    else:
        sites["unit_id"] = None
    d_units = demand[unit_col].to_numpy(object) if unit_col in demand else None
    ids = units["unit_id"].astype(str).tolist() if units is not None else None
    return ids, d_units
