"""Judge whether residents reach a facility on foot, measured on the road network."""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from planning.compliance._model import Dev, Judgement
from planning.compliance._reasons import FAIL, PASS, UNKNOWN, fmt, say


def resident_points(geom: Any, *, max_points: int = 32) -> list[Any]:
    """Return the points standing for a development's residents (metric CRS geometry).

    A polygon gives an inner point and its boundary corners (or `max_points` points evenly
    along the boundary when it has more corners); a point gives itself.
    """
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type in ("Point", "MultiPoint"):
        return list(getattr(geom, "geoms", [geom]))
    pts = [geom.representative_point()]
    rings = [p.exterior for p in getattr(geom, "geoms", [geom])]
    for ring in rings:
        corners = [shapely.Point(xy) for xy in list(ring.coords)[:-1]]
        if len(corners) > max_points:
            step = ring.length / max_points
            corners = [ring.interpolate(k * step) for k in range(max_points)]
        pts += corners
    return pts


def _subset(snapped: Any, mask: np.ndarray) -> Any:
    from planning.access import Snapped

    return Snapped(
        snapped.index[mask],
        snapped.edge[mask],
        snapped.pos_m[mask],
        snapped.snap_dist_m[mask],
        snapped.status[mask],
    )


def _existing(stations: Any, kinds: Any) -> gpd.GeoDataFrame | None:
    if stations is None:
        return None
    st = stations if isinstance(stations, gpd.GeoDataFrame) else _read_stations(stations)
    if kinds and "kind" in st:
        st = st[st["kind"].astype(str).isin(list(kinds))]
    if "status" in st:
        st = st[st["status"].astype(str) == "existing"]
    return st[st.geometry.notna()]


def _read_stations(path: Any) -> gpd.GeoDataFrame:
    from planning.io import read_stations

    return read_stations(path)


def judge_reach(
    devs: list[Dev], rule: Any, speed: float, network: Any, stations: Any, metric: Any
) -> list[Judgement]:
    """Judge the walking reach of every development (UNKNOWN without a network)."""
    from planning.access import nearest_times, snap_points
    from planning.network import Network, read_network

    to, inclusive = list(rule.get("to", ["own", "stations"])), bool(rule.get("inclusive", True))
    minutes, metres = rule.get("threshold_min"), rule.get("max_dist_m")
    limit_s = float(minutes) * 60.0 if minutes is not None else float(metres) / speed
    what = (
        (f"{fmt(minutes)} 分钟", f"{fmt(minutes)} min")
        if minutes is not None
        else (f"{fmt(metres)} m", f"{fmt(metres)} m")
    )
    st = _existing(stations, rule.get("kinds")) if "stations" in to else None
    st_m = list(st.to_crs(metric).geometry) if st is not None else []
    res = [resident_points(_to(d.geom, metric)) for d in devs]
    own = [
        [_to(s.geom, metric) for s in d.sites or [] if s.geom is not None] if "own" in to else []
        for d in devs
    ]
    straight = [
        max((min(p.distance(t) for t in sites + st_m) for p in pts), default=math.nan)
        if sites + st_m
        else math.nan
        for pts, sites in zip(res, own, strict=True)
    ]
    out = [Judgement(UNKNOWN, *say("no_network"), extra={"reach_straight_m": x}) for x in straight]
    if network is None:
        return out
    net = network if isinstance(network, Network) else read_network(network, walk_speed_m_s=speed)
    if not math.isclose(net.walk_speed_m_s, speed):
        net = net.with_speed(speed)
    snap_m = rule.get("max_snap_m")
    which = np.array([k for k, pts in enumerate(res) for _ in pts], dtype=np.int64)
    pts_all = gpd.GeoDataFrame(geometry=[p for pts in res for p in pts], crs=metric)
    snapped = snap_points(net, pts_all, max_snap_m=snap_m)
    st_time = np.full(len(pts_all), np.inf)
    if st_m:
        st_snap = snap_points(net, gpd.GeoDataFrame(geometry=st_m, crs=metric), max_snap_m=snap_m)
        st_time = nearest_times(net, st_snap, snapped)[0]
    for k in range(len(devs)):
        mask = which == k
        if not mask.any():
            out[k] = Judgement(UNKNOWN, *say("no_geometry"))
            continue
        best, mine = st_time[mask].copy(), _subset(snapped, mask)
        site_snap = None
        if own[k]:
            sites = gpd.GeoDataFrame(geometry=own[k], crs=metric)
            site_snap = snap_points(net, sites, max_snap_m=snap_m)
            if site_snap.ok.any():
                best = np.minimum(best, nearest_times(net, site_snap, mine)[0])
        unsure = (
            say("no_stations")
            if "stations" in to and st is None
            else (
                say("site_off_road") if site_snap is not None and not site_snap.ok.all() else None
            )
        )
        out[k] = _reach_verdict(best, mine.ok, limit_s, inclusive, what, speed, unsure, straight[k])
    return out


def _to(geom: Any, crs: Any) -> Any:
    return None if geom is None else gpd.GeoSeries([geom], crs=4326).to_crs(crs).iloc[0]


def _reach_verdict(
    best: np.ndarray,
    ok: np.ndarray,
    limit_s: float,
    inclusive: bool,
    what: tuple[str, str],
    speed: float,
    unsure: tuple[str, str] | None,
    straight: float,
) -> Judgement:
    extra = {"reach_straight_m": straight}
    if not ok.all():
        return Judgement(UNKNOWN, *say("off_road", n=int((~ok).sum())), extra=extra)
    worst = float(best.max())
    extra["reach_time_min"] = worst / 60.0
    kw = {"min": fmt(worst / 60.0), "m": fmt(worst * speed), "what_zh": what[0], "what_en": what[1]}
    if worst <= limit_s + 1e-9 if inclusive else worst < limit_s - 1e-9:
        return Judgement(PASS, *say("reach_pass", **kw), 0.0, extra)
    if unsure is not None:
        return Judgement(
            UNKNOWN, *say("reach_unknown", why_zh=unsure[0], why_en=unsure[1], **kw), extra=extra
        )
    if not math.isfinite(worst):
        return Judgement(FAIL, *say("unreachable", **kw), math.inf, extra)
    excess = (worst - limit_s) / 60.0
    word = ("不超过", "within") if inclusive else ("小于", "under")
    return Judgement(
        FAIL,
        *say(
            "reach_fail",
            excess=fmt(excess),
            excess_m=fmt(excess * 60.0 * speed),
            word_zh=word[0],
            word_en=word[1],
            **kw,
        ),
        excess,
        extra,
    )
