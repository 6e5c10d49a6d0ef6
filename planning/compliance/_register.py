"""Read development registers and facility sites for :mod:`planning.compliance`; write tables.

Registers come as GeoPackage/GeoJSON/shapefile layers, CSV (UTF-8 or GB18030) or Excel
workbooks. Column names are mapped to the canonical names of :data:`CANONICAL` by the
user's ``columns`` mapping first, then by the alias table :data:`ALIASES` (English and
common Chinese headers, compared without case, spaces or bracketed units such as
``（㎡）``). Values are parsed cell by cell: a bad cell becomes an :class:`Issue` of its row
(naming file, row, column and value) and never stops the other rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from planning import coords
from planning._errors import CRSError, InputError
from planning.standards import MILESTONES

log = logging.getLogger(__name__)

#: A date known to lie between two days (equal for a full date, a month for "2026年10月").
Span = tuple[dt.date, dt.date]

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
_AREA_KINDS = {
    "new": ("new", "新建", "新建小区", "新建住宅", "新建居住区", "新区"),
    "existing": ("existing", "old", "老旧", "老旧小区", "已建成", "已建成居住区", "老城区", "旧区"),
}
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九十")}


def norm(name: Any) -> str:
    """Return a column header in comparable form: no case, spaces or bracketed units."""
    text = re.sub(r"[（(\[【].*?[）)\]】]", "", str(name)).strip().lower()
    return re.sub(r"[\s\-:：/]+", "_", text).strip("_")


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


# --------------------------------------------------------------------------- values
def is_empty(value: Any) -> bool:
    """Return True for an empty cell: None, NaN, NaT, pd.NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like values are not empty cells
        return False


def parse_date(value: Any) -> Span | None:
    """Parse a date cell; return None when empty, raise ValueError when unreadable.

    Accepts 2026-10-31, 2026/10/31, 2026.10.31, 20261031, 2026年10月31日, 2026年10月 (the
    whole month), date/datetime cells and Excel serial day numbers (1982–2173).
    """
    if is_empty(value):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return (value.date(), value.date())
    if isinstance(value, dt.date):
        return (value, value)
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        if float(value).is_integer():
            return _parse_text(str(int(value)))
        msg = f"{value!r} is not a date"
        raise ValueError(msg)
    text = str(value).strip().translate(_FULL_WIDTH)
    if not text or text.lower() in ("nan", "nat", "none", "null", "-", "—", "无"):
        return None
    return _parse_text(text)


_FULL_WIDTH = str.maketrans("０１２３４５６７８９／．－：", "0123456789/.-:")
_YMD = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?(?:[T\s]+\d{1,2}:\d{2}(:\d{2})?)?"
)
_YM = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?")


def _parse_text(text: str) -> Span:
    if m := _YMD.fullmatch(text):
        day = dt.date(int(m[1]), int(m[2]), int(m[3]))
        return (day, day)
    if re.fullmatch(r"\d{8}", text):
        day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return (day, day)
    if re.fullmatch(r"\d{5}(\.0+)?", text) and 30000 <= float(text) <= 99999:
        day = dt.date(1899, 12, 30) + dt.timedelta(days=int(float(text)))
        return (day, day)
    if m := _YM.fullmatch(text):
        first = dt.date(int(m[1]), int(m[2]), 1)
        nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return (first, nxt - dt.timedelta(days=1))
    msg = f"{text!r} is not a date"
    raise ValueError(msg)


def show_date(span: Span) -> str:
    """Return an ISO date, or YYYY-MM for a whole month."""
    lo, hi = span
    return lo.isoformat() if lo == hi else lo.strftime("%Y-%m")


def parse_number(value: Any) -> float | None:
    """Parse a number cell ("2,350", "380 m²", "2350户"); None when empty, else ValueError."""
    if is_empty(value):
        return None
    if isinstance(value, bool):
        raise ValueError(repr(value))
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    text = str(value).strip().translate(_FULL_WIDTH).replace(",", "").replace("，", "")
    if not text or text.lower() in ("nan", "none", "null", "-", "—"):
        return None
    m = re.fullmatch(r"([-+]?\d*\.?\d+)\s*(m2|m²|㎡|平方米|平米|户|套|人)?", text)
    if m is None:
        raise ValueError(repr(value))
    return float(m[1])


def parse_phase(value: Any) -> float | None:
    """Parse a phase: 1, "1期", "一期", "第二期"; None when empty, else ValueError."""
    if is_empty(value):
        return None
    text = str(value).strip().translate(_FULL_WIDTH)
    text = re.sub(r"^第|期$", "", text)
    if text in _CN_DIGITS:
        return float(_CN_DIGITS[text])
    if re.fullmatch(r"\d+(\.0+)?", text):
        return float(text)
    raise ValueError(repr(value))


def parse_area_kind(value: Any) -> str | None:
    """Return "new" or "existing" for a register value; None when empty, else ValueError."""
    if is_empty(value):
        return None
    text = norm(value)
    for kind, words in _AREA_KINDS.items():
        if text in words:
            return kind
    raise ValueError(repr(value))


