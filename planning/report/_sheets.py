"""The visible sheets of ``coverage.xlsx``: the report language, minutes, gaps to target.

The tables of a run are language-neutral (identifiers, codes, seconds). A sheet shows
them as a reader expects: walking times in minutes, codes (levels, kinds, verdicts,
statuses, yes/no) and recorded English phrases in the report language, texts kept in
both languages (``label_zh``/``label_en``...) in the report language only, and, in the
units sheet, the gap to each spatial-coverage target of the rule set. The ``columns``
sheet keeps every identifier and code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

import planning.report._i18n as _i18n

#: Columns holding codes or recorded phrases shown through :func:`_i18n.code_text`.
CODE_COLUMNS = (
    "level",
    "kind",
    "kind_prev",
    "status",
    "snap_status",
    "source",
    "verdict",
    "area",
    "site",
    "land",
    "timing",
    "location",
    "reach",
    "acceptance_withheld",
    "met",
    "met_prev",
    "measure",
    "area_kind",
    "confidence",
    "reason",
    "item",
    "change",
    "due",
)
#: Language pairs: a column ``X_zh``/``X_en`` shows as the report language's one only.
_PAIRED = ("label", "clause", "note", "reasons", "issues", "action", "citation")


def spatial_targets(targets: Iterable[Any]) -> dict[str, float]:
    """Return ``{threshold: highest required share}`` of the spatial-coverage targets.

    Only targets counting stations of any kind are comparable with the units'
    ``coverage_share_{T}min``; thresholds are formatted like the column names (``15``).
    """
    out: dict[str, float] = {}
    for t in targets:
        if t.measure == "spatial_coverage" and t.threshold_min and not t.kinds:
            key = f"{t.threshold_min:g}"
            out[key] = max(out.get(key, 0.0), float(t.min))
    return out


def with_gap_to_target(units: pd.DataFrame, targets: Iterable[Any]) -> pd.DataFrame:
    """Add ``gap_to_target_{T}min`` and ``elderly_to_target_{T}min`` for each target.

    ``gap_to_target_{T}min`` is the required share minus the unit's
    ``coverage_share_{T}min`` (0 when the unit meets it; NaN without older people);
    ``elderly_to_target_{T}min`` is how many more older people must be covered within T
    minutes to meet it (target share × older people − covered, at least 0).
    """
    out = units.copy()
    for th, required in spatial_targets(targets).items():
        share = f"coverage_share_{th}min"
        if share not in out:
            continue
        gap = (required - out[share].astype(float)).clip(lower=0.0)
        short = (required * out["elderly"] - out[f"elderly_covered_{th}min"]).clip(lower=0.0)
        out[f"gap_to_target_{th}min"] = gap.round(12)
        out[f"elderly_to_target_{th}min"] = short.where(out[share].notna())
    return out


def _kinds_text(value: Any, lang: str) -> Any:
    if not isinstance(value, str):
        return value
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    sep = "、" if lang == "zh" else ", "
    return sep.join(
        _i18n.strings(lang)["kinds_any"] if k == "any" else _i18n.kind_label(k, lang) for k in kinds
    )


def visible_sheet(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Return a table as its sheet shows it in `lang` (see the module docstring)."""
    other = "en" if lang == "zh" else "zh"
    out = frame.drop(columns=[f"{p}_{other}" for p in _PAIRED if f"{p}_{other}" in frame])
    for col in [c for c in out.columns if str(c).startswith("travel_time_s")]:
        out[col] = out[col] / 60.0
        out = out.rename(columns={col: str(col).replace("travel_time_s", "travel_time_min")})
    for col in out.columns:
        if col in CODE_COLUMNS or str(col).startswith("meets_"):
            name = "met" if str(col).startswith("meets_") else str(col)
            out[col] = out[col].map(lambda v, c=name: _i18n.code_text(c, v, lang))
        elif col == "kinds":
            out[col] = out[col].map(lambda v: _kinds_text(v, lang))
    return out


def code_rows(sheets: dict[str, pd.DataFrame | None]) -> list[dict[str, str]]:
    """Return the ``columns`` sheet rows giving every code shown and its texts."""
    rows: list[dict[str, str]] = []
    for sheet, frame in sheets.items():
        if frame is None:
            continue
        for col in frame.columns:
            if col not in CODE_COLUMNS and not str(col).startswith("meets_"):
                continue
            name = "met" if str(col).startswith("meets_") else str(col)
            values = pd.unique(frame[col].dropna().to_numpy())
            for value in sorted(values, key=str):
                zh, en = (_i18n.code_text(name, value, lang) for lang in ("zh", "en"))
                if str(zh) != str(value) or str(en) != str(value):
                    rows.append(
                        {
                            "sheet": sheet,
                            "column": str(col),
                            "code": str(value),
                            "zh": str(zh),
                            "en": str(en),
                        }
                    )
    return rows


def is_share(column: str) -> bool:
    """Return whether a column holds a share 0–1 (formatted as a percentage)."""
    return "share" in column or column.startswith("gap_to_target")


def row_is_share(frame: pd.DataFrame) -> np.ndarray:
    """Return, for a targets table, which rows hold shares in ``min``/``value`` columns."""
    if "measure" not in frame:
        return np.zeros(len(frame), bool)
    return frame["measure"].isin(("spatial_coverage", "admin_coverage")).to_numpy()
