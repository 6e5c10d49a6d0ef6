"""Write the compliance table to CSV and Excel, and read it back.

Headers and verdicts are in English, or in Chinese with ``chinese_headers=True``
(:func:`to_chinese`); :func:`read_outputs` turns either back into canonical columns.
Workbook cells from data are text, never formulas; CSV cells that a spreadsheet would
read as a formula (starting with ``= + - @``, a tab or a carriage return) are written with
a leading ``'``, which :func:`read_outputs` removes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from planning._writing import (
    check_output_dir,
    output_error,
    read_csv,
    workbook_writer,
    write_csv,
)
from planning.compliance._check import ComplianceResult

log = logging.getLogger(__name__)

#: Chinese headers of the compliance table (``--chinese-headers``).
HEADERS_ZH: dict[str, str] = {
    "row": "行号",
    "dev_id": "项目编号",
    "name": "项目名称",
    "project_id": "所属项目",
    "phase": "分期",
    "households": "户数",
    "area_kind": "类型",
    "verdict": "总体结论",
    "acceptance_withheld": "不得组织竣工验收",
    "required_area_m2": "应配建面积(m²)",
    "facility_area_m2": "配建面积(m²)",
    "area": "面积",
    "area_shortfall_m2": "面积缺口(m²)",
    "n_sites": "设施处数",
    "smallest_site_m2": "最小单处面积(m²)",
    "site": "单处面积",
    "site_shortfall_m2": "单处面积缺口(m²)",
    "land": "用地",
    "land_shortfall_m2": "用地缺口(m²)",
    "timing": "四同步",
    "timing_late_days": "滞后天数",
    "location": "位置",
    "location_outside_m": "设施在项目外距离(m)",
    "reach": "步行可达",
    "reach_time_min": "最远住户步行时间(分钟)",
    "reach_excess_min": "超出时间(分钟)",
    "reach_straight_m": "最远住户直线距离(m)",
    "reasons_zh": "问题说明",
    "reasons_en": "Reasons",
    "issues_zh": "数据问题",
    "issues_en": "Data issues",
    "action_zh": "处理意见",
    "action_en": "Action",
}
for _c in ("area", "site", "land", "timing", "location", "reach"):
    HEADERS_ZH[f"{_c}_reason_zh"] = f"{HEADERS_ZH[_c]}说明"
    HEADERS_ZH[f"{_c}_reason_en"] = f"{_c} reason"
#: Verdicts in Chinese.
VERDICT_ZH = {"PASS": "合格", "FAIL": "不合格", "UNKNOWN": "无法判定", "N/A": "不适用"}
VERDICT_COLUMNS = ("verdict", "area", "site", "land", "timing", "location", "reach")


def to_chinese(table: pd.DataFrame) -> pd.DataFrame:
    """Return the table with Chinese headers and verdicts (是/否 for the withheld flag)."""
    out = table.copy()
    for col in VERDICT_COLUMNS:
        if col in out:
            out[col] = out[col].map(lambda v: VERDICT_ZH.get(v, v))
    if "acceptance_withheld" in out:
        out["acceptance_withheld"] = out["acceptance_withheld"].map({True: "是", False: "否"})
    return out.rename(columns=HEADERS_ZH)


def from_chinese(table: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`to_chinese` (for reading a written compliance.xlsx back)."""
    out = table.rename(columns={v: k for k, v in HEADERS_ZH.items()})
    back = {v: k for k, v in VERDICT_ZH.items()}
    for col in VERDICT_COLUMNS:
        if col in out:
            out[col] = out[col].map(lambda v: back.get(v, v))
    if "acceptance_withheld" in out:
        out["acceptance_withheld"] = out["acceptance_withheld"].map(
            lambda v: {"是": True, "否": False}.get(v, v)
        )
    return out


def write_xlsx(path: Path, sheets: Mapping[str, pd.DataFrame]) -> None:
    """Write sheets to an Excel workbook with frozen headers and readable widths.

    Every cell from data is text, never a formula; the workbook carries a fixed date.
    """
    with workbook_writer(path) as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            ws = writer.sheets[name]
            ws.freeze_panes = "A2"
            for k, col in enumerate(frame.columns, start=1):
                width = max([len(str(col))] + [len(str(v)) for v in frame[col].head(50)])
                ws.column_dimensions[ws.cell(1, k).column_letter].width = min(60, width + 2)


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

    Raises
    ------
    OutputError
        When the folder or a file in it cannot be written, naming the path.
    chinese_headers : bool
        Chinese column headers and verdicts (合格/不合格/无法判定/不适用).

    Returns
    -------
    dict
        ``{"csv": path, "xlsx": path}``.

    """
    out = Path(out_dir)
    check_output_dir(out)
    table = to_chinese(result.table) if chinese_headers else result.table
    paths = {"csv": out / "compliance.csv", "xlsx": out / "compliance.xlsx"}
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
    try:
        write_csv(table, paths["csv"])
        write_xlsx(paths["xlsx"], dict(zip(names, sheets, strict=True)))
    except OSError as exc:
        raise output_error(exc, out) from exc
    log.info("wrote %s and %s", paths["csv"], paths["xlsx"])
    return paths


def read_outputs(path: str | Path) -> pd.DataFrame:
    """Read a written ``compliance.csv``/``.xlsx`` back with canonical headers and verdicts."""
    p = Path(path)
    frame = pd.read_excel(p, sheet_name=0) if p.suffix == ".xlsx" else read_csv(p)
    return from_chinese(frame)
