"""Outputs of a run: pages, maps, the layers they draw, workbook, GeoPackage and charts.

A run folder (:func:`write_run`, :mod:`planning.report.run_folder`) holds the HTML pages
(:mod:`~planning.report.pages`: the index, one gap report per unit and the annual page,
in Chinese or English, from ``templates/``), the offline folium maps
(:mod:`~planning.report.maps`) of the layers a run's tables give
(:mod:`~planning.report.layers`), the workbook and GeoPackage
(:mod:`~planning.report.export`), the charts (:mod:`~planning.report.charts`), the
console summary (:mod:`~planning.report.summary`) and, with
last year's run folder, the annual comparison (:mod:`~planning.report.annual`). Every
part reads a :class:`planning.results.RunResult`. A run folder is replaced atomically;
:func:`is_complete` tells whether a folder holds a complete run.
"""

from __future__ import annotations

from planning.report._i18n import lang_code
from planning.report._staging import check_out_dir
from planning.report.annual import compare_runs, read_run
from planning.report.annual_page import annual_context
from planning.report.charts import write_charts
from planning.report.context import base_context, strings, unit_pages
from planning.report.export import write_geopackage, write_workbook
from planning.report.index_page import index_context
from planning.report.layers import MapData, map_data
from planning.report.maps import coverage_map, save_map, unit_map
from planning.report.pages import write_annual, write_index, write_report, write_unit_pages
from planning.report.run_folder import is_complete, run_record, write_run
from planning.report.summary import run_summary
from planning.report.tiles import scenario_tiles, tile_layers
from planning.report.unit_page import unit_context, unit_target_values

__all__ = [
    "MapData",
    "annual_context",
    "base_context",
    "check_out_dir",
    "compare_runs",
    "coverage_map",
    "index_context",
    "is_complete",
    "lang_code",
    "map_data",
    "read_run",
    "run_record",
    "run_summary",
    "save_map",
    "scenario_tiles",
    "strings",
    "tile_layers",
    "unit_context",
    "unit_map",
    "unit_pages",
    "unit_target_values",
    "write_annual",
    "write_charts",
    "write_geopackage",
    "write_index",
    "write_report",
    "write_run",
    "write_unit_pages",
    "write_workbook",
]
