"""Check new residential developments against the 四同步 and facility-area rules of a rule set.

For every development of a register (one row per project or phase) and every criterion of
the rule set's ``compliance:`` section, the verdict is PASS, FAIL, UNKNOWN (data missing or
unreadable: never guessed) or N/A (the rule set has no such rule, or there is nothing to
check), with a reason in Chinese and English and the shortfall as a number. The overall
verdict is FAIL if any criterion fails, else UNKNOWN if any is unknown, else PASS.

Criteria (columns of :attr:`ComplianceResult.table`):

- ``area``: facility floor area ≥ households / 100 × the rate for new or existing areas,
  and ≥ the minimum per facility; ``area_shortfall_m2``.
- ``site``: every single site ≥ the minimum per site (no site at all fails);
  ``site_shortfall_m2`` of the worst site.
- ``land``: facility land ≥ m² per resident × residents (national 0.1 m²);
  ``land_shortfall_m2``.
- ``timing``: each facility milestone (planning, construction, acceptance, delivery)
  compared with the housing's; ``timing_late_days`` beyond the tolerance.
- ``location``: every facility point within the development polygon plus a tolerance;
  ``location_outside_m``.
- ``reach``: every resident point (the polygon's corners and an inner point) within the
  walking threshold of its own facility or an existing station, measured on the road
  network (never with straight lines: without a network it is UNKNOWN, the straight-line
  distance is given as information); ``reach_time_min``, ``reach_excess_min``.

``acceptance_withheld`` flags developments whose completion acceptance (竣工验收) must be
withheld: a listed criterion fails and the housing has not been accepted yet as of the
as-of date (if it has, the action is rectification, 整改).

Rule-set schema
---------------
Every section is optional; ``null`` switches off a section inherited with ``extends:``.
Each takes ``source_id`` (into ``sources``), ``clause``, ``confidence`` (V/S/R; a section
without one is reported as R, unverified) and ``note``::

    compliance:
      area_m2_per_100hh: {new: 20, existing: 15}   # floor area per 100 households
      min_area_m2: {site: 350, facility: 300}      # per single site; per development
      land_m2_per_resident: {min: 0.1, persons_per_household: 2.6}
      dates:
        rule: not_later_than      # facility ≤ housing + tolerance; or same_phase: |Δ| ≤ tolerance
        tolerance_days: 0
        milestones: [planning, construction, acceptance, delivery]
        first_phase: false        # true: phases of one project_id are pooled and the
                                  # facility is compared with the first phase's housing
      location: {tolerance_m: 200}
      reach:
        threshold_min: 5          # or max_dist_m: 700 (walking distance on the network)
        inclusive: true           # false: strictly below the threshold
        to: [own, stations]       # the development's own sites and/or existing stations
        kinds: [station, daycare] # station kinds that count (default: any)
        max_snap_m: 300
      acceptance_withheld: {criteria: [area, site, timing]}

A custom rule set in a few lines (``planning check-developments reg.xlsx --rules my.yaml``)::

    name: my-district-2025
    extends: guizhou-2022
    sources:
      - {id: my-2025, citation: "区住建局 2025 年配建要求（内部文件）", year: 2025}
    compliance:
      dates: {rule: not_later_than, tolerance_days: 30, source_id: my-2025,
              clause: "设施竣工验收不晚于住宅 30 日", confidence: V}
      reach: null                 # no walking check
      acceptance_withheld: {criteria: [area, site, timing], source_id: my-2025,
                            clause: "配建不达标不得组织竣工验收", confidence: V}

Register
--------
Columns in English or their common Chinese forms (see
``planning._compliance_io.ALIASES``; a ``columns=`` mapping ``{header: canonical}`` comes
first): ``dev_id`` (项目编号), ``name`` (项目名称), ``households`` (户数),
``area_kind`` (类型: 新建/老旧; all new when the column is absent), ``facility_area_m2``
(配建面积; read as one site unless ``facility_sites_m2`` (各处面积, "380;360") or a
facility layer lists the sites), ``facility_land_m2``, ``residents`` (人口),
``project_id``/``phase`` (所属项目/分期), lon/lat (经度/纬度) or ``wkt`` for the
geometry, ``facility_lon``/``facility_lat`` (设施经度/纬度), and the dates
``{housing,facility}_{planning,construction,acceptance,delivery}`` (e.g. 住宅竣工验收日期,
养老设施交付时间). A plain date counts as actual when on or before the as-of date and
as planned after it; ``..._planned``/``..._actual`` columns (计划…/实际…) say it
explicitly, and a facility date planned before the as-of date with no actual date is
overdue (FAIL). Dates: 2026-10-31, 2026/10/31, 2026.10.31, 20261031, 2026年10月31日,
2026年10月 (a whole month: judged only when the month decides), date cells and Excel
serial numbers. Facility sites: a ``facilities`` layer or sheet beside the register, or
another file, with ``dev_id`` and ``area_m2`` (设施编号, 项目编号, 面积) and points.

Examples
--------
>>> from planning import compliance
>>> result = compliance.check_developments(
...     "data/wuhan_developments.gpkg", None, "guizhou-2022", asof="2026-01-01"
... )  # doctest: +SKIP
>>> result.table[["dev_id", "verdict", "area", "site", "timing", "location"]]  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import logging
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from planning import _compliance_io as cio
from planning._compliance_io import (
    FAIL,
    MS_ZH,
    NA,
    PASS,
    UNKNOWN,
    Dev,
    Judgement,
    Table,
    fmt,
    parse_date,
    say,
    show_date,
)
from planning._errors import InputError
from planning.network import Network, choose_metric_crs, read_network
from planning.standards import CRITERIA, MILESTONES, RuleSet, load_rules

log = logging.getLogger(__name__)

_ORDER = {FAIL: 3, UNKNOWN: 2, PASS: 1, NA: 0}
_FAR_M = 5000.0
COLUMNS = cio.COLUMNS


# --------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    """One section of a rule set's ``compliance:`` with its provenance."""

    section: str
    values: dict[str, Any]
    source_id: str | None
    citation: str | None
    clause: str | None
    confidence: str
    note: str | None

    def get(self, key: str, default: Any = None) -> Any:
        """Return a value of the section, or `default` when not given."""
        value = self.values.get(key)
        return default if value is None else value


