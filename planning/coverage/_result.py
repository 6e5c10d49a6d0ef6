"""The result of a coverage run: the tables every later stage and output reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from planning import settings
from planning.coverage._columns import _fmt


@dataclass
class CoverageResult:
    """Everything a coverage run produces (tables are GeoDataFrames in the network CRS).

    Attributes
    ----------
    demand : geopandas.GeoDataFrame
        Demand points with ``travel_time_s_nearest``, ``nearest_station_id``, per kind
        ``travel_time_s_nearest_{kind}``, ``covered_{T}min``, ``capacity_per_1000`` and
        snapping columns.
    stations : geopandas.GeoDataFrame
        Stations with their catchment (``elderly_catchment``: older people for whom it is
        the nearest station) and ``elderly_within_{T}min``.
    units : geopandas.GeoDataFrame
        One row per unit (see :func:`unit_table`).
    service_areas : geopandas.GeoDataFrame
        One polygon per station and threshold with the people reached: the union of
        the grid cells the engine counts reached (see :func:`planning.access.service_areas`).
    gaps : geopandas.GeoDataFrame
        The gap areas at the largest threshold, largest first (see
        :func:`planning.coverage.gap_areas`), with the columns of their best spot
        (``best_spot_id``, ``best_spot_elderly``, ``best_spot_lon``, ``best_spot_lat``).
    targets : pandas.DataFrame
        The rule set's targets with the values reached and whether they are met.
    excluded : pandas.DataFrame
        Every input left out of a measure, with its reason and counts.
    covered_areas : geopandas.GeoDataFrame
        The covered area per threshold, dissolved over stations: ``kind`` ``disk``
        (0–T min) and ``ring`` (previous threshold–T), ``from_min``, ``to_min``,
        ``area_m2``.
    area_grid : str
        The grid the areas are drawn on (the demand raster, or square cells).
    max_snap_m : float
        Largest connector in metres the run allowed.
    best_spots : geopandas.GeoDataFrame
        Per gap, the network point that would cover most of its older people (see
        :func:`planning.coverage.best_spots`).

    """

    demand: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    service_areas: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    targets: pd.DataFrame
    excluded: pd.DataFrame
    thresholds_min: tuple[float, ...]
    walk_speed_m_s: float
    totals: dict[str, float] = field(default_factory=dict)
    covered_areas: gpd.GeoDataFrame = field(default_factory=gpd.GeoDataFrame)
    area_grid: str = ""
    max_snap_m: float = field(default_factory=lambda: settings.max_snap_m)
    best_spots: gpd.GeoDataFrame = field(default_factory=gpd.GeoDataFrame)

    def _repr_html_(self) -> str:
        cols = ["unit_id", "name", "elderly"] + [
            f"coverage_share_{_fmt(t)}min" for t in self.thresholds_min
        ]
        head = (
            f"<p><b>Coverage</b>: {len(self.stations)} stations, {len(self.units)} units, "
            f"{self.totals.get('elderly', 0):,.0f} older people, walking "
            f"{self.walk_speed_m_s:g} m/s</p>"
        )
        table = self.units[[c for c in cols if c in self.units]].to_html(
            index=False, float_format=lambda x: f"{x:,.3f}", escape=True, max_rows=30
        )
        return head + str(table)
