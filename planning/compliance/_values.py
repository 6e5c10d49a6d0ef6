"""Parse the cells of a development register: dates, numbers, phases, area kinds, sites.

Every parser returns None for an empty cell and raises ValueError for one it cannot read;
:func:`planning.compliance._register.parse_cells` turns that into an issue of the row.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

from planning._files import header_key

#: A date known to lie between two days (equal for a full date, a month for "2026年10月").
Span = tuple[dt.date, dt.date]

_AREA_KINDS = {
    "new": ("new", "新建", "新建小区", "新建住宅", "新建居住区", "新区"),
    "existing": ("existing", "old", "老旧", "老旧小区", "已建成", "已建成居住区", "老城区", "旧区"),
}
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九十")}


def norm(name: Any) -> str:
    """Return a column header in comparable form: no case, spaces or bracketed units."""
    return header_key(name)


def is_empty(value: Any) -> bool:
    """Return True for an empty cell: None, NaN, NaT, pd.NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like values are not empty cells
        return False


def parse_date(value: Any) -> Span | None:
    """Parse a date cell; return None when empty, raise ValueError when unreadable.

    Accepts 2026-10-31, 2026/10/31, 2026.10.31, 20261031, 2026年10月31日, 2026年10月 (the
    whole month), date/datetime cells and Excel serial day numbers (1982–2173).
    """
    if is_empty(value):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return (value.date(), value.date())
    if isinstance(value, dt.date):
        return (value, value)
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        if float(value).is_integer():
            return _parse_text(str(int(value)))
        msg = f"{value!r} is not a date"
        raise ValueError(msg)
    text = str(value).strip().translate(_FULL_WIDTH)
    if not text or text.lower() in ("nan", "nat", "none", "null", "-", "—", "无"):
        return None
    return _parse_text(text)


_FULL_WIDTH = str.maketrans("０１２３４５６７８９／．－：", "0123456789/.-:")
_YMD = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?(?:[T\s]+\d{1,2}:\d{2}(:\d{2})?)?"
)
_YM = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?")


def _parse_text(text: str) -> Span:
    if m := _YMD.fullmatch(text):
        day = dt.date(int(m[1]), int(m[2]), int(m[3]))
        return (day, day)
    if re.fullmatch(r"\d{8}", text):
        day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return (day, day)
    if re.fullmatch(r"\d{5}(\.0+)?", text) and 30000 <= float(text) <= 99999:
        day = dt.date(1899, 12, 30) + dt.timedelta(days=int(float(text)))
        return (day, day)
    if m := _YM.fullmatch(text):
        first = dt.date(int(m[1]), int(m[2]), 1)
        nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return (first, nxt - dt.timedelta(days=1))
    msg = f"{text!r} is not a date"
    raise ValueError(msg)


def show_date(span: Span) -> str:
    """Return an ISO date, or YYYY-MM for a whole month."""
    lo, hi = span
    return lo.isoformat() if lo == hi else lo.strftime("%Y-%m")


def parse_number(value: Any) -> float | None:
    """Parse a number cell ("2,350", "380 m²", "2350户"); None when empty, else ValueError."""
    if is_empty(value):
        return None
    if isinstance(value, bool):
        raise ValueError(repr(value))
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    text = str(value).strip().translate(_FULL_WIDTH).replace(",", "").replace("，", "")
    if not text or text.lower() in ("nan", "none", "null", "-", "—"):
        return None
    m = re.fullmatch(r"([-+]?\d*\.?\d+)\s*(m2|m²|㎡|平方米|平米|户|套|人)?", text)
    if m is None:
        raise ValueError(repr(value))
    return float(m[1])


def parse_phase(value: Any) -> float | None:
    """Parse a phase: 1, "1期", "一期", "第二期"; None when empty, else ValueError."""
    if is_empty(value):
        return None
    text = str(value).strip().translate(_FULL_WIDTH)
    text = re.sub(r"^第|期$", "", text)
    if text in _CN_DIGITS:
        return float(_CN_DIGITS[text])
    if re.fullmatch(r"\d+(\.0+)?", text):
        return float(text)
    raise ValueError(repr(value))


def parse_area_kind(value: Any) -> str | None:
    """Return "new" or "existing" for a register value; None when empty, else ValueError."""
    if is_empty(value):
        return None
    text = norm(value)
    for kind, words in _AREA_KINDS.items():
        if text in words:
            return kind
    raise ValueError(repr(value))


def parse_sites(value: Any) -> list[float] | None:
    """Parse "380;360", "380+360" or "380、360" into site areas (m²)."""
    if is_empty(value):
        return None
    parts = [p for p in re.split(r"[;；+、/|\s]+", str(value).strip()) if p]
    areas = [parse_number(p) for p in parts]
    return [a for a in areas if a is not None]
