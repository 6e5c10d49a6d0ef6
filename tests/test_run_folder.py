"""The run folder contract: complete when run.json says so, replaced atomically, byte-identical.

Runs of the synthetic district (:mod:`_report_fixtures`, under a second each) are written
in this process or, for the interruption tests, in a child process that is stopped while
it writes.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _report_fixtures import fake_compliance, fake_curve, fake_siting, tiny_run

from planning import settings
from planning._errors import OutputError
from planning.report import _staging, annual, export, is_complete, lang_code, run_folder
from planning.report._staging import RUN_FILES, RUN_FOLDERS
from planning.workflow import write_run

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
#: Station names a spreadsheet would run as formulas if written as they are.
FORMULAS = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)"]


@pytest.fixture(autouse=True)
def _quiet():
    settings.progress = False
    yield
    settings.progress = True


def _result(year: int = 2026):
    result = tiny_run(year=year)
    result.siting = fake_siting(result)
    result.siting_curve = fake_curve()
    result.compliance = fake_compliance()
    return result


def _digest(folder: Path) -> dict[str, str]:
    """Return every file of `folder` (relative path) with the SHA-256 of its bytes."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


# --------------------------------------------------------------------------- the record
def test_run_json_is_complete_and_timings_have_their_own_file(tmp_path):
    out = write_run(_result(), tmp_path / "run")
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["status"] == "complete"
    assert "timings_s" not in record
    timings = json.loads((out / "timings.json").read_text(encoding="utf-8"))
    assert {"write tables", "workbook", "geopackage", "charts", "map", "report"} <= set(timings)
    assert all(isinstance(v, float) and v >= 0 for v in timings.values())
    listed = record["outputs"]
    assert "run.json" not in listed and "timings.json" not in listed
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    flat = {k for k in listed if not k.endswith("/*")}
    assert flat | {"run.json", "timings.json"} == {p for p in on_disk if not p.startswith("units/")}
    assert listed["units/*"] == sum(p.stat().st_size for p in (out / "units").iterdir())
    assert is_complete(out)
    assert _siblings(out) == []


def test_is_complete_says_no_to_everything_else(tmp_path):
    assert not is_complete(tmp_path / "missing")
    assert not is_complete(tmp_path)  # a folder without run.json
    out = write_run(_result(), tmp_path / "run")
    record = (out / "run.json").read_text(encoding="utf-8")
    (out / "run.json").write_text(record[:100], encoding="utf-8")
    assert not is_complete(out)  # damaged
    data = json.loads(record)
    (out / "run.json").write_text(json.dumps(dict(data, status="writing")), encoding="utf-8")
    assert not is_complete(out)  # not complete
    del data["status"]
    (out / "run.json").write_text(json.dumps(data), encoding="utf-8")
    assert not is_complete(out)  # written before run folders said so
    (out / "run.json").write_text(record, encoding="utf-8")
    assert is_complete(out)
    with (out / "targets.csv").open("ab") as fh:
        fh.write(b"x")
    assert not is_complete(out)  # a file changed since
    (out / "targets.csv").unlink()
    assert not is_complete(out)  # a file removed


# --------------------------------------------------------------------------- byte for byte
def test_same_run_same_bytes(tmp_path):
    a = _digest(write_run(_result(), tmp_path / "a"))
    b = _digest(write_run(_result(), tmp_path / "b"))
    assert a.pop("timings.json") and b.pop("timings.json")
    assert set(a) == set(b)
    assert [name for name in a if a[name] != b[name]] == []
    kinds = {Path(name).suffix for name in a}
    assert {".csv", ".gpkg", ".xlsx", ".html", ".png", ".json", ".js", ".css"} <= kinds


def test_annual_run_same_bytes(tmp_path):
    last = write_run(tiny_run(year=2025), tmp_path / "2025")
    digests = []
    for name in ("a", "b"):
        result = _result()
        result.comparison = annual.compare_runs(result, annual.read_run(last))
        digests.append(_digest(write_run(result, tmp_path / name)))
    for d in digests:
        d.pop("timings.json")
    assert "annual.html" in digests[0] and "annual_units.csv" in digests[0]
    assert digests[0] == digests[1]


