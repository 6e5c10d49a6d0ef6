"""Where to close each gap: the best spot per gap, and the proposed sites that close gaps.

Both run on the network with the engine of the coverage run
(:func:`planning.access.coverage_matrix`): a spot covers an older person of a gap when
the walk from that person (the connector to the road, then along the network) reaches it
within the gap's threshold.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from planning._errors import InputError
from planning.access import coverage_matrix, snap_points
from planning.coverage._columns import col_covered
from planning.coverage._gaps import OUTSIDE_UNITS, check_threshold, gap_areas, gap_reasons
from planning.coverage._result import CoverageResult
from planning.network import Network

SPOT_COLUMNS = [
    "gap_id",
    "unit_id",
    "gap_elderly",
    "spot_id",
    "spot_kind",
    "elderly_covered",
    "share_covered",
    "elderly_covered_all_gaps",
    "lon",
    "lat",
]


def _gaps_threshold(cov: CoverageResult, gaps: gpd.GeoDataFrame) -> float:
    for col in ("gap_id", "unit_id", "threshold_min"):
        if col not in gaps.columns:
            msg = (
                f"gaps need a '{col}' column, as `gap_areas` returns; columns present: "
                f"{list(gaps.columns)}."
            )
            raise InputError(msg)
    ths = sorted(set(gaps["threshold_min"].astype(float)))
    if len(ths) > 1:
        msg = (
            f"gaps mix thresholds {ths}: pass the gaps of one threshold, e.g. "
            f"gaps[gaps['threshold_min'] == {ths[-1]:g}]."
        )
        raise InputError(msg)
    return check_threshold(cov, ths[0] if ths else None)


def gap_members(cov: CoverageResult, gaps: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return the uncovered demand rows inside each gap, as (demand rows, gap rows).

    A demand row belongs to a gap when it is not covered at the gap's threshold, has the
    gap's unit and reason and lies inside the gap's polygon (the cell centre or point is
    interior).
    """
    t = _gaps_threshold(cov, gaps)
    dem = cov.demand
    unc = np.flatnonzero(~dem[col_covered(t)].to_numpy(dtype=bool))
    if len(unc) == 0 or len(gaps) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    geoms = gaps.geometry.to_crs(dem.crs).values
    tree = shapely.STRtree(geoms)
    pts = dem.geometry.values[unc]
    p_idx, g_idx = tree.query(pts, predicate="intersects")
    units = dem["unit_id"].astype(object).where(dem["unit_id"].notna(), OUTSIDE_UNITS)
    same = units.astype(str).to_numpy()[unc[p_idx]] == gaps["unit_id"].astype(str).to_numpy()[g_idx]
    if "reason" in gaps.columns:
        reasons = gap_reasons(dem.iloc[unc], t)
        same &= reasons[p_idx] == gaps["reason"].astype(str).to_numpy()[g_idx]
    p_idx, g_idx = p_idx[same], g_idx[same]
    first = np.unique(p_idx, return_index=True)[1]
    return unc[p_idx[first]], g_idx[first]


def _network_points(network: Network, spacing_m: float) -> gpd.GeoDataFrame:
    """Return the nodes and points every `spacing_m` (or less) along each edge."""
    if not np.isfinite(spacing_m) or spacing_m <= 0:
        msg = f"spacing_m must be a positive distance in metres, got {spacing_m!r}."
        raise InputError(msg)
    nodes = network.nodes
    ids = [f"N{i}" for i in nodes.index]
    kinds = ["node"] * len(nodes)
    xy = [np.column_stack([nodes["x"].to_numpy(), nodes["y"].to_numpy()])]
    length = network.edges["length_m"].to_numpy(dtype=float)
    n_seg = np.maximum(np.ceil(length / spacing_m).astype(np.int64), 1)
    edge = np.repeat(np.arange(len(length)), n_seg - 1)
    k = np.arange(len(edge)) - np.repeat(np.cumsum(n_seg - 1) - (n_seg - 1), n_seg - 1) + 1
    frac = k / n_seg[edge]
    pts = shapely.line_interpolate_point(
        network.edges.geometry.to_numpy()[edge], frac, normalized=True
    )
    xy.append(shapely.get_coordinates(pts))
    ids += [f"E{e}+{f * length[e]:.0f}m" for e, f in zip(edge, frac, strict=True)]
    kinds += ["edge"] * len(edge)
    allxy = np.concatenate(xy)
    return gpd.GeoDataFrame(
        {"spot_id": ids, "spot_kind": kinds},
        geometry=gpd.points_from_xy(allxy[:, 0], allxy[:, 1]),
        crs=network.crs,
    )


