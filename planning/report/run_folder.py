"""Write a run's folder: tables, layers, workbook, GeoPackage, charts, map, pages and run.json.

The run folder holds ``index.html`` (the district at a glance), ``units/<unit>.html``
(one gap report per unit), ``map.html`` and ``assets/`` (Leaflet, shared by every map
page), ``coverage.xlsx``, ``results.gpkg`` (every layer), ``charts/*.png``, the tables
``coverage_units.csv``, ``coverage_stations.csv``, ``targets.csv``, ``excluded.csv``
(plus ``siting.csv``, ``compliance.csv`` and ``annual_*.csv`` when present),
``run.json`` (format version, inputs with checksums, parameters, rule set, targets,
versions and every excluded input with its reason; ``"status": "complete"`` once every
other file is written) and ``timings.json`` (seconds per step, the one file that differs
between two runs of the same inputs). With a previous run folder, ``annual.html``
compares this year with last year.

The folder is replaced atomically (:mod:`planning.report._staging`): a run writes into a
hidden sibling and swaps it in when complete, so a failed or interrupted run leaves the
previous folder as it was; :func:`is_complete` tells whether a folder is a complete run.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planning._writing import write_csv
from planning.coverage import accounting
from planning.report._i18n import html_lang
from planning.report._staging import read_record, staged
from planning.report.annual import extent_lonlat
from planning.report.charts import write_charts
from planning.report.context import base_context, unit_pages
from planning.report.export import workbook_sheets, write_geopackage, write_workbook
from planning.report.layers import map_data
from planning.report.maps import coverage_map, save_map, write_assets
from planning.report.pages import write_report
from planning.results import RUN_FORMAT_VERSION, RunResult

log = logging.getLogger(__name__)

_VERSIONS = (
    "planning",
    "numpy",
    "scipy",
    "pandas",
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "networkx",
    "osmnx",
    "rasterio",
    "folium",
    "folium-offline",
    "jinja2",
    "matplotlib",
    "openpyxl",
)


class StepTimer:
    """Time the steps of a run, in seconds (``timings.json`` of the run folder)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block of a `with` statement as step `name` and log it."""
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 3)
        log.info("%s: %.2f s", name, self.timings[name])


def write_run(result: RunResult, out_dir: Path, timer: StepTimer | None = None) -> Path:
    """Write the run folder of `result` into `out_dir` and return its path.

    The folder is written beside `out_dir` and takes its place only when complete; an
    existing folder is replaced as a whole, or left untouched if the run fails.

    Raises
    ------
    OutputError
        When `out_dir` cannot be written (a file, read-only, full, or a folder holding
        files a run does not write), naming the path and the fix.

    """
    timer = timer or StepTimer()
    out_dir = Path(out_dir)
    try:
        with staged(out_dir) as tmp:
            result.out_dir = tmp  # the outputs listed in run.json are those of this folder
            _write_files(result, tmp, timer)
            result.timings_s = timer.timings
            (tmp / "timings.json").write_text(
                json.dumps(timer.timings, indent=2) + "\n", encoding="utf-8"
            )
            record = dict(run_record(result), status="complete")
            (tmp / "run.json").write_text(
                json.dumps(record, ensure_ascii=False, indent=2, default=_json_default) + "\n",
                encoding="utf-8",
            )
    except BaseException:
        result.out_dir = None  # nothing of this run was kept
        raise
    result.out_dir = out_dir
    return out_dir


def is_complete(path: str | Path) -> bool:
    """Return whether `path` is a complete run folder.

    True when its ``run.json`` says ``"status": "complete"`` and every output it lists
    is there with the size recorded; False for anything else (no folder, no or damaged
    ``run.json``, a run that was interrupted, a file removed or truncated since).
    """
    folder = Path(path)
    record = read_record(folder)
    if record is None or record.get("status") != "complete":
        return False
    listed = record.get("outputs")
    if not isinstance(listed, dict):
        return False
    found = _outputs(folder)
    return all(found.get(name) == size for name, size in listed.items())


def _write_files(result: RunResult, out_dir: Path, timer: StepTimer) -> None:
    language = str(result.scenario.data.get("language", "zh"))
    with timer.step("write tables"):
        _write_tables(result, out_dir)
        if result.siting is not None:
            _write_siting_curve(result.siting_curve, out_dir)
    with timer.step("workbook"):
        write_workbook(result, out_dir / "coverage.xlsx")
    with timer.step("geopackage"):
        write_geopackage(result, out_dir / "results.gpkg")
    with timer.step("charts"):
        chart_files = write_charts(result, out_dir, language=language)
    with timer.step("map"):
        pages = unit_pages(result.coverage.units)
        data = map_data(result, links=pages)
        assets = out_dir / "assets"
        write_assets(assets)
        title = f"{base_context(result)['title']} — {data.t['map_title']}"
        page = save_map(
            coverage_map(data),
            out_dir / "map.html",
            assets_dir=assets,
            title=title,
            lang=html_lang(language),
        )
        log.info("map: %s", page)
    with timer.step("report"):
        write_report(result, out_dir, data=data, charts=chart_files)


def _write_tables(result: RunResult, out_dir: Path) -> None:
    cov = result.coverage
    units = pd.DataFrame(cov.units.drop(columns="geometry"))
    write_csv(units, out_dir / "coverage_units.csv", float_format="%.10g")
    sta = pd.DataFrame(cov.stations.drop(columns="geometry"))
    write_csv(sta, out_dir / "coverage_stations.csv", float_format="%.10g")
    write_csv(cov.targets, out_dir / "targets.csv", float_format="%.10g")
    write_csv(cov.excluded, out_dir / "excluded.csv")
    sheets = workbook_sheets(result)
    optional = {
        "siting.csv": sheets.get("siting"),
        "compliance.csv": sheets.get("compliance"),
        "annual_units.csv": sheets.get("annual_units"),
        "annual_targets.csv": sheets.get("annual_targets"),
    }
    if result.comparison is not None:
        comp = result.comparison
        optional["annual_stations.csv"] = pd.concat(
            [
                comp.stations_added.assign(change="added"),
                comp.stations_closed.assign(change="closed"),
                comp.stations_changed.assign(change="changed"),
            ],
            ignore_index=True,
        )
    for name, frame in optional.items():
        if frame is not None:
            write_csv(frame, out_dir / name, float_format="%.10g")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_record(result: RunResult) -> dict[str, Any]:
    """Return the provenance record written as ``run.json``."""
    cov = result.coverage
    excluded: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in cov.excluded.to_dict(orient="records")
    ]
    excluded += [
        dict(r, item=f"network: {r['item']}") for r in result.network.summary()["excluded"]
    ]
    return {
        "format_version": RUN_FORMAT_VERSION,
        "scenario": str(result.scenario.path) if result.scenario.path else None,
        "name": result.scenario.name,
        "year": result.scenario.data.get("year"),
        "language": result.scenario.data.get("language", "zh"),
        "extent_lonlat": extent_lonlat(result),
        "inputs": result.inputs,
        "parameters": {
            "walk_speed_m_s": cov.walk_speed_m_s,
            "thresholds_min": list(cov.thresholds_min),
            "max_snap_m": result.scenario.max_snap_m,
            "service_area_grid": cov.area_grid,
            "analysis_crs": result.network.crs.to_string(),
        },
        "rules": result.rules.to_dict(),
        "network": {k: v for k, v in result.network.summary().items() if k != "excluded"},
        "totals": cov.totals,
        "accounting": accounting(cov),
        "targets": _records(cov.targets),
        "excluded": excluded,
        "siting": result.siting is not None,
        "compliance": result.compliance is not None,
        "previous": None
        if result.comparison is None
        else {
            "path": str(result.comparison.previous.path),
            "name": result.comparison.previous.record.get("name"),
            "year": result.comparison.previous_year,
        },
        "outputs": _outputs(result.out_dir),
        "versions": _versions(),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a table as JSON-ready records (NaN as None)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in r.items()} for r in clean.to_dict(orient="records")]


def _outputs(out_dir: Path | None) -> dict[str, int]:
    """Return the files of a run folder with their sizes in bytes (unit pages summed)."""
    if out_dir is None:
        return {}
    out: dict[str, int] = {}
    skip = {"run.json", "timings.json"}
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file() and p.name not in skip):
        rel = path.relative_to(out_dir)
        key = f"{rel.parts[0]}/*" if rel.parts[0] == "units" else rel.as_posix()
        out[key] = out.get(key, 0) + path.stat().st_size
    return out


def _write_siting_curve(curve: pd.DataFrame | None, out_dir: Path) -> None:
    """Write ``siting_curve.csv`` (the proposed sites are a layer of ``results.gpkg``)."""
    if curve is None:
        return
    table = curve.copy()
    if "selected_ids" in table:
        table["selected_ids"] = table["selected_ids"].map(
            lambda ids: " ".join(map(str, ids)) if isinstance(ids, list | tuple) else ids
        )
    write_csv(table, out_dir / "siting_curve.csv", float_format="%.10g")
