"""Colour classes of the maps and charts: coverage shares, elderly density, station kinds.

Also the colours of service areas (per threshold), gaps, proposed sites and development
verdicts. Densities are classed by fixed lower bounds; the units of a map by
:func:`share_classes`, relative to the rule set's target and spread by the data; the
station kinds of the GLOSSARY keep a fixed colour, other kinds take the next one of a
short list.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import mapclassify
import numpy as np
from numpy.typing import ArrayLike

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
#: Gaps in blue, the complement of the orange classes of units below their target.
GAP_COLOUR = "#2166ac"
#: Classes of units below the target, from far below (dark) to close (light).
_BELOW_TARGET_COLOURS = ("#7f2704", "#d94801", "#fd8d3c", "#fdbe85", "#feedde")
TARGET_MET_COLOUR = "#1a9641"
NO_DATA_COLOUR = "#bdbdbd"
_JENKS_MAX_N = 500
#: Network context layer: thin, light, under everything else.
NETWORK_COLOUR = "#8c8c8c"
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


@dataclass(frozen=True)
class ShareClasses:
    """Classes of coverage shares (0–1) for a choropleth, with their legend.

    ``lower`` holds the lower bound of each class (the first is 0), ``colours`` one
    colour per class; with a ``target``, the last class holds the shares that reach it.
    """

    lower: tuple[float, ...]
    colours: tuple[str, ...]
    target: float | None

    def index(self, share: float | None) -> int | None:
        """Return the class of `share` (None when unknown)."""
        if share is None or not np.isfinite(share):
            return None
        return int(np.searchsorted(np.asarray(self.lower), share + 1e-12, side="right")) - 1

    def colour(self, share: float | None) -> str:
        """Return the fill colour of `share`; grey when unknown."""
        i = self.index(share)
        return NO_DATA_COLOUR if i is None else self.colours[i]

    def labels(self) -> list[str]:
        """Return each class as a range of percentages, e.g. ``12–25 %`` or ``≥ 90 %``."""
        bounds = [*self.lower[1:], None]
        out = []
        for lower, upper in zip(self.lower, bounds, strict=True):
            if upper is None:
                out.append(f"≥ {lower:.0%}" if lower > 0 else f"{lower:.0%}–100%")
            else:
                out.append(f"{lower:.0%}–{upper:.0%}")
        return out


def share_classes(shares: ArrayLike, *, target: float | None, k: int = 5) -> ShareClasses:
    """Class coverage shares so that the units spread, relative to a target.

    Shares below the target are classed by Fisher–Jenks natural breaks (mapclassify),
    each break midway between two classes and rounded to whole percentage points, into
    at most `k` classes coloured from far below
    the target (dark orange) to close to it (light); shares that reach the target form
    one green class.

    Parameters
    ----------
    shares : array-like of float
        Coverage shares 0–1 (NaN: unknown, left out of the classing).
    target : float, optional
        The rule set's target share; None: every class is data-driven.
    k : int
        Most classes below the target (1–5).

    Returns
    -------
    ShareClasses

    """
    k = int(np.clip(k, 1, len(_BELOW_TARGET_COLOURS)))
    values = np.asarray(shares, dtype=float)
    values = values[np.isfinite(values)]
    below = values if target is None else values[values < target - 1e-12]
    top = 1.0 if target is None else float(target)
    lower = [0.0]
    if np.unique(below).size > 1:
        n = min(k, int(np.unique(below).size))
        for b in np.floor(_jenks_breaks(below, n) * 100.0 + 0.5) / 100.0:
            if lower[-1] < b < top:
                lower.append(float(b))
    ramp = _BELOW_TARGET_COLOURS
    picks = np.linspace(0, len(ramp) - 1, len(lower)).round().astype(int) if len(lower) > 1 else [2]
    colours = [ramp[i] for i in picks]
    if target is not None:
        lower.append(float(target))
        colours.append(TARGET_MET_COLOUR)
    return ShareClasses(tuple(lower), tuple(colours), target)


def _jenks_breaks(values: np.ndarray, k: int) -> np.ndarray:
    """Return the Fisher–Jenks class breaks of `values`: midway between neighbouring classes.

    The exact algorithm takes quadratic time; on many values it runs on 500 evenly
    spaced quantiles instead (deterministic, unlike mapclassify's random sample).
    """
    sample = values
    if values.size > _JENKS_MAX_N:
        sample = np.quantile(values, np.linspace(0.0, 1.0, _JENKS_MAX_N))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numba not installed", category=UserWarning)
        uppers = np.asarray(mapclassify.FisherJenks(sample, k=k).bins[:-1], dtype=float)
    ordered = np.unique(values)
    above = ordered[np.minimum(np.searchsorted(ordered, uppers, side="right"), ordered.size - 1)]
    return np.asarray((uppers + above) / 2.0, dtype=float)
