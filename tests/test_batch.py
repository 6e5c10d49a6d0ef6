"""Many districts on Dask: a LocalCluster of 2 worker processes, the embedded district scenarios.

Every figure of the batch summary is checked against ``planning run`` of the same scenario
alone; a bad district fails alone with the message ``planning run`` prints; a rerun skips
unchanged districts, reruns changed ones and ``force`` redoes them; a worker killed in the
middle of a district is survived.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed", reason="the batch needs the dask extra")

from planning import cli  # noqa: E402
from planning.batch import (  # noqa: E402
    BATCH_FORMAT_VERSION,
    DaskMissingError,
    WorkerPathError,
    run_many,
)
from planning.batch._cluster import check_worker_paths  # noqa: E402
from planning.report import is_complete, strings  # noqa: E402
from planning.workflow import run_scenario  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DISTRICTS = REPO / "scenarios" / "wuhan-districts"
QINGSHAN = DISTRICTS / "qingshan.yaml"


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=40,
    ) as cluster, distributed.Client(cluster) as c:  # fmt: skip
        yield c


#: A title from data that must reach every page and map as text.
HOSTILE = "Qingshan <script>alert(1)</script> {{ 7*7 }} & co"


def _variant(tmp: Path, name: str, *, language: str = "en", title: str | None = None) -> Path:
    """Write Qingshan as another district: its own copy of the district file, in English."""
    data = tmp / f"{name}-data"
    data.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "data" / "wuhan-districts" / "QS.gpkg", data / "QS.gpkg")
    text = QINGSHAN.read_text(encoding="utf-8")
    text = text.replace("../../data/wuhan-districts/QS.gpkg", str(data / "QS.gpkg"))
    text = text.replace("../../data/", f"{REPO / 'data'}/")
    text = text.replace("name: wuhan-qingshan", f"name: {name}")
    text = text.replace("language: zh", f"language: {language}")
    if title:
        text = re.sub(r"  en: .*\n", f"  en: '{title}'\n", text, count=1)
    path = tmp / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _bad(tmp: Path) -> Path:
    """A district whose stations file does not exist."""
    text = _variant(tmp, "broken").read_text(encoding="utf-8")
    stations = re.search(r"stations:\n  path: (\S+)", text)
    assert stations is not None
    text = text.replace(
        f"stations:\n  path: {stations.group(1)}", "stations:\n  path: nowhere.gpkg"
    )
    path = tmp / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def first(client, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batch")
    scenarios = [QINGSHAN, _variant(tmp, "qingshan-en", title=HOSTILE), _bad(tmp)]
    out = tmp / "out"
    res = run_many(scenarios, out, client)
    return res, scenarios, out


def test_each_district_gets_a_record_and_a_complete_run_folder(first):
    res, _, out = first
    status = {r["name"]: r["status"] for r in res.records}
    assert status == {"wuhan-qingshan": "done", "qingshan-en": "done", "broken": "failed"}
    for name in ("wuhan-qingshan", "qingshan-en"):
        assert is_complete(out / name)
        assert (out / name / "index.html").is_file()
    for name in ("index.html", "summary.csv", "summary.xlsx", "map.html", "batch.json"):
        assert (out / name).is_file(), name


def test_summary_equals_planning_run_alone(first):
    _, scenarios, out = first
    summary = pd.read_csv(out / "summary.csv", encoding="utf-8-sig").set_index("district")
    for path, name in zip(scenarios[:2], ["wuhan-qingshan", "qingshan-en"], strict=True):
        alone = run_scenario(path)
        cov = alone.coverage
        row = summary.loc[name]
        assert row["elderly"] == pytest.approx(cov.totals["elderly"], rel=1e-9)
        assert row["population"] == pytest.approx(cov.totals["population"], rel=1e-9)
        for t in ("5", "10", "15"):
            for col in (f"elderly_covered_{t}min", f"coverage_share_{t}min"):
                assert row[col] == pytest.approx(cov.totals[col], rel=1e-9), col
        assert row["elderly_uncovered_15min"] == pytest.approx(
            cov.units["elderly_uncovered_15min"].sum(), rel=1e-9
        )
        assert row["n_units"] == len(cov.units)
        assert row["n_stations"] == len(cov.stations)
        met = cov.targets["met"].dropna().astype(bool)
        assert row["targets_met"] == met.sum()
        assert row["targets_total"] == len(met)
        for tid, value in zip(cov.targets["target_id"], cov.targets["met"], strict=True):
            if pd.notna(value):
                assert bool(row[f"meets_{tid}"]) == bool(value), tid
        top = cov.gaps.loc[cov.gaps["elderly"].idxmax()]
        assert row["n_gaps"] == len(cov.gaps)
        assert row["largest_gap_elderly"] == pytest.approx(top["elderly"], rel=1e-9)
        assert row["largest_gap_unit"] == top["unit_id"]
        assert row["sites_proposed"] == len(alone.siting.selected_ids)
        assert row["site_ids"].split() == [str(s) for s in alone.siting.selected_ids]
        assert row["coverage_share_15min_with_sites"] == pytest.approx(
            alone.siting.covered_share, rel=1e-6
        )


def test_summary_covered_counts_equal_the_districts_demand_points(first):
    """Recount the covered older people from the run folder's demand points (travel times)."""
    _, _, out = first
    summary = pd.read_csv(out / "summary.csv", encoding="utf-8-sig").set_index("district")
    demand = gpd.read_file(out / "wuhan-qingshan" / "results.gpkg", layer="demand")
    for t in (5, 10, 15):
        inside = demand["travel_time_s_nearest"].to_numpy(dtype=float) <= t * 60 + 1e-9
        covered = float(np.sum(demand["elderly"].to_numpy(dtype=float)[inside]))
        assert summary.loc["wuhan-qingshan", f"elderly_covered_{t}min"] == pytest.approx(
            covered, rel=1e-9
        )


