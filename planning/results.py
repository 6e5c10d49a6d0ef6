"""What a run produced: the data type every output reads, below all of them.

:class:`RunResult` gathers a scenario run's inputs and results (coverage, and when they
ran, siting, the 四同步 check and the annual comparison). The reports, maps, workbook,
GeoPackage and charts read it; it imports none of them, and the workflow that fills it
sits above them all. The siting and compliance results are read through the small
protocols :class:`SitingTables` and :class:`ComplianceTables`, so that nothing here
depends on how those stages compute.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from planning import _text, settings
from planning.coverage import CoverageResult
from planning.network import Network
from planning.scenario import Scenario
from planning.standards import RuleSet

#: Version of the run folder layout written into ``run.json`` (``format_version``).
#: Increase it when a file or column the annual comparison reads changes meaning.
RUN_FORMAT_VERSION = 1


class SitingTables(Protocol):
    """What the reports read from a siting result (:class:`planning.siting.SitingResult`).

    ``siting``: the new sites with ``rank``, ``site_id``, ``kind``, ``lon``, ``lat``,
    ``unit_id``, ``{weight}_newly_covered``, ``cumulative_share`` and a geometry.
    """

    @property
    def siting(self) -> gpd.GeoDataFrame | None: ...  # noqa: D102


class ComplianceTables(Protocol):
    """What the reports read from a compliance result (``ComplianceResult``).

    ``geo``: one row per development with ``dev_id``, ``name``, ``verdict`` (PASS, FAIL
    or UNKNOWN), ``reasons_zh``/``reasons_en`` (or ``reasons``) and a geometry.
    """

    @property
    def geo(self) -> gpd.GeoDataFrame: ...  # noqa: D102


@dataclass
class PreviousRun:
    """Last year's run folder as read for the comparison."""

    path: Path
    record: dict[str, Any]
    units: pd.DataFrame
    stations: pd.DataFrame
    targets: pd.DataFrame

    @property
    def year(self) -> int | None:
        """Year of the previous run's scenario, None when it had none."""
        year = self.record.get("year")
        return int(year) if isinstance(year, int | float) else None


