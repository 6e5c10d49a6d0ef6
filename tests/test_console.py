"""The console of a run: progress bars and one final summary, no library log lines.

The run is a subprocess, as a planner starts it, so that output written below Python
(the HiGHS banner goes straight to the C stdout) is caught too. Every figure of the
summary is checked against the run folder's own tables.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from planning import cli

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "wuhan-central.yaml"


def _quick_demo(tmp_path: Path, language: str, *, siting: bool = True) -> Path:
    """The demo scenario with a short siting run (no curve) beside the embedded data."""
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["language"] = language
    data["siting"].pop("curve_p_max")
    data["siting"]["p"] = 3
    data["siting"]["candidates"]["path"] = str(
        (DEMO.parent / data["siting"]["candidates"]["path"]).resolve()
    )
    if not siting:
        data.pop("siting")
    for section in ("network", "stations", "units", "developments"):
        data[section]["path"] = str((DEMO.parent / data[section]["path"]).resolve())
    data["population"] = {
        k: [str((DEMO.parent / p).resolve()) for p in v] for k, v in data["population"].items()
    }
    path = tmp_path / f"quick-{language}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planning.cli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"},
    )


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    tmp = tmp_path_factory.mktemp("console")
    out = tmp / "out"
    proc = _run("run", str(_quick_demo(tmp, "en")), "--out", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout, proc.stderr


def test_quiet_run_prints_only_the_summary(quiet_run: tuple[Path, str, str]) -> None:
    _, stdout, stderr = quiet_run
    everything = stdout + stderr
    for noise in ("INFO", "Created", "Running HiGHS", "Warning", "it/s"):
        assert noise not in everything, noise
    assert stderr == ""
    assert stdout.splitlines()[-1].startswith("report: ")


def test_summary_figures_are_the_run_folder_figures(quiet_run: tuple[Path, str, str]) -> None:
    out, stdout, _ = quiet_run
    units = pd.read_csv(out / "coverage_units.csv")
    elderly = units["elderly"].sum() + 0.0
    first = stdout.splitlines()[0]
    assert f"{elderly:,.0f} older people" in first
    for t in (5, 10, 15):
        share = units[f"elderly_covered_{t}min"].sum() / elderly
        assert f"{t} min {share:.1%}" in first
    unreachable = units["elderly_unreachable"].sum()
    assert f"farther than 500 m from every road: {unreachable:,.0f}" in stdout

    targets = pd.read_csv(out / "targets.csv")
    met = int((targets["met"] == True).sum())  # noqa: E712 (a column of True/False/NaN)
    assert f"targets of the rule set: {met} of {len(targets)} met" in stdout
    assert f"({int(targets['met'].isna().sum())} not evaluated)" in stdout
    for _, r in targets.iterrows():
        assert r["label_en"] in stdout
    circle = targets.set_index("target_id").loc["circle15"]
    line = next(x for x in stdout.splitlines() if circle["label_en"] in x)
    assert line.split()[0] == ("met" if circle["met"] else "missed")
    assert f"{circle['value']:.1%} (target ≥ {circle['min']:.1%})" in line

    comp = pd.read_csv(out / "compliance.csv")
    counts = comp["verdict"].value_counts()
    withheld = int(comp["acceptance_withheld"].sum())
    assert (
        f"四同步 check: {len(comp)} new residential developments, {counts.get('PASS', 0)} pass, "
        f"{counts.get('FAIL', 0)} fail, {counts.get('UNKNOWN', 0)} unknown; "
        f"completion acceptance withheld: {withheld}"
    ) in stdout
    failed = ", ".join(sorted(comp.loc[comp["verdict"] == "FAIL", "dev_id"]))
    assert f"  fail: {failed}" in stdout

    sites = pd.read_csv(out / "siting.csv")
    assert re.search(rf"siting \(mclp, \w+\): {len(sites)} new sites", stdout)
    assert f"→ {sites['cumulative_share'].max():.1%}" in stdout


def test_verbose_logs_the_steps_but_no_library_lines(tmp_path: Path) -> None:
    proc = _run(
        "run", str(_quick_demo(tmp_path, "zh", siting=False)), "--out", str(tmp_path / "o"), "-v"
    )
    assert proc.returncode == 0, proc.stderr
    assert "INFO planning.report.run_folder: map:" in proc.stderr
    for noise in ("pyogrio", "Created", "Running HiGHS", "matplotlib", "numexpr", "Warning"):
        assert noise not in proc.stdout + proc.stderr, noise
    # the summary speaks the report language
    assert "老年人口" in proc.stdout
    assert "四同步核查：13 个新建住宅项目" in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("报告：")


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "-q", "--help"],
        ["-q", "demo", "--help"],
        ["run", "x.yaml", "--quiet", "--help"],
        ["report", "-v", "--help"],
        ["site", "-q", "--help"],
    ],
)
def test_quiet_and_verbose_accepted_on_every_command(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 0


def test_check_developments_accepts_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = ROOT / "data" / "wuhan_developments.gpkg"
    args = [str(reg), "--rules", "guangdong-city", "--asof", "2026-12-31", "--out", str(tmp_path)]
    assert cli.main(["-q", "check-developments", *args]) == 1
    assert cli.main(["check-developments", *args, "-q", "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "13 developments" in out