# --------------------------------------------------------------------------- formulas
def test_no_formula_from_data_in_workbook_or_tables(tmp_path):
    import openpyxl
    import pandas as pd

    result = _result()
    stations = result.coverage.stations
    stations["name"] = FORMULAS[: len(stations)]
    stations["station_id"] = ["=S1", "+S2", "@S3"]
    out = write_run(result, tmp_path / "run")
    book = openpyxl.load_workbook(out / "coverage.xlsx")
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    lang = lang_code(str(result.scenario.data.get("language", "zh")))
    sheet = export._sheet_name("stations", lang)  # tab names are in the report language
    values = {c.value for row in book[sheet].iter_rows() for c in row}
    assert set(FORMULAS[: len(stations)]) | {"=S1", "+S2", "@S3"} <= values
    for csv in out.glob("*.csv"):
        raw = pd.read_csv(csv, dtype=str, keep_default_na=False)
        cells = [str(c) for c in raw.to_numpy().ravel()] + list(raw.columns)
        starts = [
            c for c in cells if c.startswith(("=", "+", "@")) or (c[:1] == "-" and not _number(c))
        ]
        assert starts == [], csv.name
    back = annual.read_run(out)
    assert sorted(back.stations["station_id"]) == ["+S2", "=S1", "@S3"]


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- atomic replace
def test_failed_rerun_leaves_the_previous_folder(tmp_path, monkeypatch):
    out = write_run(_result(), tmp_path / "run")
    before = _digest(out)

    def full_disk(result, folder, *, language):
        path = folder / "charts" / "coverage_by_unit.png"
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(run_folder, "write_charts", full_disk)
    failed = _result()
    with pytest.raises(OutputError) as info:
        write_run(failed, out)
    assert failed.out_dir is None
    message = str(info.value)
    assert f"'{out / 'charts' / 'coverage_by_unit.png'}'" in message
    assert "disk is full" in message and "left as it was" in message
    assert _digest(out) == before and is_complete(out)
    assert _siblings(out) == []


def test_interrupted_rerun_leaves_the_previous_folder(tmp_path, monkeypatch):
    out = write_run(_result(), tmp_path / "run")
    before = _digest(out)

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_folder, "save_map", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        write_run(_result(), out)
    assert _digest(out) == before and _siblings(out) == []


def test_rerun_replaces_the_whole_folder(tmp_path):
    out = write_run(_result(), tmp_path / "run")
    assert (out / "siting.csv").exists()
    second = write_run(tiny_run(), out)  # no siting, no compliance this time
    assert not (second / "siting.csv").exists() and not (second / "compliance.csv").exists()
    assert is_complete(second) and _siblings(second) == []


def test_swap_without_atomic_exchange(tmp_path, monkeypatch):
    monkeypatch.setattr(_staging, "_exchange", lambda a, b: False)
    out = write_run(_result(), tmp_path / "run")
    write_run(tiny_run(), out)
    assert is_complete(out) and not (out / "siting.csv").exists()
    assert _siblings(out) == []


def test_run_folder_behind_a_link_keeps_the_link(tmp_path):
    real = tmp_path / "shared" / "run-2026"
    real.mkdir(parents=True)
    link = tmp_path / "run"
    link.symlink_to(real, target_is_directory=True)
    for _ in range(2):
        write_run(_result(), link)
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert is_complete(real) and _siblings(real) == []


def test_leftovers_of_killed_runs_are_removed(tmp_path):
    out = write_run(_result(), tmp_path / "run")
    dead = _dead_pid()
    for kind in ("partial", "old"):
        left = tmp_path / f".run.{kind}-{dead}"
        left.mkdir()
        (left / "coverage_units.csv").write_text("half", encoding="utf-8")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
        busy = tmp_path / f".run.partial-{other.pid}"  # another run, still going
        busy.mkdir()
        write_run(_result(), out)
        other.kill()
    assert _siblings(out) == [busy.name]
    assert is_complete(out)


def test_folder_lost_between_two_renames_is_restored(tmp_path):
    out = write_run(_result(), tmp_path / "run")
    before = _digest(out)
    old = tmp_path / f".run.old-{_dead_pid()}"
    out.rename(old)
    assert _staging.clean_leftovers(out) == []
    assert _digest(out) == before and not old.exists()


def _dead_pid() -> int:
    with subprocess.Popen([sys.executable, "-c", "pass"]) as child:
        child.wait()
    return child.pid


