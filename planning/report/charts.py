"""Charts of a run as PNG files (matplotlib, Agg canvas, no global pyplot state).

Coverage by unit, a static overview map for printing, the siting curve and the annual
change. Labels are in the report language when a CJK font is installed (e.g. Noto Sans
CJK, Microsoft YaHei, SimHei), in English otherwise, so that no chart shows empty boxes.
PNG files carry no timestamp: the same run gives the same bytes.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

import planning.report._i18n as _i18n
from planning._writing import save_figure
from planning.report.layers import siting_of
from planning.report.palette import THRESHOLD_COLOURS, kind_colours, share_colour
from planning.results import Comparison, RunResult

log = logging.getLogger(__name__)

_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
)
_DPI = 110


@cache
def cjk_font() -> str | None:
    """Return the name of an installed font with Chinese glyphs, or None."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in _CJK_FONTS if n in names), None)


def _strings(language: str) -> tuple[dict[str, str], Any, str]:
    """Return chart strings, font settings and language (English without a CJK font)."""
    lang = _i18n.lang_code(language)
    font = cjk_font()
    if lang == "zh" and font is None:
        log.info("no CJK font found: chart labels are in English")
        lang = "en"
    rc = {"font.family": [font, "DejaVu Sans"] if font and lang == "zh" else ["DejaVu Sans"]}
    return _i18n.strings(lang), rc, lang


def _figure(width: float, height: float, rc: Any) -> Figure:
    import matplotlib

    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    fig.set_facecolor("white")
    return fig


def _save(fig: Figure, path: Path, rc: Any) -> Path:
    import matplotlib

    FigureCanvasAgg(fig)
    with matplotlib.rc_context(rc):
        return save_figure(fig, path)


def coverage_by_unit_chart(
    result: RunResult, path: Path, *, language: str = "zh", target: float | None = None
) -> Path:
    """Draw the share of older people covered per unit at each threshold, sorted.

    Parameters
    ----------
    result : RunResult
    path : Path
        PNG file to write.
    language : str
    target : float, optional
        Share to draw as a line (e.g. the rule set's 15-minute target).

    Returns
    -------
    Path

    """
    t, rc, _ = _strings(language)
    cov = result.coverage
    ths = [f"{x:g}" for x in cov.thresholds_min]
    units = cov.units.sort_values(
        f"coverage_share_{ths[-1]}min", kind="stable", na_position="first"
    )
    x = np.arange(len(units))
    import matplotlib

    with matplotlib.rc_context(rc):
        fig = _figure(10, 3.6, rc)
        ax = fig.add_subplot()
        for i, th in reversed(list(enumerate(ths))):
            colour = THRESHOLD_COLOURS[min(i, len(THRESHOLD_COLOURS) - 1)]
            share = units[f"coverage_share_{th}min"].fillna(0).to_numpy()
            ax.bar(x, share, width=0.9, color=colour, label=t["coverage_within"].format(t=th))
        if target is not None:
            ax.axhline(target, color="#d7191c", lw=1.2, ls="--", label=t["chart_target"])
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlim(-0.6, len(units) - 0.4)
        ax.set_xticks([])
        ax.set_xlabel(t["chart_units_sorted"].format(t=ths[-1]))
        ax.set_ylabel(t["chart_share"])
        ax.set_title(t["chart_coverage_by_unit"])
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        ax.grid(axis="y", alpha=0.3)
        return _save(fig, path, rc)


def overview_chart(result: RunResult, path: Path, *, language: str = "zh") -> Path:
    """Draw a static map of the units coloured by coverage, with the stations (for print)."""
    t, rc, lang = _strings(language)
    cov = result.coverage
    th = f"{cov.thresholds_min[-1]:g}"
    units = cov.units.to_crs(cov.units.crs)
    import matplotlib

    with matplotlib.rc_context(rc):
        fig = _figure(7, 6, rc)
        ax = fig.add_subplot()
        colours = [share_colour(s) for s in units[f"coverage_share_{th}min"]]
        units.plot(ax=ax, color=colours, edgecolor="#555", linewidth=0.4)
        sta = cov.stations.to_crs(units.crs)
        for kind, colour in kind_colours(sta["kind"]).items():
            sub = sta[sta["kind"].astype(str) == kind]
            label = _i18n.kind_label(kind, lang)
            sub.plot(
                ax=ax, color=colour, markersize=9, edgecolor="white", linewidth=0.4, label=label
            )
        ax.set_axis_off()
        ax.set_title(t["chart_overview"] + f" ({t['coverage_within'].format(t=th)})")
        ax.legend(loc="lower left", fontsize=8, frameon=True)
        return _save(fig, path, rc)


