"""Checks of the numbers and choices in a scenario file, made when it is loaded.

Each rule names the key, its valid range and an example, so that a message can say what
is wrong and how to write it: ``'siting.p' = 'three' is not a whole number; give the
number of new sites as a whole number from 1 to 10000, e.g. `p: 10`.`` Values come from
YAML, where ``.nan`` and ``.inf`` are floats and ``yes`` is a boolean: both are refused
where a number is expected.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from planning._errors import ScenarioError
from planning._validate import suggest


@dataclass(frozen=True)
class Number:
    """A number a scenario key must hold: whole or not, and its closed or open range."""

    what: str
    low: float
    high: float
    example: str
    integer: bool = False
    low_open: bool = False

    def describe(self) -> str:
        """Return the valid range in words, e.g. ``a number > 0 and ≤ 120``."""
        kind = "a whole number" if self.integer else "a number"
        low = f"> {self.low:g}" if self.low_open else f"≥ {self.low:g}"
        return f"{kind} {low} and ≤ {self.high:g}"

    def check(self, value: Any, key: str, where: str) -> None:
        """Raise ScenarioError unless `value` is a finite number in range."""
        why = _why_not(value, self)
        if why:
            msg = (
                f"{where}: '{key}' = {value!r} {why}; give {self.what} as {self.describe()}, "
                f"e.g. `{self.example}`."
            )
            raise ScenarioError(msg)


def _why_not(value: Any, rule: Number) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "is not a number" if not rule.integer else "is not a whole number"
    if not math.isfinite(value):
        return "is not a finite number"
    if rule.integer and value != int(value):
        return "is not a whole number"
    if value < rule.low or (rule.low_open and value == rule.low) or value > rule.high:
        return "is out of range"
    return ""


_MINUTES = Number("minutes", 0, 120, "threshold_min: 15", low_open=True)

#: Top-level numbers of a scenario.
TOP: dict[str, Number] = {
    "year": Number("the report year", 1949, 2100, "year: 2026", integer=True),
    "walk_speed_m_s": Number("a walking speed in m/s", 0.1, 3.0, "walk_speed_m_s: 0.8"),
    "max_snap_m": Number(
        "the longest walk to the network in metres", 0, 5000, "max_snap_m: 300", low_open=True
    ),
    "service_area_cell_m": Number(
        "the service-area grid cell in metres", 1, 1000, "service_area_cell_m: 50"
    ),
}

#: Numbers of the ``siting:`` section.
SITING: dict[str, Number] = {
    "p": Number("the number of new sites", 1, 10000, "p: 10", integer=True),
    "threshold_min": _MINUTES,
    "curve_p_max": Number(
        "the largest number of new sites on the coverage curve (0: no curve)",
        0,
        1000,
        "curve_p_max: 20",
        integer=True,
    ),
    "candidate_spacing_m": Number(
        "the spacing of generated candidate sites in metres", 10, 10000, "candidate_spacing_m: 300"
    ),
    "time_limit_s": Number(
        "the solver time limit in seconds", 0, 86400, "time_limit_s: 60", low_open=True
    ),
    "target_share": Number(
        "the share of demand to cover", 0, 1, "target_share: 0.9", low_open=True
    ),
    "max_time_min": Number("minutes", 0, 600, "max_time_min: 30", low_open=True),
    "demand_per_place": Number(
        "older people per place", 0, 1e6, "demand_per_place: 25", low_open=True
    ),
    "threshold_a_min": _MINUTES,
    "budget": Number("the budget (in the unit of `cost_col`)", 0, 1e15, "budget: 5000000"),
    "mip_rel_gap": Number("the relative optimality gap", 0, 0.5, "mip_rel_gap: 0.001"),
}
_SITING_TEXT = ("model", "weight", "capacity_col", "kind_a", "kind_b", "cost_col", "unit_level")
_SITING_FLAGS = ("require_full", "a_counts_for_b")
_SITING_MODELS = ("mclp", "lscp", "pmedian", "capacitated", "1+n")
_SHARE = Number("a unit's share of demand to cover", 0, 1, "equity_share: 0.6")

#: Defaults of the ``siting:`` section; ``curve_p_max`` defaults to ``p`` (see
#: :func:`siting_defaults`).
SITING_DEFAULTS: dict[str, Any] = {
    "model": "mclp",
    "weight": "elderly",
    "time_limit_s": 60.0,
    "candidate_spacing_m": 300.0,
}


def check_thresholds(value: Any, where: str) -> None:
    """Refuse thresholds that are not a non-empty list of distinct minutes in (0, 120]."""
    if not isinstance(value, list) or not value:
        msg = (
            f"{where}: 'thresholds_min' = {value!r} must be a list of minutes, e.g. "
            "`thresholds_min: [5, 10, 15]`."
        )
        raise ScenarioError(msg)
    for t in value:
        why = _why_not(t, _MINUTES)
        if why:
            msg = (
                f"{where}: 'thresholds_min' = {value!r} holds {t!r}, which {why}; give each "
                f"threshold in minutes as {_MINUTES.describe()}, e.g. "
                "`thresholds_min: [5, 10, 15]`."
            )
            raise ScenarioError(msg)
    if len(set(value)) != len(value):
        msg = (
            f"{where}: 'thresholds_min' = {value!r} repeats a threshold; give each once, "
            "e.g. `thresholds_min: [5, 10, 15]`."
        )
        raise ScenarioError(msg)


def check_top(data: Mapping[str, Any], where: str) -> None:
    """Check the top-level numbers of a scenario."""
    for key, rule in TOP.items():
        if key in data:
            rule.check(data[key], key, where)
    if "thresholds_min" in data:
        check_thresholds(data["thresholds_min"], where)


def check_siting(spec: Any, where: str) -> None:
    """Check every value of the ``siting:`` section: numbers, names, flags and id lists."""
    if not isinstance(spec, dict):
        return
    for key, rule in SITING.items():
        if spec.get(key) is not None:
            rule.check(spec[key], f"siting.{key}", where)
    for key in _SITING_TEXT:
        if key in spec and not isinstance(spec[key], str):
            msg = f"{where}: 'siting.{key}' = {spec[key]!r} must be a name (text)."
            raise ScenarioError(msg)
    model = str(spec.get("model", "mclp")).lower()
    if model not in _SITING_MODELS:
        msg = (
            f"{where}: 'siting.model' = {spec['model']!r} is not a siting model."
            f"{suggest(model, _SITING_MODELS)} Use one of {', '.join(_SITING_MODELS)}."
        )
        raise ScenarioError(msg)
    for key in _SITING_FLAGS:
        if key in spec and not isinstance(spec[key], bool):
            msg = f"{where}: 'siting.{key}' = {spec[key]!r} must be true or false."
            raise ScenarioError(msg)
    for key in ("forced", "forbidden"):
        ids = spec.get(key)
        if ids is not None and (
            not isinstance(ids, list) or any(not isinstance(i, str | int) for i in ids)
        ):
            msg = (
                f"{where}: 'siting.{key}' = {ids!r} must be a list of candidate site ids, "
                f"e.g. `{key}: [S001, S002]`."
            )
            raise ScenarioError(msg)
    _check_equity(spec.get("equity_share"), where)


def _check_equity(value: Any, where: str) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        for unit, share in value.items():
            _SHARE.check(share, f"siting.equity_share.{unit}", where)
        return
    _SHARE.check(value, "siting.equity_share", where)


def siting_defaults(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``siting:`` section with every default filled in.

    ``curve_p_max`` defaults to ``p`` (the coverage curve for 0 … p new sites), or to 0
    (no curve) for a model without ``p``; ``curve_p_max: 0`` turns the curve off.
    """
    out = {**SITING_DEFAULTS, **{k: v for k, v in spec.items() if v is not None}}
    if "curve_p_max" not in out:
        out["curve_p_max"] = int(out["p"]) if "p" in out else 0
    return out