def test_bad_district_fails_alone_with_the_message_of_planning_run(first, capsys):
    res, scenarios, out = first
    rec = next(r for r in res.records if r["name"] == "broken")
    assert cli.main(["-q", "run", str(scenarios[2]), "--out", str(out / "alone")]) == 2
    printed = capsys.readouterr().err.strip()
    assert rec["error"] == printed
    assert "nowhere.gpkg" in rec["error"]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="failures"' in page and "nowhere.gpkg" in page
    summary = pd.read_csv(out / "summary.csv", encoding="utf-8-sig").set_index("district")
    assert summary.loc["broken", "status"] == "failed"
    assert "nowhere.gpkg" in summary.loc["broken", "error"]


def test_batch_json_records_scheduler_workers_versions_and_checksums(first):
    _, _, out = first
    record = json.loads((out / "batch.json").read_text(encoding="utf-8"))
    assert record["format_version"] == BATCH_FORMAT_VERSION
    assert len(record["workers"]) == 2
    assert record["versions"]["distributed"] == distributed.__version__
    assert record["counts"] == {"done": 2, "skipped": 0, "failed": 1}
    qs = next(d for d in record["districts"] if d["name"] == "wuhan-qingshan")
    run = json.loads((out / "wuhan-qingshan" / "run.json").read_text(encoding="utf-8"))
    assert qs["inputs"] == run["inputs"]
    assert len(qs["params_hash"]) == 64
    assert qs["timings_s"]["coverage"] > 0 and qs["wall_s"] > 0
    assert qs["worker"].startswith("tcp://127.0.0.1:")