@dataclass(frozen=True)
class ComplianceRules:
    """The compliance sections of a rule set and its walking speed, ready to apply."""

    name: str
    walk_speed_m_s: float
    sections: dict[str, Rule]

    @classmethod
    def from_rules(cls, rules: RuleSet) -> ComplianceRules:
        """Build from a loaded rule set; raise InputError when it has no compliance rules."""
        meta = ("source_id", "clause", "confidence", "note")
        sections = {
            name: Rule(
                name,
                {k: v for k, v in raw.items() if k not in meta},
                raw.get("source_id"),
                getattr(rules.sources.get(raw.get("source_id") or ""), "citation", None),
                raw.get("clause"),
                raw.get("confidence") or "R",
                raw.get("note"),
            )
            for name, raw in rules.compliance.items()
            if raw is not None
        }
        if not sections:
            msg = (
                f"rule set {rules.name!r} has no `compliance:` rules, so developments cannot be "
                "checked. Use one of national-2013, guangdong-city, guizhou-2022, anhui-2022, "
                "jiangsu-2022-draft, anshan-2021, or add a `compliance:` section."
            )
            raise InputError(msg)
        return cls(rules.name, rules.walk.speed_m_s, sections)

    def get(self, section: str) -> Rule | None:
        """Return a section, or None when the rule set does not have it."""
        return self.sections.get(section)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per section with its values and provenance (for reports)."""
        return pd.DataFrame(
            [
                {**r.__dict__, "values": json.dumps(r.values, ensure_ascii=False)}
                for r in self.sections.values()
            ]
        )


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
    reg = cio.read_table(developments, layer=layer, columns=columns, crs=crs)
    fac = None
    if facilities is not None:
        fac = cio.read_table(facilities, facilities=True, crs=crs)
    elif "facilities" in reg.extra:
        frame, label = reg.extra["facilities"]
        fac = cio.read_table(frame, facilities=True, crs=crs, name=label)
    dates = crules.get("dates")
    devs = cio.prepare(reg, fac, day, first_phase=bool(dates and dates.get("first_phase")))
    metric = _metric_crs(reg, network)
    judged = [_judge(d, crules, day, metric) for d in devs]
    reach = crules.get("reach")
    if reach is not None:
        found = cio.judge_reach(devs, reach, crules.walk_speed_m_s, network, stations, metric)
        for d, j in zip(devs, found, strict=True):
            judged[d.pos]["reach"] = d.blocker("reach") or j
    withheld = [_withheld(d, j, crules) for d, j in zip(devs, judged, strict=True)]
    table = cio.assemble(reg, devs, judged, withheld)
    applied = [{**r.__dict__} for r in crules.sections.values()]
    summary = cio.summarise(reg, table, crules.name, applied, day)
    summary.update(
        walk_speed_m_s=crules.walk_speed_m_s,
        metric_crs=str(metric),
        network=None if network is None else str(getattr(network, "source", network)),
        unverified=[r.section for r in crules.sections.values() if r.confidence == "R"],
    )
    log.info("checked %d developments with %s: %s", len(table), crules.name, summary["verdicts"])
    geo, sites = cio.layers(reg, devs, table)
    return ComplianceResult(table, geo, sites, summary, crules, day)


def _load(rules: RuleSet | str | Path) -> ComplianceRules:
    return ComplianceRules.from_rules(rules if isinstance(rules, RuleSet) else load_rules(rules))


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


# --------------------------------------------------------------------------- criteria
def _judge(dev: Dev, rules: ComplianceRules, asof: dt.date, metric: Any) -> dict[str, Judgement]:
    out = {"reach": Judgement(NA, *say("no_rule", zh="步行可达", en="reach"))}
    checks = {"area": _area, "site": _site, "land": _land, "timing": _timing}
    found = {crit: fn(dev, rules, asof) for crit, fn in checks.items()}
    found["location"] = _location(dev, rules, metric)
    for crit, j in found.items():  # no rule (N/A) comes first, then data problems
        out[crit] = j if j.verdict == NA else dev.blocker(crit) or j
    return out


def _pair(name: str, texts: tuple[str, str]) -> dict[str, str]:
    """Return ``{name_zh: texts[0], name_en: texts[1]}`` for :func:`say`."""
    return {f"{name}_zh": texts[0], f"{name}_en": texts[1]}


def _na(zh: str, en: str) -> Judgement:
    return Judgement(NA, *say("no_rule", zh=zh, en=en))


def _area(dev: Dev, rules: ComplianceRules, asof: dt.date) -> Judgement:
    per_hh, minimum = rules.get("area_m2_per_100hh"), rules.get("min_area_m2")
    fac_min = minimum.get("facility") if minimum else None
    rate = per_hh.get(dev.kind) if per_hh else None
    if rate is None and fac_min is None:
        return _na("配建面积", "facility area" if per_hh is None else f"{dev.kind}-area")
    if dev.sites is None:
        return Judgement(UNKNOWN, *dev.sites_why)
    if rate is not None and dev.households is None:
        return Judgement(UNKNOWN, *say("hh_missing"))
    have = float(sum(s.area_m2 or 0.0 for s in dev.sites))
    by_rate = (dev.households or 0.0) / 100.0 * float(rate or 0.0)
    need = max(by_rate, float(fac_min or 0.0))
    if rate is not None and by_rate >= need:
        kind_zh = "新建" if dev.kind == "new" else "老旧小区"
        hh = fmt(dev.households or 0)
        basis = say("basis_rate", hh=hh, rate=fmt(rate), kind=dev.kind, kind_zh=kind_zh)
    else:
        basis = say("basis_min")
    kw = {"have": fmt(have), "need": fmt(need), **_pair("basis", basis)}
    extra = {"required_area_m2": need}
    if have >= need - 1e-9:
        return Judgement(PASS, *say("area_pass", **kw), 0.0, extra)
    short = need - have
    return Judgement(FAIL, *say("area_fail", short=fmt(short), **kw), short, extra)


def _site(dev: Dev, rules: ComplianceRules, asof: dt.date) -> Judgement:
    rule = rules.get("min_area_m2")
    if rule is None or rule.get("site") is None:
        return _na("单处面积", "single-site area")
    need = float(rule.get("site"))
    if dev.sites is None:
        return Judgement(UNKNOWN, *dev.sites_why)
    if not dev.sites:
        return Judgement(FAIL, *say("site_none", need=fmt(need)), need)
    small = [s for s in dev.sites if (s.area_m2 or 0.0) < need - 1e-9]
    if not small:
        return Judgement(PASS, *say("site_pass", n=len(dev.sites), need=fmt(need)), 0.0)
    parts = [
        say(
            "site_small",
            id=s.facility_id,
            area=fmt(s.area_m2 or 0.0),
            need=fmt(need),
            short=fmt(need - (s.area_m2 or 0.0)),
        )
        for s in small
    ]
    worst = need - min(s.area_m2 or 0.0 for s in small)
    return Judgement(FAIL, "；".join(p[0] for p in parts), "; ".join(p[1] for p in parts), worst)


def _land(dev: Dev, rules: ComplianceRules, asof: dt.date) -> Judgement:
    rule = rules.get("land_m2_per_resident")
    if rule is None:
        return _na("人均用地", "land-per-resident")
    rate, pph = float(rule.get("min")), rule.get("persons_per_household")
    people = dev.residents
    if people is None and pph is not None and dev.households is not None:
        people = dev.households * float(pph)
    if people is None:
        return Judgement(UNKNOWN, *say("people_missing"))
    if dev.land_m2 is None:
        return Judgement(UNKNOWN, *say("land_missing"))
    need = people * rate
    kw = {"have": fmt(dev.land_m2), "need": fmt(need), "people": fmt(people)}
    if dev.land_m2 >= need - 1e-9:
        return Judgement(PASS, *say("land_pass", **kw), 0.0)
    short = need - dev.land_m2
    return Judgement(FAIL, *say("land_fail", short=fmt(short), **kw), short)


def _late(days: int) -> tuple[str, str]:
    if days < 45:
        return f"{days} 天", f"{days} day{'s' if days != 1 else ''}"
    months = round(days / 30.44)
    return f"{days} 天（约 {months} 个月）", f"{days} days (about {months} months)"


def _timing(dev: Dev, rules: ComplianceRules, asof: dt.date) -> Judgement:
    rule = rules.get("dates")
    if rule is None:
        return _na("四同步日期", "milestone")
    tol, how = int(rule.get("tolerance_days", 0)), str(rule.get("rule", "not_later_than"))
    names = list(rule.get("milestones", MILESTONES))
    parts = [_milestone(dev, m, tol, how, asof) for m in names]
    worst = max(_ORDER[p.verdict] for p in parts)
    if worst == _ORDER[PASS]:
        tol_text = _pair("tol", say("tolerance", tol=tol) if tol else ("", ""))
        key = "timing_pass" if how == "not_later_than" else "timing_pass_same"
        ms = _pair("ms", ("、".join(MS_ZH[m] for m in names), ", ".join(names)))
        return Judgement(PASS, *say(key, **ms, **tol_text), 0.0)
    bad = [p for p in parts if _ORDER[p.verdict] == worst and p.en]
    if worst == _ORDER[UNKNOWN]:
        for side, side_zh in (("facility", "设施"), ("housing", "住宅")):
            gone = [m for m in names if dev.dates[(side, m)].span is None]
            gone = [m for m in gone if dev.dates[(side, m)].problem is None]
            if gone:
                kw = {"side": side, "side_zh": side_zh, "m": ", ".join(gone)}
                text = say("date_missing", m_zh="、".join(MS_ZH[m] for m in gone), **kw)
                bad.append(Judgement(UNKNOWN, *text))
    value = max((p.value for p in bad if not math.isnan(p.value)), default=math.nan)
    zh, en = "；".join(p.zh for p in bad), "; ".join(p.en for p in bad)
    return Judgement(FAIL if worst == _ORDER[FAIL] else UNKNOWN, zh, en, value)


def _milestone(dev: Dev, m: str, tol: int, how: str, asof: dt.date) -> Judgement:
    f, h = dev.dates[("facility", m)], dev.dates[("housing", m)]
    for ms in (f, h):
        if ms.problem is not None:
            return Judgement(UNKNOWN, *ms.problem)
    if f.overdue and f.span is not None:
        days = (asof - f.span[1]).days
        kw = {"m": m, "m_zh": MS_ZH[m], "date": show_date(f.span), "asof": asof}
        return Judgement(FAIL, *say("overdue", **kw, **_pair("late", _late(days))), float(days))
    if f.span is None or h.span is None:
        return Judgement(UNKNOWN, "", "")  # reported once for all milestones by _timing
    assert f.span is not None and h.span is not None
    lo, hi = (f.span[0] - h.span[1]).days, (f.span[1] - h.span[0]).days
    if hi <= tol and (how == "not_later_than" or lo >= -tol):
        return Judgement(PASS, "", "", 0.0)
    dates = {"m": m, "m_zh": MS_ZH[m], "fdate": show_date(f.span), "hdate": show_date(h.span)}
    if lo <= tol and (how == "not_later_than" or hi >= -tol):
        return Judgement(UNKNOWN, *say("coarse", **dates))
    days = lo if lo > tol else -hi
    over = say("over_tolerance", tol=tol, **_pair("over", _late(days - tol))) if tol else ("", "")
    kw = {
        **_pair("fp", ("计划", "planned ") if f.planned else ("", "")),
        **_pair("hp", ("计划", "planned ") if h.planned else ("", "")),
        **_pair("word", ("晚于", "after") if lo > tol else ("早于", "before")),
        **_pair("late", _late(days)),
        **_pair("over", over),
    }
    return Judgement(FAIL, *say("late", **kw, **dates), float(days - tol))


def _location(dev: Dev, rules: ComplianceRules, metric: Any) -> Judgement:
    rule = rules.get("location")
    if rule is None:
        return _na("设施位置", "location")
    tol = float(rule.get("tolerance_m"))
    if dev.sites is None:
        return Judgement(UNKNOWN, *dev.sites_why)
    if not dev.sites:
        return Judgement(NA, *say("no_site_to_locate"))
    if dev.geom is None:
        return Judgement(UNKNOWN, *say("no_geometry"))
    if any(s.geom is None for s in dev.sites):
        return Judgement(UNKNOWN, *say("site_no_point"))
    area = gpd.GeoSeries([dev.geom], crs=4326).to_crs(metric).iloc[0]
    pts = gpd.GeoSeries([s.geom for s in dev.sites], crs=4326).to_crs(metric)
    dist = [float(area.distance(p)) for p in pts]
    worst = max(dist)
    if area.geom_type in ("Point", "MultiPoint"):
        return Judgement(UNKNOWN, *say("dev_is_point", dist=fmt(worst)))
    far = [(s, d) for s, d in zip(dev.sites, dist, strict=True) if d > tol + 1e-9]
    if not far:
        text = say("inside") if worst == 0 else say("near", dist=fmt(worst), tol=fmt(tol))
        return Judgement(PASS, *text, worst)
    parts = [say("outside", id=s.facility_id, dist=fmt(d), tol=fmt(tol)) for s, d in far]
    hint = say("far_hint") if worst > _FAR_M else ("", "")
    zh, en = "；".join(p[0] for p in parts), "; ".join(p[1] for p in parts)
    return Judgement(FAIL, zh + hint[0], en + hint[1], worst)


def _withheld(
    dev: Dev, judged: dict[str, Judgement], rules: ComplianceRules
) -> tuple[bool, tuple[str, str]]:
    """Return whether completion acceptance is withheld, and the action to take."""
    rule = rules.get("acceptance_withheld")
    failing = [c for c in CRITERIA if judged[c].verdict == FAIL]
    withheld_for = rule.get("criteria", ("area", "site", "timing")) if rule else ()
    listed = [c for c in withheld_for if c in failing]
    if not listed:
        return False, say("rectify", **cio.criteria_text(failing)) if failing else ("", "")
    acc = dev.dates[("housing", "acceptance")]
    if acc.span is not None and not acc.planned and acc.problem is None:
        return False, say("accepted", date=show_date(acc.span), **cio.criteria_text(listed))
    return True, say("withhold", **cio.criteria_text(listed))


# --------------------------------------------------------------------------- outputs
def write_outputs(
    result: ComplianceResult, out_dir: str | Path, *, chinese_headers: bool = False
) -> dict[str, Path]:
    """Write ``compliance.csv`` and ``compliance.xlsx`` (sheets: table, rules, summary).

    Parameters
    ----------
    result : ComplianceResult
        The result of :func:`check_developments`.
    out_dir : str or Path
        Folder, created if needed.
    chinese_headers : bool
        Chinese column headers and verdicts (合格/不合格/无法判定/不适用).

    Returns
    -------
    dict
        ``{"csv": path, "xlsx": path}``.

    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = cio.to_chinese(result.table) if chinese_headers else result.table
    paths = {"csv": out / "compliance.csv", "xlsx": out / "compliance.xlsx"}
    table.to_csv(paths["csv"], index=False, encoding="utf-8-sig")
    summary = pd.DataFrame(
        [
            (k, json.dumps(v, ensure_ascii=False, default=str))
            for k, v in result.summary.items()
            if k != "rules_applied"
        ],
        columns=["key", "value"],
    )
    names = ("合规检查", "规则", "汇总") if chinese_headers else ("compliance", "rules", "summary")
    sheets = (table, result.rules.to_frame(), summary)
    cio.write_xlsx(paths["xlsx"], dict(zip(names, sheets, strict=True)))
    log.info("wrote %s and %s", paths["csv"], paths["xlsx"])
    return paths