def parse_sites(value: Any) -> list[float] | None:
    """Parse "380;360", "380+360" or "380、360" into site areas (m²)."""
    if is_empty(value):
        return None
    parts = [p for p in re.split(r"[;；+、/|\s]+", str(value).strip()) if p]
    areas = [parse_number(p) for p in parts]
    return [a for a in areas if a is not None]


# --------------------------------------------------------------------------- reading
def _describe(path: Path) -> str:
    return f"'{path.name}'"


def _read_source(
    src: str | Path, *, layer: str | None, facilities: bool
) -> tuple[pd.DataFrame, str, pd.DataFrame | None, str]:
    """Read a file; return the table, the row word, a facility table beside it and its name."""
    path = Path(src)
    if not path.is_file():
        what = "Facility file" if facilities else "Register"
        msg = f"{what} '{path}' does not exist. Check the path and the working folder."
        raise InputError(msg)
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            try:
                return pd.read_csv(path, dtype=str, encoding="utf-8-sig"), "row", None, ""
            except UnicodeDecodeError:
                return pd.read_csv(path, dtype=str, encoding="gb18030"), "row", None, ""
        if suffix in (".xlsx", ".xlsm", ".xls"):
            sheets = pd.read_excel(path, sheet_name=None)
            main, other = _choose_layers(list(sheets), layer, facilities, path)
            return sheets[main], "row", (sheets[other] if other else None), other or ""
        names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
        main, other = _choose_layers(names, layer, facilities, path)
        table = gpd.read_file(path, layer=main)
        extra = gpd.read_file(path, layer=other) if other else None
    except InputError:
        raise
    except Exception as exc:  # any reader failure: pandas, openpyxl, zipfile, GDAL
        msg = (
            f"Cannot read {_describe(path)}: {exc}. Give a GeoPackage, GeoJSON, shapefile, "
            "CSV (UTF-8 or GB18030) or Excel (.xlsx) file."
        )
        raise InputError(msg) from exc
    return table, "feature", extra, other or ""


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
    if isinstance(src, pd.DataFrame):
        raw = src.copy()
        source = name or ("the facility layer" if facilities else "the register")
        word = "feature" if isinstance(src, gpd.GeoDataFrame) else "row"
        rows = np.asarray(raw["row"]) if "row" in raw else np.arange(1, len(raw) + 1)
    else:
        raw, word, extra, extra_name = _read_source(src, layer=layer, facilities=facilities)
        source = _describe(Path(src))
        rows = np.arange(2, len(raw) + 2) if word == "row" else np.arange(1, len(raw) + 1)
        if extra is not None:
            first = 2 if word == "row" else 1
            extra = extra.assign(row=np.arange(first, len(extra) + first))
    if len(raw) == 0:
        msg = f"{source} is empty: it has no rows. Check the file, sheet or layer."
        raise InputError(msg)
    mapping = _map_columns(raw, columns, FACILITY_ALIASES if facilities else ALIASES, source)
    found = set(mapping) - {"lon", "lat", "wkt", "row"}
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


# --------------------------------------------------------------------------- records
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
        "geometry": bool(reg.frame.geometry.isna().all()),
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


# --------------------------------------------------------------------------- reach
def resident_points(geom: Any, *, max_points: int = 32) -> list[Any]:
    """Return the points standing for a development's residents (metric CRS geometry).

    A polygon gives an inner point and its boundary corners (or `max_points` points evenly
    along the boundary when it has more corners); a point gives itself.
    """
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type in ("Point", "MultiPoint"):
        return list(getattr(geom, "geoms", [geom]))
    pts = [geom.representative_point()]
    rings = [p.exterior for p in getattr(geom, "geoms", [geom])]
    for ring in rings:
        corners = [shapely.Point(xy) for xy in list(ring.coords)[:-1]]
        if len(corners) > max_points:
            step = ring.length / max_points
            corners = [ring.interpolate(k * step) for k in range(max_points)]
        pts += corners
    return pts


def _subset(snapped: Any, mask: np.ndarray) -> Any:
    from planning.access import Snapped

    return Snapped(
        snapped.index[mask],
        snapped.edge[mask],
        snapped.pos_m[mask],
        snapped.snap_dist_m[mask],
        snapped.status[mask],
    )


def _existing(stations: Any, kinds: Any) -> gpd.GeoDataFrame | None:
    if stations is None:
        return None
    st = stations if isinstance(stations, gpd.GeoDataFrame) else _read_stations(stations)
    if kinds and "kind" in st:
        st = st[st["kind"].astype(str).isin(list(kinds))]
    if "status" in st:
        st = st[st["status"].astype(str) == "existing"]
    return st[st.geometry.notna()]


def _read_stations(path: Any) -> gpd.GeoDataFrame:
    from planning.io import read_stations

    return read_stations(path)