def test_page_is_offline_escaped_and_in_the_scenarios_language(first):
    _, _, out = first
    page = (out / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page  # two of the three scenarios are in English
    assert 'href="wuhan-qingshan/index.html"' in page
    assert "Qingshan District 15-minute" in page and "Coverage within 15 min" in page
    assert "<script>alert" not in page
    assert "Qingshan &lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} &amp; co" in page
    assert not re.search(r"""(src|href)=["']https?://""", page)
    mp = (out / "map.html").read_text(encoding="utf-8")
    assert 'src="assets/leaflet.js"' in mp and not re.search(r"""src=["']https?://""", mp)
    assert len(mp) < 200_000
    assert "<script>alert" not in mp and "{{ 7*7 }}" not in mp
    assert "Qingshan \\u0026lt;script\\u0026gt;alert(1)" in mp  # escaped, inside JSON
    book = pd.read_excel(out / "summary.xlsx", sheet_name=None)
    assert set(book) == {"summary", "targets", "columns"}
    assert len(book["summary"]) == 3
    assert "District (scenario)" in book["summary"].columns


def test_second_run_skips_unchanged_reruns_changed_and_force_redoes(first, client):
    res, scenarios, out = first
    before = (out / "wuhan-qingshan" / "run.json").stat().st_mtime_ns
    again = run_many(scenarios, out, client)
    status = {r["name"]: r["status"] for r in again.records}
    assert status == {"wuhan-qingshan": "skipped", "qingshan-en": "skipped", "broken": "failed"}
    assert (out / "wuhan-qingshan" / "run.json").stat().st_mtime_ns == before
    assert again.summary.set_index("district").loc["wuhan-qingshan", "elderly"] == pytest.approx(
        res.summary.set_index("district").loc["wuhan-qingshan", "elderly"]
    )
    # change one input of one district: one station loses its capacity
    gpkg = Path(re.search(r"path: (\S+QS\.gpkg)", scenarios[1].read_text()).group(1))
    stations = gpd.read_file(gpkg, layer="stations")
    stations.loc[0, "capacity"] = 1
    stations.to_file(gpkg, layer="stations", driver="GPKG")
    third = run_many(scenarios, out, client)
    status = {r["name"]: r["status"] for r in third.records}
    assert status["wuhan-qingshan"] == "skipped" and status["qingshan-en"] == "done"
    forced = run_many(scenarios[:1], out, client, force=True)
    assert [r["status"] for r in forced.records] == ["done"]
    assert (out / "wuhan-qingshan" / "run.json").stat().st_mtime_ns > before
    # running a few districts again keeps what the batch folder knows of the others
    after = run_many(scenarios, out, client)
    status = {r["name"]: r["status"] for r in after.records}
    assert status == {"wuhan-qingshan": "skipped", "qingshan-en": "skipped", "broken": "failed"}


def test_an_incomplete_run_folder_is_run_again(first, client, tmp_path):
    _, _, out = first
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    assert is_complete(copy / "wuhan-qingshan")
    page = next((copy / "wuhan-qingshan" / "units").glob("*.html"))
    page.write_text("truncated", encoding="utf-8")
    assert not is_complete(copy / "wuhan-qingshan")
    run = json.loads((copy / "qingshan-en" / "run.json").read_text(encoding="utf-8"))
    run["status"] = "writing"
    (copy / "qingshan-en" / "run.json").write_text(json.dumps(run), encoding="utf-8")
    assert not is_complete(copy / "qingshan-en")
    assert not is_complete(tmp_path / "nothing-here")


def test_duplicate_names_fail_the_second_alone(first, tmp_path, client):
    _, _, out = first
    copy = tmp_path / "out"
    shutil.copytree(out, copy)  # the first district is unchanged there: skipped, not rerun
    dup = tmp_path / "copy.yaml"
    dup.write_text(QINGSHAN.read_text(encoding="utf-8").replace("../../", f"{REPO}/"), "utf-8")
    res = run_many([QINGSHAN, dup], copy, client)
    assert [r["status"] for r in res.records] == ["skipped", "failed"]
    assert "unique `name:`" in res.records[1]["error"]
    assert str(QINGSHAN) in res.records[1]["error"] and str(dup) in res.records[1]["error"]


@pytest.mark.slow
def test_a_killed_worker_is_survived(tmp_path, client):
    out = tmp_path / "out"
    killed: dict[str, int] = {}

    def kill_when_running() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                time.sleep(2.0)  # in the middle of the district
                pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed["pid"] = pid
                return
            time.sleep(0.1)

    thread = threading.Thread(target=kill_when_running)
    thread.start()
    res = run_many([QINGSHAN], out, client)
    thread.join()
    assert "pid" in killed
    rec = res.records[0]
    assert rec["status"] == "done", rec.get("error")
    assert rec["pid"] != killed["pid"]
    assert is_complete(out / "wuhan-qingshan")
    client.wait_for_workers(2, timeout=60)


def test_workers_missing_paths_are_named(client, tmp_path):
    missing = str(tmp_path / "not-mounted" / "roads.gpkg")
    with pytest.raises(
        WorkerPathError, match=r"tcp://127\.0\.0\.1:\d+: .*roads\.gpkg \(needed by JH\)"
    ):
        check_worker_paths(client, {"JH": [missing]})


def test_without_dask_the_error_says_how_to_install(monkeypatch, tmp_path, capsys):
    import importlib

    real = importlib.import_module

    def no_dask(name, *args):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_dask)
    with pytest.raises(DaskMissingError, match=r'pip install -e "\.\[dask\]"'):
        run_many([QINGSHAN], tmp_path)
    assert cli.main(["-q", "batch", str(QINGSHAN), "--out", str(tmp_path)]) == 2
    assert 'pip install -e ".[dask]"' in capsys.readouterr().err


