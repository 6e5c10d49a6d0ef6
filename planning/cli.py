"""Command line: ``planning run SCENARIO``, ``planning demo``.

Exit status: 0 on success, 2 for unusable input (the message names the file, row or key
and the fix), 1 for any other failure.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from planning import __version__, settings
from planning._errors import InputError

log = logging.getLogger("planning")

#: The embedded demo scenario (central Wuhan), relative to the repository root.
DEMO_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "wuhan-central.yaml"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="planning",
        description="Walking service circles, coverage gaps and siting of elderly-care stations.",
    )
    p.add_argument("--version", action="version", version=f"planning {__version__}")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or log lines")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario file and write its report folder")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--out", type=Path, help="output folder (default reports/<name>)")
    demo = sub.add_parser("demo", help="run the embedded central-Wuhan scenario")
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("reports/demo"),
        help="output folder (default reports/demo)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    settings.progress = not args.quiet
    from planning.workflow import run_scenario

    try:
        if args.command == "demo":
            if not DEMO_SCENARIO.exists():
                print(
                    f"error: demo scenario {DEMO_SCENARIO} not found; run from a "
                    "checkout of the repository.",
                    file=sys.stderr,
                )
                return 2
            scenario, out = DEMO_SCENARIO, args.out
        else:
            scenario = args.scenario
            out = args.out or Path("reports") / scenario.stem
        result = run_scenario(scenario, out_dir=out)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    totals = result.coverage.totals
    shares = ", ".join(
        f"{t:g} min {totals[f'coverage_share_{t:g}min']:.1%}"
        for t in result.coverage.thresholds_min
    )
    print(f"{result.scenario.name}: {totals['elderly']:,.0f} older people; covered {shares}")
    print(f"report: {Path(out) / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