@dataclass
class Note:
    """A difference between the runs that the report prints (``key`` of i18n.yaml)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Comparison:
    """Compare this year's run with last year's: every figure of the annual report.

    Attributes
    ----------
    previous : PreviousRun
    year, previous_year : int or None
    thresholds_min : tuple of float
        Thresholds present in both runs (the ones compared).
    units : pandas.DataFrame
        One row per unit of either run: ``unit_id``, ``name``, ``status`` (both, new,
        gone), ``elderly``/``elderly_prev``, per compared threshold T
        ``coverage_share_{T}min``, ``coverage_share_{T}min_prev`` and
        ``coverage_share_{T}min_change``, ``n_stations``/``n_stations_prev`` and
        ``meets_{target}``/``meets_{target}_prev`` for targets in both runs.
    stations_added, stations_closed, stations_changed : pandas.DataFrame
        By ``station_id``: in this run only, in last year's only, and in both with
        another kind or capacity.
    targets : pandas.DataFrame
        One row per target of this run: values and ``met`` this year and last,
        ``status`` and ``due`` (due this year, overdue).
    totals : dict
        ``elderly``, ``stations`` and per compared threshold the share, each as
        ``{"prev": ..., "this": ...}``.
    notes : list of Note

    """

    previous: PreviousRun
    year: int | None
    previous_year: int | None
    thresholds_min: tuple[float, ...]
    units: pd.DataFrame
    stations_added: pd.DataFrame
    stations_closed: pd.DataFrame
    stations_changed: pd.DataFrame
    targets: pd.DataFrame
    totals: dict[str, dict[str, float | None]]
    notes: list[Note]

    def _repr_html_(self) -> str:
        lang = _text.short_code(None)
        rows = "".join(
            f"<tr><td>{html.escape(_total_label(k, lang))}</td><td>{_fmt(v['prev'], k)}</td>"
            f"<td>{_fmt(v['this'], k)}</td></tr>"
            for k, v in self.totals.items()
        )
        head = _text.text("summary_annual_head", lang).format(
            prev=self.previous_year,
            this=self.year,
            added=len(self.stations_added),
            closed=len(self.stations_closed),
            notes=len(self.notes),
        )
        last, this = _text.text("last_year", lang), _text.text("this_year", lang)
        return (
            f"<p><b>{html.escape(head)}</b></p><table><tr><th></th><th>{html.escape(last)}</th>"
            f"<th>{html.escape(this)}</th></tr>{rows}</table>"
        )


def _total_label(key: str, lang: str) -> str:
    """Return the label of a comparison total (``elderly``, ``coverage_share_{T}min``...)."""
    match = re.fullmatch(r"coverage_share_([0-9.]+)min", key)
    if match:
        return _text.text("coverage_within", lang).format(t=match.group(1))
    return _text.text(key, lang) if key in _text.table() else key


def _fmt(value: Any, key: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.1%}" if "share" in key else f"{value:,.0f}"


@dataclass
class RunResult:
    """What a scenario run produced, in memory and on disk.

    ``siting`` (with ``siting_curve``, the table of :func:`planning.siting.coverage_curve`)
    and ``compliance`` are filled by the siting and compliance steps when they run; the
    reports and maps show them when present. ``comparison`` holds the annual comparison
    with a previous run folder.
    """

    scenario: Scenario
    rules: RuleSet
    network: Network
    coverage: CoverageResult
    units: gpd.GeoDataFrame | None
    out_dir: Path | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    siting: SitingTables | None = None
    siting_curve: pd.DataFrame | None = None
    compliance: ComplianceTables | None = None
    comparison: Comparison | None = None

    def _repr_html_(self) -> str:
        return _run_summary_html(self)


def _run_summary_html(result: RunResult) -> str:
    """Return an HTML summary table of a run for Jupyter, in the scenario's language.

    Every value is escaped.
    """
    cov = result.coverage
    lang = _text.short_code(str(result.scenario.data.get("language") or settings.language))

    def t(key: str) -> str:
        return _text.text(key, lang)

    title = result.rules.title.for_lang(lang)
    rows: list[tuple[str, str]] = [
        (t("summary_scenario"), result.scenario.name),
        (t("year"), str(result.scenario.data.get("year", "–"))),
        (t("rules"), f"{result.rules.name} ({title})"),
        (t("walk_speed"), f"{cov.walk_speed_m_s:g} m/s"),
        (t("elderly"), f"{cov.totals.get('elderly', 0):,.0f}"),
    ]
    rows += [
        (
            t("coverage_within").format(t=f"{x:g}"),
            f"{cov.totals.get(f'coverage_share_{x:g}min', 0):.1%}",
        )
        for x in cov.thresholds_min
    ]
    rows += [
        (t("unreachable"), f"{cov.totals.get('elderly_unreachable', 0):,.0f}"),
        (t("summary_counts"), f"{len(cov.stations)} / {len(cov.units)} / {len(cov.gaps)}"),
    ]
    for _, r in cov.targets.iterrows():
        met = r["met"]
        state = (
            "unknown" if met is None or met != met else ("summary_met" if met else "summary_missed")
        )
        rows.append(
            (t("summary_target").format(id=r["target_id"], confidence=r["confidence"]), t(state))
        )
    rows.append((t("summary_siting"), t("summary_present") if result.siting is not None else "–"))
    done = result.compliance is not None
    rows.append((t("summary_compliance"), t("summary_present") if done else "–"))
    if result.comparison is not None:
        comp = result.comparison
        rows.append((t("summary_compared"), f"{comp.previous.path} ({comp.previous_year})"))
    if result.out_dir is not None:
        rows.append((t("summary_folder"), str(result.out_dir / "index.html")))
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    caption = html.escape(t("summary_run"))
    return f"<table><caption><b>{caption}</b></caption>{body}</table>" + cov.summary_html(lang)
