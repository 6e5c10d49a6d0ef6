"""A row per district, read back from its run folder: the figures of ``summary.csv``.

Every figure comes from the files ``planning run`` wrote (``run.json``, the tables and
layers), so a district skipped because it is unchanged is summarised exactly like one
run now, and the summary equals what each run folder says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from planning._writing import read_csv
from planning.batch._task import FAILED

#: Tolerance in metres when the district outline is simplified for the overview map.
OUTLINE_SIMPLIFY_M = 25.0

#: Headers of the batch's own columns in ``summary.xlsx`` (zh, en).
LABELS = {
    "district": ("区（情景）", "District (scenario)"),
    "title": ("名称", "Title"),
    "status": ("状态", "Status"),
    "folder": ("结果文件夹", "Run folder"),
    "error": ("错误信息", "Error"),
    "n_units": ("单元数", "Units"),
    "n_stations": ("设施数", "Stations"),
    "targets_met": ("达标目标数", "Targets met"),
    "targets_total": ("可判定目标数", "Targets checked"),
    "n_gaps": ("缺口数", "Gaps"),
    "largest_gap_elderly": ("最大缺口老年人口", "Older people in the largest gap"),
    "largest_gap_unit": ("最大缺口所在单元", "Unit of the largest gap"),
    "sites_proposed": ("建议新增点位数", "Sites proposed"),
    "site_ids": ("建议新增点位", "Proposed sites"),
    "developments": ("新建小区数", "Developments checked"),
    "developments_pass": ("四同步合格", "四同步 pass"),
    "developments_fail": ("四同步不合格", "四同步 fail"),
    "developments_unknown": ("四同步无法判定", "四同步 unknown"),
}


def _read_csv(path: Path) -> pd.DataFrame | None:
    return read_csv(path) if path.is_file() else None


def title_of(title: Any, name: str, lang: str) -> str:
    """Return a scenario's title in `lang` (a ``{zh, en}`` mapping or a string)."""
    if isinstance(title, dict):
        return str(title.get(lang) or next(iter(title.values()), name))
    return str(title or name)


def district_row(
    rec: dict[str, Any], out: Path, lang: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return a district's summary row and its targets (one dict per target).

    Parameters
    ----------
    rec : dict
        The district's record in ``batch.json``.
    out : Path
        The batch folder.
    lang : str
        ``zh`` or ``en`` (the title).

    """
    row: dict[str, Any] = {
        "district": rec["name"],
        "title": title_of(rec.get("title"), rec["name"], lang),
        "status": rec["status"],
        "folder": rec.get("folder"),
        "error": rec.get("error"),
    }
    if rec["status"] == FAILED or not rec.get("folder"):
        return row, []
    run_dir = out / str(rec["folder"])
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    totals = run["totals"]
    ths = [f"{t:g}" for t in run["parameters"]["thresholds_min"]]
    units = read_csv(run_dir / "coverage_units.csv")
    stations = read_csv(run_dir / "coverage_stations.csv")
    row.update(
        elderly=totals["elderly"],
        population=totals.get("population"),
        elderly_unreachable=totals.get("elderly_unreachable"),
        n_units=len(units),
        n_stations=len(stations),
    )
    for t in ths:
        row[f"elderly_covered_{t}min"] = totals[f"elderly_covered_{t}min"]
        row[f"coverage_share_{t}min"] = totals[f"coverage_share_{t}min"]
    row[f"elderly_uncovered_{ths[-1]}min"] = float(units[f"elderly_uncovered_{ths[-1]}min"].sum())
    targets = [dict(tg, district=rec["name"]) for tg in run.get("targets", [])]
    judged = [tg for tg in targets if tg.get("met") is not None]
    row["targets_met"] = sum(bool(tg["met"]) for tg in judged)
    row["targets_total"] = len(judged)
    for tg in targets:
        row[f"meets_{tg['target_id']}"] = tg.get("met")
    row.update(_gaps(run_dir / "results.gpkg"))
    row.update(_sites(_read_csv(run_dir / "siting.csv"), ths[-1]))
    row.update(_developments(_read_csv(run_dir / "compliance.csv")))
    return row, targets


def _gaps(path: Path) -> dict[str, Any]:
    """Return the number of gaps and the largest, from the ``gaps`` layer of results.gpkg."""
    layers = {str(name) for name, _ in pyogrio.list_layers(path)}
    gaps = (
        pyogrio.read_dataframe(
            path, layer="gaps", columns=["unit_id", "elderly"], read_geometry=False
        )
        if "gaps" in layers
        else pd.DataFrame(columns=["unit_id", "elderly"])
    )
    if gaps.empty:
        return {"n_gaps": 0, "largest_gap_elderly": 0.0, "largest_gap_unit": None}
    elderly = gaps["elderly"].to_numpy(dtype=float)
    top = int(np.argmax(elderly))
    return {
        "n_gaps": len(gaps),
        "largest_gap_elderly": float(elderly[top]),
        "largest_gap_unit": str(gaps["unit_id"].iloc[top]),
    }


def _sites(sites: pd.DataFrame | None, t_max: str) -> dict[str, Any]:
    if sites is None:
        return {"sites_proposed": None}
    after = float(sites["cumulative_share"].max()) if len(sites) else None
    return {
        "sites_proposed": len(sites),
        "site_ids": " ".join(map(str, sites["site_id"])),
        f"coverage_share_{t_max}min_with_sites": after,
    }


def _developments(comp: pd.DataFrame | None) -> dict[str, Any]:
    if comp is None:
        return {"developments": None}
    verdicts = comp["verdict"].astype(str).str.upper()
    return {
        "developments": len(comp),
        "developments_pass": int((verdicts == "PASS").sum()),
        "developments_fail": int((verdicts == "FAIL").sum()),
        "developments_unknown": int((verdicts == "UNKNOWN").sum()),
    }


def outline(run_dir: Path) -> shapely.Geometry | None:
    """Return a district's outline in WGS-84: the union of its units, simplified."""
    path = run_dir / "results.gpkg"
    if not path.is_file():
        return None
    units = gpd.read_file(path, layer="units", columns=[])
    if units.empty:
        return None
    merged = shapely.union_all(np.asarray(units.geometry.values))
    simple = gpd.GeoSeries([merged.simplify(OUTLINE_SIMPLIFY_M)], crs=units.crs).to_crs(4326)
    shape: shapely.Geometry = simple.iloc[0]
    return shape


def summary_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Return the summary rows as a table, the batch's columns first, then the figures."""
    table = pd.DataFrame(rows)
    first = [c for c in ("district", "title", "status") if c in table]
    last = [c for c in ("folder", "error") if c in table]
    middle = [c for c in table.columns if c not in first + last]
    return table[first + middle + last]
