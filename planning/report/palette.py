"""Colour classes of the maps and charts: coverage shares, elderly density, station kinds.

Also the colours of service areas (per threshold), gaps, proposed sites and development
verdicts. Shares and densities are classed by their lower bounds; the station kinds of
the GLOSSARY keep a fixed colour, other kinds take the next one of a short list.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

KIND_COLOURS = {
    "centre": "#7b3294",
    "station": "#008837",
    "daycare": "#0571b0",
    "meal": "#e66101",
    "carehome": "#ca0020",
}
_OTHER_KIND_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]
#: Service-area colours from the shortest threshold to the longest.
THRESHOLD_COLOURS = ["#006d2c", "#31a354", "#74c476", "#bae4b3"]
VERDICT_COLOURS = {"PASS": "#1a9641", "FAIL": "#d7191c", "UNKNOWN": "#7f7f7f"}
GAP_COLOUR = "#d7191c"
SITE_COLOUR = "#111111"
_SHARE_BINS = [
    (0.0, "#d7191c"),
    (0.5, "#fdae61"),
    (0.75, "#ffffbf"),
    (0.9, "#a6d96a"),
    (1.0, "#1a9641"),
]
#: Elderly density classes, older people per km² (lower bounds) and colours.
DENSITY_BINS = [
    (0.0, "#f2f0f7"),
    (1000.0, "#cbc9e2"),
    (2500.0, "#9e9ac8"),
    (5000.0, "#756bb1"),
    (10000.0, "#54278f"),
]


def share_colour(share: float | None) -> str:
    """Return the fill colour for a coverage share (0–1); grey when unknown."""
    if share is None or not np.isfinite(share):
        return "#bdbdbd"
    colour = _SHARE_BINS[0][1]
    for lower, c in _SHARE_BINS:
        if share >= lower - 1e-12:
            colour = c
    return colour


def density_colour(per_km2: float) -> str:
    """Return the fill colour for an elderly density in older people per km²."""
    colour = DENSITY_BINS[0][1]
    for lower, c in DENSITY_BINS:
        if per_km2 >= lower:
            colour = c
    return colour


def kind_colours(kinds: Iterable[str]) -> dict[str, str]:
    """Return a colour per station kind: GLOSSARY kinds fixed, others in sorted order."""
    out: dict[str, str] = {}
    others = 0
    for kind in sorted({str(k) for k in kinds}):
        if kind in KIND_COLOURS:
            out[kind] = KIND_COLOURS[kind]
        else:
            out[kind] = _OTHER_KIND_COLOURS[others % len(_OTHER_KIND_COLOURS)]
            others += 1
    return out
