"""Output files that are safe to open and identical on every run of the same inputs.

Shared by every stage that writes tables: workbook cells from data are always text (a
name like ``=HYPERLINK(...)`` never becomes a formula), CSV cells that a spreadsheet would
read as a formula get the usual guard (a leading ``'``), workbooks and GeoPackages carry
one fixed date instead of the time of writing, and an output folder is checked before
any work is done.
"""

from __future__ import annotations

import errno
import io
import os
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from planning._errors import OutputError

#: The date written into workbooks and GeoPackages (created, modified, last change).
FIXED_DATE = datetime(2000, 1, 1)
#: First characters with which a spreadsheet reads a CSV cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Encoding of every CSV the toolkit writes: UTF-8 with a byte-order mark.
CSV_ENCODING = "utf-8-sig"
#: What the CSV guard puts before such a cell (spreadsheets show the text as it was).
CSV_GUARD = "'"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_W3CDTF = FIXED_DATE.strftime("%Y-%m-%dT%H:%M:%SZ")
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def guard_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with every text cell (and header) that could start a formula guarded.

    A text cell starting with ``= + - @``, a tab or a carriage return gets a leading
    ``'``, which spreadsheets treat as "text follows"; numbers are left alone. Read the
    table back with :func:`unguard_csv`.
    """
    return _map_text(frame, _guard)


def unguard_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`guard_csv` on a table read back from a CSV file."""
    return _map_text(frame, _unguard)


def _map_text(frame: pd.DataFrame, func: Any) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype):
            out[col] = out[col].map(func)
    out.columns = [func(c) for c in out.columns]
    return out


def _guarded(value: str) -> bool:
    """Whether a text needs the guard: it starts like a formula, guards aside.

    Counting guards already there keeps :func:`unguard_csv` exact for a text such as
    ``'=x`` (written ``''=x``, read back ``'=x``).
    """
    return value.lstrip(CSV_GUARD).startswith(FORMULA_START)


def _guard(value: Any) -> Any:
    if isinstance(value, str) and _guarded(value):
        return CSV_GUARD + value
    return value


