"""Assemble the verdicts into the compliance table, its summary and its map layers."""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any

import geopandas as gpd
import pandas as pd

from planning.compliance._model import Dev, Judgement
from planning.compliance._reasons import FAIL, PASS, UNKNOWN
from planning.compliance._register import Table

log = logging.getLogger(__name__)

#: Columns of the compliance table, in order (``{criterion}_reason_zh/en`` follow).
COLUMNS: tuple[str, ...] = (
    "row", "dev_id", "name", "households", "area_kind", "verdict", "acceptance_withheld",
    "area", "area_shortfall_m2", "required_area_m2", "facility_area_m2",
    "site", "site_shortfall_m2", "n_sites", "smallest_site_m2",
    "land", "land_shortfall_m2", "timing", "timing_late_days",
    "location", "location_outside_m",
    "reach", "reach_excess_min", "reach_time_min", "reach_straight_m",
    "reasons_zh", "reasons_en", "issues_zh", "issues_en", "action_zh", "action_en",
)  # fmt: skip
_NUMBERS = {"area": "area_shortfall_m2", "site": "site_shortfall_m2",
            "land": "land_shortfall_m2", "timing": "timing_late_days",
            "location": "location_outside_m", "reach": "reach_excess_min"}  # fmt: skip


def assemble(
    reg: Table,
    devs: list[Dev],
    judged: list[dict[str, Judgement]],
    withheld: list[tuple[bool, tuple[str, str]]],
) -> pd.DataFrame:
    """Build the compliance table: one row per development, :data:`COLUMNS` then reasons."""
    f, rows = reg.frame, []
    for dev, j, (flag, action) in zip(devs, judged, withheld, strict=True):
        verdicts = [j[c].verdict for c in _NUMBERS]
        sizes = [s.area_m2 for s in dev.sites or [] if s.area_m2 is not None]
        row: dict[str, Any] = dict.fromkeys(COLUMNS, math.nan)
        row.update(
            row=f["row"].iloc[dev.pos],
            dev_id=str(f["dev_id"].iloc[dev.pos]) if "dev_id" in f else "",
            name=str(f["name"].iloc[dev.pos]) if "name" in f else "",
            households=dev.households,
            area_kind=dev.kind,
            verdict=FAIL if FAIL in verdicts else UNKNOWN if UNKNOWN in verdicts else PASS,
            acceptance_withheld=flag,
            facility_area_m2=sum(sizes) if dev.sites is not None else math.nan,
            n_sites=len(dev.sites) if dev.sites is not None else math.nan,
            smallest_site_m2=min(sizes) if sizes else math.nan,
            action_zh=action[0],
            action_en=action[1],
        )
        for c, number in _NUMBERS.items():
            row[c] = j[c].verdict
            row[number] = j[c].value if j[c].verdict in (PASS, FAIL) else math.nan
            row.update(j[c].extra)
        bad = [c for c in _NUMBERS if j[c].verdict in (FAIL, UNKNOWN)]
        row["reasons_zh"] = "；".join(f"{dev.prefix[0]}{j[c].zh}" for c in bad)
        row["reasons_en"] = "; ".join(f"{dev.prefix[1]}{j[c].en}" for c in bad)
        row["issues_zh"] = "；".join(i.zh for i in dev.issues)
        row["issues_en"] = "; ".join(i.en for i in dev.issues)
        for c in _NUMBERS:
            row[f"{c}_reason_zh"], row[f"{c}_reason_en"] = j[c].zh, j[c].en
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(
    reg: Table, table: pd.DataFrame, rules: str, applied: list[dict[str, Any]], asof: dt.date
) -> dict[str, Any]:
    """Return the summary of a compliance table (counts, lists, rules applied)."""
    counts = table["verdict"].value_counts()
    orphans = reg.extra.get("orphans", [])
    if orphans:
        log.warning("%s: facility sites of unknown developments %s", reg.source, orphans)
    return {
        "rules": rules,
        "asof": asof.isoformat(),
        "register": reg.source,
        "n_developments": len(table),
        "verdicts": {v: int(counts.get(v, 0)) for v in (PASS, FAIL, UNKNOWN)},
        "criteria": {
            c: {str(k): int(v) for k, v in table[c].value_counts().items()} for c in _NUMBERS
        },
        "acceptance_withheld": int(table["acceptance_withheld"].sum()),
        "failed": table.loc[table["verdict"] == FAIL, "dev_id"].tolist(),
        "unknown": table.loc[table["verdict"] == UNKNOWN, "dev_id"].tolist(),
        "withheld": table.loc[table["acceptance_withheld"], "dev_id"].tolist(),
        "rows_with_issues": int((table["issues_en"] != "").sum()),
        "orphan_facilities": orphans,
        "rules_applied": applied,
        "columns": reg.extra.get("headers", {}),
    }


def layers(reg: Table, devs: list[Dev], table: pd.DataFrame) -> tuple[gpd.GeoDataFrame, ...]:
    """Return the developments and facility sites as GeoDataFrames (EPSG:4326) for a map."""
    keep = [
        "dev_id",
        "name",
        "verdict",
        *_NUMBERS,
        "acceptance_withheld",
        "reasons_zh",
        "reasons_en",
    ]
    geo = gpd.GeoDataFrame(table[keep].copy(), geometry=list(reg.frame.geometry), crs=4326)
    pairs = [(str(table["dev_id"].iloc[d.pos]), s) for d in devs for s in d.sites or []]
    sites = gpd.GeoDataFrame(
        {
            "dev_id": [d for d, _ in pairs],
            "facility_id": [s.facility_id for _, s in pairs],
            "area_m2": [s.area_m2 for _, s in pairs],
        },
        geometry=[s.geom for _, s in pairs],
        crs=4326,
    )
    return geo, sites
