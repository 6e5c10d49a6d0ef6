"""The illustrative sample files of ``data/`` are what ``data/build_samples.py`` builds,
the sample register reads as the GeoPackage it comes from, and ``check-developments
--help`` lists the register columns and what each rule set checks.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from planning import cli, compliance, standards
from planning.compliance._rules import _load

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


def _build_samples():
    spec = importlib.util.spec_from_file_location("build_samples", DATA / "build_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_samples_are_the_script_output(tmp_path: Path) -> None:
    _build_samples().main(["--out", str(tmp_path)])
    for name, layer in (("wuhan_stations_2025.gpkg", "stations"),):
        built = gpd.read_file(tmp_path / name, layer=layer)
        shipped = gpd.read_file(DATA / name, layer=layer)
        pd.testing.assert_frame_equal(pd.DataFrame(built), pd.DataFrame(shipped))
    for sheet in ("登记表", "配建设施"):
        built = pd.read_excel(tmp_path / "wuhan_developments_register.xlsx", sheet_name=sheet)
        shipped = pd.read_excel(DATA / "wuhan_developments_register.xlsx", sheet_name=sheet)
        pd.testing.assert_frame_equal(built, shipped)
    # the workbook is byte-reproducible (fixed zip and document timestamps)
    again = tmp_path / "again"
    _build_samples().main(["--out", str(again)])
    name = "wuhan_developments_register.xlsx"
    assert (again / name).read_bytes() == (tmp_path / name).read_bytes()


def test_last_years_register_differs_by_the_documented_rules() -> None:
    now = gpd.read_file(DATA / "wuhan_stations.gpkg", layer="stations").set_index("station_id")
    last = gpd.read_file(DATA / "wuhan_stations_2025.gpkg", layer="stations")
    last = last.set_index("station_id")
    ids = sorted(now.index)
    opened = {ids[i] for i in range(4, len(ids), 9)}
    assert set(now.index) - set(last.index) == opened and len(opened) == 16
    assert set(last.index) - set(now.index) == {"X2025-01", "X2025-02", "X2025-03"}
    both = sorted(set(now.index) & set(last.index))
    changed = [i for i in both if now.loc[i, "capacity"] != last.loc[i, "capacity"]]
    assert changed == [both[k] for k in range(2, len(both), 11) if now.loc[both[k], "capacity"] > 0]
    assert (last["source"] == "illustrative").all()


@pytest.mark.parametrize("rules", ["guizhou-2022", "guangdong-city"])
def test_sample_register_reads_as_its_geopackage(rules: str) -> None:
    xlsx = compliance.check_developments(
        DATA / "wuhan_developments_register.xlsx", None, rules, asof="2026-12-31"
    )
    gpkg = compliance.check_developments(
        DATA / "wuhan_developments.gpkg", None, rules, asof="2026-12-31"
    )
    cols = ["dev_id", "verdict", "area", "site", "land", "timing", "location", "reach"]
    pd.testing.assert_frame_equal(
        xlsx.table[cols].reset_index(drop=True), gpkg.table[cols].reset_index(drop=True)
    )
    assert xlsx.summary["verdicts"] == gpkg.summary["verdicts"]


def test_check_developments_help_lists_columns_and_criteria(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["check-developments", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for column, header in (
        ("dev_id", "项目编号"),
        ("households", "户数"),
        ("facility_area_m2", "配建面积"),
        ("lon", "经度"),
    ):
        assert re.search(rf"^  {column}\s+.*{header}", text, flags=re.M), column
    listed = dict(re.findall(r"^  ([a-z0-9-]+)\s{2,}((?:[a-z]+, )*[a-z]+)$", text, flags=re.M))
    expected = {}
    for name in standards.available_rule_sets():
        rules = standards.load_rules(name)
        if not any(v is not None for v in rules.compliance.values()):
            continue
        sections = _load(name).sections

        def has(section: str, key: str | None = None) -> bool:
            rule = sections.get(section)  # noqa: B023 (used at once)
            return rule is not None and (key is None or rule.values.get(key) is not None)

        crit = [
            c
            for c, applies in (
                ("area", has("area_m2_per_100hh") or has("min_area_m2", "facility")),
                ("site", has("min_area_m2", "site")),
                ("land", has("land_m2_per_resident")),
                ("timing", has("dates")),
                ("location", has("location")),
                ("reach", has("reach")),
            )
            if applies
        ]
        expected[name] = ", ".join(crit)
    assert {k: v for k, v in listed.items() if k in expected} == expected
    assert len(expected) >= 6