def _candidate_points(candidates: gpd.GeoDataFrame, crs: object) -> gpd.GeoDataFrame:
    if "site_id" not in candidates.columns:
        msg = (
            "candidates need a 'site_id' column (as `planning.siting.generate_candidates` "
            f"writes); columns present: {list(candidates.columns)}."
        )
        raise InputError(msg)
    return gpd.GeoDataFrame(
        {"spot_id": candidates["site_id"].astype(str).to_numpy(), "spot_kind": "candidate"},
        geometry=candidates.geometry.to_crs(crs).representative_point().values,
        crs=crs,
    )


def _reach_within(
    network: Network,
    cov: CoverageResult,
    sources: gpd.GeoDataFrame,
    d_rows: np.ndarray,
    t: float,
) -> sparse.csr_matrix:
    """Return the 0/1 source × member matrix: reached within `t` minutes."""
    dem = cov.demand
    snap_d = snap_points(network, dem.iloc[d_rows], max_snap_m=cov.max_snap_m)
    snap_s = snap_points(network, sources, max_snap_m=cov.max_snap_m)
    m = coverage_matrix(network, snap_s, snap_d, limit_s=t * 60.0, progress=False)
    m.data = (m.data <= t * 60.0).astype(float)
    m.eliminate_zeros()
    return m


def best_spots(
    network: Network,
    cov: CoverageResult,
    gaps: gpd.GeoDataFrame | None = None,
    *,
    candidates: gpd.GeoDataFrame | None = None,
    spacing_m: float = 50.0,
) -> gpd.GeoDataFrame:
    """Return, per gap, the spot that would cover most of its uncovered older people.

    The spots tried are the network's nodes and points every `spacing_m` (or a little
    less, evenly) along each edge, or the `candidates` when given. A spot covers an older
    person of the gap when the engine of the run (snapping, connector walk, bounded
    network search) reaches that person from it within the gap's threshold. Ties go to
    the first spot (nodes in order, then edge points; or the candidates' order).

    Parameters
    ----------
    network : Network
        The network of the coverage run.
    cov : CoverageResult
    gaps : geopandas.GeoDataFrame, optional
        Gaps of one threshold from :func:`gap_areas` (e.g. its first 50 rows); default
        all gaps at the run's largest threshold.
    candidates : geopandas.GeoDataFrame, optional
        Candidate sites with ``site_id``; the best spot is then one of them.
    spacing_m : float
        Largest distance in metres between spots tried along an edge.

    Returns
    -------
    geopandas.GeoDataFrame
        One point per gap, in the gaps' order: ``gap_id``, ``unit_id``, ``gap_elderly``,
        ``spot_id`` (``N<node>``, ``E<edge>+<metres>m`` or the candidate's ``site_id``),
        ``spot_kind`` (``node``, ``edge``, ``candidate``; ``none`` with an empty point
        when no spot reaches any older person of the gap, e.g. a gap far from every
        road), ``elderly_covered`` (of this gap), ``share_covered`` (of the gap's older
        people), ``elderly_covered_all_gaps`` (older people of all the given gaps it
        covers), ``lon``, ``lat``.

    """
    gaps = gap_areas(cov) if gaps is None else gaps
    t = _gaps_threshold(cov, gaps)
    d_rows, g_pos = gap_members(cov, gaps)
    dem = cov.demand
    reach_ok = (dem["snap_status"].to_numpy() == "ok")[d_rows]
    d_rows, g_pos = d_rows[reach_ok], g_pos[reach_ok]
    if candidates is None:
        spots = _network_points(network, spacing_m)
        if len(d_rows):
            gxy = shapely.get_coordinates(dem.geometry.values[d_rows])
            dist, _ = cKDTree(gxy).query(
                shapely.get_coordinates(spots.geometry.values),
                distance_upper_bound=t * 60.0 * network.walk_speed_m_s,
            )
            spots = spots[np.isfinite(dist)].reset_index(drop=True)
    else:
        spots = _candidate_points(candidates, network.crs)
    eld = dem["elderly"].to_numpy(dtype=float)[d_rows]
    weights = sparse.csr_matrix(
        (eld, (np.arange(len(d_rows)), g_pos)), shape=(len(d_rows), len(gaps))
    )
    if len(spots) and len(d_rows):
        gain = (_reach_within(network, cov, spots, d_rows, t) @ weights).tocsc()
    else:
        gain = sparse.csc_matrix((len(spots), len(gaps)))
    best, value = _column_argmax(gain)
    total = np.asarray(gain.sum(axis=1)).ravel()
    return _spot_table(gaps, spots, best, value, total, network.crs)


