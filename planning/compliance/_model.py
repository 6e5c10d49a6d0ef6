"""The developments of a register prepared for judging, and the judgements themselves.

:func:`prepare` parses the cells of every row into a :class:`Dev` (households, sites,
milestone dates) and checks the register as a whole: dates before the planning approval,
missing columns, repeated ids, and the pooling of phases of one project.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from planning.compliance._reasons import MS_ZH, UNKNOWN, fmt, say
from planning.compliance._register import (
    DATE_COLUMNS,
    DATE_KINDS,
    SIDES,
    Issue,
    Table,
    facility_points,
    parse_cells,
)
from planning.compliance._values import (
    Span,
    parse_area_kind,
    parse_date,
    parse_number,
    parse_phase,
    parse_sites,
    show_date,
)
from planning.standards import MILESTONES


@dataclass
class Judgement:
    """A verdict of one criterion, its reason in zh and en, a number and extra columns."""

    verdict: str
    zh: str
    en: str
    value: float = math.nan
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class Site:
    """A facility site: id, floor area in m² (None when unreadable), point in EPSG:4326."""

    facility_id: str
    area_m2: float | None
    geom: Any


@dataclass
class Milestone:
    """A milestone date; ``planned`` after the as-of date; ``problem`` when unusable."""

    span: Span | None = None
    planned: bool = False
    overdue: bool = False
    problem: tuple[str, str] | None = None


@dataclass
class Dev:
    """One development (row) prepared for judging; ``sites`` None when unknown."""

    pos: int
    households: float | None
    kind: str
    residents: float | None
    land_m2: float | None
    sites: list[Site] | None
    sites_why: tuple[str, str]
    issues: list[Issue]
    geom: Any = None
    dates: dict[tuple[str, str], Milestone] = field(default_factory=dict)
    prefix: tuple[str, str] = ("", "")
    blocked: dict[str, tuple[str, str]] = field(default_factory=dict)

    def blocker(self, criterion: str) -> Judgement | None:
        """Return an UNKNOWN judgement when data issues block `criterion`."""
        if criterion in self.blocked:
            return Judgement(UNKNOWN, *self.blocked[criterion])
        issues = [i for i in self.issues if criterion in i.criteria]
        if issues:
            zh, en = "；".join(i.zh for i in issues), "; ".join(i.en for i in issues)
            return Judgement(UNKNOWN, zh, en)
        return None


_NUM = ("数字", "a number")
_DATE = (
    "日期（如 2026-10-31、2026年10月31日）",
    "a date (write 2026-10-31, 2026/10/31 or 2026年10月31日)",
)


def prepare(reg: Table, fac: Table | None, asof: dt.date, *, first_phase: bool) -> list[Dev]:
    """Parse the cells of every row into a :class:`Dev`, recording issues on the rows."""
    f = reg.frame
    hh = parse_cells(reg, "households", parse_number, _NUM, ("area", "land"))
    for pos, value in enumerate(hh):
        if value is not None and value <= 0:
            zh, en = reg.where(pos, "households")
            reg.add(
                pos,
                f"{zh}：户数 {fmt(value)} 应大于 0",
                f"{en}: households {fmt(value)} must be more than 0",
                ("area", "land"),
            )
            hh[pos] = None
    kinds = parse_cells(
        reg, "area_kind", parse_area_kind, ("新建或老旧", "new or existing (新建/老旧)"), ("area",)
    )
    res = parse_cells(reg, "residents", parse_number, _NUM, ("land",))
    land = parse_cells(reg, "facility_land_m2", parse_number, _NUM, ("land",))
    dates = {c: parse_cells(reg, c, parse_date, _DATE, ()) for c in DATE_COLUMNS}
    sites = _sites_from_layer(reg, fac) if fac is not None else _sites_from_columns(reg)
    devs = []
    for pos in range(len(f)):
        dev = Dev(
            pos,
            hh[pos],
            kinds[pos] or "new",
            res[pos],
            land[pos],
            *sites[pos],
            reg.issues[pos],
            geom=f.geometry.iloc[pos],
        )
        for side in SIDES:
            for m in MILESTONES:
                base = f"{side}_{m}"
                if not any(base + k in f for k in DATE_KINDS):
                    problem = say(
                        "no_date_column",
                        side=side,
                        m=m,
                        col=base,
                        zh_col=("住宅" if side == "housing" else "养老设施") + MS_ZH[m],
                    )
                    dev.dates[(side, m)] = Milestone(problem=problem)
                else:
                    dev.dates[(side, m)] = _milestone(reg, dates, pos, base, asof)
        _check_order(reg, dev)
        devs.append(dev)
    _missing_columns(reg, devs)
    _duplicates(reg, devs, fac is not None)
    if first_phase and "project_id" in f:
        _pool_phases(reg, devs)
    return devs


def _milestone(
    reg: Table, dates: dict[str, list[Any]], pos: int, base: str, asof: dt.date
) -> Milestone:
    generic, planned, actual = (dates[base + k][pos] for k in DATE_KINDS)
    if actual is not None:
        if actual[0] > asof:
            zh, en = reg.where(pos, base + "_actual")
            problem = (
                f"{zh}：实际日期 {show_date(actual)} 晚于评估日 {asof}",
                f"{en}: actual date {show_date(actual)} is after the as-of date {asof}",
            )
            reg.add(pos, *problem)
            return Milestone(problem=problem)
        return Milestone(actual)
    if generic is not None:
        return Milestone(generic, planned=generic[1] > asof)
    if planned is not None:
        overdue = base.startswith("facility") and planned[1] < asof
        return Milestone(planned, planned=True, overdue=overdue)
    return Milestone()


def _check_order(reg: Table, dev: Dev) -> None:
    """Mark milestones dated before the planning approval as unusable (an issue)."""
    for side in SIDES:
        ref = dev.dates[(side, "planning")].span or dev.dates[("housing", "planning")].span
        for m in MILESTONES[1:]:
            ms = dev.dates[(side, m)]
            if ref is not None and ms.span is not None and ms.span[1] < ref[0]:
                zh, en = reg.where(dev.pos, f"{side}_{m}")
                ms.problem = (
                    f"{zh}：{'设施' if side == 'facility' else '住宅'}{MS_ZH[m]}日期 "
                    f"{show_date(ms.span)} 早于规划许可 {show_date(ref)}，请核对",
                    f"{en}: {side} {m} {show_date(ms.span)} is before the planning approval "
                    f"{show_date(ref)}; check the date",
                )
                reg.add(dev.pos, *ms.problem)


SiteInfo = tuple[list[Site] | None, tuple[str, str]]


def _sites_from_layer(reg: Table, fac: Table) -> list[SiteInfo]:
    areas = parse_cells(fac, "area_m2", parse_number, ("面积数字", "an area in m²"), ())
    for k, a in enumerate(areas):
        if a is not None and a < 0:
            zh, en = fac.where(k, "area_m2")
            fac.add(k, f"{zh}：面积 {fmt(a)} 为负", f"{en}: area {fmt(a)} is negative")
            areas[k] = None
    by_dev: dict[str, list[int]] = {}
    for k, dev_id in enumerate(fac.frame["dev_id"]):
        by_dev.setdefault(str(dev_id).strip(), []).append(k)
    f = reg.frame
    reg_ids = [str(v).strip() for v in f["dev_id"]] if "dev_id" in f else [""] * len(f)
    totals = parse_cells(reg, "facility_area_m2", parse_number, _NUM, ())
    ids = fac.frame.get("facility_id")
    out: list[SiteInfo] = []
    for pos in range(len(f)):
        ks = by_dev.get(reg_ids[pos], [])
        sites = [
            Site(
                str(ids.iloc[k])
                if ids is not None
                else f"{fac.row_word} {fac.frame['row'].iloc[k]}",
                areas[k],
                fac.frame.geometry.iloc[k],
            )
            for k in ks
        ]
        problems = [i for k in ks for i in fac.issues[k]]
        total = sum(s.area_m2 or 0.0 for s in sites)
        if problems or any(s.area_m2 is None for s in sites):
            why = problems[0] if problems else Issue("设施面积缺失", "a facility site has no area")
            out.append((None, (why.zh, why.en)))
        elif totals[pos] is not None and abs(totals[pos] - total) > 0.5:
            zh, en = reg.where(pos, "facility_area_m2")
            out.append(
                (
                    None,
                    (
                        f"{zh}：登记面积 {fmt(totals[pos])} m² 与各处设施合计 {fmt(total)} m² 不符",
                        f"{en}: {fmt(totals[pos])} m² in the register but the sites in "
                        f"{fac.source} sum to {fmt(total)} m²",
                    ),
                )
            )
        else:
            out.append((sites, ("", "")))
    reg.extra["orphans"] = sorted(set(by_dev) - set(reg_ids))
    return out


def _sites_from_columns(reg: Table) -> list[SiteInfo]:
    f = reg.frame
    if "facility_sites_m2" not in f and "facility_area_m2" not in f:
        why = (
            "登记表没有配建面积列（配建面积 / facility_area_m2），也没有设施图层",
            "the register has no facility area column (facility_area_m2 / 配建面积) and no "
            "facility layer",
        )
        return [(None, why)] * len(f)
    crits = ("area", "site", "location", "reach")
    totals = parse_cells(reg, "facility_area_m2", parse_number, _NUM, crits)
    lists = parse_cells(
        reg,
        "facility_sites_m2",
        parse_sites,
        ("面积列表", "a list of site areas such as 380;360"),
        crits,
    )
    points = facility_points(reg)
    out: list[SiteInfo] = []
    for pos in range(len(f)):
        total = totals[pos]
        areas = (
            lists[pos]
            if lists[pos] is not None
            else (None if total is None else ([total] if total > 0 else []))
        )
        if areas is None:
            zh, en = reg.where(pos, "facility_area_m2")
            out.append((None, (f"{zh}：配建面积缺失", f"{en}: facility area missing")))
        else:
            sites = [Site(f"#{k + 1}", a, points[pos]) for k, a in enumerate(areas)]
            out.append((sites, ("", "")))
    return out


def _missing_columns(reg: Table, devs: list[Dev]) -> None:
    words = {
        "households": ("户数", "households (户数)"),
        "geometry": ("坐标或几何", "coordinates (lon, lat) or geometry"),
    }
    absent = {
        "households": "households" not in reg.frame,
        # no location at all, and not because every row's coordinates were refused
        "geometry": bool(reg.frame.geometry.isna().all())
        and not any("location" in i.criteria for row in reg.issues for i in row),
    }
    crits = {"households": ("area", "land"), "geometry": ("location", "reach")}
    for col, missing in absent.items():
        for d in devs if missing else []:
            for c in crits[col]:
                d.blocked.setdefault(
                    c,
                    (
                        f"{reg.source} 缺少“{words[col][0]}”列",
                        f"{reg.source} has no {words[col][1]} column",
                    ),
                )


def _duplicates(reg: Table, devs: list[Dev], by_layer: bool) -> None:
    if "dev_id" not in reg.frame:
        return
    ids = reg.frame["dev_id"].astype(str).str.strip()
    for dev_id, group in ids.groupby(ids).indices.items():
        if len(group) < 2:
            continue
        rows = ", ".join(str(reg.frame["row"].iloc[p]) for p in group)
        crits = ("area", "site", "location", "reach") if by_layer else ()
        for pos in group:
            zh, en = reg.where(int(pos), "dev_id")
            reg.add(
                int(pos),
                f"{zh}：项目编号 {dev_id} 重复（第 {rows} 行）",
                f"{en}: dev_id {dev_id!r} repeats ({reg.row_word}s {rows}); give each "
                "development its own id",
                crits,
            )


def _pool_phases(reg: Table, devs: list[Dev]) -> None:
    """Pool the phases of each project: households, sites, geometry and facility dates."""
    phases = parse_cells(reg, "phase", parse_phase, ("期次", "a phase number"), ())
    pid = reg.frame["project_id"]
    ids = pid[pid.notna()].astype(str).str.strip()
    for project, group in ids.groupby(ids).indices.items():
        members = [devs[int(ids.index[p])] for p in group]
        if len(members) < 2:
            continue
        ph = [phases[d.pos] for d in members]
        hh = [d.households for d in members]
        known = all(d.sites is not None for d in members)
        pooled = [s for d in members for s in d.sites or []] if known else None
        geoms = [d.geom for d in members if d.geom is not None]
        first = None if any(p is None for p in ph) else members[int(np.argmin(ph))]
        for d in members:
            d.households = None if any(h is None for h in hh) else float(sum(h or 0 for h in hh))
            d.sites = pooled
            d.geom = shapely.union_all(geoms) if geoms else None
            d.prefix = (
                f"项目 {project}（{len(members)} 期合并）：",
                f"project {project} ({len(members)} phases pooled): ",
            )
            if first is None:
                d.blocked["timing"] = (
                    "分期缺失，无法确定首期",
                    "a phase number is missing, so the first phase is unknown",
                )
        for m in MILESTONES:
            facs = [d.dates[("facility", m)] for d in members if d.dates[("facility", m)].span]
            earliest = min(facs, key=lambda x: x.span[0] if x.span else dt.date.max, default=None)
            for d in members:
                d.dates[("facility", m)] = earliest or Milestone()
                if first is not None:
                    d.dates[("housing", m)] = first.dates[("housing", m)]
