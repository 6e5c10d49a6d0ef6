"""Safe and repeatable output files: text-only workbooks, guarded CSV, fixed dates, probes."""

from __future__ import annotations

import csv
import errno
import os
import re
import sqlite3
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from planning import _writing
from planning._errors import OutputError
from planning._writing import (
    check_output_dir,
    guard_csv,
    unguard_csv,
    workbook_writer,
    write_csv,
    write_gpkg,
)

#: Names that a spreadsheet would run as formulas if written as they are.
EVIL = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "=1+1"]


def _frame() -> pd.DataFrame:
    names = [*EVIL, "plain", "'=quoted", "a=b"]
    return pd.DataFrame({"name": names, "value": [-1.5, *range(len(names) - 1)], "=head": "x"})


# --------------------------------------------------------------------------- CSV
def test_csv_cells_never_start_a_formula(tmp_path):
    path = write_csv(_frame(), tmp_path / "t.csv", index=False)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    cells = [cell for row in rows for cell in row]
    text = [c for c in cells if not re.fullmatch(r"-?[0-9.]+", c)]
    assert text and not [c for c in text if c[:1] in "=+-@\t\r"]
    assert rows[0][2] == "'=head"
    assert '\'=HYPERLINK("http://x","y")' in cells and "'+1" in cells
    # numbers stay numbers, ordinary text is unchanged
    assert "-1.5" in cells and "plain" in cells and "a=b" in cells


def test_csv_guard_reads_back_exactly(tmp_path):
    frame = _frame()
    path = write_csv(frame, tmp_path / "t.csv", index=False)
    back = unguard_csv(pd.read_csv(path))
    pd.testing.assert_frame_equal(back, frame)


@given(st.lists(st.text(alphabet="=+-@'\t\rab1 ", max_size=6), min_size=1, max_size=8))
def test_guard_is_undone_by_unguard(values):
    frame = pd.DataFrame({"v": values})
    guarded = guard_csv(frame)
    assert not guarded["v"].map(lambda s: s[:1] in ("=", "+", "-", "@", "\t", "\r")).any()
    pd.testing.assert_frame_equal(unguard_csv(guarded), frame)


# --------------------------------------------------------------------------- workbook
def _write_book(path: Path) -> Path:
    with workbook_writer(path) as writer:
        _frame().to_excel(writer, sheet_name="names", index=False)
    return path


def test_workbook_cells_from_data_are_text(tmp_path):
    path = _write_book(tmp_path / "t.xlsx")
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    ws = openpyxl.load_workbook(path)["names"]
    cells = {c.value: c.data_type for row in ws.iter_rows() for c in row}
    for name in [*EVIL, "=head"]:
        # XML reads a carriage return as a line feed
        assert cells[name.replace("\r", "\n")] == "s", name


def test_workbook_is_dated_once_for_all(tmp_path):
    a = _write_book(tmp_path / "a.xlsx")
    with zipfile.ZipFile(a) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert re.findall(r"<dcterms:(\w+)[^>]*>([^<]*)<", core) == [
        ("created", "2000-01-01T00:00:00Z"),
        ("modified", "2000-01-01T00:00:00Z"),
    ]
    b = _write_book(tmp_path / "b.xlsx")
    assert a.read_bytes() == b.read_bytes()


# --------------------------------------------------------------------------- GeoPackage
def test_geopackage_is_dated_once_and_gdal_left_as_it_was(tmp_path):
    gdf = gpd.GeoDataFrame({"a": ["x"]}, geometry=[shapely.Point(0, 0)], crs=4326)
    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    paths = []
    for k in range(2):
        path = tmp_path / f"{k}.gpkg"
        write_gpkg(gdf, path, "one")
        write_gpkg(gdf, path, "two")
        paths.append(path)
    with sqlite3.connect(paths[0]) as db:
        changes = db.execute("SELECT table_name, last_change FROM gpkg_contents").fetchall()
    fixed = "2000-01-01T00:00:00.000Z"
    assert sorted(changes) == [("one", fixed), ("two", fixed)]
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") == before


def test_geopackage_write_failure_names_the_file(tmp_path):
    gdf = gpd.GeoDataFrame({"a": ["x"]}, geometry=[shapely.Point(0, 0)], crs=4326)
    target = tmp_path / "no-such-folder" / "x.gpkg"
    with pytest.raises(OSError) as info:
        write_gpkg(gdf, target, "one")
    assert info.value.filename == str(target)


