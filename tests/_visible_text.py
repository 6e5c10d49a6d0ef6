"""What a reader of a run folder sees, and the text in the wrong language in it.

Visible text is the text of every HTML page without scripts, styles and attributes
(except ``title``, ``alt`` and ``placeholder``, which a reader sees), plus the
tooltips, popups and layer names the map pages carry inside their scripts (JSON
strings of the ``tip``/``popup`` properties, ``bindTooltip``/``bindPopup`` contents
and the layer-control names), plus every cell of every workbook sheet except the
``columns`` dictionary.

English in a Chinese run is a run of two or more Latin words (``ENGLISH_RUN``: words of
two or more letters separated by spaces only), or a lone Latin word of three or more
letters (``LONE_WORD``: codes such as ``street`` or ``PASS``; ids with digits, file
names and units of one or two letters such as ``m²``, ``km`` pass), that no allow-listed
phrase covers; Chinese in an English run is any CJK character outside an allow-listed name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import openpyxl

#: Two or more Latin words (2+ letters each) separated by blanks only.
ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z'’-]+(?:[ \u00a0]+[A-Za-z][A-Za-z'’-]+)+")
#: A token of Latin letters only, three or more, between blanks, CJK or punctuation.
LONE_WORD = re.compile(r"(?<![\w./@#=-])[A-Za-z]{3,}(?![\w./@#=-])")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]+")
#: Phrases a Chinese page keeps in Latin letters: attribution, licences, software and
#: document names, unit symbols.
ALLOWED_LATIN = (
    "OpenStreetMap",
    "Tatem, A.J. (2017) WorldPop, open data for spatial demography. Scientific Data 4",
    "CC BY",
    "ODbL",
    "Leaflet",
    "QGIS/ArcGIS",
    "GeoPackage",
    "source = illustrative",
    "WorldPop",
    "Excel",
    "CSV",
    "planning",
    "EPSG",
)
_VISIBLE_ATTRS = ("title", "alt", "placeholder")
_SCRIPT_STRINGS = (
    re.compile(r'"(?:tip|popup)":\s*("(?:[^"\\]|\\.)*")'),
    re.compile(r"\.bind(?:Tooltip|Popup)\(\s*`(.*?)`", re.S),
    re.compile(r"\.setContent\(\s*`(.*?)`", re.S),
)
_OVERLAY_NAMES = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*[a-z_]+_[0-9]{4}\b')


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.scripts: list[str] = []
        self._skip = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
            self._in_script = tag == "script"
        self.texts += [v for k, v in attrs if k in _VISIBLE_ATTRS and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)
        elif not self._skip and data.strip():
            self.texts.append(data)


def html_texts(html: str) -> list[str]:
    """Return the visible text pieces of one HTML page (map tooltips included)."""
    page = _Visible()
    page.feed(html)
    out = list(page.texts)
    for script in page.scripts:
        for pattern in _SCRIPT_STRINGS:
            for match in pattern.finditer(script):
                raw = match.group(1)
                fragment = json.loads(raw) if raw.startswith('"') else raw
                out += html_texts(fragment)
        out += [json.loads(f'"{m}"') for m in _OVERLAY_NAMES.findall(script)]
    return out


def workbook_texts(path: Path) -> Iterator[tuple[str, str]]:
    """Yield ``(sheet!cell, text)`` for every text cell of every sheet but ``columns``."""
    book = openpyxl.load_workbook(path, read_only=True)
    for ws in book.worksheets:
        if ws.title == "columns":
            continue
        yield ws.title, ws.title
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    yield f"{ws.title}!{cell.coordinate}", cell.value


def folder_texts(folder: Path) -> Iterator[tuple[str, str]]:
    """Yield ``(where, text)`` for everything a reader sees in a run folder."""
    for page in sorted(folder.rglob("*.html")):
        if "assets" in page.parts:
            continue
        for text in html_texts(page.read_text(encoding="utf-8")):
            yield page.relative_to(folder).as_posix(), text
    for book in sorted(folder.glob("*.xlsx")):
        yield from workbook_texts(book)


def english_runs(text: str, allowed: Iterable[str]) -> list[str]:
    """Return the runs of English words in `text` that no allowed phrase covers."""
    rest = _remove(text, {*ALLOWED_LATIN, *allowed})
    runs = ENGLISH_RUN.findall(rest)
    return runs + LONE_WORD.findall(ENGLISH_RUN.sub(" ", rest))


def chinese_runs(text: str, allowed: Iterable[str]) -> list[str]:
    """Return the runs of CJK characters in `text` that no allowed name covers."""
    return CJK.findall(_remove(text, set(allowed)))


def _remove(text: str, phrases: set[str]) -> str:
    """Blank out every phrase standing on its own (not inside a longer Latin word)."""
    return _pattern(frozenset(p for p in phrases if p.strip())).sub(" ", text)


@cache
def _pattern(phrases: frozenset[str]) -> re.Pattern[str]:
    if not phrases:
        return re.compile(r"(?!)")
    alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z])(?:{alternatives})(?![A-Za-z])")
