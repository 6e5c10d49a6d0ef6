"""Bad-input catalogue, part 3: development registers, via `planning check-developments`.

Registers as bureaus write them (title rows, two-row merged headers, GBK, unknown
headers, swapped coordinates) and broken ones; then a property-based test: any order of
columns, extra columns, title rows, two-row headers and encoding read to the same records.
"""

from __future__ import annotations

import math
import string
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely
from _bad_fixtures import (
    REGISTER_HEADERS,
    Case,
    Ctx,
    check_case,
    developments_layer,
    params,
    register_frame,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.compliance._register import read_table

ARGS = ["--rules", "guangdong-city", "--asof", "2026-12-31", "--lang", "en"]
N_DEVELOPMENTS = len(register_frame())
TITLE = "2026年新建住宅小区养老服务设施配建情况登记表"
_SIDES = {"住宅": "住宅", "养老设施": "养老设施"}


@pytest.fixture
def ctx(tmp_path: Path) -> Ctx:
    return Ctx(tmp_path, {}, {})


def _check(c: Ctx, path: Path, *extra: str) -> list[str]:
    return ["check-developments", str(path), *ARGS, "--out", str(c.folder / "out"), *extra]


def _csv(c: Ctx, table: pd.DataFrame, *, encoding: str = "utf-8", above: str = "") -> Path:
    path = c.folder / "register.csv"
    path.write_bytes((above + table.to_csv(index=False)).encode(encoding))
    return path


def _two_row_cells(table: pd.DataFrame) -> list[list[Any]]:
    """A two-row header: 住宅/养老设施 merged over their milestone columns."""
    top, bottom, last = [], [], None
    for col in table.columns:
        side = next((s for s in _SIDES if col.startswith(s) and col.endswith("日期")), None)
        if side is None:
            top.append(col)
            bottom.append(None)
            last = None
        else:
            top.append(side if side != last else None)
            bottom.append(col[len(side) :])
            last = side
    return [top, bottom]


def _grid(rows: list[list[Any]]) -> pd.DataFrame:
    """Rows of cells as a sheet: short rows (titles) padded with empty cells."""
    width = max(len(r) for r in rows)
    return pd.DataFrame([[*r, *[None] * (width - len(r))] for r in rows])


def _xlsx(c: Ctx, rows: list[list[Any]], name: str = "register.xlsx") -> Path:
    path = c.folder / name
    _grid(rows).to_excel(path, index=False, header=False)
    return path


def _body(table: pd.DataFrame) -> list[list[Any]]:
    return table.astype(object).where(table.notna(), None).to_numpy().tolist()


def _reported(header: str, ignored: str) -> Any:
    def check(ctx: Ctx, text: str) -> None:
        assert f"header on line(s) {header}" in text, text
        assert f"not recognised (unused): {ignored}" in text, text
        assert f"{N_DEVELOPMENTS} developments" in text
        assert " nan " not in text and "'nan'" not in text

    return check


def _swapped_polygon(c: Ctx) -> list[str]:
    table = register_frame().drop(columns=["经度", "纬度"])
    polys = developments_layer()
    wkt = [
        shapely.to_wkt(shapely.transform(g, lambda xy: xy[:, ::-1]))
        if i == 0
        else shapely.to_wkt(g)
        for i, g in enumerate(polys.geometry)
    ]
    return _check(c, _csv(c, table.assign(边界WKT=wkt)))


def _swapped_reason(ctx: Ctx, text: str) -> None:
    first = next(line for line in text.splitlines() if line.strip().startswith("D01"))
    assert "inf m" not in first and "look swapped" in first, first


REGISTER = [
    Case(
        "register-missing",
        lambda c: _check(c, c.folder / "nope.xlsx"),
        r"Register file '.*nope\.xlsx' does not exist\. Check the path",
    ),
    Case(
        "register-zero-bytes",
        lambda c: _check(c, c.file("reg.csv")),
        r"Register file '.*reg\.csv' is empty \(0 bytes\)",
    ),
    Case(
        "register-folder",
        lambda c: _check(c, c.file("regs/a.csv", "x").parent),
        r"Register '.*regs' is a folder, not a file\. Give the file inside it \(it holds a\.csv",
    ),
    Case(
        "register-wrong-sheet",
        lambda c: _check(c, _xlsx(c, [list(register_frame().columns)]), "--layer", "登记"),
        r"register\.xlsx' has no layer or sheet '登记'; it has \['Sheet1'\]",
    ),
    Case(
        "register-damaged-xlsx",
        lambda c: _check(c, c.file("reg.xlsx", b"PK\x03\x04 not a workbook")),
        r"Cannot read register workbook '.*reg\.xlsx'.*Save it again from Excel",
    ),
    Case(
        "register-not-gis",
        lambda c: _check(c, c.file("reg.gpkg", "dev_id,households\n")),
        r"Cannot open register file '.*reg\.gpkg' as a GIS layer.*Export it again",
    ),
    Case(
        "register-header-only",
        lambda c: _check(c, c.file("reg.csv", "项目编号,户数\n")),
        r"'reg\.csv' is empty: it has no rows",
    ),
    Case(
        "register-no-usable-column",
        lambda c: _check(c, c.file("reg.csv", "foo,bar\n1,2\n")),
        r"'reg\.csv': none of its columns can be used .*--column 'your header=households'",
    ),
    Case(
        "register-id-not-recognised",
        lambda c: _check(c, _csv(c, register_frame().rename(columns={"项目编号": "备案号"}))),
        r"register\.csv' has no development id column: none of its headers means dev_id "
        r"\(not recognised: 备案号, 备注\)\..*--column 'your header=dev_id'",
    ),
    Case(
        "register-id-mapped",
        lambda c: _check(
            c,
            _csv(c, register_frame().rename(columns={"项目编号": "备案号"})),
            "--column",
            "备案号=dev_id",
        ),
        r"13 developments",
        rc=1,
    ),
    Case(
        "register-bad-column-option",
        lambda c: _check(c, _csv(c, register_frame()), "--column", "户数"),
        r"--column '户数' must be HEADER=NAME, e\.g\. --column '总户数=households'",
    ),
    Case(
        "register-unknown-rules",
        lambda c: ["check-developments", str(_csv(c, register_frame())), "--rules", "mars-2030"],
        r"mars-2030",
    ),
    Case(
        "register-title-rows",
        lambda c: _check(
            c, _csv(c, register_frame(), above=f"{TITLE},,,\n填报单位：某区民政局,,,\n")
        ),
        r"header on line\(s\) 3",
        rc=1,
        then=_reported("3", "备注"),
    ),
    Case(
        "register-two-row-header-xlsx",
        lambda c: _check(
            c, _xlsx(c, [[TITLE], *_two_row_cells(register_frame()), *_body(register_frame())])
        ),
        r"header on line\(s\) 2, 3",
        rc=1,
        then=_reported("2, 3", "备注"),
    ),
    Case(
        "register-gbk",
        lambda c: _check(c, _csv(c, register_frame(), encoding="gbk")),
        r"13 developments",
        rc=1,
        then=_reported("1", "备注"),
    ),
    Case(
        "register-swapped-polygon",
        _swapped_polygon,
        r"D01 UNKNOWN: .*coordinates .*look swapped \(lat, lon order\).*longitude first",
        rc=1,
        then=_swapped_reason,
    ),
    Case(
        "register-swapped-points",
        lambda c: _check(
            c, _csv(c, register_frame().rename(columns={"经度": "纬度", "纬度": "经度"}))
        ),
        r"D01 UNKNOWN: .*looks swapped \(lon, lat order\)",
        rc=1,
    ),
    Case(
        "register-bad-asof",
        lambda c: [
            "check-developments",
            str(_csv(c, register_frame())),
            "--rules",
            "guangdong-city",
            "--asof",
            "yesterday",
        ],
        r"yesterday",
    ),
]


@pytest.mark.parametrize("case", params(REGISTER))
def test_bad_register(case: Case, ctx: Ctx) -> None:
    check_case(case, ctx)


# ---------------------------------------------------------------- property-based test
_CANONICAL = [*REGISTER_HEADERS, "lon", "lat"]
_EXTRA = ("联系人", "联系电话", "审批科室", "填报日期说明")


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        return f"{float(str(value).replace(',', '')):.6g}"
    except ValueError:
        return str(value).strip()


def _records(path: Path) -> list[tuple[str, ...]]:
    frame = read_table(path).frame
    return [tuple(_cell(v) for v in row) for row in frame[_CANONICAL].itertuples(index=False)]


BASELINE = [
    tuple(_cell(v) for v in row)
    for row in register_frame()
    .rename(columns={v: k for k, v in REGISTER_HEADERS.items()} | {"经度": "lon", "纬度": "lat"})[
        _CANONICAL
    ]
    .itertuples(index=False)
]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    order=st.permutations(list(register_frame().columns)),
    extra=st.lists(st.sampled_from(_EXTRA), unique=True, max_size=3),
    titles=st.lists(st.text(string.ascii_letters + "登记表填报单位区", min_size=1), max_size=3),
    two_rows=st.booleans(),
    fmt=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "xlsx"]),
)
def test_register_layouts_parse_to_the_same_records(
    tmp_path: Path, order: list[str], extra: list[str], titles: list[str], two_rows: bool, fmt: str
) -> None:
    table = register_frame()[order].assign(**{e: f"{e}-值" for e in extra})
    header = _two_row_cells(table) if two_rows else [list(table.columns)]
    rows = [[t] for t in titles] + header + _body(table)
    if fmt == "xlsx":
        path = tmp_path / "register.xlsx"
        _grid(rows).to_excel(path, index=False, header=False)
    else:
        path = tmp_path / "register.csv"
        _grid(rows).to_csv(path, index=False, header=False, encoding=fmt)
    got = read_table(path)
    assert _records(path) == BASELINE
    first = len(titles) + len(header) + 1
    assert got.frame["row"].tolist() == list(range(first, first + N_DEVELOPMENTS))
    assert got.extra["headers"]["ignored"] == [*(c for c in order if c == "备注"), *extra]
