"""Charts of a run as PNG files (matplotlib, Agg canvas, no global pyplot state).

Coverage by unit (one labelled bar per unit), a static overview map for printing (with
its legend and a metric scale bar), the siting curve and the annual change, at 200 dpi.
Chinese labels need a font with Chinese glyphs: the font files fontconfig lists for
Chinese (``fc-list :lang=zh``) and those of the usual folders (Noto Sans CJK, Source Han
Sans, Microsoft YaHei, SimHei, PingFang, WenQuanYi) are registered by file, so that a
font installed after matplotlib built its cache is found. The font used is logged;
without any, the charts fall back to English labels with a warning, and the report says
so. PNG files carry no timestamp: the same run gives the same bytes.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

import planning.report._i18n as _i18n
from planning._writing import save_figure
from planning.report.layers import siting_of
from planning.report.palette import THRESHOLD_COLOURS, kind_colours, share_colour
from planning.results import Comparison, RunResult

log = logging.getLogger(__name__)

#: Font families with Chinese glyphs, in order of preference.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
)
#: Folders searched for CJK font files besides what fontconfig lists.
_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/System/Library/Fonts",
    "/Library/Fonts",
    "C:/Windows/Fonts",
)
_FONT_FILES = ("*CJK*", "SourceHanSans*", "NotoSansSC*", "msyh*", "simhei*", "PingFang*", "wqy-*")
DPI = 200


def _font_files() -> list[Path]:
    """Return the CJK font files fontconfig lists and those found in the usual folders."""
    files: set[Path] = set()
    fc_list = shutil.which("fc-list")
    if fc_list:
        try:
            out = subprocess.run(
                [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=30
            ).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            log.debug("fc-list failed: %s", exc)
            out = ""
        files |= {Path(line.split(":")[0].strip()) for line in out.splitlines() if line.strip()}
    for folder in (Path(d).expanduser() for d in _FONT_DIRS):
        if folder.is_dir():
            for pattern in _FONT_FILES:
                files |= set(folder.rglob(pattern))
    return sorted(f for f in files if f.suffix.lower() in (".ttf", ".otf", ".ttc") and f.is_file())


@cache
def cjk_font() -> str | None:
    """Return the name of a font with Chinese glyphs (registered by file), or None.

    Every CJK font file found is added to matplotlib's font manager first, so that a
    font installed after matplotlib built its font cache is used.
    """
    for path in _font_files():
        try:
            font_manager.fontManager.addfont(str(path))
        except (OSError, RuntimeError, ValueError) as exc:
            log.debug("font %s not usable: %s", path, exc)
    fonts = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    name = next((n for n in CJK_FONTS if n in fonts), None)
    if name is None:
        log.info("no font with Chinese glyphs found (fc-list :lang=zh and the font folders)")
    else:
        log.info("chart font: %s (%s)", name, fonts[name])
    return name


def chart_language(language: str) -> str:
    """Return the language the charts are labelled in (English without a CJK font)."""
    lang = _i18n.lang_code(language)
    return "en" if lang == "zh" and cjk_font() is None else lang


def _strings(language: str) -> tuple[dict[str, str], Any, str]:
    """Return chart strings, font settings and language (English without a CJK font)."""
    lang = chart_language(language)
    if lang != _i18n.lang_code(language):
        msg = (
            "No font with Chinese glyphs is installed: the charts are labelled in English. "
            "Install one (e.g. Debian/Ubuntu `apt install fonts-noto-cjk`, or Noto Sans CJK "
            "SC from https://github.com/notofonts/noto-cjk) and run again."
        )
        warnings.warn(msg, UserWarning, stacklevel=3)
    font = cjk_font()
    rc = {
        # English labels in DejaVu Sans, with the CJK font as fallback for Chinese names
        "font.family": [font, "DejaVu Sans"]
        if font and lang == "zh"
        else ["DejaVu Sans", *([font] if font else [])],
        "axes.unicode_minus": False,
    }
    return _i18n.strings(lang), rc, lang


def _figure(width: float, height: float, rc: Any) -> Figure:
    import matplotlib

    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    fig.set_facecolor("white")
    return fig


def _save(fig: Figure, path: Path, rc: Any) -> Path:
    import matplotlib

    FigureCanvasAgg(fig)
    with matplotlib.rc_context(rc):
        return save_figure(fig, path)


def _unit_labels(units: pd.DataFrame, lang: str) -> list[str]:
    """Return the bar labels: names, in English the English names where given.

    A name the font cannot draw (Chinese without a CJK font) falls back to the unit id.
    """
    ids = units["unit_id"].astype(str)
    names = units["name"].fillna(ids).astype(str) if "name" in units else ids
    if lang == "en" and "name_en" in units:
        names = units["name_en"].fillna(names).astype(str)
    if cjk_font() is not None:
        return list(names)
    return [n if n.isascii() else i for n, i in zip(names, ids, strict=True)]


def coverage_by_unit_chart(
    result: RunResult, path: Path, *, language: str = "zh", target: float | None = None
) -> Path:
    """Draw the share of older people covered per unit at each threshold, sorted.

    One bar per unit, labelled with its name; the figure widens with the number of units.

    Parameters
    ----------
    result : RunResult
    path : Path
        PNG file to write.
    language : str
    target : float, optional
        Share (0–1) to draw as a line (e.g. the rule set's 15-minute target).

    Returns
    -------
    Path

    """
    t, rc, lang = _strings(language)
    cov = result.coverage
    ths = [f"{x:g}" for x in cov.thresholds_min]
    units = cov.units.sort_values(
        f"coverage_share_{ths[-1]}min", kind="stable", na_position="first"
    )
    x = np.arange(len(units))
    labels = _unit_labels(units, lang)
    longest = max((len(s) for s in labels), default=4)
    fontsize = 7 if len(units) <= 40 else 5.5
    width = float(np.clip(0.11 * len(units) + 2.5, 8.0, 24.0))
    height = 3.2 + min(longest, 14) * fontsize / 72 * (1.0 if lang == "zh" else 0.6)
    import matplotlib

    with matplotlib.rc_context(rc):
        fig = _figure(width, height, rc)
        ax = fig.add_subplot()
        for i, th in reversed(list(enumerate(ths))):
            colour = THRESHOLD_COLOURS[min(i, len(THRESHOLD_COLOURS) - 1)]
            share = units[f"coverage_share_{th}min"].fillna(0).to_numpy()
            ax.bar(x, share, width=0.85, color=colour, label=t["coverage_within"].format(t=th))
        if target is not None:
            ax.axhline(target, color="#d7191c", lw=1.2, ls="--", label=t["chart_target"])
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlim(-0.6, len(units) - 0.4)
        ax.set_xticks(x, labels, rotation=90, fontsize=fontsize)
        ax.tick_params(axis="x", length=0, pad=2)
        ax.set_xlabel(t["chart_units_sorted"].format(t=ths[-1]))
        ax.set_ylabel(t["chart_share"])
        ax.set_title(t["chart_coverage_by_unit"])
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        ax.grid(axis="y", alpha=0.3)
        return _save(fig, path, rc)


def scale_bar_length_m(width_m: float) -> float:
    """Return a round scale-bar length (1, 2 or 5 × 10^k m) near a fifth of `width_m`."""
    if not np.isfinite(width_m) or width_m <= 0:
        msg = f"A scale bar needs a positive map width in metres, got {width_m!r}."
        raise ValueError(msg)
    goal = width_m / 5
    power = 10 ** np.floor(np.log10(goal))
    step = max(m for m in (1, 2, 5) if m * power <= goal)
    return float(step * power)


def _scale_bar(ax: Any, t: dict[str, str]) -> None:
    """Draw a metric scale bar in the lower right corner (axes in metres)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = scale_bar_length_m(x1 - x0)
    right, base = x1 - 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    tick = 0.012 * (y1 - y0)
    ax.plot(
        [right - length, right - length, right, right],
        [base + tick, base, base, base + tick],
        color="#222",
        lw=1.6,
        solid_capstyle="butt",
    )
    label = f"{length / 1000:g} {t['unit_km']}" if length >= 1000 else f"{length:g} {t['unit_m']}"
    ax.text(right - length / 2, base + 1.6 * tick, label, ha="center", va="bottom", fontsize=8)


def _share_legend(shares: pd.Series, t: dict[str, str]) -> list[Patch]:
    """Return one legend entry per colour drawn, labelled with the shares it holds."""
    handles = []
    frame = pd.DataFrame({"share": shares, "colour": [share_colour(v) for v in shares]})
    order = frame.groupby("colour", sort=False)["share"].min().fillna(-1).sort_values()
    for colour in order.index:
        vals = frame.loc[frame["colour"] == colour, "share"].dropna()
        n = int((frame["colour"] == colour).sum())
        if vals.empty:
            label = t["chart_no_data"]
        else:
            low, high = f"{vals.min():.0%}", f"{vals.max():.0%}"
            label = low if low == high else f"{low}–{high}"
        handles.append(
            Patch(
                facecolor=colour,
                edgecolor="#555",
                lw=0.4,
                label=t["chart_units_n"].format(range=label, n=n),
            )
        )
    return handles


def overview_chart(result: RunResult, path: Path, *, language: str = "zh") -> Path:
    """Draw a static map of the units coloured by coverage, with the stations (for print).

    The legend gives the coverage range and number of units of each colour and the
    station kinds; a metric scale bar sits in the lower right corner.
    """
    t, rc, lang = _strings(language)
    cov = result.coverage
    th = f"{cov.thresholds_min[-1]:g}"
    units = cov.units
    import matplotlib

    with matplotlib.rc_context(rc):
        fig = _figure(7, 6.4, rc)
        ax = fig.add_subplot()
        shares = units[f"coverage_share_{th}min"]
        units.plot(ax=ax, color=[share_colour(s) for s in shares], edgecolor="#555", linewidth=0.4)
        handles: list[Any] = _share_legend(shares, t)
        sta = cov.stations.to_crs(units.crs)
        for kind, colour in kind_colours(sta["kind"]).items():
            sub = sta[sta["kind"].astype(str) == kind]
            label = _i18n.kind_label(kind, lang)
            sub.plot(
                ax=ax, color=colour, markersize=9, edgecolor="white", linewidth=0.4, label=label
            )
        handles += ax.get_legend_handles_labels()[0]
        ax.set_aspect("equal")
        if units.crs is not None and units.crs.is_projected:
            _scale_bar(ax, t)
        ax.set_axis_off()
        ax.set_title(t["chart_overview"] + f" ({t['coverage_within'].format(t=th)})")
        ax.legend(
            handles=handles,
            title=t["coverage_within"].format(t=th),
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=7.5,
            title_fontsize=8,
            frameon=False,
        )
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
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
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