def _column_argmax(gain: sparse.csc_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Return per column the first row holding its largest value (-1 when all zero)."""
    n = gain.shape[1]
    best, value = np.full(n, -1, dtype=np.int64), np.zeros(n)
    for j in range(n):
        lo, hi = gain.indptr[j], gain.indptr[j + 1]
        if hi == lo:
            continue
        rows, vals = gain.indices[lo:hi], gain.data[lo:hi]
        top = vals.max()
        if top <= 0:
            continue
        best[j] = rows[vals >= top - 1e-9 * max(1.0, top)].min()
        value[j] = top
    return best, value


def _spot_table(
    gaps: gpd.GeoDataFrame,
    spots: gpd.GeoDataFrame,
    best: np.ndarray,
    value: np.ndarray,
    total: np.ndarray,
    crs: object,
) -> gpd.GeoDataFrame:
    found = best >= 0
    pick = np.clip(best, 0, None)
    geom = np.array([None] * len(best), dtype=object)
    if len(spots):
        geom[found] = spots.geometry.values[pick[found]]
    ll = gpd.GeoSeries(geom, crs=crs).to_crs(4326)
    gap_eld = gaps["elderly"].to_numpy(dtype=float)
    out = gpd.GeoDataFrame(
        {
            "gap_id": gaps["gap_id"].to_numpy(),
            "unit_id": gaps["unit_id"].to_numpy(),
            "gap_elderly": gap_eld,
            "spot_id": np.where(found, spots["spot_id"].to_numpy()[pick] if len(spots) else "", ""),
            "spot_kind": np.where(
                found, spots["spot_kind"].to_numpy()[pick] if len(spots) else "", "none"
            ),
            "elderly_covered": value,
            "share_covered": np.where(gap_eld > 0, value / np.where(gap_eld > 0, gap_eld, 1), 0.0),
            "elderly_covered_all_gaps": np.where(found, total[pick] if len(spots) else 0.0, 0.0),
            "lon": np.where(found, ll.x.round(6), np.nan),
            "lat": np.where(found, ll.y.round(6), np.nan),
        },
        geometry=list(geom),
        crs=crs,
    )
    return out


def gap_sites(
    network: Network,
    cov: CoverageResult,
    sites: gpd.GeoDataFrame,
    gaps: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Return the gaps with the proposed sites that would close them.

    Parameters
    ----------
    network : Network
        The network of the coverage run.
    cov : CoverageResult
    sites : geopandas.GeoDataFrame
        Proposed sites with ``site_id`` (e.g. ``SitingResult.siting``).
    gaps : geopandas.GeoDataFrame, optional
        Gaps of one threshold; default ``cov.gaps``.

    Returns
    -------
    geopandas.GeoDataFrame
        `gaps` with ``closed_by`` (the ids of the sites that reach at least one of its
        older people within its threshold, comma-separated in the sites' order; empty
        when none), ``closed_elderly`` (its older people reached by at least one of them)
        and ``closed_share`` (of its older people).

    """
    gaps = cov.gaps if gaps is None else gaps
    t = _gaps_threshold(cov, gaps)
    spots = _candidate_points(sites, network.crs)
    d_rows, g_pos = gap_members(cov, gaps)
    ok = (cov.demand["snap_status"].to_numpy() == "ok")[d_rows]
    d_rows, g_pos = d_rows[ok], g_pos[ok]
    out = gaps.copy()
    n = len(gaps)
    closed = np.zeros(n)
    by: list[list[str]] = [[] for _ in range(n)]
    if len(spots) and len(d_rows):
        reach = _reach_within(network, cov, spots, d_rows, t).tocoo()
        hit = np.zeros(len(d_rows), dtype=bool)
        hit[reach.col] = True
        eld = cov.demand["elderly"].to_numpy(dtype=float)[d_rows]
        closed = np.bincount(g_pos[hit], weights=eld[hit], minlength=n).astype(float)
        pairs = pd.DataFrame({"gap": g_pos[reach.col], "site": reach.row}).drop_duplicates()
        ids = spots["spot_id"].to_numpy()
        for g, site in pairs.sort_values(["gap", "site"]).to_numpy():
            by[g].append(str(ids[site]))
    out["closed_by"] = [", ".join(b) for b in by]
    out["closed_elderly"] = closed
    eld_gap = out["elderly"].to_numpy(dtype=float)
    out["closed_share"] = np.where(eld_gap > 0, closed / np.where(eld_gap > 0, eld_gap, 1), 0.0)
    return out


def with_best_spots(gaps: gpd.GeoDataFrame, spots: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return `gaps` with the columns of their best spot (``best_spot_*``)."""
    cols = {
        "spot_id": "best_spot_id",
        "elderly_covered": "best_spot_elderly",
        "lon": "best_spot_lon",
        "lat": "best_spot_lat",
    }
    add = pd.DataFrame(spots[list(cols)]).rename(columns=cols)
    add.index = spots["gap_id"].to_numpy()
    out = gaps.copy()
    for col in cols.values():
        out[col] = out["gap_id"].map(add[col]).to_numpy()
    return out
