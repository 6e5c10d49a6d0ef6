"""The reasons of the compliance check: sentences in Chinese and English, verdict words.

:data:`MESSAGES` holds every reason sentence, filled with :func:`say`; the verdicts
PASS, FAIL, UNKNOWN and N/A, the milestones and criteria in Chinese, and :func:`fmt`
for the numbers in them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# --------------------------------------------------------------------------- messages
#: Every reason sentence in Chinese and English, filled with :func:`say`.
MESSAGES: dict[str, tuple[str, str]] = {
    "no_rule": ("规则集没有{zh}要求", "the rule set has no {en} rule"),
    "hh_missing": ("户数缺失", "households missing"),
    "basis_rate": (
        "（{hh} 户，{kind_zh}每百户 {rate} m²）",
        "for {hh} households ({rate} m² per 100 households, {kind})",
    ),
    "basis_min": ("（每处设施最低面积）", "(minimum per facility)"),
    "area_pass": (
        "配建面积 {have} m² ≥ 应配 {need} m²{basis_zh}",
        "facility {have} m² ≥ required {need} m² {basis_en}",
    ),
    "area_fail": (
        "配建面积 {have} m² 低于应配 {need} m²{basis_zh}，缺 {short} m²",
        "facility {have} m² < required {need} m² {basis_en}: {short} m² short",
    ),
    "site_none": (
        "没有配建设施（单处应 ≥ {need} m²）",
        "no facility site (each must be ≥ {need} m²)",
    ),
    "site_pass": ("{n} 处设施均 ≥ {need} m²", "all {n} site(s) ≥ {need} m²"),
    "site_small": (
        "设施 {id} {area} m² < {need} m²（缺 {short} m²）",
        "site {id} {area} m² < {need} m² ({short} m² short)",
    ),
    "people_missing": (
        "缺少居住人口（或户数与户均人口）",
        "residents missing (or households with persons_per_household)",
    ),
    "land_missing": ("缺少养老设施用地面积", "facility land area (facility_land_m2) missing"),
    "land_pass": (
        "设施用地 {have} m² ≥ {people} 人应有的 {need} m²",
        "facility land {have} m² ≥ required {need} m² for {people} residents",
    ),
    "land_fail": (
        "设施用地 {have} m² 低于 {people} 人应有的 {need} m²，缺 {short} m²",
        "facility land {have} m² < required {need} m² for {people} residents: {short} m² short",
    ),
    "timing_pass": (
        "设施{ms_zh}均不晚于住宅{tol_zh}",
        "facility {ms_en} on or before the housing's{tol_en}",
    ),
    "timing_pass_same": (
        "设施{ms_zh}与住宅同期{tol_zh}",
        "facility {ms_en} together with the housing's{tol_en}",
    ),
    "tolerance": ("（容差 {tol} 天）", " (tolerance {tol} days)"),
    "overdue": (
        "设施{m_zh}计划 {date}，至评估日 {asof} 已逾期 {late_zh}且无实际日期",
        "facility {m} planned {date} is overdue by {late_en} as of {asof} with no actual date",
    ),
    "date_missing": ("{side_zh}{m_zh}日期缺失", "{side} {m} date(s) missing"),
    "late": (
        "设施{m_zh}{fp_zh} {fdate}，{word_zh}住宅{m_zh}{hp_zh} {hdate} {late_zh}{over_zh}",
        "facility {m} {fp_en}{fdate}, {late_en} {word_en} housing {m} {hp_en}{hdate}{over_en}",
    ),
    "over_tolerance": (
        "，超出容差 {tol} 天 {over_zh}",
        ", {over_en} beyond the {tol}-day tolerance",
    ),
    "coarse": (
        "设施{m_zh} {fdate} 与住宅 {hdate} 只精确到月，无法判定先后",
        "facility {m} {fdate} and housing {m} {hdate} are too coarse (month only) to "
        "tell which is first",
    ),
    "no_date_column": (
        "登记表没有“{zh_col}日期”列",
        "the register has no {side} {m} date column ({col} / {zh_col}日期)",
    ),
    "no_site_to_locate": ("没有配建设施，无需核对位置", "no facility site to locate"),
    "no_geometry": ("项目没有位置或范围", "the development has no geometry"),
    "site_no_point": ("设施没有坐标", "a facility site has no coordinates"),
    "dev_is_point": (
        "项目只有一个点，无法判断设施是否在其范围内（直线距离 {dist} m）",
        "the development is a point, not an area, so its facility cannot be "
        "checked against a boundary (straight line {dist} m)",
    ),
    "inside": ("设施均在项目范围内", "facility site(s) inside the development"),
    "near": (
        "设施最远在项目范围外 {dist} m，未超过容差 {tol} m",
        "facility site(s) at most {dist} m outside, within the {tol} m tolerance",
    ),
    "outside": (
        "设施 {id} 位于项目范围外 {dist} m（容差 {tol} m）",
        "facility {id} is {dist} m outside the development (tolerance {tol} m)",
    ),
    "far_hint": (
        "（超过 5 km，请核对坐标系、GCJ-02/BD-09 偏移或经纬度顺序）",
        " (over 5 km: check the CRS, a GCJ-02/BD-09 shift or swapped lon/lat)",
    ),
    "no_network": ("未提供路网，无法判定步行可达（直线距离仅供参考）", "no network given"),
    "off_road": (
        "{n} 个住户点离路网太远，无法计算",
        "{n} resident point(s) too far from every road (max_snap_m)",
    ),
    "reach_pass": (
        "最远住户点步行 {min} 分钟（{m} m）可达设施，满足 {what_zh}",
        "farthest resident point {min} min ({m} m) from a facility, within {what_en}",
    ),
    "reach_unknown": (
        "本项目设施不在 {what_zh} 内，且{why_zh}，无法判定",
        "own facility not within {what_en} and {why_en}",
    ),
    "no_stations": ("未提供现有养老服务站", "no stations given"),
    "site_off_road": ("设施离路网太远", "a facility site is too far from every road"),
    "unreachable": (
        "住户点无法经路网到达任何设施（要求 {what_zh}）",
        "no facility reachable on the network (required {what_en})",
    ),
    "reach_fail": (
        "最远住户点步行 {min} 分钟（{m} m）才到最近设施，要求{word_zh} {what_zh}，"
        "超出 {excess} 分钟（{excess_m} m）",
        "farthest resident point {min} min ({m} m) from the nearest facility, "
        "required {word_en} {what_en}: {excess} min ({excess_m} m) too far",
    ),
    "rectify": ("须整改：{crit_zh}", "rectify: {crit_en}"),
    "accepted": (
        "住宅已于 {date} 竣工验收，设施不达标（{crit_zh}），须整改",
        "housing already accepted on {date} although the facility fails {crit_en}: rectify",
    ),
    "withhold": (
        "不得组织竣工验收，直至整改到位：{crit_zh}",
        "withhold completion acceptance until rectified: {crit_en}",
    ),
}


#: The criteria in Chinese (GLOSSARY.md).
CRITERIA_ZH = {
    "area": "配建面积",
    "site": "单处面积",
    "land": "人均用地",
    "timing": "四同步",
    "location": "设施位置",
    "reach": "步行可达",
}


def criteria_text(criteria: Iterable[str]) -> dict[str, str]:
    """Return ``crit_zh``/``crit_en`` for :func:`say`: the criteria listed in zh and en."""
    names = list(criteria)
    return {"crit_zh": "、".join(CRITERIA_ZH[c] for c in names), "crit_en": ", ".join(names)}


def say(key: str, **values: Any) -> tuple[str, str]:
    """Return the message `key` in Chinese and English, filled with `values`."""
    zh, en = MESSAGES[key]
    return zh.format(**values), en.format(**values)


# --------------------------------------------------------------------------- verdicts
PASS, FAIL, UNKNOWN, NA = "PASS", "FAIL", "UNKNOWN", "N/A"
MS_ZH = {
    "planning": "规划许可",
    "construction": "开工",
    "acceptance": "竣工验收",
    "delivery": "交付",
}


def fmt(x: float) -> str:
    """Format a number with thousands separators and at most two decimals."""
    text = f"{x:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