# --------------------------------------------------------------------------- what is replaced
def test_folder_with_other_files_is_not_replaced(tmp_path):
    out = write_run(_result(), tmp_path / "run")
    (out / "my notes.docx").write_text("notes", encoding="utf-8")
    (out / "units" / "extra.pdf").write_text("x", encoding="utf-8")
    (out / ".DS_Store").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError) as info:
        write_run(_result(), out)
    message = str(info.value)
    assert "2 file(s) a run does not write (my notes.docx, units/extra.pdf)" in message
    assert "move these files elsewhere" in message and "--out" in message
    assert (out / "my notes.docx").exists() and (out / "units" / "extra.pdf").exists()
    (out / "my notes.docx").unlink()
    (out / "units" / "extra.pdf").unlink()
    assert is_complete(out)  # nothing of the run was touched


def test_folder_that_is_not_a_run_folder(tmp_path):
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "plan.xlsx").write_text("x", encoding="utf-8")
    (folder / "index.html").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match=r"'.*documents' is not a run folder.*\(plan\.xlsx\)"):
        write_run(_result(), folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert is_complete(write_run(_result(), empty))


def test_every_output_has_a_known_name(tmp_path):
    last = write_run(tiny_run(year=2025), tmp_path / "2025")
    result = _result()
    result.comparison = annual.compare_runs(result, annual.read_run(last))
    out = write_run(result, tmp_path / "run")
    for path in out.rglob("*"):
        rel = path.relative_to(out)
        if path.is_dir():
            assert len(rel.parts) == 1 and rel.name in RUN_FOLDERS, rel
        elif len(rel.parts) == 1:
            assert rel.name in RUN_FILES, rel
        else:
            assert rel.suffix in RUN_FOLDERS[rel.parts[0]], rel
    # without run.json the names alone decide, and they accept the whole folder
    (out / "run.json").unlink()
    assert _staging.unexpected_files(out) == []


def test_output_that_is_a_file(tmp_path):
    file = tmp_path / "run"
    file.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match=r"'.*run' is a file, not a folder"):
        write_run(_result(), file)


# --------------------------------------------------------------------------- killed midway
#: A child that writes a run folder and stops for a minute once the charts are written.
_CHILD = """
import sys, time
sys.path.insert(0, {tests!r})
from _report_fixtures import tiny_run
from planning import settings
from planning.report import run_folder
from planning.workflow import write_run

settings.progress = False
original = run_folder.write_charts

def slow_charts(*args, **kwargs):
    out = original(*args, **kwargs)
    time.sleep(60)
    return out

run_folder.write_charts = slow_charts
write_run(tiny_run(), {out!r})
"""


def _start_and_wait_for_charts(out: Path) -> subprocess.Popen[bytes]:
    code = _CHILD.format(tests=str(TESTS), out=str(out))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
    child = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    partial = out.parent / f".{out.name}.partial-{child.pid}"
    deadline = time.monotonic() + 120
    while not list((partial / "charts").glob("*.png")):
        if child.poll() is not None:
            pytest.fail(f"the run ended before it was stopped: {child.stderr.read().decode()}")
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.02)
    assert (partial / "coverage_units.csv").exists() and (partial / "results.gpkg").exists()
    assert not (partial / "run.json").exists()
    return child


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_run_stopped_midway_leaves_the_previous_folder(tmp_path, how):
    out = write_run(_result(), tmp_path / "run")
    before = _digest(out)
    child = _start_and_wait_for_charts(out)
    child.send_signal(how)
    child.wait(timeout=60)
    child.stdout.close()
    child.stderr.close()
    assert child.returncode != 0
    assert _digest(out) == before and is_complete(out)
    left = _siblings(out)
    assert left in ([], [f".run.partial-{child.pid}"])
    if how == signal.SIGINT:  # Ctrl-C: the run removes its partial folder itself
        assert left == []
    again = write_run(tiny_run(), out)
    assert is_complete(again) and _siblings(again) == []
    assert not (again / "siting.csv").exists()


