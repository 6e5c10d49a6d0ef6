"""Priorities first: units ranked by their distance from the coverage target, gap areas
with their best spots, and tables that sort in the page (checked in the browser tests).
"""

from __future__ import annotations

import math
import re
from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _report_fixtures import EVIL, tiny_run

from planning.report import index_page, write_index
from planning.report.index_page import coverage_target, priority_order


def _units(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    ids, elderly, covered = zip(*rows, strict=True)
    e, c = np.array(elderly), np.array(covered)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(e > 0, c / np.where(e > 0, e, 1), np.nan)
    return pd.DataFrame(
        {
            "unit_id": ids,
            "elderly": e,
            "elderly_covered_15min": c,
            "coverage_share_15min": share,
        }
    )


def test_priority_order_hand_worked() -> None:
    units = _units(
        [
            ("A", 100, 90),  # 0.90: meets 0.9 exactly, nothing to cover
            ("B", 50, 10),  # 0.20: 0.9 × 50 − 10 = 35 to cover
            ("C", 0, 0),  # no older people: share undefined, last
            ("D", 200, 190),  # 0.95: meets it
            ("E", 1000, 850),  # 0.85: 900 − 850 = 50 to cover, although its share is higher
        ]
    )
    order = priority_order(units, {"threshold": "15", "min": 0.9})
    assert list(units.loc[order.index, "unit_id"]) == ["E", "B", "A", "D", "C"]
    assert order["to_target"].tolist() == pytest.approx([50, 35, 0, 0, 0])
    assert order["gap_share"].iloc[:4].tolist() == pytest.approx([0.05, 0.7, 0.0, 0.0])
    assert math.isnan(order["gap_share"].iloc[4])


def test_priority_ties_by_share_then_id() -> None:
    units = _units([("Z", 10, 0), ("Y", 10, 0), ("X", 20, 10)])
    order = priority_order(units, {"threshold": "15", "min": 1.0})
    # all three need 10 covered; the lower share first, then the id
    assert list(units.loc[order.index, "unit_id"]) == ["Y", "Z", "X"]


def test_coverage_target_is_the_spatial_target_of_the_run() -> None:
    result = tiny_run(language="en")
    # china-baseline's circle is at 15 min, which this run (1, 2, 3 min) lacks
    assert coverage_target(result) == {
        "id": "",
        "label": "",
        "threshold": "3",
        "min": 1.0,
        "min_text": "100%",
    }
    targets = result.coverage.targets
    targets.loc[targets["target_id"] == "circle15", ["threshold_min", "min"]] = [2, 0.75]
    target = coverage_target(result)
    assert (target["id"], target["threshold"], target["min"]) == ("circle15", "2", 0.75)
    assert target["label"].startswith("15-minute home-care circle")


def test_index_lists_units_by_priority_and_sorts_offline(tmp_path) -> None:
    result = tiny_run(language="en")
    write_index(result, tmp_path)
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    units = result.coverage.units
    need = (units["elderly"] - units["elderly_covered_3min"]).clip(lower=0)
    expected = list(units.assign(need=need).sort_values("need", ascending=False)["unit_id"])
    table = html[html.index('<table id="units"') :]
    table = table[: table.index("</table>")]
    assert re.findall(r'<tr data-unit-id="([^"]+)"', table) == expected
    for uid, n in zip(units["unit_id"], need, strict=True):
        row = table[table.index(f'data-unit-id="{uid}"') :]
        assert f'data-col="to_target" data-v="{n:.6g}">{n:,.0f}<' in row
    priorities = html[html.index('id="priorities"') : html.index('<table id="units"')]
    assert re.findall(r'<tr data-unit-id="([^"]+)"', priorities) == [
        u for u, n in zip(expected, need[units.set_index("unit_id").index.get_indexer(expected)],
                          strict=True) if n > 0
    ]  # fmt: skip
    # one inline script, exactly the shipped file: no data, no external source
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S)
    shipped = (
        resources.files("planning.report").joinpath("templates", "_sortable.js.j2").read_text()
    )
    assert [s.strip() for s in scripts] == [shipped.strip()]
    assert "<script src" not in html and EVIL not in html
    assert html.count("<thead>") == 3  # priority units, priority gaps, all units


def _gaps(with_spots: bool) -> gpd.GeoDataFrame:
    n = 12
    frame = {
        "gap_id": [f"G{i:02d}" for i in range(n)],
        "unit_id": ["U1", "U2"] * (n // 2),
        "reason": "beyond 15 min",
        "elderly": [float(10 * ((i * 7) % n)) for i in range(n)],
        "n_cells": 1,
        "area_m2": 1e4,
        "area_ha": 1.0,
        "walk_min_mean": 20.0,
        "walk_min_max": 25.0,
    }
    if with_spots:
        frame |= {
            "best_spot_id": [f"N{i}" for i in range(n)],
            "best_spot_elderly": [5.0 * i for i in range(n)],
            "best_spot_lon": 117.0,
            "best_spot_lat": 30.7,
        }
    x0, y0 = 500_000, 3_400_000
    pts = [shapely.box(x0 + i * 100, y0, x0 + 50 + i * 100, y0 + 50) for i in range(n)]
    return gpd.GeoDataFrame(frame, geometry=pts, crs="EPSG:32650")


@pytest.mark.parametrize("with_spots", [False, True])
def test_priority_gaps_largest_first_with_their_best_spot(with_spots: bool) -> None:
    gaps = _gaps(with_spots)
    rows = index_page._priority_gaps(gaps, {"U1": "units/U1.html"}, {"reason_beyond": "{t}"})
    ref = gaps.sort_values("elderly", ascending=False).head(10)
    assert [r["gap_id"] for r in rows] == list(ref["gap_id"])
    assert [r["elderly"] for r in rows] == [f"{e:,.0f}" for e in ref["elderly"]]
    first = ref.iloc[0]
    if with_spots:
        assert (rows[0]["spot_id"], rows[0]["spot_elderly"], rows[0]["spot"]) == (
            first["best_spot_id"],
            f"{first['best_spot_elderly']:,.0f}",
            "117.00000, 30.70000",
        )
    else:
        assert all(r["spot_id"] == "–" and r["spot"] == "–" for r in rows)
