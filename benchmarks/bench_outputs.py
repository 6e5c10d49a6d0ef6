"""Benchmark what a run writes: folder size, the largest files and the time of each step.

Run from the repository root::

    .venv/bin/python benchmarks/bench_outputs.py             # demo and municipal
    .venv/bin/python benchmarks/bench_outputs.py demo        # only the demo
    .venv/bin/python benchmarks/bench_outputs.py --keep out  # keep the run folders in out/

The demo is the embedded central-Wuhan scenario (``planning demo``). The municipal run
covers the whole of Wuhan: its main roads (planar noding), the WorldPop 60+ rasters and
the 13 districts as units, with 300 illustrative stations: the same scenario as
``bench_reach.py municipal`` (:func:`e2e.municipal_inputs`); it needs the source data
beside the repository (``../shared/data/wuhan``) and is skipped, with a message, without
them.
Targets: demo folder ≤ 25 MB, municipal ≤ 150 MB with its outputs (tables, workbook,
GeoPackage, charts, map, pages) written in under 20 s.
:func:`folder_sizes` and :func:`bench_outputs` can be called from other benchmarks.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planning import settings  # noqa: E402
from planning.workflow import run_scenario  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from e2e import municipal_inputs  # noqa: E402

#: The steps of :func:`planning.report.run_folder.write_run` (the outputs).
OUTPUT_STEPS = ("write tables", "workbook", "geopackage", "charts", "map", "report")
_MB = 1e6


def folder_sizes(out_dir: str | Path, *, top: int = 8) -> dict[str, Any]:
    """Return the size of a run folder in MB: total, largest files, unit pages.

    Parameters
    ----------
    out_dir : str or Path
        A run folder.
    top : int
        How many of the largest files to list.

    Returns
    -------
    dict
        ``total_mb``; ``files_mb`` (the `top` largest files, the unit pages summed as
        ``units/*``); ``unit_pages`` (count, largest and median page in kB).

    """
    out = Path(out_dir)
    files = [p for p in out.rglob("*") if p.is_file()]
    sizes: dict[str, int] = {}
    for path in files:
        rel = path.relative_to(out)
        key = "units/*" if rel.parts[0] == "units" else rel.as_posix()
        sizes[key] = sizes.get(key, 0) + path.stat().st_size
    pages = sorted(p.stat().st_size for p in out.glob("units/*.html"))
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    return {
        "total_mb": round(sum(sizes.values()) / _MB, 2),
        "files_mb": {k: round(v / _MB, 2) for k, v in largest},
        "unit_pages": {
            "count": len(pages),
            "largest_kb": round(pages[-1] / 1e3, 1) if pages else 0.0,
            "median_kb": round(pages[len(pages) // 2] / 1e3, 1) if pages else 0.0,
        },
    }


def bench_outputs(scenario: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Run `scenario` into `out_dir`; return its sizes and the time of each step, seconds."""
    settings.progress = False
    start = time.perf_counter()
    result = run_scenario(scenario, out_dir=out_dir)
    wall = time.perf_counter() - start
    steps = dict(result.timings_s)
    return {
        "wall_s": round(wall, 2),
        "outputs_s": round(sum(steps.get(s, 0.0) for s in OUTPUT_STEPS), 2),
        "steps_s": steps,
        **folder_sizes(out_dir),
    }


def main() -> None:
    """Run the output benchmarks named on the command line and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", default=["demo", "municipal"])
    parser.add_argument("--keep", type=Path, help="write the run folders here and keep them")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        if "demo" in args.which:
            demo = ROOT / "scenarios" / "wuhan-central.yaml"
            results["demo"] = bench_outputs(demo, base / "demo")
        if "municipal" in args.which:
            scenario = municipal_inputs(Path(tmp))
            results["municipal"] = (
                {"skipped": scenario}
                if isinstance(scenario, str)
                else bench_outputs(scenario, base / "municipal")
            )
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