# --------------------------------------------------------------------------- command line
def _scenario(folder: Path, *, station_names: list[str] | None = None) -> Path:
    """Write the synthetic district as files and a scenario naming them; return its path."""
    from _report_fixtures import grid_lines, tiny_inputs

    folder.mkdir(parents=True, exist_ok=True)
    inputs = tiny_inputs()
    grid_lines().to_file(folder / "roads.gpkg", layer="roads")
    inputs["demand"].to_file(folder / "demand.gpkg", layer="demand")
    stations = inputs["stations"]
    if station_names is not None:
        stations = stations.assign(name=station_names)
    stations.to_file(folder / "stations.gpkg", layer="stations")
    inputs["units"].to_file(folder / "units.gpkg", layer="units")
    path = folder / "tiny.yaml"
    path.write_text(
        "name: tiny\nlanguage: en\n"
        "network: {path: roads.gpkg, layer: roads}\n"
        "population: {path: demand.gpkg, layer: demand, elderly_col: elderly,"
        " population_col: population}\n"
        "stations: {path: stations.gpkg, layer: stations}\n"
        "units: {path: units.gpkg, layer: units}\n"
        "walk_speed_m_s: 1.0\nthresholds_min: [1, 2, 3]\nmax_snap_m: 100\n",
        encoding="utf-8",
    )
    return path


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "planning.cli", "-q", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_rerun_is_byte_identical(tmp_path):
    scenario = _scenario(tmp_path / "in", station_names=FORMULAS[:3])
    for name in ("a", "b"):
        done = _cli("run", scenario, "--out", tmp_path / name)
        assert done.returncode == 0, done.stderr
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    a.pop("timings.json")
    b.pop("timings.json")
    assert a == b
    record = json.loads((tmp_path / "a" / "run.json").read_text(encoding="utf-8"))
    assert record["status"] == "complete" and is_complete(tmp_path / "a")


def _computing_forbidden(monkeypatch):
    import planning.workflow

    def never(*args, **kwargs):
        raise AssertionError("computed although the output folder cannot be written")

    monkeypatch.setattr(planning.workflow, "compute_coverage", never)


def test_cli_output_faults_stop_before_computing(tmp_path, monkeypatch, capsys):
    from planning import cli

    scenario = _scenario(tmp_path / "in")
    _computing_forbidden(monkeypatch)
    file = tmp_path / "taken.txt"
    file.write_text("x", encoding="utf-8")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "plan.docx").write_text("x", encoding="utf-8")
    cases = {
        file: r"taken\.txt' is a file, not a folder",
        file / "run": r"cannot be created: '.*taken\.txt' is a file",
        notes: r"notes' is not a run folder .*\(plan\.docx\)",
    }
    for out, pattern in cases.items():
        assert cli.main(["-q", "run", str(scenario), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert re.search(pattern, err), err
        assert "Traceback" not in err and "--out" in err


def test_cli_read_only_output(tmp_path, monkeypatch, capsys):
    from test_writing import read_only_folder

    from planning import cli

    scenario = _scenario(tmp_path / "in")
    _computing_forbidden(monkeypatch)
    with read_only_folder(tmp_path / "locked") as folder:
        assert cli.main(["-q", "run", str(scenario), "--out", str(folder / "run")]) == 2
    err = capsys.readouterr().err
    assert re.search(r"Cannot write '.*locked.*'.*--out", err), err


def test_cli_write_failure_during_the_run(tmp_path, monkeypatch, capsys):
    from planning import cli

    scenario = _scenario(tmp_path / "in")
    out = tmp_path / "run"
    assert cli.main(["-q", "run", str(scenario), "--out", str(out)]) == 0
    capsys.readouterr()
    before = _digest(out)

    def full_disk(result, path, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(run_folder, "write_workbook", full_disk)
    assert cli.main(["-q", "run", str(scenario), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"Cannot write '{out / 'coverage.xlsx'}': No space left on device" in err
    assert "Traceback" not in err and _digest(out) == before


def test_cli_sigterm_leaves_the_previous_folder(tmp_path):
    scenario = _scenario(tmp_path / "in")
    out = tmp_path / "run"
    assert _cli("run", scenario, "--out", out).returncode == 0
    before = _digest(out)
    code = (
        "import sys, time\n"
        "from planning import cli\n"
        "from planning.report import run_folder\n"
        "original = run_folder.write_charts\n"
        "def slow(*a, **k):\n"
        "    out = original(*a, **k)\n"
        "    time.sleep(60)\n"
        "    return out\n"
        "run_folder.write_charts = slow\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [sys.executable, "-c", code, "-q", "run", str(scenario), "--out", str(out)]
    with subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True) as child:
        partial = tmp_path / f".run.partial-{child.pid}"
        deadline = time.monotonic() + 120
        while not list((partial / "charts").glob("*.png")):
            assert child.poll() is None and time.monotonic() < deadline, child.stderr.read()
            time.sleep(0.02)
        child.terminate()
        err = child.stderr.read()
    assert child.returncode == 130
    assert "interrupted: the run folder was left as it was" in err and "Traceback" not in err
    assert _digest(out) == before and _siblings(out) == []
