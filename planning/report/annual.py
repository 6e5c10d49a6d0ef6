"""Compare a run with last year's run folder: the figures of the annual siting report.

Last year's folder is read from its ``run.json`` (format version, year, parameters,
extent, targets), ``coverage_units.csv`` and ``coverage_stations.csv``. A folder written
by another format version, or for another study area (few unit ids in common, extents
that do not overlap), is refused with an error that says what to do; smaller
differences (another CRS, other thresholds or walking speed, units added or removed)
become notes printed in the report.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planning._errors import InputError
from planning._writing import read_csv
from planning.population import assign_units
from planning.results import (
    RUN_FORMAT_VERSION,
    Comparison,
    Note,
    PreviousRun,
    RunResult,
)

log = logging.getLogger(__name__)

#: Least share of unit ids two runs must share to be compared (of all ids in either).
MIN_SHARED_UNITS = 0.5


def read_run(path: str | Path) -> PreviousRun:
    """Read a run folder written by ``planning run`` for the annual comparison.

    Raises
    ------
    InputError
        When the folder, its ``run.json`` or its tables are missing or unreadable, or
        when the folder was written in another format version.

    """
    path = Path(path)
    if not path.is_dir():
        msg = (
            f"Previous run folder '{path}' does not exist. Give the folder that last year's "
            "`planning run` wrote (it holds run.json, coverage_units.csv and index.html)."
        )
        raise InputError(msg)
    record = _read_record(path / "run.json")
    units = _read_table(path / "coverage_units.csv", "unit_id", ["unit_id", "elderly"])
    stations = _read_table(path / "coverage_stations.csv", "station_id", ["station_id", "kind"])
    targets = pd.DataFrame(record.get("targets") or [])
    if targets.empty and (path / "targets.csv").exists():
        targets = read_csv(path / "targets.csv")
    return PreviousRun(path, record, units, stations, targets)


def _read_record(path: Path) -> dict[str, Any]:
    if not path.exists():
        msg = (
            f"'{path.parent}' is not a run folder of `planning run`: it has no run.json. "
            "Give the folder last year's run wrote."
        )
        raise InputError(msg)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = f"'{path}' is not valid JSON ({exc}); the previous run folder is damaged."
        raise InputError(msg) from exc
    if not isinstance(record, dict):
        msg = f"'{path}' does not hold a run record (a JSON object)."
        raise InputError(msg)
    version = record.get("format_version")
    if version != RUN_FORMAT_VERSION:
        made_by = (record.get("versions") or {}).get("planning", "an unknown version")
        found = "no format_version" if version is None else f"format_version {version}"
        msg = (
            f"'{path}' has {found} (written by planning {made_by}); this planning reads "
            f"run folders of format_version {RUN_FORMAT_VERSION}. Re-run last year's "
            f"scenario with this version, e.g. `planning run LAST_YEAR.yaml --out "
            f"{path.parent}`, then compare again."
        )
        raise InputError(msg)
    return record


def _read_table(path: Path, id_col: str, required: list[str]) -> pd.DataFrame:
    if not path.exists():
        msg = f"The previous run folder has no {path.name} ('{path}'): it is incomplete."
        raise InputError(msg)
    table = read_csv(path, dtype={id_col: str})
    missing = [c for c in required if c not in table.columns]
    if missing:
        msg = f"'{path}' lacks the column(s) {missing}; columns present: {list(table.columns)}."
        raise InputError(msg)
    return table


def extent_lonlat(result: RunResult) -> list[float]:
    """Return the run's study-area extent in lon/lat (west, south, east, north)."""
    cov = result.coverage
    layer = cov.units if len(cov.units) else cov.demand
    return [round(float(v), 6) for v in layer.to_crs(4326).total_bounds]