# --------------------------------------------------------------------------- output folder
def test_output_folder_created_with_parents(tmp_path):
    out = tmp_path / "a" / "b" / "c"
    check_output_dir(out)
    assert out.is_dir() and not list(out.iterdir())


def test_output_folder_that_is_a_file(tmp_path):
    file = tmp_path / "report.txt"
    file.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match=r"report\.txt' is a file, not a folder.*--out"):
        check_output_dir(file)
    with pytest.raises(OutputError, match=r"cannot be created: '.*report\.txt' is a file"):
        check_output_dir(file / "run")


@contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    """Make `folder` one nobody can write, not even root (chmod, plus chattr +i for root)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    immutable = False
    try:
        if os.geteuid() == 0:
            done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
            if done.returncode != 0:
                pytest.skip("running as root on a file system without chattr +i")
            immutable = True
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


@pytest.fixture
def read_only(tmp_path):
    with read_only_folder(tmp_path / "locked") as folder:
        yield folder


def test_output_folder_read_only(read_only):
    with pytest.raises(OutputError, match=r"Cannot write '.*locked.*'.*permission.*--out"):
        check_output_dir(read_only)
    with pytest.raises(OutputError, match=r"Cannot write '.*locked.*run'.*--out"):
        check_output_dir(read_only / "run")


def test_output_folder_full_disk(tmp_path, monkeypatch):
    def full(folder):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "probe"))

    monkeypatch.setattr(_writing, "probe", full)
    with pytest.raises(OutputError, match=r"Cannot write '.*probe': No space left.*disk is full"):
        check_output_dir(tmp_path / "out")


# --------------------------------------------------------------------------- compliance.xlsx
DEVS = Path(__file__).resolve().parent.parent / "data" / "wuhan_developments.gpkg"


@pytest.mark.parametrize("chinese", [False, True])
def test_compliance_outputs_hold_no_formula(tmp_path, chinese):
    from planning import compliance

    devs = gpd.read_file(DEVS, layer="developments")
    names = (EVIL * len(devs))[: len(devs)]
    devs["name"] = names
    result = compliance.check_developments(devs, None, "guangdong-city", asof="2026-12-31")
    paths = compliance.write_outputs(result, tmp_path, chinese_headers=chinese)
    book = openpyxl.load_workbook(paths["xlsx"])
    kinds = {c.data_type for ws in book.worksheets for row in ws.iter_rows() for c in row}
    assert "f" not in kinds
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    column = header.index("项目名称" if chinese else "name") + 1
    written = [sheet.cell(row=r, column=column).value for r in range(2, len(devs) + 2)]
    assert written == [n.replace("\r", "\n") for n in names]
    with paths["csv"].open(encoding="utf-8-sig", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
    back = compliance.read_outputs(paths["csv"])
    assert back["name"].tolist() == names


def test_check_developments_output_that_is_a_file(tmp_path, capsys):
    from planning import cli

    file = tmp_path / "out.txt"
    file.write_text("x", encoding="utf-8")
    args = ["check-developments", str(DEVS), "--rules", "guangdong-city", "--out", str(file)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "out.txt' is a file, not a folder" in err and "Traceback" not in err


# --------------------------------------------------------------------------- figures
@pytest.mark.parametrize(
    ("suffix", "absent"),
    [("png", [b"Software", b"Matplotlib"]), ("pdf", [b"CreationDate", b"Matplotlib"]),
     ("svg", [b"<dc:date>", b"Matplotlib"])],
)  # fmt: skip
def test_figures_carry_no_date_or_version(tmp_path, suffix, absent):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    paths = []
    for k in range(2):
        fig = Figure(figsize=(3, 2))
        FigureCanvasAgg(fig)
        fig.add_subplot().plot([0, 1, 2], [1, 0, 2], label="a")
        paths.append(_writing.save_figure(fig, tmp_path / f"{k}.{suffix}"))
    data = paths[0].read_bytes()
    assert data == paths[1].read_bytes()
    for marker in absent:
        assert marker not in data, marker


def test_coverage_curve_image_is_repeatable(tmp_path):
    from planning import siting

    curve = pd.DataFrame(
        {"p": [0, 1, 2], "share": [0.5, 0.6, 0.65], "marginal_gain": [0.0, 10.0, 5.0],
         "status": ["optimal", "optimal", "time_limit"]}
    )  # fmt: skip
    a = siting.plot_coverage_curve(curve, tmp_path / "a.svg").read_bytes()
    b = siting.plot_coverage_curve(curve, tmp_path / "b.svg").read_bytes()
    assert a == b and b"<dc:date>" not in a