def siting_curve_chart(
    curve: pd.DataFrame, path: Path, *, language: str = "zh", target: float | None = None
) -> Path:
    """Draw the siting curve: share covered (``share``) against sites added (``p``)."""
    t, rc, _ = _strings(language)
    data = curve.sort_values("p", kind="stable")
    import matplotlib

    with matplotlib.rc_context(rc):
        fig = _figure(6, 3.4, rc)
        ax = fig.add_subplot()
        ax.plot(data["p"], data["share"], marker="o", ms=3.5, color="#2b8cbe")
        if target is not None:
            ax.axhline(target, color="#d7191c", lw=1.2, ls="--", label=t["chart_target"])
            ax.legend(loc="lower right", fontsize=8, frameon=False)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel(t["chart_sites_added"])
        ax.set_ylabel(t["chart_share"])
        ax.set_title(t["siting_curve"])
        ax.grid(alpha=0.3)
        return _save(fig, path, rc)


def annual_change_chart(comparison: Comparison, path: Path, *, language: str = "zh") -> Path:
    """Draw each unit's coverage last year against this year (largest common threshold)."""
    t, rc, _ = _strings(language)
    th = f"{comparison.thresholds_min[-1]:g}"
    col = f"coverage_share_{th}min"
    both = comparison.units[comparison.units["status"] == "both"]
    import matplotlib

    with matplotlib.rc_context(rc):
        fig = _figure(5.2, 4.6, rc)
        ax = fig.add_subplot()
        prev, now = both[f"{col}_prev"].to_numpy(), both[col].to_numpy()
        up = now > prev + 5e-4
        ax.plot([0, 1], [0, 1], color="#999", lw=1, ls=":")
        ax.scatter(prev[~up], now[~up], s=14, color="#7f7f7f")
        ax.scatter(prev[up], now[up], s=16, color="#1a9641")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        fmt = PercentFormatter(1.0)
        ax.xaxis.set_major_formatter(fmt)
        ax.yaxis.set_major_formatter(fmt)
        ax.set_xlabel(f"{t['last_year']}: {t['coverage_within'].format(t=th)}")
        ax.set_ylabel(f"{t['this_year']}: {t['coverage_within'].format(t=th)}")
        ax.set_title(t["chart_annual"])
        ax.grid(alpha=0.3)
        return _save(fig, path, rc)


def _target_share(result: RunResult) -> float | None:
    th = result.coverage.thresholds_min[-1]
    for target in result.rules.targets:
        if target.measure == "spatial_coverage" and target.threshold_min == th:
            return float(target.min)
    return None


def write_charts(result: RunResult, out_dir: Path, *, language: str = "zh") -> dict[str, Path]:
    """Write every chart of a run into ``out_dir/charts`` and return them by name."""
    folder = out_dir / "charts"
    folder.mkdir(parents=True, exist_ok=True)
    target = _target_share(result)
    out = {
        "coverage_by_unit": coverage_by_unit_chart(
            result, folder / "coverage_by_unit.png", language=language, target=target
        ),
        "overview": overview_chart(result, folder / "overview.png", language=language),
    }
    _, curve = siting_of(result)
    if curve is not None and len(curve) and {"p", "share"} <= set(curve.columns):
        out["siting_curve"] = siting_curve_chart(
            curve, folder / "siting_curve.png", language=language, target=target
        )
    comp = result.comparison
    if comp is not None and comp.thresholds_min:
        out["annual_change"] = annual_change_chart(
            comp, folder / "annual_change.png", language=language
        )
    return out