def _overlap(a: list[float], b: list[float]) -> float:
    """Return the intersection over union of two lon/lat boxes (0 when disjoint)."""
    w, s = max(a[0], b[0]), max(a[1], b[1])
    e, n = min(a[2], b[2]), min(a[3], b[3])
    inter = max(e - w, 0.0) * max(n - s, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def compare_runs(result: RunResult, previous: PreviousRun) -> Comparison:
    """Compare this year's run with last year's run folder.

    Parameters
    ----------
    result : RunResult
        This year's run (computed; it need not be written yet).
    previous : PreviousRun
        From :func:`read_run`.

    Returns
    -------
    Comparison

    Raises
    ------
    InputError
        When the previous run is for another study area: fewer than half of the unit ids
        in common, or extents that do not overlap.

    """
    notes = _study_area_notes(result, previous)
    thresholds, more = _common_thresholds(result, previous)
    notes += more
    notes += _parameter_notes(result, previous)
    units = _unit_changes(result, previous, thresholds)
    added, closed, changed = _station_changes(result, previous)
    targets, more = _target_changes(result, previous)
    notes += more
    year = result.scenario.data.get("year")
    return Comparison(
        previous=previous,
        year=int(year) if isinstance(year, int) else None,
        previous_year=previous.year,
        thresholds_min=thresholds,
        units=units,
        stations_added=added,
        stations_closed=closed,
        stations_changed=changed,
        targets=targets,
        totals=_totals(result, previous, thresholds),
        notes=notes,
    )


def _ids_text(ids: list[str], limit: int = 8) -> str:
    shown = ", ".join(sorted(ids)[:limit])
    return shown + (" …" if len(ids) > limit else "")


def _study_area_notes(result: RunResult, prev: PreviousRun) -> list[Note]:
    this_ids = set(result.coverage.units["unit_id"].astype(str))
    prev_ids = set(prev.units["unit_id"].astype(str))
    common = this_ids & prev_ids
    share = len(common) / max(len(this_ids | prev_ids), 1)
    this_ext = extent_lonlat(result)
    prev_ext = prev.record.get("extent_lonlat")
    iou = _overlap(this_ext, prev_ext) if prev_ext else None
    if share < MIN_SHARED_UNITS or iou == 0.0:
        msg = (
            f"The previous run '{prev.path}' ({prev.record.get('name')}) is for another study "
            f"area: {len(common)} of {len(this_ids | prev_ids)} unit ids in common "
            f"(at least {MIN_SHARED_UNITS:.0%} needed; e.g. this year "
            f"{_ids_text(list(this_ids), 3)}, last year {_ids_text(list(prev_ids), 3)}), "
            f"extents (lon/lat) {this_ext} and {prev_ext}. Compare runs of the same units."
        )
        raise InputError(msg)
    notes = []
    if iou is not None and iou < 0.8:
        notes.append(Note("note_extent", {"iou": f"{iou:.0%}"}))
    prev_crs = (prev.record.get("parameters") or {}).get("analysis_crs")
    this_crs = result.network.crs.to_string()
    if prev_crs and prev_crs != this_crs:
        notes.append(Note("note_crs", {"prev": prev_crs, "this": this_crs}))
    if this_ids - prev_ids:
        new = sorted(this_ids - prev_ids)
        notes.append(Note("note_units_added", {"n": len(new), "ids": _ids_text(new)}))
    if prev_ids - this_ids:
        gone = sorted(prev_ids - this_ids)
        notes.append(Note("note_units_removed", {"n": len(gone), "ids": _ids_text(gone)}))
    return notes


def _common_thresholds(
    result: RunResult, prev: PreviousRun
) -> tuple[tuple[float, ...], list[Note]]:
    this = tuple(float(t) for t in result.coverage.thresholds_min)
    prev_list = (prev.record.get("parameters") or {}).get("thresholds_min") or [
        float(c.removeprefix("coverage_share_").removesuffix("min"))
        for c in prev.units.columns
        if c.startswith("coverage_share_") and c.endswith("min")
    ]
    prev_t = tuple(float(t) for t in prev_list)
    common = tuple(t for t in this if t in prev_t)
    if common == this and set(prev_t) == set(this):
        return common, []
    fmt = ", ".join
    if not common:
        return common, [Note("note_no_common_threshold")]
    params = {
        "prev": fmt(f"{t:g}" for t in prev_t),
        "this": fmt(f"{t:g}" for t in this),
        "common": fmt(f"{t:g}" for t in common),
    }
    return common, [Note("note_thresholds", params)]


def _parameter_notes(result: RunResult, prev: PreviousRun) -> list[Note]:
    notes = []
    params = prev.record.get("parameters") or {}
    speed = params.get("walk_speed_m_s")
    this_speed = result.coverage.walk_speed_m_s
    if speed is not None and not np.isclose(float(speed), this_speed):
        notes.append(Note("note_speed", {"prev": f"{speed:g}", "this": f"{this_speed:g}"}))
    prev_rules = (prev.record.get("rules") or {}).get("name")
    if prev_rules and prev_rules != result.rules.name:
        notes.append(Note("note_rules", {"prev": prev_rules, "this": result.rules.name}))
    year = result.scenario.data.get("year")
    if prev.year is None or not isinstance(year, int) or prev.year >= year:
        notes.append(Note("note_year", {"prev": prev.year or "–", "this": year or "–"}))
    return notes


def _unit_changes(
    result: RunResult, prev: PreviousRun, thresholds: tuple[float, ...]
) -> pd.DataFrame:
    this = pd.DataFrame(result.coverage.units.drop(columns="geometry"))
    this["unit_id"] = this["unit_id"].astype(str)
    shares = [f"coverage_share_{t:g}min" for t in thresholds]
    meets = [c for c in this.columns if c.startswith("meets_") and c in prev.units.columns]
    cols = ["unit_id", "elderly", *shares, "n_stations", *meets]
    left = this[["unit_id", "name", *[c for c in cols[1:] if c in this]]]
    right = prev.units[["unit_id", *[c for c in cols[1:] if c in prev.units]]]
    if "name" in prev.units:
        right = right.assign(name_prev=prev.units["name"])
    out = left.merge(right, on="unit_id", how="outer", suffixes=("", "_prev"), indicator=True)
    out["status"] = out.pop("_merge").map(
        {"both": "both", "left_only": "new", "right_only": "gone"}
    )
    out["status"] = out["status"].astype(str)
    if "name_prev" in out:
        out["name"] = out["name"].fillna(out.pop("name_prev"))
    for col in shares:
        if f"{col}_prev" in out:
            out[f"{col}_change"] = out[col] - out[f"{col}_prev"]
    front = ["unit_id", "name", "status", "elderly_prev", "elderly"]
    ordered = front + [c for c in out.columns if c not in front]
    return out[[c for c in ordered if c in out]].sort_values("unit_id", ignore_index=True)


def _station_frame(stations: pd.DataFrame) -> pd.DataFrame:
    keep = [
        c for c in ("station_id", "name", "kind", "capacity", "status", "unit_id") if c in stations
    ]
    frame = pd.DataFrame(stations[keep]).copy()
    frame["station_id"] = frame["station_id"].astype(str)
    return frame


def _station_changes(
    result: RunResult, prev: PreviousRun
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    sta = result.coverage.stations
    if "unit_id" not in sta and len(result.coverage.units):
        sta = sta.assign(unit_id=assign_units(sta, result.coverage.units).to_numpy())
    this = _station_frame(sta)
    last = _station_frame(prev.stations)
    added = this[~this["station_id"].isin(last["station_id"])].reset_index(drop=True)
    closed = last[~last["station_id"].isin(this["station_id"])].reset_index(drop=True)
    both = this.merge(last, on="station_id", suffixes=("", "_prev"))
    differs = both["kind"].astype(str) != both["kind_prev"].astype(str)
    if "capacity" in both and "capacity_prev" in both:
        cap, cap_prev = both["capacity"], both["capacity_prev"]
        differs |= ~(np.isclose(cap, cap_prev) | (cap.isna() & cap_prev.isna()))
    changed_cols = [
        c
        for c in ("station_id", "name", "kind_prev", "kind", "capacity_prev", "capacity", "unit_id")
        if c in both
    ]
    changed = both.loc[differs, changed_cols].reset_index(drop=True)
    return added, closed, changed


def _target_changes(result: RunResult, prev: PreviousRun) -> tuple[pd.DataFrame, list[Note]]:
    this = result.coverage.targets.copy()
    year = result.scenario.data.get("year")
    notes = []
    cols = ["target_id", "value", "met", "units_meeting", "units_total"]
    if prev.targets.empty or "target_id" not in prev.targets:
        notes.append(Note("note_targets_missing"))
        last = pd.DataFrame(columns=cols)
    else:
        last = prev.targets[[c for c in cols if c in prev.targets]]
    out = this.merge(last, on="target_id", how="left", suffixes=("", "_prev"))
    out["status"] = [_status(a, b) for a, b in zip(out["met"], out["met_prev"], strict=True)]
    out["due"] = [_due(y, m, year) for y, m in zip(out["year"], out["met"], strict=True)]
    return out, notes


def _bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return bool(value)


def _status(met: Any, met_prev: Any) -> str:
    now, before = _bool(met), _bool(met_prev)
    if now is None or before is None:
        return "not_comparable"
    if now:
        return "still_met" if before else "newly_met"
    return "lost" if before else "still_missed"


def _due(target_year: Any, met: Any, year: Any) -> str:
    if not isinstance(year, int) or target_year is None or not np.isfinite(float(target_year)):
        return ""
    if int(target_year) == year:
        return "due_this_year"
    if int(target_year) < year and _bool(met) is False:
        return "overdue"
    return ""


def _totals(
    result: RunResult, prev: PreviousRun, thresholds: tuple[float, ...]
) -> dict[str, dict[str, float | None]]:
    last = prev.record.get("totals") or {}
    this = result.coverage.totals
    out: dict[str, dict[str, float | None]] = {
        "elderly": {"prev": last.get("elderly"), "this": this.get("elderly")},
        "stations": {
            "prev": float(len(prev.stations)),
            "this": float(len(result.coverage.stations)),
        },
    }
    for t in thresholds:
        key = f"coverage_share_{t:g}min"
        out[key] = {"prev": last.get(key), "this": this.get(key)}
    return out