def test_no_scenario_is_an_input_error(tmp_path):
    with pytest.raises(ValueError, match="at least one scenario"):
        run_many([], tmp_path)


def test_only_the_batch_imports_dask():
    package = REPO / "planning"
    users = []
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            elif isinstance(node, ast.Constant) and node.value in ("dask", "distributed"):
                names = [node.value]
            if any(n.split(".")[0] in ("dask", "distributed") for n in names):
                users.append(path.relative_to(package).as_posix())
    assert users and all(u.startswith("batch/") for u in users), users


def test_shipped_district_scenarios_add_up_to_central_wuhan():
    """The district cut loses and doubles no one: its rasters sum to the embedded ones."""
    import rasterio

    def total(path: Path) -> float:
        with rasterio.open(path) as src:
            v = src.read(1).astype(float)
            return float(v[v != src.nodata].sum())

    names = sorted(p.stem for p in DISTRICTS.glob("*.yaml"))
    assert names == [
        "hanyang", "hongshan", "jiangan", "jianghan", "qiaokou", "qingshan", "wuchang",
    ]  # fmt: skip
    parts = sorted((REPO / "data" / "wuhan-districts").glob("*_elderly_60plus.tif"))
    assert len(parts) == 7
    whole = total(REPO / "data" / "wuhan_elderly_60plus.tif")
    assert sum(total(p) for p in parts) == pytest.approx(whole, rel=1e-9)
    units = gpd.read_file(REPO / "data" / "wuhan_units.gpkg")
    for p in parts:
        did = p.name.split("_")[0]
        own = gpd.read_file(p.with_name(f"{did}.gpkg"), layer="units")
        assert set(own["unit_id"]) == set(units.loc[units["district_id"] == did, "unit_id"])


def test_command_line_batch_reports_each_district_and_exits_1_on_a_failure(first, tmp_path, capsys):
    _, scenarios, out = first
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    argv = ["-q", "batch", str(QINGSHAN), str(scenarios[2]), "--out", str(copy), "--workers", "2"]
    assert cli.main([*argv, "--language", "zh"]) == 1
    printed = capsys.readouterr()
    t = strings("zh")  # the console speaks the report's language
    assert f"wuhan-qingshan {t['batch_status_skipped']}：老年人口 " in printed.out
    assert f"broken {t['batch_status_failed']}" in printed.out and "nowhere.gpkg" in printed.err
    assert "共 2 个区" in printed.out and "失败 1 个" in printed.out
    assert "distributed" not in printed.err  # Dask's own log lines stay off the console
    assert cli.main(["-q", "batch", str(QINGSHAN), "--out", str(copy), "--workers", "0"]) == 2


def test_a_bug_is_recorded_with_its_traceback_and_a_machine_error_is_retried(monkeypatch, tmp_path):
    import planning.workflow
    from planning.batch._task import run_district

    job = {
        "name": "x", "scenario": str(QINGSHAN), "out_dir": str(tmp_path / "x"),
        "params_hash": "0" * 64, "force": False, "previous": None,
    }  # fmt: skip

    def bug(*args, **kwargs):
        raise KeyError("coverage_share_15min")

    monkeypatch.setattr(planning.workflow, "run_scenario", bug)
    rec = run_district(job)
    assert rec["status"] == "failed"
    assert rec["error"] == "error: KeyError: 'coverage_share_15min'"
    assert "Traceback" in rec["traceback"]

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(planning.workflow, "run_scenario", disk_full)
    with pytest.raises(OSError, match="No space"):
        run_district(job)  # raised, so that Dask retries it elsewhere or later
