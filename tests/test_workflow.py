"""End to end on the embedded central-Wuhan data: the run folder and the command line."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml

from planning import cli
from planning.workflow import run_scenario

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "wuhan-central.yaml"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = run_scenario(DEMO, out_dir=out)
    return result, out


def test_run_folder_has_every_output(demo_run):
    _, out = demo_run
    for name in (
        "coverage_units.csv",
        "coverage_stations.csv",
        "targets.csv",
        "excluded.csv",
        "results.gpkg",
        "map.html",
        "index.html",
        "run.json",
    ):
        assert (out / name).stat().st_size > 0, name
    # one GeoPackage holds every layer: no duplicate single-layer files
    assert [p.name for p in out.rglob("*.gpkg")] == ["results.gpkg"]


def test_units_table_one_row_per_unit_and_columns(demo_run):
    _, out = demo_run
    table = pd.read_csv(out / "coverage_units.csv")
    units = gpd.read_file(ROOT / "data" / "wuhan_units.gpkg", layer="units")
    assert sorted(table["unit_id"]) == sorted(units["unit_id"])
    for t in (5, 10, 15):
        assert f"elderly_covered_{t}min" in table
        assert f"coverage_share_{t}min" in table
        share = table[f"elderly_covered_{t}min"] / table["elderly"]
        assert np.allclose(share, table[f"coverage_share_{t}min"], rtol=1e-5)
    assert {"unit_id", "name", "population", "elderly"} <= set(table.columns)


def test_unit_figures_recomputed_from_demand_points(demo_run):
    _, out = demo_run
    table = pd.read_csv(out / "coverage_units.csv").set_index("unit_id")
    dem = gpd.read_file(out / "results.gpkg", layer="demand")
    for t in (5, 15):
        covered = dem["travel_time_s_nearest"] <= t * 60
        by_unit = (dem["elderly"] * covered).groupby(dem["unit_id"]).sum()
        assert np.allclose(
            by_unit.reindex(table.index).fillna(0), table[f"elderly_covered_{t}min"], rtol=1e-5
        )
    assert table["elderly"].sum() == pytest.approx(
        dem.loc[dem["unit_id"].notna(), "elderly"].sum(), rel=1e-6
    )


def test_accounting_in_equals_covered_uncovered_excluded(demo_run):
    _, out = demo_run
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    acc = record["accounting"]
    for t in ("5min", "10min", "15min"):
        row = acc[t]
        total = row["covered"] + row["uncovered"] + row["excluded_unreachable"]
        assert total == pytest.approx(acc["elderly_in"], rel=1e-9)
    unreachable = [e for e in record["excluded"] if e["reason"].startswith("unreachable")]
    assert sum(e["elderly"] for e in unreachable) == pytest.approx(
        acc["15min"]["excluded_unreachable"], rel=1e-6
    )


def test_run_json_records_inputs_with_checksums(demo_run):
    _, out = demo_run
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    roles = {i["role"] for i in record["inputs"]}
    assert {"network", "units", "population raster", "stations"} <= roles
    for item in record["inputs"]:
        data = Path(item["path"]).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["parameters"]["walk_speed_m_s"] == 0.8
    assert record["parameters"]["thresholds_min"] == [5.0, 10.0, 15.0]
    assert record["rules"]["name"] == "china-baseline"
    assert "geopandas" in record["versions"]
    assert record["status"] == "complete" and "timings_s" not in record
    timings = json.loads((out / "timings.json").read_text(encoding="utf-8"))
    assert set(timings) >= {"network", "population", "coverage", "map"}


def test_index_shows_the_csv_figures(demo_run):
    result, out = demo_run
    html = (out / "index.html").read_text(encoding="utf-8")
    share = result.coverage.totals["coverage_share_15min"]
    assert f"{share:.1%}" in html
    first = pd.read_csv(out / "coverage_units.csv").iloc[0]
    assert f"{first['coverage_share_15min']:.1%}" in html
    assert "OpenStreetMap" in html and "WorldPop" in html


def test_map_is_offline(demo_run):
    _, out = demo_run
    html = (out / "map.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=[\"']https?://", html)
    assert not re.search(r"<link[^>]+href=[\"']https?://", html)
    assert "L.map" in html


def _tiny_scenario(tmp_path: Path, unit_name: str) -> Path:
    units = gpd.read_file(ROOT / "data" / "wuhan_units.gpkg", layer="units")
    units = units.iloc[:3].copy()
    units.loc[units.index[0], "name"] = unit_name
    units.to_file(tmp_path / "units.gpkg", layer="units")
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    # siting and the 四同步 check have their own tests; keep these runs light
    data.pop("siting", None)
    data.pop("developments", None)
    for key in ("network", "stations"):
        data[key]["path"] = str(ROOT / "scenarios" / data[key]["path"])
    data["population"] = {
        k: [str(ROOT / "scenarios" / p) for p in v] for k, v in data["population"].items()
    }
    data["units"] = {"path": str(tmp_path / "units.gpkg"), "layer": "units"}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_strings_from_data_are_escaped(tmp_path):
    evil = "<script>alert(1)</script>"
    path = _tiny_scenario(tmp_path, evil)
    assert cli.main(["-q", "run", str(path), "--out", str(tmp_path / "out")]) == 0
    for name in ("index.html", "map.html"):
        html = (tmp_path / "out" / name).read_text(encoding="utf-8")
        assert evil not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (tmp_path / "out" / "index.html").read_text(
        encoding="utf-8"
    )


def test_same_inputs_same_bytes(tmp_path):
    path = _tiny_scenario(tmp_path, "unit")
    outs = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        assert cli.main(["-q", "run", str(path), "--out", str(out)]) == 0
        outs.append(out)
    _assert_same_bytes(outs[0], outs[1])


def _assert_same_bytes(a: Path, b: Path) -> None:
    """Assert two run folders hold the same files with the same bytes (timings aside)."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert {"coverage.xlsx", "results.gpkg", "run.json", "index.html"} <= {
        f.as_posix() for f in files
    }
    differ = [f for f in files if (a / f).read_bytes() != (b / f).read_bytes()]
    assert set(differ) <= {Path("timings.json")}


