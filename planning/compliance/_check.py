"""Check a register of developments: :func:`check_developments` and its result."""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from planning._errors import InputError
from planning.compliance._criteria import _judge, _withheld
from planning.compliance._model import prepare
from planning.compliance._reach import judge_reach
from planning.compliance._reasons import FAIL, PASS, UNKNOWN
from planning.compliance._register import Table, read_table
from planning.compliance._rules import ComplianceRules, _load
from planning.compliance._tables import assemble, layers, summarise
from planning.compliance._values import parse_date
from planning.network import Network, choose_metric_crs
from planning.standards import CRITERIA, RuleSet

log = logging.getLogger(__name__)


@dataclass
class ComplianceResult:
    """Verdicts for a register of developments.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per development in register order, columns :data:`COLUMNS` then
        ``{criterion}_reason_zh`` / ``_en``.
    geo : geopandas.GeoDataFrame
        The developments in EPSG:4326 with ``verdict``, criteria and reasons, for a map.
    facilities : geopandas.GeoDataFrame
        Facility sites in EPSG:4326 with ``dev_id``, ``facility_id`` and ``area_m2``.
    summary : dict
        Counts, the rules applied with their sources, the as-of date, unverified rules.
    rules : ComplianceRules
        The rules applied.
    asof : datetime.date
        The judgement day.

    """

    table: pd.DataFrame
    geo: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    summary: dict[str, Any]
    rules: ComplianceRules
    asof: dt.date

    def exit_status(self, *, allow_unknown: bool = False) -> int:
        """Return 0 when every development passes (or is unknown, if allowed), else 1."""
        ok = {PASS, UNKNOWN} if allow_unknown else {PASS}
        return 0 if set(self.table["verdict"]) <= ok else 1

    def _repr_html_(self) -> str:
        s, v = self.summary, self.summary["verdicts"]
        head = (
            f"<p><b>Compliance</b> · rules {html.escape(s['rules'])} · as of {s['asof']} · "
            f"{s['n_developments']} developments: {v[PASS]} pass, {v[FAIL]} fail, "
            f"{v[UNKNOWN]} unknown · completion acceptance withheld: "
            f"{s['acceptance_withheld']}</p>"
        )
        cols = ["dev_id", "name", "verdict", *CRITERIA, "acceptance_withheld", "reasons_en"]
        th = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in cols) + "</tr>"
            for r in self.table[cols].to_dict("records")
        )
        return f"{head}<table><thead><tr>{th}</tr></thead><tbody>{rows}</tbody></table>"


# --------------------------------------------------------------------------- public API
def check_developments(
    developments: str | Path | pd.DataFrame,
    facilities: str | Path | pd.DataFrame | None,
    rules: RuleSet | ComplianceRules | str | Path,
    *,
    asof: dt.date | str,
    network: Network | str | Path | None = None,
    stations: gpd.GeoDataFrame | str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    crs: Any = None,
    layer: str | None = None,
) -> ComplianceResult:
    """Judge every development of a register against the compliance rules of a rule set.

    Parameters
    ----------
    developments : str, Path, DataFrame or GeoDataFrame
        The register: a GeoPackage/GeoJSON/shapefile layer (polygons or points), a CSV or
        an Excel workbook (lon/lat or WKT columns), or a loaded frame.
    facilities : str, Path, DataFrame or None
        Facility sites (points with ``dev_id`` and ``area_m2``). None: a ``facilities``
        layer or sheet in the register file, else the register's facility columns.
    rules : RuleSet, ComplianceRules, str or Path
        A rule set (a packaged name or a YAML path) with a ``compliance:`` section.
    asof : datetime.date or str
        The judgement day: later dates are plans, earlier ones facts.
    network : Network, str or Path, optional
        Roads (a file for :func:`planning.network.read_network`) to measure ``reach``;
        without it reach is UNKNOWN.
    stations : GeoDataFrame, str or Path, optional
        Existing stations with ``kind`` (rows whose ``status`` is not existing are ignored).
    columns : mapping, optional
        ``{header in the file: canonical name}``, e.g. ``{"总户数(户)": "households"}``.
    crs : CRS-like or {"gcj02", "bd09"}, optional
        CRS of coordinates when the file has none (tables default to EPSG:4326).
    layer : str, optional
        Layer or sheet of the register.

    Returns
    -------
    ComplianceResult

    Raises
    ------
    InputError
        Only when nothing can be read (file missing or unreadable, no rows, no usable
        column) or the rule set has no compliance rules; row problems become reasons.

    """
    crules = rules if isinstance(rules, ComplianceRules) else _load(rules)
    day = _asof(asof)
    reg = read_table(developments, layer=layer, columns=columns, crs=crs)
    fac = None
    if facilities is not None:
        fac = read_table(facilities, facilities=True, crs=crs)
    elif "facilities" in reg.extra:
        frame, label = reg.extra["facilities"]
        if len(frame):
            fac = read_table(frame, facilities=True, crs=crs, name=label)
        else:
            # a register's own facility layer may be empty: no development has one yet
            log.warning("%s is empty: no development has a facility recorded", label)
    dates = crules.get("dates")
    devs = prepare(reg, fac, day, first_phase=bool(dates and dates.get("first_phase")))
    metric = _metric_crs(reg, network)
    judged = [_judge(d, crules, day, metric) for d in devs]
    reach = crules.get("reach")
    if reach is not None:
        found = judge_reach(devs, reach, crules.walk_speed_m_s, network, stations, metric)
        for d, j in zip(devs, found, strict=True):
            judged[d.pos]["reach"] = d.blocker("reach") or j
    withheld = [_withheld(d, j, crules) for d, j in zip(devs, judged, strict=True)]
    table = assemble(reg, devs, judged, withheld)
    applied = [{**r.__dict__} for r in crules.sections.values()]
    summary = summarise(reg, table, crules.name, applied, day)
    summary.update(
        walk_speed_m_s=crules.walk_speed_m_s,
        metric_crs=str(metric),
        network=None if network is None else str(getattr(network, "source", network)),
        unverified=[r.section for r in crules.sections.values() if r.confidence == "R"],
    )
    log.info("checked %d developments with %s: %s", len(table), crules.name, summary["verdicts"])
    geo, sites = layers(reg, devs, table)
    return ComplianceResult(table, geo, sites, summary, crules, day)


def _asof(value: dt.date | str) -> dt.date:
    try:
        span = parse_date(value)
    except ValueError:
        span = None
    if span is None or span[0] != span[1]:
        msg = f"as-of date {value!r} is not a day; write it as 2026-10-31 (or 2026年10月31日)."
        raise InputError(msg)
    return span[0]


def _metric_crs(reg: Table, network: Network | str | Path | None) -> Any:
    if isinstance(network, Network):
        return network.crs
    if reg.crs is not None and reg.crs.is_projected:
        return reg.crs
    geoms = reg.frame[reg.frame.geometry.notna()]
    return choose_metric_crs(geoms) if len(geoms) else "EPSG:3857"