def read_outputs(path: str | Path) -> pd.DataFrame:
    """Read a written ``compliance.csv``/``.xlsx`` back with canonical headers and verdicts."""
    p = Path(path)
    frame = pd.read_excel(p, sheet_name=0) if p.suffix == ".xlsx" else pd.read_csv(p)
    return cio.from_chinese(frame)


# --------------------------------------------------------------------------- command line
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="planning check-developments",
        description="Check new residential developments against 四同步 and facility-area rules. "
        "Exit status: 0 all pass, 1 any fails (or is unknown), 2 unusable input.",
    )
    add = p.add_argument
    add("register", type=Path, help="register: .gpkg, .geojson, .shp, .csv or .xlsx")
    add("--rules", required=True, help="rule set name (e.g. guizhou-2022) or YAML file")
    add("--asof", help="judgement day, e.g. 2026-10-31 (default: today)")
    add("--stations", type=Path, help="existing stations (station_id, kind), for reach")
    add("--network", type=Path, help="road file (.gpkg, .shp, .osm, .pbf), for reach")
    add("--facilities", type=Path, help="facility sites file (dev_id, area_m2, points)")
    add("--layer", help="layer or sheet of the register")
    add("--crs", help="CRS of coordinates that carry none: EPSG code, gcj02 or bd09")
    add(
        "--column",
        action="append",
        default=[],
        metavar="HEADER=NAME",
        help="map a register column, e.g. --column '总户数=households' (repeatable)",
    )
    add("--out", type=Path, default=Path("reports/compliance"), help="output folder")
    add("--lang", choices=("zh", "en"), default="zh", help="language of the messages")
    add("--chinese-headers", action="store_true", help="Chinese column headers and verdicts")
    add("--allow-unknown", action="store_true", help="exit 0 when nothing fails")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``planning check-developments``; return 0 (all pass), 1 (a failure) or 2 (bad input)."""
    args = _parser().parse_args(argv)
    try:
        columns = dict(_split_column(c) for c in args.column)
        network = None
        if args.network is not None:
            network = read_network(args.network, walk_speed_m_s=_load(args.rules).walk_speed_m_s)
        result = check_developments(
            args.register,
            args.facilities,
            args.rules,
            asof=args.asof or dt.date.today(),
            network=network,
            stations=args.stations,
            columns=columns,
            crs=args.crs,
            layer=args.layer,
        )
        paths = write_outputs(result, args.out, chinese_headers=args.chinese_headers)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(cio.report_lines(result.summary, result.table, args.lang)))
    print(("结果：" if args.lang == "zh" else "results: ") + ", ".join(map(str, paths.values())))
    return result.exit_status(allow_unknown=args.allow_unknown)


def _split_column(text: str) -> tuple[str, str]:
    if "=" not in text:
        msg = f"--column {text!r} must be HEADER=NAME, e.g. --column '总户数=households'."
        raise InputError(msg)
    header, name = text.split("=", 1)
    return header.strip(), name.strip()


if __name__ == "__main__":
    raise SystemExit(main())
