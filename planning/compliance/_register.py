"""Read development registers and facility sites into canonical columns.

Registers come as GeoPackage/GeoJSON/shapefile layers, CSV (UTF-8 or GB18030) or Excel
workbooks. Column names are mapped to the canonical names of :data:`CANONICAL` by the
user's ``columns`` mapping first, then by the alias table :data:`ALIASES` (English and
common Chinese headers, compared without case, spaces or bracketed units such as
``（㎡）``). Values are parsed cell by cell: a bad cell becomes an :class:`Issue` of its row
(naming file, row, column and value) and never stops the other rows.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from planning import coords
from planning._errors import CRSError, InputError
from planning._files import (
    TABLE_SUFFIXES,
    layer_names,
    read_raw_tables,
    read_vector,
    table_from_raw,
)
from planning.compliance._values import is_empty, norm, parse_number
from planning.standards import MILESTONES

log = logging.getLogger(__name__)

SIDES = ("housing", "facility")
DATE_KINDS = ("", "_planned", "_actual")
#: Canonical date columns: ``{side}_{milestone}`` (planned if after the as-of date, else
#: actual) and the explicit ``..._planned`` / ``..._actual`` forms.
DATE_COLUMNS = tuple(f"{s}_{m}{k}" for s in SIDES for m in MILESTONES for k in DATE_KINDS)
NUMBER_COLUMNS = ("households", "facility_area_m2", "facility_land_m2", "residents")
CANONICAL = (
    "dev_id",
    "name",
    "project_id",
    "phase",
    "area_kind",
    *NUMBER_COLUMNS,
    "facility_sites_m2",
    *DATE_COLUMNS,
)
_FACILITY_SHEETS = ("facilities", "facility", "设施", "配建设施", "养老设施")
_DEV_LAYERS = ("developments", "development", "register", "项目", "登记表", "新建小区")

_BASE = {
    "dev_id": "dev_id id development_id project_code code 项目编号 项目代码 编号 项目id 小区编号",
    "name": "name project_name development_name 项目名称 小区名称 名称 项目",
    "project_id": "project_id 所属项目 所属项目编号 项目总编号",
    "phase": "phase 分期 期次 期数 期别",
    "area_kind": "area_kind 小区类型 区域类型 新建或老旧 新老类型",
    "households": "households hh n_households dwellings 户数 总户数 住宅户数 住户数 套数 住宅套数",
    "facility_area_m2": (
        "facility_area_m2 facility_area facility_m2 配建面积 配建养老服务设施面积 养老服务设施面积 "
        "养老设施面积 养老用房面积 设施面积 配建养老设施面积 配建养老用房面积 配建建筑面积"
    ),
    "facility_sites_m2": "facility_sites_m2 site_areas_m2 各处面积 单处面积 分处面积 各处设施面积",
    "facility_land_m2": "facility_land_m2 养老设施用地面积 设施用地面积 养老服务设施用地面积",
    "residents": "residents population 人口 居住人口 常住人口 规划人口 居住人数",
    "lon": "lon lng longitude x 经度 中心经度",
    "lat": "lat latitude y 纬度 中心纬度",
    "wkt": "wkt geometry_wkt 几何 边界wkt 范围wkt",
    "facility_lon": "facility_lon facility_lng 设施经度",
    "facility_lat": "facility_lat 设施纬度",
}
_FACILITY_BASE = {
    "facility_id": "facility_id site_id id 设施编号 设施id 编号",
    "dev_id": "dev_id development_id 项目编号 所属项目编号 小区编号 项目id",
    "area_m2": "area_m2 area facility_area_m2 面积 建筑面积 设施面积 配建面积",
    "lon": _BASE["lon"],
    "lat": _BASE["lat"],
    "wkt": _BASE["wkt"],
}
_SIDE_WORDS = {
    "housing": ("住宅", "住房", "房屋", "商品房", ""),
    "facility": ("养老设施", "养老服务设施", "配建设施", "配套设施", "设施", "养老用房"),
}
_MILESTONE_WORDS = {
    "planning": ("规划许可", "规划审批", "规划许可证", "工程规划许可", "规划"),
    "construction": ("开工", "开工建设"),
    "acceptance": ("竣工验收", "验收"),
    "delivery": ("交付", "交付使用", "交房", "移交"),
}
_KIND_WORDS = {"": ("",), "_planned": ("计划", "预计"), "_actual": ("实际",)}


def _alias_table() -> dict[str, str]:
    table = {norm(a): canon for canon, words in _BASE.items() for a in words.split()}
    for col in DATE_COLUMNS:
        table[norm(col)] = col
        table[norm(col + "_date")] = col
    for side, side_words in _SIDE_WORDS.items():
        for m, m_words in _MILESTONE_WORDS.items():
            for kind, k_words in _KIND_WORDS.items():
                for sw in side_words:
                    for mw in m_words:
                        for kw in k_words:
                            for suffix in ("", "日期", "时间"):
                                table.setdefault(norm(f"{sw}{kw}{mw}{suffix}"), f"{side}_{m}{kind}")
                                table.setdefault(norm(f"{kw}{sw}{mw}{suffix}"), f"{side}_{m}{kind}")
    return table


#: Accepted column headers (normalised with :func:`norm`) → canonical column.
ALIASES: dict[str, str] = _alias_table()
FACILITY_ALIASES: dict[str, str] = {
    norm(a): canon for canon, words in _FACILITY_BASE.items() for a in words.split()
}


@dataclass(frozen=True)
class Issue:
    """A data problem of one row (zh, en) and the criteria it leaves unknown."""

    zh: str
    en: str
    criteria: tuple[str, ...] = ()


@dataclass
class Table:
    """A register or facility layer read into canonical columns.

    ``frame`` holds the canonical columns found, ``row`` (the number shown to users) and a
    geometry in EPSG:4326 (None where missing); ``columns`` maps canonical names to the
    headers of the file; ``issues`` has one list per row; ``crs`` is the input CRS.
    """

    frame: gpd.GeoDataFrame
    source: str
    row_word: str
    columns: dict[str, str]
    issues: list[list[Issue]]
    crs: CRS | None = None
    shift: str | None = None  # "gcj02" or "bd09" when coordinates were converted
    extra: dict[str, Any] = field(default_factory=dict)

    def where(self, pos: int, col: str | None = None) -> tuple[str, str]:
        """Return "file, row N, column 'X'" in zh and en for messages."""
        row = self.frame["row"].iloc[pos]
        word_zh = "第 {} 行" if self.row_word == "row" else "第 {} 个要素"
        zh, en = f"{self.source}，{word_zh.format(row)}", f"{self.source}, {self.row_word} {row}"
        if col is not None:
            header = self.columns.get(col, col)
            zh, en = f"{zh}，列“{header}”", f"{en}, column '{header}'"
        return zh, en

    def add(self, pos: int, zh: str, en: str, criteria: Iterable[str] = ()) -> None:
        """Record an issue of row `pos`."""
        self.issues[pos].append(Issue(zh, en, tuple(criteria)))


# --------------------------------------------------------------------------- reading
def _describe(path: Path) -> str:
    return f"'{path.name}'"


def _read_source(
    src: str | Path, *, layer: str | None, facilities: bool
) -> tuple[pd.DataFrame, str, pd.DataFrame | None, str, tuple[int, ...]]:
    """Read a file: table (indexed by line or feature), row word, facility table, header.

    The facility table is a sheet or layer beside the register (with its name); the
    header lines are those of a spreadsheet (none for a GIS layer).
    """
    path = Path(src)
    what = "facility" if facilities else "register"
    if path.suffix.lower() in TABLE_SUFFIXES:
        raws, encoding = read_raw_tables(path, what=what, all_sheets=True)
        names = list(raws)
        main, other = _choose_layers(names, layer, facilities, path) if names[0] else ("", None)
        aliases = FACILITY_ALIASES if facilities else ALIASES
        sheet = table_from_raw(raws[main], known=aliases.__contains__, encoding=encoding)
        extra = None
        if other:
            extra = table_from_raw(raws[other], known=FACILITY_ALIASES.__contains__).frame
        return sheet.frame, "row", extra, other or "", sheet.header_lines
    names = layer_names(path, what)
    main, other = _choose_layers(names, layer, facilities, path)
    table = read_vector(path, layer=main, what=what)
    table.index = pd.RangeIndex(1, len(table) + 1)
    extra = read_vector(path, layer=other, what=what) if other else None
    if extra is not None:
        extra.index = pd.RangeIndex(1, len(extra) + 1)
    return table, "feature", extra, other or "", ()


def _choose_layers(
    names: list[str], layer: str | None, facilities: bool, path: Path
) -> tuple[str, str | None]:
    fac = [n for n in names if norm(n) in _FACILITY_SHEETS]
    if layer is not None:
        if layer not in names:
            msg = f"{_describe(path)} has no layer or sheet {layer!r}; it has {names}."
            raise InputError(msg)
        return layer, (fac[0] if fac and fac[0] != layer and not facilities else None)
    if facilities:
        return (fac[0] if fac else names[0]), None
    devs = [n for n in names if norm(n) in _DEV_LAYERS]
    rest = [n for n in names if n not in fac]
    if not devs and not rest:
        msg = f"{_describe(path)} holds only a facility layer {fac}; give the register itself."
        raise InputError(msg)
    return (devs or rest)[0], (fac[0] if fac else None)


def read_table(
    src: str | Path | pd.DataFrame,
    *,
    layer: str | None = None,
    columns: Mapping[str, str] | None = None,
    crs: Any = None,
    facilities: bool = False,
    name: str | None = None,
) -> Table:
    """Read a register (or a facility layer) into canonical columns with a WGS-84 geometry.

    Raises InputError only when nothing can be read: a missing or unreadable file, no rows,
    none of the expected columns, or a facility layer without development ids.
    """
    extra: pd.DataFrame | None = None
    header: tuple[int, ...] = ()
    if isinstance(src, pd.DataFrame):
        raw = src.copy()
        source = name or ("the facility layer" if facilities else "the register")
        word = "feature" if isinstance(src, gpd.GeoDataFrame) else "row"
        rows = np.asarray(raw["row"]) if "row" in raw else np.arange(1, len(raw) + 1)
    else:
        raw, word, extra, extra_name, header = _read_source(src, layer=layer, facilities=facilities)
        source = _describe(Path(src))
        rows = np.asarray(raw.index)
        if extra is not None:
            extra = extra.assign(row=np.asarray(extra.index))
    if len(raw) == 0:
        msg = f"{source} is empty: it has no rows. Check the file, sheet or layer."
        raise InputError(msg)
    mapping = _map_columns(raw, columns, FACILITY_ALIASES if facilities else ALIASES, source)
    geometry = getattr(raw, "_geometry_column_name", None)
    used = {str(v) for v in mapping.values()}
    ignored = [str(c) for c in raw.columns if str(c) not in used and c not in (geometry, "row")]
    found = set(mapping) - {"lon", "lat", "wkt", "row"}
    if not facilities and "dev_id" not in mapping and found:
        msg = (
            f"{source} has no development id column: none of its headers means dev_id "
            f"(not recognised: {', '.join(ignored) or 'none'}). Name the id column 项目编号 "
            "or dev_id, or map it with columns={'your header': 'dev_id'} (command line: "
            "--column 'your header=dev_id')."
        )
        raise InputError(msg)
    judged = found - {"name", "project_id", "phase", "area_kind", "facility_lon", "facility_lat"}
    if facilities and "dev_id" not in mapping:
        msg = (
            f"{source} has no development id column (found {[str(c) for c in raw.columns]}), "
            "so its sites cannot be matched to developments. Add a dev_id (项目编号) column "
            "or map one with columns={'your header': 'dev_id'}."
        )
        raise InputError(msg)
    if not judged:
        hint = "dev_id, area_m2" if facilities else "dev_id, households, facility_area_m2, dates"
        msg = (
            f"{source}: none of its columns can be used (found {[str(c) for c in raw.columns]}; "
            f"expected e.g. {hint} or their Chinese forms such as 项目编号, 户数, 配建面积, "
            "竣工验收日期). Rename the columns or map them with columns={'your header': "
            "'households', ...} (command line: --column 'your header=households')."
        )
        raise InputError(msg)
    frame = pd.DataFrame({c: raw[src_col].to_numpy() for c, src_col in mapping.items()})
    frame["row"] = rows
    table = Table(
        gpd.GeoDataFrame(frame, geometry=[None] * len(frame), crs=4326),
        source,
        word,
        {c: str(s) for c, s in mapping.items()},
        [[] for _ in range(len(frame))],
    )
    table.extra["headers"] = {
        "header_lines": list(header),
        "recognised": {str(v): c for c, v in mapping.items()},
        "ignored": ignored,
    }
    log.info(
        "%s: header %s; recognised %s; not recognised %s",
        source,
        f"on line(s) {', '.join(map(str, header))}" if header else "of the layer",
        ", ".join(f"{v}→{c}" for c, v in mapping.items()),
        ", ".join(ignored) or "none",
    )
    if extra is not None:
        kind = "sheet" if word == "row" else "layer"
        table.extra["facilities"] = (extra, f"{source} ({kind} '{extra_name}')")
    _set_geometry(table, raw, crs)
    return table


def _map_columns(
    raw: pd.DataFrame, columns: Mapping[str, str] | None, aliases: Mapping[str, str], source: str
) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    user = dict(columns or {})
    for src_col, canon in user.items():
        if src_col in raw.columns:
            mapping[canon] = src_col
        else:
            log.warning("%s: mapped column %r not found; columns: %s", source, src_col, raw.columns)
    for col in raw.columns:
        if col == getattr(raw, "_geometry_column_name", None) or col in user:
            continue
        found = aliases.get(norm(col))
        if found is not None and found not in mapping:
            mapping[found] = col
        elif found is not None:
            log.warning(
                "%s: columns %r and %r both mean %r; the first is used",
                source,
                mapping[found],
                col,
                found,
            )
    return mapping


def _set_geometry(table: Table, raw: pd.DataFrame, crs: Any) -> None:
    """Set table.frame's geometry from the layer, WKT or lon/lat columns, in EPSG:4326."""
    f = table.frame
    shifted = isinstance(crs, str) and crs.strip().lower() in coords.SOURCE_ALIASES
    if isinstance(raw, gpd.GeoDataFrame):
        geoms = gpd.GeoSeries(raw.geometry.to_numpy(), crs=raw.crs)
        if geoms.crs is None and crs is None:
            for pos in range(len(f)):
                table.add(
                    pos,
                    f"{table.source} 没有坐标系，无法定位；请用 --crs 指定",
                    f"{table.source} has no CRS, so its geometry cannot be used; give "
                    "one with crs= (command line --crs EPSG:4326)",
                    ("location", "reach"),
                )
            return
    elif "wkt" in f:
        geoms = gpd.GeoSeries([_wkt(table, i, v) for i, v in enumerate(f["wkt"])], crs=None)
    elif "lon" in f and "lat" in f:
        degrees = crs is None or shifted or CRS.from_user_input(crs).is_geographic
        geoms = gpd.GeoSeries(_points(table, f["lon"], f["lat"], "lon", degrees), crs=None)
    else:
        return
    if geoms.crs is None:
        geoms = geoms.set_crs(4326 if shifted or crs is None else crs)
    table.crs = CRS.from_user_input(geoms.crs)
    if table.crs.is_geographic:
        geoms = _refuse_bad_degrees(table, geoms)
    if shifted:
        try:
            geoms = coords.to_wgs84(gpd.GeoDataFrame(geometry=geoms), source=str(crs)).geometry
        except CRSError as exc:
            msg = f"{table.source}: {exc}"
            raise CRSError(msg) from exc
        table.crs, table.shift = CRS.from_epsg(4326), str(crs)
    table.frame = table.frame.set_geometry(
        gpd.GeoSeries(geoms.to_crs(4326).to_numpy(), index=table.frame.index, crs=4326)
    )


