"""Every code block of README.md runs as written, on the embedded data.

Blocks are read from the README itself. Python blocks run in one namespace per section
(a ``#`` heading starts a section), in order; the ``planning ...`` commands of shell
blocks (after ``&&``, with ``\\`` continuations) run in order per section, through
``python -m planning.cli``; YAML blocks must parse. Everything runs in a fresh folder
holding links to ``data/`` and ``scenarios/``, as in a checkout. The blocks that run the
whole demo (about a minute each) are marked slow; the Python tour and the 四同步 check
run by default.
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml

from planning import settings
from planning.report import is_complete

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Section:
    """The code blocks under one heading of the README."""

    title: str
    python: list[str] = field(default_factory=list)
    shell: list[str] = field(default_factory=list)
    yaml: list[str] = field(default_factory=list)


def readme_sections(text: str) -> list[Section]:
    """Return the sections of a Markdown text that hold code blocks."""
    sections = [Section("(top)")]
    lang, block = None, []
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if lang is None and fence:
            lang, block = fence.group(1) or "text", []
        elif lang is not None and line.startswith("```"):
            target = {"python": "python", "bash": "shell", "sh": "shell", "yaml": "yaml"}
            if lang in target:
                getattr(sections[-1], target[lang]).append("\n".join(block))
            lang = None
        elif lang is not None:
            block.append(line)
        elif line.startswith("#"):
            sections.append(Section(line.lstrip("#").strip()))
    return [s for s in sections if s.python or s.shell or s.yaml]


def planning_commands(script: str) -> list[list[str]]:
    """Return the arguments of every ``planning`` command of a shell block."""
    joined = re.sub(r"\\\n\s*", " ", script)
    out = []
    for line in joined.splitlines():
        for part in re.split(r"&&|;", line.split(" #")[0]):
            words = shlex.split(part)
            if words and Path(words[0]).name == "planning":
                out.append(words[1:])
    return out


SECTIONS = readme_sections(README.read_text(encoding="utf-8"))
BY_TITLE = {s.title: s for s in SECTIONS}
#: Sections whose blocks run the whole demo or a siting curve: slow.
SLOW_PYTHON = {"四同步 check of new residential developments", "Many districts (batch)"}
SLOW_SHELL = {"The two commands", "Five-minute tour", "Reports", "Many districts (batch)"}


def _params(kind: str, slow: set[str]) -> list[object]:
    return [
        pytest.param(s.title, id=s.title, marks=[pytest.mark.slow] if s.title in slow else [])
        for s in SECTIONS
        if (s.python if kind == "python" else [c for b in s.shell for c in planning_commands(b)])
    ]


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder with the repository's data and scenarios, as in a clone."""
    for name in ("data", "scenarios"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(settings, "progress", False)
    return tmp_path


def test_readme_blocks_are_found() -> None:
    """The parser sees the blocks the README has (a test that cannot pass on nothing)."""
    text = README.read_text(encoding="utf-8")
    fences = sum(1 for line in text.splitlines() if _FENCE.match(line)) // 2
    found = sum(len(s.python) + len(s.shell) + len(s.yaml) for s in SECTIONS)
    assert found == fences, "a README block has a language this test does not run"
    assert len(_params("python", SLOW_PYTHON)) >= 2
    commands = [c for s in SECTIONS for b in s.shell for c in planning_commands(b)]
    assert {c[0] for c in commands} >= {"demo", "run", "report", "check-developments"}


@pytest.mark.parametrize("title", [s.title for s in SECTIONS if s.yaml])
def test_readme_yaml_blocks_parse(title: str) -> None:
    for block in BY_TITLE[title].yaml:
        assert isinstance(yaml.safe_load(block), dict), block


@pytest.mark.parametrize("title", _params("python", SLOW_PYTHON))
def test_readme_python_blocks_run(title: str, checkout: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__readme__"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in BY_TITLE[title].python:
            exec(compile(block, f"README.md ({title})", "exec"), namespace)
    out = printed.getvalue()
    # a figure the README states in a comment is the figure the block prints
    for block in BY_TITLE[title].python:
        for claim in re.findall(r"#\s*([0-9]+\.[0-9]%)", block):
            assert claim in out, (claim, out)
    _check_python_outcome(title, namespace, out, checkout)


def _check_python_outcome(title: str, ns: dict[str, object], out: str, root: Path) -> None:
    if title == "Many districts (batch)":
        summary = ns["batch"].summary  # type: ignore[attr-defined]
        districts = sorted((root / "scenarios" / "wuhan-districts").glob("*.yaml"))
        assert len(summary) == len(districts) and set(summary["status"]) <= {"done", "skipped"}
        assert all(
            is_complete(root / "reports" / "wuhan-districts" / d) for d in summary["district"]
        )
        return
    result = ns["result"]
    if title == "Five-minute tour":
        share = result.totals["coverage_share_15min"]  # type: ignore[attr-defined]
        demand = result.demand  # type: ignore[attr-defined]
        covered = demand.loc[demand["travel_time_s_nearest"] <= 900, "elderly"].sum()  # type: ignore[index]
        assert share == pytest.approx(covered / demand["elderly"].sum(), rel=1e-12)  # type: ignore[index]
        page = (root / "reports" / "tour-map.html").read_text(encoding="utf-8")
        assert re.search(r"<script[^>]+src=\"https?://", page) is None  # offline
        assert "L.map" in page or "leaflet" in page.lower()
    else:  # siting and 四同步 on the demo run
        siting, cov = result.siting, result.coverage  # type: ignore[attr-defined]
        now = siting.existing_covered / siting.total_demand
        assert now == pytest.approx(cov.totals["coverage_share_15min"], rel=1e-12)
        assert f"within 15 min: {now:.1%} now" in out
        assert len(siting.selected_ids) == 8
        assert (root / "reports" / "wuhan-2026-p8" / "index.html").exists()
        table = pd.read_csv(root / "reports" / "wuhan-2026-p8" / "compliance.csv")
        assert len(table) == 13


@pytest.mark.parametrize("title", _params("shell", SLOW_SHELL))
def test_readme_planning_commands_run(title: str, checkout: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    for block in BY_TITLE[title].shell:
        for command in planning_commands(block):
            # the shell expands globs such as scenarios/wuhan-districts/*.yaml
            args = [m for a in command for m in (sorted(glob.glob(a, root_dir=checkout)) or [a])]
            proc = subprocess.run(
                [sys.executable, "-m", "planning.cli", "-q", *args],
                capture_output=True,
                text=True,
                encoding="utf-8",
                cwd=checkout,
                env=env,
                check=False,
            )
            # check-developments exits 1 when a development fails: the sample has some
            expected = (0, 1) if args[0] == "check-developments" else (0,)
            assert proc.returncode in expected, (args, proc.stderr)
            assert "INFO" not in proc.stderr and "Traceback" not in proc.stderr
            _check_command_outcome(args, proc.stdout, checkout)


def _check_command_outcome(args: list[str], stdout: str, root: Path) -> None:
    out = root / args[args.index("--out") + 1] if "--out" in args else root / "reports" / "demo"
    if args[0] == "check-developments":
        table = pd.read_csv(out / "compliance.csv", encoding="utf-8-sig")
        assert len(table) == 13 and set(table["verdict"]) <= {"PASS", "FAIL", "UNKNOWN"}
        assert table["reach"].isin(["PASS", "FAIL"]).any()  # walked on the roads, not UNKNOWN
        return
    assert (out / "index.html").exists(), stdout
    if args[0] == "report":
        changes = pd.read_csv(out / "annual_stations.csv", encoding="utf-8-sig")
        counts = changes["change"].value_counts()
        assert (counts.get("added", 0), counts.get("closed", 0)) == (16, 3)
        assert (out / "annual.html").exists()
