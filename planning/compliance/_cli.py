"""The ``planning check-developments`` command: check a register, write, print a summary."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from planning._errors import InputError
from planning._writing import check_output_dir
from planning.compliance._check import check_developments
from planning.compliance._outputs import write_outputs
from planning.compliance._reasons import FAIL, PASS, UNKNOWN
from planning.compliance._rules import _load
from planning.network import read_network


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
    flag = " [不得组织竣工验收]" if lang == "zh" else " [acceptance withheld]"
    for r in table[table["verdict"] != PASS].to_dict("records"):
        mark = flag if r["acceptance_withheld"] else ""
        lines.append(f"  {r['dev_id']} {r['verdict']}{mark}: {r['reasons_' + lang]}")
    return lines
