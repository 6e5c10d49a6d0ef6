"""Judge one development on each criterion but reach, and whether acceptance is withheld.

The walking reach needs the whole register at once and is judged in
:mod:`planning.compliance._reach`.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import geopandas as gpd

from planning.compliance._model import Dev, Judgement
from planning.compliance._reasons import (
    FAIL,
    MS_ZH,
    NA,
    PASS,
    UNKNOWN,
    criteria_text,
    fmt,
    say,
)
from planning.compliance._rules import ComplianceRules
from planning.compliance._values import show_date
from planning.standards import CRITERIA, MILESTONES

_ORDER = {FAIL: 3, UNKNOWN: 2, PASS: 1, NA: 0}
_FAR_M = 5000.0


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
        return False, say("rectify", **criteria_text(failing)) if failing else ("", "")
    acc = dev.dates[("housing", "acceptance")]
    if acc.span is not None and not acc.planned and acc.problem is None:
        return False, say("accepted", date=show_date(acc.span), **criteria_text(listed))
    return True, say("withhold", **criteria_text(listed))
