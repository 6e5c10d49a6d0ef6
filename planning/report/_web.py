"""What goes into a web map: data escaped for HTML and folium, numbers, rounded lon/lat.

Shared by the layers (:mod:`planning.report.layers`), their rendering
(:mod:`planning.report.maps`) and the map pages (:mod:`planning.report._offline`).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import shapely

_DECIMALS = 5  # lon/lat decimals in the GeoJSON (about 1 m)


def _esc(value: Any) -> str:
    """Escape a data value for HTML *and* for folium's templates.

    branca compiles every rendered fragment again as a Jinja template, so braces from
    data would be evaluated (``{{ 7*7 }}`` becomes 49, ``{% x`` breaks the map): they are
    written as HTML character references, which display as braces.
    """
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return html.escape(str(value)).replace("{", "&#123;").replace("}", "&#125;")


def _fmt_num(value: Any, fmt: str = "{:,.0f}") -> str:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "–"
    return fmt.format(x) if np.isfinite(x) else "–"


def _round_coords(geoms: Any) -> np.ndarray:
    return np.asarray(
        shapely.transform(np.asarray(geoms), lambda c: np.round(c, _DECIMALS)), dtype=object
    )