def check_developments(spec: Any, where: str) -> None:
    """Check ``developments.asof`` (a date) and ``developments.reach`` (true or false)."""
    if not isinstance(spec, dict):
        return
    asof = spec.get("asof")
    if asof is not None and not isinstance(asof, dt.date):
        try:
            dt.date.fromisoformat(str(asof))
        except ValueError:
            msg = (
                f"{where}: 'developments.asof' = {asof!r} is not a date; write it as "
                "YYYY-MM-DD, e.g. `asof: 2026-12-31`."
            )
            raise ScenarioError(msg) from None
    if "reach" in spec and not isinstance(spec["reach"], bool):
        msg = f"{where}: 'developments.reach' = {spec['reach']!r} must be true or false."
        raise ScenarioError(msg)


def check_crs(value: Any, key: str, where: str, *, projected: bool = False) -> None:
    """Refuse a CRS that pyproj does not know (``gcj02``/``bd09`` are accepted as sources)."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjError

    from planning.coords import SOURCE_ALIASES

    if not projected and isinstance(value, str) and value.strip().lower() in SOURCE_ALIASES:
        return
    try:
        crs = CRS.from_user_input(value)
    except (ProjError, TypeError, ValueError):
        msg = (
            f"{where}: '{key}' = {value!r} is not a coordinate reference system; use an EPSG "
            "code such as EPSG:4326 or EPSG:4547"
            + ("" if projected else f", or one of {sorted(SOURCE_ALIASES)}")
            + "."
        )
        raise ScenarioError(msg) from None
    if projected and not crs.is_projected:
        msg = (
            f"{where}: '{key}' = {value!r} is not a projected CRS in metres; give a metric one "
            "such as EPSG:4547 (CGCS2000 3° zone 114°E) or leave it out to choose it "
            "automatically."
        )
        raise ScenarioError(msg)
