"""Map pages that work offline: Leaflet written once beside them, pages and fragments.

A map keeps only Leaflet's two files (see :mod:`planning.report.maps`).
:func:`write_assets` writes them, with Leaflet's BSD licence, into a run folder's
``assets/``; :func:`save_map` writes a standalone page (Leaflet linked by a relative
path, or embedded); :func:`map_fragment` renders a map into the three parts a page
template places. Elements are numbered in order, so the same map gives the same HTML.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from branca.element import Element
from offlinefolium.elements import _res as _RESOURCES

from planning._errors import InputError
from planning.report._web import _esc

_LEAFLET_JS = ("leaflet", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js")
_LEAFLET_CSS = ("leaflet_css", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css")
_LEAFLET_LICENSE = """Leaflet 1.9.3, https://leafletjs.com (shipped by the folium-offline package)

BSD 2-Clause License
Copyright (c) 2010-2022, Vladimir Agafonkin
Copyright (c) 2010-2011, CloudMade
All rights reserved.

Redistribution and use in source and binary forms, with or without modification, are
permitted provided that the following conditions are met:
1. Redistributions of source code must retain the above copyright notice, this list of
   conditions and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice, this list
   of conditions and the following disclaimer in the documentation and/or other
   materials provided with the distribution.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY
EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL
THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL,
SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT
OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT
LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""


@dataclass(frozen=True)
class MapFragment:
    """A rendered map to place in a page: ``head`` (links, styles), ``body``, ``script``."""

    head: str
    body: str
    script: str


def _resources(root: Any) -> list[tuple[str, str, str]]:
    """List (name, url, kind) of the JS/CSS resources of every element under `root`."""
    found: dict[str, tuple[str, str, str]] = {}

    def walk(el: Any) -> None:
        for name, url in getattr(el, "default_js", []):
            found.setdefault(name, (name, url, "js"))
        for name, url in getattr(el, "default_css", []):
            found.setdefault(name, (name, url, "css"))
        for child in el._children.values():
            walk(child)

    walk(root)
    return list(found.values())


def _renumber(root: Any) -> None:
    """Give every element a sequential id, so the same map gives the same HTML."""
    counter = 0

    def walk(el: Any) -> None:
        nonlocal counter
        for child in el._children.values():
            counter += 1
            child._id = f"{counter:04d}"
            walk(child)

    walk(root)


def write_assets(assets_dir: Path) -> list[Path]:
    """Write Leaflet's JavaScript, CSS and licence into `assets_dir` and return the paths."""
    assets_dir.mkdir(parents=True, exist_ok=True)
    out = [_write_asset(assets_dir, url) for _, url in (_LEAFLET_JS, _LEAFLET_CSS)]
    lic = assets_dir / "LICENSE-leaflet.txt"
    lic.write_text(_LEAFLET_LICENSE, encoding="utf-8")
    return [*out, lic]


def _write_asset(assets_dir: Path, url: str) -> Path:
    if url not in _RESOURCES:
        msg = f"offlinefolium ships no copy of {url}; this map cannot be made offline."
        raise InputError(msg)
    assets_dir.mkdir(parents=True, exist_ok=True)
    path = assets_dir / Path(urlparse(url).path).name
    content = _RESOURCES[url]
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        path.write_text(content, encoding="utf-8")
    return path


def _render(m: Any, assets_url: str | None, assets_dir: Path | None) -> Any:
    root = m.get_root()
    _renumber(root)
    for child in root._children.values():
        child.render()
    if assets_url is not None and assets_dir is not None:
        for name, url, kind in _resources(root):
            file = _write_asset(assets_dir, url).name
            href = html.escape(f"{assets_url}/{file}", quote=True)
            tag = (
                f'<script src="{href}"></script>'
                if kind == "js"
                else f'<link rel="stylesheet" href="{href}">'
            )
            root.header._children[name] = Element(tag)
    return root


def save_map(
    m: Any,
    path: str | Path,
    *,
    assets_dir: str | Path | None = None,
    title: str | None = None,
    lang: str = "zh-CN",
) -> Path:
    """Write a map as a standalone HTML page and return its path.

    Parameters
    ----------
    m : offlinefolium.Map
    path : str or Path
        The page to write; its folder is created if needed.
    assets_dir : str or Path, optional
        Folder for Leaflet's files (linked by a relative path); when None, they are
        embedded in the page (about 170 kB).
    title : str, optional
        Page title (plain text).
    lang : str
        Value of the page's ``lang`` attribute.

    Returns
    -------
    Path

    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = m.get_root()
    root.title = None if title is None else _esc(title)
    if assets_dir is None:
        _renumber(root)
        page = root.render()
    else:
        adir = Path(assets_dir)
        root = _render(m, Path(_relpath(adir, path.parent)).as_posix(), adir)
        page = root._template.render(this=root, kwargs={})
    page = page.replace("<html>", f'<html lang="{html.escape(lang, quote=True)}">', 1)
    path.write_text(page, encoding="utf-8")
    return path


def map_fragment(m: Any, *, assets_url: str, assets_dir: str | Path) -> MapFragment:
    """Render a map into the three parts a page template places (assets linked).

    The map's own page-wide styles (full-page body, fixed viewport) are left out; the
    map takes the height it was built with.
    """
    root = _render(m, assets_url, Path(assets_dir))
    for own in ("meta_http", "icon"):  # the page template has its own
        root.header._children.pop(own, None)
    name = m.get_name()
    height = f"{m.height[0]:g}{m.height[1]}"
    root.header._children[name] = Element(
        "<style>#" + name + " { position: relative; width: 100%; height: " + height + "; }"
        " .leaflet-container { font-size: 1rem; }</style>"
    )
    return MapFragment(
        head=root.header.render(), body=root.html.render(), script=root.script.render()
    )


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target.resolve(), start.resolve())
