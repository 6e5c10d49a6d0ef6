"""HTML reports of a run (Jinja2 templates, autoescaped), in Chinese or English."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from planning import __version__
from planning._errors import InputError
from planning.maps import ATTRIBUTION

if TYPE_CHECKING:
    from planning.workflow import RunResult

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Elderly-care service coverage",
        "generated": "Generated",
        "rules": "Rule set",
        "key_figures": "Key figures",
        "elderly": "Older people (60+)",
        "covered_within": "Covered within",
        "min": "min",
        "stations": "Stations",
        "units": "Units",
        "unreachable": "Older people far from every road",
        "open_map": "Open the interactive map",
        "targets": "Targets of the rule set",
        "target": "Target",
        "value": "Value",
        "required": "Required",
        "met": "Met",
        "units_meeting": "Units meeting",
        "source": "Source",
        "confidence": "Confidence",
        "confidence_note": "Confidence: V verbatim from the source; S from a secondary summary; "
        "R recalled, not yet checked against the printed text.",
        "no_targets": "The rule set has no numeric target.",
        "units_table": "Coverage by unit",
        "unit": "Unit",
        "name": "Name",
        "uncovered": "Not covered",
        "p90": "90th percentile time (min)",
        "gaps": "Largest gaps",
        "reason": "Reason",
        "area": "Area (ha)",
        "parameters": "Parameters",
        "walk_speed": "Walking speed",
        "thresholds": "Thresholds",
        "max_snap": "Largest walk to the network",
        "network": "Network",
        "nodes": "nodes",
        "edges": "edges",
        "excluded": "Excluded inputs",
        "item": "Item",
        "count": "Count",
        "none_excluded": "Nothing was excluded.",
        "yes": "yes",
        "no": "no",
        "unknown": "not evaluated",
        "limits": "Coverage is measured on foot along the road network given; where it holds "
        "main roads only, walking reach inside blocks is understated and coverage is "
        "pessimistic. Illustrative facilities are marked source = illustrative.",
    },
    "zh": {
        "title": "养老服务设施覆盖评估",
        "generated": "生成日期",
        "rules": "规则集",
        "key_figures": "主要指标",
        "elderly": "老年人口（60岁及以上）",
        "covered_within": "步行",
        "min": "分钟",
        "stations": "设施数",
        "units": "单元数",
        "unreachable": "远离道路的老年人口",
        "open_map": "打开交互地图",
        "targets": "规则集目标",
        "target": "目标",
        "value": "现状值",
        "required": "要求",
        "met": "是否达标",
        "units_meeting": "达标单元",
        "source": "依据",
        "confidence": "可信度",
        "confidence_note": "可信度：V 原文核实；S 来自二手摘要；R 凭记忆，尚未与原文核对。",
        "no_targets": "该规则集没有数值目标。",
        "units_table": "分单元覆盖情况",
        "unit": "单元",
        "name": "名称",
        "uncovered": "未覆盖",
        "p90": "90%分位步行时间（分钟）",
        "gaps": "最大缺口（盲区）",
        "reason": "原因",
        "area": "面积（公顷）",
        "parameters": "参数",
        "walk_speed": "步行速度",
        "thresholds": "时间阈值",
        "max_snap": "到路网的最大接驳距离",
        "network": "路网",
        "nodes": "个节点",
        "edges": "条边",
        "excluded": "被排除的输入",
        "item": "对象",
        "count": "数量",
        "none_excluded": "没有排除任何输入。",
        "yes": "是",
        "no": "否",
        "unknown": "未评估",
        "limits": "覆盖按给定路网的步行时间计算；若路网只有主干道，街坊内部的步行可达性被低估，"
        "覆盖率偏保守。示例设施标注 source = illustrative。",
    },
}


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("planning", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def strings(language: str) -> dict[str, str]:
    """Return the report strings for `language` (``zh``/``zh-CN`` or ``en``)."""
    lang = language.lower().split("-")[0]
    if lang not in STRINGS:
        msg = f"No report template for language '{language}'; use one of {sorted(STRINGS)}."
        raise InputError(msg)
    return STRINGS[lang]


def _num(value: Any, fmt: str = "{:,.0f}") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return fmt.format(value)


def index_context(result: RunResult, language: str = "zh") -> dict[str, Any]:
    """Return the values the index template shows (plain Python types)."""
    t = strings(language)
    lang = language.lower().split("-")[0]
    cov = result.coverage
    ths = [f"{x:g}" for x in cov.thresholds_min]
    units = []
    for _, u in cov.units.iterrows():
        units.append(
            {
                "unit_id": u["unit_id"],
                "name": u.get("name", ""),
                "elderly": _num(u["elderly"]),
                "shares": [_num(u[f"coverage_share_{x}min"], "{:.1%}") for x in ths],
                "uncovered": _num(u[f"elderly_uncovered_{ths[-1]}min"]),
                "p90": _num(u["travel_time_s_p90"] / 60.0, "{:.1f}"),
                "n_stations": int(u["n_stations"]),
            }
        )
    return {
        "lang": "zh-CN" if lang == "zh" else "en",
        "t": t,
        "name": result.scenario.name,
        "version": __version__,
        "today": date.today().isoformat(),
        "rules_title": result.rules.title.for_lang(lang),
        "rules_name": result.rules.name,
        "totals": cov.totals,
        "thresholds": ths,
        "n_stations": len(cov.stations),
        "n_units": len(cov.units),
        "targets": _targets(result, lang, t),
        "units": units,
        "gaps": [
            {
                "gap_id": g["gap_id"],
                "unit_id": g["unit_id"],
                "reason": g["reason"],
                "elderly": _num(g["elderly"]),
                "area": _num(g["area_m2"] / 1e4, "{:.1f}"),
            }
            for _, g in cov.gaps.head(20).iterrows()
        ],
        "speed": f"{cov.walk_speed_m_s:g}",
        "max_snap": f"{result.scenario.max_snap_m:g}",
        "network": result.network.summary(),
        "excluded": [
            {**e, "elderly": _num(e.get("elderly", 0.0))}
            for e in cov.excluded.to_dict(orient="records")
        ],
        "attribution": ATTRIBUTION,
    }


def _targets(result: RunResult, lang: str, t: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for _, r in result.coverage.targets.iterrows():
        share = r["measure"] in ("spatial_coverage", "admin_coverage")
        fmt = "{:.1%}" if share else "{:.1f}"
        src = result.rules.sources.get(r["source_id"])
        met = r["met"]
        rows.append(
            {
                "label": r[f"label_{lang}"] or r["target_id"],
                "value_text": _num(r["value"], fmt),
                "min_text": ("≥ " + fmt.format(r["min"])),
                "met": met,
                "met_text": t["unknown"] if met is None else (t["yes"] if met else t["no"]),
                "units_text": ""
                if r["units_total"] is None or r["units_total"] != r["units_total"]
                else f"{int(r['units_meeting'])} / {int(r['units_total'])}",
                "source": src.citation if src is not None else r["source_id"],
                "clause": r["clause"],
                "note": r["note"],
                "confidence": r["confidence"],
            }
        )
    return rows


def write_index(result: RunResult, out_dir: Path) -> Path:
    """Render ``index.html`` of a run folder and return its path."""
    language = str(result.scenario.data.get("language", "zh"))
    ctx = index_context(result, language)
    html = _env().get_template("index.html.j2").render(**ctx)
    path = out_dir / "index.html"
    path.write_text(html, encoding="utf-8")
    return path
