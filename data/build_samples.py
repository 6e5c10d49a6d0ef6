"""Build the illustrative sample files the README examples use, from the embedded data.

Run from the repository root (no network, no clock, no randomness; a second run gives
byte-identical files)::

    .venv/bin/python data/build_samples.py            # --out data

It reads only the embedded files of ``data/`` (built by ``build_default_data.py``) and
writes:

``wuhan_stations_2025.gpkg`` (layer ``stations``, EPSG:4326)
    **Last year's illustrative station register**, for the annual report example
    (``scenarios/wuhan-central-2025.yaml``). Derived from ``wuhan_stations.gpkg``
    (this year's, 2026) by three fixed rules, so that the comparison has every kind of
    change: (1) every ninth station in ``station_id`` order, starting with the fifth
    (positions 4, 13, 22, …), did not exist yet: it "opened in 2026"; (2) the first
    three candidate sites of ``wuhan_candidates.gpkg`` (in ``site_id`` order) held
    stations ``X2025-01`` … ``X2025-03`` (kind ``station``, 20 places, 200 m²) that
    "closed during 2025"; (3) every eleventh remaining station, starting with the
    third, had 10 places fewer (never below 0). Every row keeps ``source =
    "illustrative"``; these are not real stations.

``wuhan_developments_register.xlsx`` (sheets ``登记表`` and ``配建设施``)
    **A sample development register as a bureau would keep it**, with Chinese headers,
    for the ``planning check-developments`` example: the 13 illustrative developments
    of ``wuhan_developments.gpkg`` (one row each: 项目编号, 项目名称, 户数, 小区类型
    新建/老旧, 配建养老服务设施面积（㎡）, the eight 四同步 dates as 住宅/养老设施 +
    规划许可/开工/竣工验收/交付 + 日期, the boundary as 边界WKT in WGS-84 with 6
    decimals, 数据来源 示例) and the 15 facility sites of its ``facilities`` layer
    (设施编号, 项目编号, 面积, 经度, 纬度). Checked with the same rules, it gives the
    same verdicts as the GeoPackage (a test compares them).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
OPENED_EVERY, OPENED_FIRST = 9, 4
CHANGED_EVERY, CHANGED_FIRST, CHANGED_BY = 11, 2, 10.0
CLOSED = 3

_MILESTONES = {
    "planning": "规划许可",
    "construction": "开工",
    "acceptance": "竣工验收",
    "delivery": "交付",
}
_SIDES = {"housing": "住宅", "facility": "养老设施"}
_KINDS = {"new": "新建", "existing": "老旧"}


def stations_2025(data: Path) -> gpd.GeoDataFrame:
    """Return last year's illustrative station register (see the module docstring)."""
    st = gpd.read_file(data / "wuhan_stations.gpkg", layer="stations")
    st = st.sort_values("station_id", ignore_index=True)
    pos = pd.Series(range(len(st)))
    opened = (pos >= OPENED_FIRST) & ((pos - OPENED_FIRST) % OPENED_EVERY == 0)
    kept = st[~opened.to_numpy()].reset_index(drop=True)
    k = pd.Series(range(len(kept)))
    changed = ((k >= CHANGED_FIRST) & ((k - CHANGED_FIRST) % CHANGED_EVERY == 0)).to_numpy()
    kept.loc[changed, "capacity"] = (kept.loc[changed, "capacity"] - CHANGED_BY).clip(lower=0)
    cand = gpd.read_file(data / "wuhan_candidates.gpkg", layer="candidates")
    cand = cand.sort_values("site_id", ignore_index=True).head(CLOSED).to_crs(st.crs)
    closed = gpd.GeoDataFrame(
        {
            "station_id": [f"X2025-{i + 1:02d}" for i in range(CLOSED)],
            "name": [f"示例社区养老服务站（2025年已关闭）{i + 1:02d}" for i in range(CLOSED)],
            "kind": "station",
            "capacity": 20.0,
            "area_m2": 200.0,
            "status": "existing",
            "unit_id": cand["unit_id"].astype(str) if "unit_id" in cand else "",
            "source": "illustrative",
        },
        geometry=cand.geometry.to_numpy(),
        crs=st.crs,
    )
    out = pd.concat([kept, closed[kept.columns]], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=st.crs).sort_values(
        "station_id", ignore_index=True
    )


def register_sheets(data: Path) -> dict[str, pd.DataFrame]:
    """Return the sheets of the sample register with Chinese headers."""
    devs = gpd.read_file(data / "wuhan_developments.gpkg", layer="developments").to_crs(4326)
    devs = devs.sort_values("dev_id", ignore_index=True)
    reg = pd.DataFrame(
        {
            "项目编号": devs["dev_id"],
            "项目名称": devs["name"],
            "户数": devs["households"],
            "小区类型": devs["area_kind"].map(_KINDS),
            "配建养老服务设施面积（㎡）": devs["facility_area_m2"],
        }
    )
    for side, side_zh in _SIDES.items():
        for m, m_zh in _MILESTONES.items():
            reg[f"{side_zh}{m_zh}日期"] = devs[f"{side}_{m}"]
    reg["边界WKT"] = [shapely.to_wkt(g, rounding_precision=6) for g in devs.geometry]
    reg["数据来源"] = "示例（illustrative）"
    fac = gpd.read_file(data / "wuhan_developments.gpkg", layer="facilities").to_crs(4326)
    fac = fac.sort_values("facility_id", ignore_index=True)
    sites = pd.DataFrame(
        {
            "设施编号": fac["facility_id"],
            "项目编号": fac["dev_id"],
            "面积": fac["area_m2"],
            "经度": fac.geometry.x.round(6),
            "纬度": fac.geometry.y.round(6),
        }
    )
    return {"登记表": reg, "配建设施": sites}


def _write_xlsx(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """Write the workbook with fixed timestamps (zip entries and document properties)."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        for name, frame in sheets.items():
            frame.to_excel(xl, sheet_name=name, index=False)
        xl.book.properties.creator = "planning data/build_samples.py"
    stamp = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = stamp.sub(rb"\g<1>2026-01-01T00:00:00Z\g<2>", data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0)), data)


def main(argv: list[str] | None = None) -> None:
    """Build the sample files into ``--out`` (default ``data/``)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=HERE, help="folder of the embedded data")
    p.add_argument("--out", type=Path, default=HERE, help="output folder")
    args = p.parse_args(argv)
    os.environ.setdefault("OGR_CURRENT_DATE", "2026-01-01T00:00:00Z")
    args.out.mkdir(parents=True, exist_ok=True)
    st = stations_2025(args.data)
    path = args.out / "wuhan_stations_2025.gpkg"
    path.unlink(missing_ok=True)
    st.to_file(path, layer="stations", driver="GPKG")
    print(f"{path}: {len(st)} stations (2026: opened, closed and changed per the docstring)")
    sheets = register_sheets(args.data)
    xlsx = args.out / "wuhan_developments_register.xlsx"
    _write_xlsx(sheets, xlsx)
    print(f"{xlsx}: {len(sheets['登记表'])} developments, {len(sheets['配建设施'])} facility sites")


if __name__ == "__main__":
    main()