def _refuse_bad_degrees(table: Table, geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Turn geometries with swapped or impossible lon/lat into issues and None."""
    bounds = geoms.bounds.to_numpy()  # minx, miny, maxx, maxy; NaN for None
    out = geoms.copy()
    for pos in np.flatnonzero(np.isfinite(bounds).all(axis=1)):
        x0, y0, x1, y1 = bounds[pos]
        swapped = max(abs(y0), abs(y1)) > 90 or (y0 >= 72 and y1 <= 138 and x0 >= 0 and x1 <= 56)
        if not swapped and max(abs(x0), abs(x1)) <= 180:
            continue
        why = "look swapped (lat, lon order)" if swapped else "are not longitude/latitude"
        col = "wkt" if "wkt" in table.frame else None
        zh, en = table.where(int(pos), col)
        table.add(
            int(pos),
            f"{zh}：几何坐标（如 {x0:.4f}, {y0:.4f}）经纬度颠倒或超出范围，无法定位，请更正",
            f"{en}: the geometry's coordinates (e.g. {x0:.4f}, {y0:.4f}) {why}, so it cannot "
            "be located; write longitude first, then latitude",
            ("location", "reach"),
        )
        out.iloc[pos] = None
    return out


def _wkt(table: Table, pos: int, value: Any) -> Any:
    if is_empty(value):
        return None
    try:
        return shapely.from_wkt(str(value))
    except shapely.errors.GEOSException:
        zh, en = table.where(pos, "wkt")
        table.add(
            pos,
            f"{zh}：几何 {value!r} 无法读取",
            f"{en}: {value!r} is not WKT geometry; write e.g. POLYGON ((114.30 30.60, ...))",
            ("location", "reach"),
        )
        return None


def _points(
    table: Table, lons: pd.Series, lats: pd.Series, col: str, degrees: bool = True
) -> list[Any]:
    """Return points from coordinate columns; bad rows become issues and None."""
    out: list[Any] = []
    for pos, (x, y) in enumerate(zip(lons, lats, strict=True)):
        try:
            lon, lat = parse_number(x), parse_number(y)
        except ValueError:
            lon = lat = math.nan
        if lon is None or lat is None:
            out.append(None)
            continue
        swapped = degrees and (abs(lat) > 90 or (72 <= lat <= 138 and 0 <= lon <= 56))
        if math.isnan(lon) or math.isnan(lat) or swapped or (degrees and abs(lon) > 180):
            zh, en = table.where(pos, col)
            why = (
                "looks swapped (lon, lat order)" if swapped else "is not a valid longitude/latitude"
            )
            table.add(
                pos,
                f"{zh}：坐标 ({x}, {y}) 无效（经纬度颠倒或超出范围），请更正",
                f"{en}: coordinates ({x}, {y}) {why}; correct them",
                ("location", "reach"),
            )
            out.append(None)
        else:
            out.append(shapely.Point(lon, lat))
    return out


def facility_points(table: Table) -> list[Any]:
    """Return facility points from ``facility_lon``/``facility_lat`` columns (WGS-84)."""
    f = table.frame
    if "facility_lon" not in f or "facility_lat" not in f:
        return [None] * len(f)
    degrees = table.crs is None or table.crs.is_geographic
    pts = gpd.GeoSeries(
        _points(table, f["facility_lon"], f["facility_lat"], "facility_lon", degrees)
    )
    pts = pts.set_crs(table.crs if table.crs is not None else 4326)
    if table.shift is not None:
        pts = coords.to_wgs84(gpd.GeoDataFrame(geometry=pts), source=table.shift).geometry
    return list(pts.to_crs(4326).to_numpy())


def parse_cells(
    table: Table, col: str, parser: Any, what: tuple[str, str], criteria: tuple[str, ...]
) -> list[Any]:
    """Parse one column cell by cell; bad cells become issues and None."""
    if col not in table.frame:
        return [None] * len(table.frame)
    out: list[Any] = []
    for pos, value in enumerate(table.frame[col]):
        try:
            out.append(parser(value))
        except ValueError:
            zh, en = table.where(pos, col)
            table.add(
                pos, f"{zh}：“{value}”不是{what[0]}", f"{en}: {value!r} is not {what[1]}", criteria
            )
            out.append(None)
    return out