def judge_reach(
    devs: list[Dev], rule: Any, speed: float, network: Any, stations: Any, metric: Any
) -> list[Judgement]:
    """Judge the walking reach of every development (UNKNOWN without a network)."""
    from planning.access import nearest_times, snap_points
    from planning.network import Network, read_network

    to, inclusive = list(rule.get("to", ["own", "stations"])), bool(rule.get("inclusive", True))
    minutes, metres = rule.get("threshold_min"), rule.get("max_dist_m")
    limit_s = float(minutes) * 60.0 if minutes is not None else float(metres) / speed
    what = (
        (f"{fmt(minutes)} 分钟", f"{fmt(minutes)} min")
        if minutes is not None
        else (f"{fmt(metres)} m", f"{fmt(metres)} m")
    )
    st = _existing(stations, rule.get("kinds")) if "stations" in to else None
    st_m = list(st.to_crs(metric).geometry) if st is not None else []
    res = [resident_points(_to(d.geom, metric)) for d in devs]
    own = [
        [_to(s.geom, metric) for s in d.sites or [] if s.geom is not None] if "own" in to else []
        for d in devs
    ]
    straight = [
        max((min(p.distance(t) for t in sites + st_m) for p in pts), default=math.nan)
        if sites + st_m
        else math.nan
        for pts, sites in zip(res, own, strict=True)
    ]
    out = [Judgement(UNKNOWN, *say("no_network"), extra={"reach_straight_m": x}) for x in straight]
    if network is None:
        return out
    net = network if isinstance(network, Network) else read_network(network, walk_speed_m_s=speed)
    if not math.isclose(net.walk_speed_m_s, speed):
        net = net.with_speed(speed)
    snap_m = rule.get("max_snap_m")
    which = np.array([k for k, pts in enumerate(res) for _ in pts], dtype=np.int64)
    pts_all = gpd.GeoDataFrame(geometry=[p for pts in res for p in pts], crs=metric)
    snapped = snap_points(net, pts_all, max_snap_m=snap_m)
    st_time = np.full(len(pts_all), np.inf)
    if st_m:
        st_snap = snap_points(net, gpd.GeoDataFrame(geometry=st_m, crs=metric), max_snap_m=snap_m)
        st_time = nearest_times(net, st_snap, snapped)[0]
    for k in range(len(devs)):
        mask = which == k
        if not mask.any():
            out[k] = Judgement(UNKNOWN, *say("no_geometry"))
            continue
        best, mine = st_time[mask].copy(), _subset(snapped, mask)
        site_snap = None
        if own[k]:
            sites = gpd.GeoDataFrame(geometry=own[k], crs=metric)
            site_snap = snap_points(net, sites, max_snap_m=snap_m)
            if site_snap.ok.any():
                best = np.minimum(best, nearest_times(net, site_snap, mine)[0])
        unsure = (
            say("no_stations")
            if "stations" in to and st is None
            else (
                say("site_off_road") if site_snap is not None and not site_snap.ok.all() else None
            )
        )
        out[k] = _reach_verdict(best, mine.ok, limit_s, inclusive, what, speed, unsure, straight[k])
    return out


def _to(geom: Any, crs: Any) -> Any:
    return None if geom is None else gpd.GeoSeries([geom], crs=4326).to_crs(crs).iloc[0]


def _reach_verdict(
    best: np.ndarray,
    ok: np.ndarray,
    limit_s: float,
    inclusive: bool,
    what: tuple[str, str],
    speed: float,
    unsure: tuple[str, str] | None,
    straight: float,
) -> Judgement:
    extra = {"reach_straight_m": straight}
    if not ok.all():
        return Judgement(UNKNOWN, *say("off_road", n=int((~ok).sum())), extra=extra)
    worst = float(best.max())
    extra["reach_time_min"] = worst / 60.0
    kw = {"min": fmt(worst / 60.0), "m": fmt(worst * speed), "what_zh": what[0], "what_en": what[1]}
    if worst <= limit_s + 1e-9 if inclusive else worst < limit_s - 1e-9:
        return Judgement(PASS, *say("reach_pass", **kw), 0.0, extra)
    if unsure is not None:
        return Judgement(
            UNKNOWN, *say("reach_unknown", why_zh=unsure[0], why_en=unsure[1], **kw), extra=extra
        )
    if not math.isfinite(worst):
        return Judgement(FAIL, *say("unreachable", **kw), math.inf, extra)
    excess = (worst - limit_s) / 60.0
    word = ("不超过", "within") if inclusive else ("小于", "under")
    return Judgement(
        FAIL,
        *say(
            "reach_fail",
            excess=fmt(excess),
            excess_m=fmt(excess * 60.0 * speed),
            word_zh=word[0],
            word_en=word[1],
            **kw,
        ),
        excess,
        extra,
    )


# --------------------------------------------------------------------------- assembly
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


# --------------------------------------------------------------------------- outputs
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
    """Write sheets to an Excel workbook with frozen headers and readable widths."""
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            ws = writer.sheets[name]
            ws.freeze_panes = "A2"
            for k, col in enumerate(frame.columns, start=1):
                width = max([len(str(col))] + [len(str(v)) for v in frame[col].head(50)])
                ws.column_dimensions[ws.cell(1, k).column_letter].width = min(60, width + 2)
