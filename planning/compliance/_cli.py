"""The ``planning check-developments`` command: check a register, write, print a summary."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from planning._console import add_console_options, console
from planning._errors import InputError
from planning._writing import check_output_dir
from planning.compliance._check import check_developments
from planning.compliance._outputs import write_outputs
from planning.compliance._reasons import FAIL, PASS, UNKNOWN
from planning.compliance._register import _BASE
from planning.compliance._rules import _load
from planning.network import read_network
from planning.standards import available_rule_sets

#: Criteria of the check and the ``compliance:`` sections (and key) that make it apply.
_CRITERIA = {
    "area": (("area_m2_per_100hh", None), ("min_area_m2", "facility")),
    "site": (("min_area_m2", "site"),),
    "land": (("land_m2_per_resident", None),),
    "timing": (("dates", None),),
    "location": (("location", None),),
    "reach": (("reach", None),),
}
#: Register columns as the help lists them: canonical name, what it holds.
_REGISTER_HELP = (
    ("dev_id", "project id, required"),
    ("name", "project name"),
    ("households", "households (area, land)"),
    ("area_kind", "新建/老旧, new or existing (default new)"),
    ("facility_area_m2", "facility floor area, m² (area, site)"),
    ("facility_sites_m2", 'areas of each site, e.g. "380;360" (site)'),
    ("facility_land_m2", "facility land, m² (land)"),
    ("residents", "residents (land; default households × persons per household)"),
    ("project_id", "project of a phase (first_phase rules)"),
    ("phase", "phase"),
    ("lon", "longitude of the development (location, reach)"),
    ("lat", "latitude"),
    ("wkt", "boundary polygon as WKT (location, reach)"),
    ("facility_lon", "longitude of the facility (location, reach)"),
    ("facility_lat", "latitude of the facility"),
)


def checked_criteria(rules: str) -> list[str]:
    """Return the criteria a rule set with a ``compliance:`` section checks."""
    crules = _load(rules)
    out = []
    for criterion, needs in _CRITERIA.items():
        rules_found = [(crules.get(section), key) for section, key in needs]
        if any(r is not None and (k is None or r.get(k) is not None) for r, k in rules_found):
            out.append(criterion)
    return out


def _epilog() -> str:
    """Return the register columns (with Chinese headers) and what each rule set checks."""
    lines = ["register columns (English name or a Chinese header; more in --column):"]
    for name, what in _REGISTER_HELP:
        zh = [a for a in _BASE.get(name, "").split() if not a.isascii()][:2]
        lines.append(f"  {name:<18} {' / '.join(zh) or '-':<20} {what}")
    lines.append(
        "  dates: {housing,facility}_{planning,construction,acceptance,delivery}[_planned|_actual],"
    )
    lines.append("         e.g. 住宅竣工验收日期, 养老设施交付时间, 计划养老设施开工日期")
    lines.append(
        "  facility sites: a sheet or layer 'facilities' (设施编号, 项目编号, 面积, 经度, 纬度)"
    )
    lines.append("")
    lines.append("rule sets with compliance rules and the criteria they check:")
    for name in available_rule_sets():
        try:
            criteria = checked_criteria(name)
        except InputError:
            continue
        lines.append(f"  {name:<20} {', '.join(criteria)}")
    lines.append("")
    lines.append(
        "example: planning check-developments data/wuhan_developments_register.xlsx "
        "--rules guizhou-2022 --asof 2026-12-31"
    )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="planning check-developments",
        description="Check new residential developments against 四同步 and facility-area rules. "
        "Exit status: 0 all pass, 1 any fails (or is unknown), 2 unusable input.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    add_console_options(p, default=False)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``planning check-developments``; return 0 (all pass), 1 (a failure) or 2 (bad input)."""
    args = _parser().parse_args(argv)
    with console(quiet=args.quiet, verbose=args.verbose):
        return _check(args)


def _check(args: argparse.Namespace) -> int:
    try:
        check_output_dir(args.out)
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
    print("\n".join(report_lines(result.summary, result.table, args.lang)))
    print(("结果：" if args.lang == "zh" else "results: ") + ", ".join(map(str, paths.values())))
    return result.exit_status(allow_unknown=args.allow_unknown)


def _split_column(text: str) -> tuple[str, str]:
    if "=" not in text:
        msg = f"--column {text!r} must be HEADER=NAME, e.g. --column '总户数=households'."
        raise InputError(msg)
    header, name = text.split("=", 1)
    return header.strip(), name.strip()


def report_lines(summary: Mapping[str, Any], table: pd.DataFrame, lang: str) -> list[str]:
    """Return the console summary: totals, then one line per development that is not PASS."""
    v, s = summary["verdicts"], summary
    if lang == "zh":
        lines = [
            f"{s['register']}：{s['n_developments']} 个项目，规则 {s['rules']}，评估日 "
            f"{s['asof']}：合格 {v[PASS]}，不合格 {v[FAIL]}，无法判定 {v[UNKNOWN]}；"
            f"不得组织竣工验收 {s['acceptance_withheld']}"
        ]
    else:
        lines = [
            f"{s['register']}: {s['n_developments']} developments, rules {s['rules']}, as "
            f"of {s['asof']}: {v[PASS]} pass, {v[FAIL]} fail, {v[UNKNOWN]} unknown; "
            f"completion acceptance withheld: {s['acceptance_withheld']}"
        ]
    cols = s.get("columns") or {}
    if cols:
        found = ", ".join(f"{h}→{c}" for h, c in cols["recognised"].items())
        ignored = ", ".join(cols["ignored"]) or ("无" if lang == "zh" else "none")
        where = ", ".join(map(str, cols["header_lines"]))
        if lang == "zh":
            head = f"表头在第 {where} 行；" if where else ""
            lines.append(f"  {head}识别的列：{found}；未识别（不使用）：{ignored}")
        else:
            head = f"header on line(s) {where}; " if where else ""
            lines.append(f"  {head}columns recognised: {found}; not recognised (unused): {ignored}")
    flag = " [不得组织竣工验收]" if lang == "zh" else " [acceptance withheld]"
    for r in table[table["verdict"] != PASS].to_dict("records"):
        mark = flag if r["acceptance_withheld"] else ""
        lines.append(f"  {r['dev_id']} {r['verdict']}{mark}: {r['reasons_' + lang]}")
    return lines
