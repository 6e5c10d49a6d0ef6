"""HTML reports of a run (Jinja2 templates, autoescaped), in Chinese or English.

A run folder gets:

- ``index.html``: the district at a glance — key figures, the interactive map (the
  ``map.html`` page in a frame; a static overview replaces it in print), the targets of
  the rule set, coverage by unit with a link to each unit's page, the largest gaps, and
  the proposed sites and development checks when the run has them;
- ``units/<unit>.html``: one gap report per unit — its figures against the targets, a
  map of its stations, 5/10/15-minute service areas, gaps and proposed sites (Leaflet
  shared from ``assets/``), its largest uncovered clusters, what the proposed sites would
  change, its stations and developments;
- ``annual.html`` when a previous run was compared: a one-page printable summary of
  what changed since last year.

Every page ends with the rule set (sources, confidence, values flagged R), the
parameters, the data attribution and what was excluded.

The values of each page come from :mod:`planning.report.index_page`,
:mod:`planning.report.unit_page` and :mod:`planning.report.annual_page`; the templates
are in ``planning/report/templates/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from tqdm.auto import tqdm

from planning import settings
from planning.report.annual_page import annual_context
from planning.report.context import unit_pages
from planning.report.index_page import index_context
from planning.report.layers import MapData, map_data
from planning.report.unit_page import unit_context
from planning.results import RunResult


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("planning.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(template: str, ctx: Mapping[str, Any]) -> str:
    return _env().get_template(template).render(**ctx)


def write_index(
    result: RunResult,
    out_dir: Path,
    *,
    charts: Mapping[str, Path] | None = None,
    pages: Mapping[str, str] | None = None,
) -> Path:
    """Render ``index.html`` of a run folder and return its path."""
    ctx = index_context(result, charts=charts, pages=pages)
    path = out_dir / "index.html"
    path.write_text(_render("index.html.j2", ctx), encoding="utf-8")
    return path


def write_unit_pages(
    result: RunResult, out_dir: Path, *, data: MapData | None = None
) -> list[Path]:
    """Render one gap report per unit into ``out_dir/units`` (maps share ``assets/``)."""
    pages = unit_pages(result.coverage.units)
    data = data if data is not None else map_data(result, links=pages)
    (out_dir / "units").mkdir(parents=True, exist_ok=True)
    assets = out_dir / "assets"
    cache: dict[str, Any] = {}
    template = _env().get_template("unit.html.j2")
    written = []
    for uid, page in tqdm(pages.items(), desc="unit pages", disable=not settings.progress):
        ctx = unit_context(result, uid, data=data, pages=pages, cache=cache, assets_dir=assets)
        path = out_dir / page
        path.write_text(template.render(**ctx), encoding="utf-8")
        written.append(path)
    return written


def write_annual(
    result: RunResult, out_dir: Path, *, charts: Mapping[str, Path] | None = None
) -> Path:
    """Render ``annual.html`` (the annual comparison) and return its path."""
    path = out_dir / "annual.html"
    path.write_text(
        _render("annual.html.j2", annual_context(result, charts=charts)), encoding="utf-8"
    )
    return path


def write_report(
    result: RunResult,
    out_dir: Path,
    *,
    data: MapData | None = None,
    charts: Mapping[str, Path] | None = None,
) -> list[Path]:
    """Render every page of a run folder: index, unit pages and the annual page."""
    pages = unit_pages(result.coverage.units)
    out = [write_index(result, out_dir, charts=charts, pages=pages)]
    out += write_unit_pages(result, out_dir, data=data)
    if result.comparison is not None:
        out.append(write_annual(result, out_dir, charts=charts))
    return out