@pytest.mark.slow
def test_demo_rerun_is_byte_identical(demo_run, tmp_path):
    _, out = demo_run
    again = tmp_path / "again"
    run_scenario(DEMO, out_dir=again)
    _assert_same_bytes(out, again)


def test_cli_unusable_input_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "network: roads.gpkg\npopulation: {elderly: [a.tif]}\nstations: s.csv\n"
        "thresholds_mins: [5]\n",
        encoding="utf-8",
    )
    assert cli.main(["-q", "run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'thresholds_mins'" in err and "thresholds_min" in err
    missing = tmp_path / "missing.yaml"
    missing.write_text(
        "network: nowhere.gpkg\npopulation: {elderly: [a.tif]}\nstations: s.csv\n", encoding="utf-8"
    )
    assert cli.main(["-q", "run", str(missing)]) == 2
    assert "nowhere.gpkg" in capsys.readouterr().err


def test_demo_runs_siting_and_compliance(demo_run):
    result, out = demo_run
    for name in ("siting.csv", "siting_curve.csv", "compliance.csv"):
        assert (out / name).stat().st_size > 0, name
    sites = pd.read_csv(out / "siting.csv")
    assert sites["rank"].tolist() == list(range(1, 11))
    assert sites["cumulative_share"].is_monotonic_increasing
    curve = pd.read_csv(out / "siting_curve.csv")
    assert curve["p"].tolist() == list(range(21))
    assert curve["share"].is_monotonic_increasing
    # the p = 10 point of the curve is the siting answer, and p = 0 is today's coverage
    assert curve.loc[10, "covered"] == pytest.approx(result.siting.objective, rel=1e-9)
    assert curve.loc[0, "share"] == pytest.approx(
        result.coverage.totals["coverage_share_15min"], rel=1e-6
    )
    verdicts = pd.read_csv(out / "compliance.csv").set_index("dev_id")["verdict"]
    assert verdicts[["D07", "D09", "D11", "D12", "D13"]].eq("FAIL").all()
    assert verdicts[["D01", "D02", "D03"]].eq("PASS").all()


def test_site_command_needs_a_siting_section(tmp_path, capsys):
    path = _tiny_scenario(tmp_path, "unit")
    assert cli.main(["-q", "site", str(path)]) == 2
    assert "no `siting:` section" in capsys.readouterr().err


def test_check_developments_is_a_subcommand(tmp_path):
    register = ROOT / "data" / "wuhan_developments.gpkg"
    code = cli.main(
        [
            "check-developments",
            str(register),
            "--rules",
            "guangdong-city",
            "--asof",
            "2026-12-31",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 1
    assert (tmp_path / "compliance.csv").exists() and (tmp_path / "compliance.xlsx").exists()
