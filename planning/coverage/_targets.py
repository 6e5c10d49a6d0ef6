"""Targets of a rule set checked against a run, and capacity per 1,000 older people (2SFCA)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

_LEVELS_ZH = {"street": "街道", "community": "社区", "district": "区"}


def _both(name: str, text: Any) -> dict[str, str]:
    """Return ``{name}_zh`` and ``{name}_en`` of a rule-set text (one string: both)."""
    if text is None:
        return {f"{name}_zh": "", f"{name}_en": ""}
    return {f"{name}_zh": str(getattr(text, "zh", text)), f"{name}_en": str(text)}


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
        "clause_zh",
        "clause_en",
        "confidence",
        "note_zh",
        "note_en",
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
        **_both("clause", t.clause),
        "confidence": t.confidence,
        **_both("note", t.note),
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
            level_zh = _LEVELS_ZH.get(str(t.level), str(t.level))
            row["note_zh"] = (row["note_zh"] + f" 没有{level_zh}层级的单元：不评估。").strip()
            row["note_en"] = (
                row["note_en"] + f" No unit at level '{t.level}': not evaluated."
            ).strip()
    elif t.measure == "capacity_per_1000":
        keep = np.ones(len(stations), bool) if not kinds else stations["kind"].isin(kinds)
        cap = stations["capacity"].where(keep, 0.0) if "capacity" in stations else None
        limit = float(t.threshold_min) * 60.0 if t.threshold_min else float(cov.data.max(initial=0))
        acc = two_step_fca(cov, cap, eld, limit_s=limit)
        row["value"] = float(np.average(acc, weights=eld)) if eld.sum() > 0 else np.nan
    if row["value"] == row["value"]:
        row["met"] = bool(row["value"] >= t.min)
    return row
