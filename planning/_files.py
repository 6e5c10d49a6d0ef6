"""Open the files a run reads: one reader for GIS layers, one for CSV and Excel tables.

Every reader of stations, sites, units, roads, population layers and registers opens its
file here, so that a missing file, a folder, an empty or truncated file, a wrong layer
name or an unreadable encoding gets the same message everywhere: the file, what is
wrong, what the file does hold, and the fix. No error of GDAL (pyogrio's
``DataSourceError``/``DataLayerError``), pandas or openpyxl escapes.

Tables are read as bureaus write them: in UTF-8 or GB18030 (GBK), with title rows above
the header, and with two-row headers whose upper cells are merged over several columns
(``住宅 | 规划许可 …``, read as ``住宅规划许可``). The header is the row (or pair of rows)
with the most headers the caller recognises. Rows are numbered as a spreadsheet shows
them: the first line of the file is line 1.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from planning._errors import InputError
from planning._validate import suggest

log = logging.getLogger(__name__)

TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm", ".xls")
_ENCODINGS = ("utf-8-sig", "gb18030")
#: Rows searched for the header of a table.
_HEADER_SEARCH = 20
_FIX = "Export it again as GeoPackage (.gpkg), shapefile or GeoJSON."


def header_key(name: Any) -> str:
    """Return a header in comparable form: no case, spaces or bracketed units."""
    text = re.sub(r"[（(\[【].*?[）)\]】]", "", str(name)).strip().lower()
    return re.sub(r"[\s\-:：/]+", "_", text).strip("_")


def _cap(text: str) -> str:
    """Capitalise the first letter only ("OSM file", not "Osm file")."""
    return text[:1].upper() + text[1:]


def check_file(path: Path, what: str) -> None:
    """Raise InputError unless `path` is an existing, non-empty file (or a .gdb folder)."""
    if not path.exists():
        msg = (
            f"{_cap(what)} file '{path}' does not exist. Check the path (relative paths are "
            "resolved against the scenario file's folder)."
        )
        raise InputError(msg)
    if path.is_dir():
        if path.suffix.lower() == ".gdb":
            return
        inside = sorted(p.name for p in path.iterdir())[:5]
        msg = (
            f"{_cap(what)} '{path}' is a folder, not a file. Give the file inside it"
            + (f" (it holds {', '.join(inside)})" if inside else " (it is empty)")
            + "."
        )
        raise InputError(msg)
    if path.stat().st_size == 0:
        msg = (
            f"{_cap(what)} file '{path}' is empty (0 bytes): the export or copy did "
            "not finish. Export or copy it again."
        )
        raise InputError(msg)


def layer_names(path: Path, what: str) -> list[str]:
    """Return the layers of a GIS file; an unreadable file is an InputError."""
    check_file(path, what)
    try:
        return [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception as exc:  # pyogrio DataSourceError and GDAL errors of any kind
        msg = (
            f"Cannot open {what} file '{path}' as a GIS layer ({_reason(exc, path)}): it is "
            f"truncated, damaged or not a GIS file. {_FIX}"
        )
        raise InputError(msg) from exc


def read_vector(path: Path, *, layer: str | None = None, what: str = "input") -> gpd.GeoDataFrame:
    """Read one layer of a GIS file (GeoPackage, shapefile, GeoJSON, ...).

    A file with several layers and no `layer` given is read from its first layer, with a
    warning that names the others.

    Raises
    ------
    InputError
        For a missing, empty, truncated or unreadable file, a folder, or a layer the file
        does not have (the message lists the layers it has).

    """
    names = layer_names(path, what)
    if not names:
        msg = f"{_cap(what)} file '{path}' holds no layer. {_FIX}"
        raise InputError(msg)
    if layer is not None and layer not in names:
        raise _not_among(f"{what} file", "layer", path, layer, names)
    if layer is None and len(names) > 1:
        log.warning(
            "%s file '%s' has %d layers (%s); reading '%s'. Set `layer:` to choose another.",
            what,
            path,
            len(names),
            ", ".join(names),
            names[0],
        )
    try:
        return gpd.read_file(path, layer=layer or names[0])
    except Exception as exc:  # pyogrio DataLayerError, sqlite and GDAL errors
        msg = (
            f"Cannot read layer '{layer or names[0]}' of {what} file '{path}' "
            f"({_reason(exc, path)}): the file is truncated or damaged. {_FIX}"
        )
        raise InputError(msg) from exc


def _not_among(what: str, kind: str, path: Path, name: str, names: list[str]) -> InputError:
    msg = (
        f"{_cap(what)} '{path}' has no {kind} {name!r}.{suggest(name, names)} Its "
        f"{kind}s: {', '.join(names)}. Set `layer:` to one of them."
    )
    return InputError(msg)


def _reason(exc: BaseException, path: Path) -> str:
    text = str(exc).replace(f"'{path}'", "the file").replace(str(path), "the file")
    first = text.strip().split("; It might help")[0].splitlines()
    return first[0].strip().rstrip(".")[:200] if first else type(exc).__name__


@dataclass
class Sheet:
    """A table read from CSV or Excel: records under the header, and how it was found.

    ``frame`` holds text cells (empty cells are NaN) indexed by spreadsheet line;
    ``header_lines`` are the lines of the header (two for a two-row header);
    ``headers`` are the column names as read (upper and lower cell joined).
    """

    frame: pd.DataFrame
    header_lines: tuple[int, ...]
    encoding: str | None = None
    skipped_lines: list[int] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        """The column headers, as read."""
        return [str(c) for c in self.frame.columns]


def read_raw_tables(
    path: Path, *, sheet: str | None = None, what: str = "table", all_sheets: bool = False
) -> tuple[dict[str, pd.DataFrame], str | None]:
    """Read the cells of a CSV file or of Excel sheets, without a header.

    Returns the raw tables by sheet name (``""`` for a CSV file) and the encoding of a
    CSV file. With `all_sheets`, every sheet of a workbook is returned.
    """
    check_file(path, what)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        raw_csv, encoding = _read_csv_raw(path, what)
        return {"": raw_csv}, encoding
    try:
        with pd.ExcelFile(path) as book:
            names = [str(n) for n in book.sheet_names]
            if sheet is not None and sheet not in names:
                raise _not_among(f"{what} workbook", "sheet", path, sheet, names)
            wanted = names if all_sheets else [sheet or names[0]]
            raw = {
                n: pd.read_excel(book, sheet_name=n, header=None, dtype=object).dropna(
                    axis=1, how="all"
                )
                for n in wanted
            }
    except InputError:
        raise
    except Exception as exc:  # openpyxl, xlrd, zipfile errors
        msg = (
            f"Cannot read {what} workbook '{path}' ({_reason(exc, path)}): it is damaged or not an "
            "Excel file. Save it again from Excel as .xlsx, or export it as CSV."
        )
        raise InputError(msg) from exc
    return raw, None


def _read_csv_raw(path: Path, what: str) -> tuple[pd.DataFrame, str]:
    """Read every line of a CSV file as cells (rows may differ in length: title rows)."""
    data = path.read_bytes()
    for encoding in _ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            msg = (
                f"Cannot read {what} file '{path}' as CSV ({exc}). Check that it is "
                "comma-separated text, e.g. saved from Excel as 'CSV UTF-8'."
            )
            raise InputError(msg) from exc
        if not any(any(cell.strip() for cell in row) for row in rows):
            msg = f"{_cap(what)} file '{path}' holds no rows. Check the file."
            raise InputError(msg)
        width = max(len(r) for r in rows)
        cells = [[c if c.strip() else None for c in r] + [None] * (width - len(r)) for r in rows]
        return pd.DataFrame(cells, dtype=object), encoding
    msg = (
        f"{_cap(what)} file '{path}' is neither UTF-8 nor GB18030 (GBK) text. Save it "
        "as 'CSV UTF-8' from Excel or WPS."
    )
    raise InputError(msg)


def table_from_raw(
    raw: pd.DataFrame,
    *,
    known: Callable[[str], bool] | Collection[str] = (),
    encoding: str | None = None,
) -> Sheet:
    """Find the header of a raw table and return its records under their headers.

    The header is the row, or the pair of rows, with the most cells that `known` accepts
    (compared with :func:`header_key`); without any such cell, the first non-empty row.
    Empty records are dropped and listed in ``skipped_lines``.
    """
    accepts = known if callable(known) else {header_key(k) for k in known}.__contains__
    raw = raw.reset_index(drop=True)
    filled = raw.notna().any(axis=1).to_numpy()
    if not filled.any():
        return Sheet(pd.DataFrame(), ())
    first = int(np.flatnonzero(filled)[0])
    best: tuple[int, int, list[str]] = (0, first, _cells(raw.iloc[first]))
    for r in range(first, min(len(raw), first + _HEADER_SEARCH)):
        one = _cells(raw.iloc[r])
        candidates = [(1, one)]
        if r + 1 < len(raw):
            candidates.append((2, _joined(raw.iloc[r], raw.iloc[r + 1])))
        for n_rows, heads in candidates:
            score = sum(bool(h) and accepts(header_key(h)) for h in heads)
            if score > sum(bool(h) and accepts(header_key(h)) for h in best[2]):
                best = (n_rows - 1, r, heads)
    extra, r, heads = best
    body = raw.iloc[r + extra + 1 :]
    body = body.set_axis(_unique(heads, raw.shape[1]), axis=1)
    body.index = pd.RangeIndex(r + extra + 2, r + extra + 2 + len(body))
    empty = body.isna().all(axis=1)
    frame = body[~empty]
    blank = [c for c in frame.columns if str(c).startswith("column ") and frame[c].isna().all()]
    frame = frame.drop(columns=blank)
    lines = tuple(range(r + 1, r + extra + 2))
    return Sheet(frame, lines, encoding, [int(i) for i in body.index[empty]])


def _cells(row: pd.Series) -> list[str]:
    return ["" if pd.isna(v) else str(v).strip() for v in row]


def _joined(upper: pd.Series, lower: pd.Series) -> list[str]:
    """Join a two-row header; an upper cell merged over columns carries to its right."""
    top, bottom = _cells(upper), _cells(lower)
    out, carry = [], ""
    for t, b in zip(top, bottom, strict=True):
        carry = t or (carry if b else "")
        out.append(f"{carry}{b}" if carry != b else b)
    return out


def _unique(heads: list[str], width: int) -> list[str]:
    out: list[str] = []
    for i in range(width):
        h = heads[i] if i < len(heads) and heads[i] else f"column {i + 1}"
        name, k = h, 1
        while name in out:
            name, k = f"{h}.{k}", k + 1
        out.append(name)
    return out


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with every column of numbers (and no leading-zero codes) as floats."""
    out = frame.copy()
    for col in out.columns:
        text = out[col].dropna().astype(str).str.strip()
        values = pd.to_numeric(text, errors="coerce")
        codes = text.str.match(r"^0\d")
        if len(text) and values.notna().all() and not codes.any():
            out[col] = pd.to_numeric(out[col].astype(str).str.strip(), errors="coerce")
    return out