def _unguard(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(CSV_GUARD) and _guarded(value[1:]):
        return value[1:]
    return value


def write_csv(frame: pd.DataFrame, path: str | Path, **kwargs: Any) -> Path:
    """Write `frame` as CSV: UTF-8 with a byte-order mark, no index, formula-like text guarded.

    The byte-order mark lets Excel on Chinese Windows open Chinese text ungarbled (pandas,
    QGIS and :func:`read_csv` read it as plain UTF-8). Text that a spreadsheet would read
    as a formula is guarded (see :func:`guard_csv`). Lines end with CR LF (RFC 4180), so
    that a text holding a carriage return or a line break is quoted and reads back as one
    cell.

    Parameters
    ----------
    frame : DataFrame
    path : str or Path
        CSV file to write (replaced when it exists).
    **kwargs
        Passed to :meth:`pandas.DataFrame.to_csv` (e.g. ``float_format``).

    Returns
    -------
    Path

    """
    kwargs.setdefault("index", False)
    out = Path(path)
    guard_csv(frame).to_csv(out, lineterminator="\r\n", encoding=CSV_ENCODING, **kwargs)
    return out


def read_csv(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV written by :func:`write_csv`, guards removed."""
    return unguard_csv(pd.read_csv(path, encoding=CSV_ENCODING, **kwargs))


def text_cells(book: Any) -> None:
    """Turn every cell of an openpyxl workbook that would be a formula into text.

    openpyxl stores a string starting with ``=`` as a formula; the project writes no
    formulas, so every such cell came from data and is stored as the text it is.
    """
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"


@contextmanager
def workbook_writer(path: Path) -> Iterator[pd.ExcelWriter]:
    """Yield a pandas ``ExcelWriter`` whose file is text-only and the same on every run.

    On leaving the block, formula-like cells become text (:func:`text_cells`), the
    document's created and modified dates are :data:`FIXED_DATE` and the entries of the
    zip file carry one fixed date, then the workbook is written to `path`.
    """
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        yield writer
        text_cells(writer.book)
        writer.book.properties.created = FIXED_DATE
        writer.book.properties.creator = "planning"
    path.write_bytes(_fixed_zip(buffer.getvalue()))


def _fixed_zip(data: bytes) -> bytes:
    """Return a workbook's zip archive with one fixed date everywhere, entries in order.

    openpyxl stamps the time of saving into ``docProps/core.xml`` (``modified``) and
    into every zip entry; both become fixed dates.
    """
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            content = src.read(info)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>" + _W3CDTF.encode() + rb"\g<2>", content)
            dst.writestr(entry, content)
    return out.getvalue()


@contextmanager
def fixed_gdal_date() -> Iterator[None]:
    """Make GDAL date what it writes (``gpkg_contents.last_change``) :data:`FIXED_DATE`."""
    import pyogrio

    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options(
        {"OGR_CURRENT_DATE": FIXED_DATE.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    )
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})


def check_output_dir(path: Path) -> None:
    """Check that folder `path` exists or can be created, and can be written.

    Missing folders are created (with their parents). A probe file is written, flushed
    and removed, so that a read-only folder, a path that names a file or a full disk is
    reported before any work is done rather than after it.

    Raises
    ------
    OutputError
        Naming the path, what is wrong and what to do.

    """
    path = Path(path)
    require_creatable(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe(path)
    except OSError as exc:
        raise output_error(exc, path) from exc


def require_creatable(path: Path) -> None:
    """Raise OutputError when folder `path`, or the first of its parents that exists, is a file."""
    blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        what = "is a file" if blocker == path else f"cannot be created: '{blocker}' is a file"
        msg = f"Output folder '{path}' {what}, not a folder. Give another folder with --out."
        raise OutputError(msg)


def probe(folder: Path) -> None:
    """Write, flush to disk and remove a small file in `folder` (raises OSError)."""
    target = folder / f".planning-probe-{os.getpid()}"
    try:
        with target.open("wb") as fh:
            fh.write(b"\0" * 65536)
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        target.unlink(missing_ok=True)


def output_error(exc: OSError, path: Path) -> OutputError:
    """Return an OutputError for a failed write of `path` (or of ``exc.filename``)."""
    where = Path(exc.filename) if getattr(exc, "filename", None) else path
    fixes = {
        errno.ENOSPC: "the disk is full: free some space or write elsewhere with --out",
        errno.EDQUOT: "the disk quota is exhausted: free some space or write elsewhere",
        errno.EACCES: "no permission to write there: choose a folder you can write with --out",
        errno.EPERM: "no permission to write there: choose a folder you can write with --out",
        errno.EROFS: "the file system is read-only: write elsewhere with --out",
        errno.ENOTDIR: "a part of the path is a file, not a folder: give another --out",
    }
    fix = fixes.get(exc.errno or 0, "check the folder and the disk, or write elsewhere with --out")
    msg = f"Cannot write '{where}': {exc.strerror or exc}; {fix}."
    return OutputError(msg)


def write_gpkg(gdf: Any, path: Path, layer: str, **options: Any) -> Path:
    """Write `gdf` as `layer` of the GeoPackage `path` (added when the file exists).

    `options` go to GDAL's GPKG driver (e.g. ``SPATIAL_INDEX="NO"``).
    Dates GDAL records are :data:`FIXED_DATE`; a file GDAL cannot create or write is
    raised as ``OSError`` naming `path`.
    """
    from pyogrio.errors import DataLayerError, DataSourceError, FeatureError

    with fixed_gdal_date():
        try:
            gdf.to_file(path, layer=layer, driver="GPKG", **options)
        except (DataSourceError, FeatureError, DataLayerError) as exc:
            if type(exc) not in (DataSourceError, FeatureError, DataLayerError):
                raise
            text = f"GDAL could not write layer '{layer}' ({exc})"
            raise OSError(errno.EIO, text, str(path)) from exc
    return path


#: Metadata that keeps the time of writing and the library versions out of figures.
_FIGURE_METADATA: dict[str, dict[str, None]] = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
    "svg": {"Creator": None, "Date": None},
}


def save_figure(fig: Any, path: Path, **kwargs: Any) -> Path:
    """Save a matplotlib figure so that the same figure gives the same bytes.

    PNG, PDF and SVG files carry no date and no software version; SVG element ids are
    derived from a fixed salt instead of a random one.
    """
    import matplotlib

    fmt = path.suffix.lstrip(".").lower() or "png"
    with matplotlib.rc_context({"svg.hashsalt": "planning"}):
        fig.savefig(path, metadata=_FIGURE_METADATA.get(fmt), **kwargs)
    return path
