"""Command line: ``planning run|report|site|batch``, ``planning check-developments``, ``demo``.

Exit status: 0 on success, 2 for unusable input or an output folder that cannot be
written (the message names the file, row, key or path and the fix), 130 when interrupted
(Ctrl-C or SIGTERM: the run folder is left as it was), 1 for any other failure
(``planning batch``: when any district failed).
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from planning import __version__
from planning._console import CONSOLE_FLAGS, add_console_options, console
from planning._errors import InputError, error_message

#: The embedded demo scenario (central Wuhan), relative to the repository root.
DEMO_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "wuhan-central.yaml"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="planning",
        description="Walking service circles, coverage gaps and siting of elderly-care stations.",
    )
    p.add_argument("--version", action="version", version=f"planning {__version__}")
    add_console_options(p, default=False)
    common = argparse.ArgumentParser(add_help=False)
    add_console_options(common, default=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", parents=[common], help="run a scenario file and write its report folder"
    )
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--out", type=Path, help="output folder (default reports/<name>)")
    report = sub.add_parser(
        "report",
        parents=[common],
        help="annual report: run a scenario and compare it with last year's run folder",
        description=(
            "Run a scenario (e.g. with `year: 2026`) and compare it with last year's run "
            "folder: coverage per unit, stations added and closed, targets met this year and "
            "last. Writes the run folder with annual.html, a one-page printable summary."
        ),
    )
    report.add_argument("scenario", type=Path, help="this year's scenario YAML file")
    report.add_argument(
        "--previous",
        type=Path,
        help="last year's run folder (default: `previous:` in the scenario)",
    )
    report.add_argument("--out", type=Path, help="output folder (default reports/<name>)")
    site = sub.add_parser(
        "site",
        parents=[common],
        help="run a scenario with its `siting:` section and write the proposed sites",
    )
    site.add_argument("scenario", type=Path, help="scenario YAML file with a `siting:` section")
    site.add_argument("--out", type=Path, help="output folder (default reports/<name>)")
    batch = sub.add_parser(
        "batch",
        parents=[common],
        help="run many scenarios (one per district) as tasks on Dask and summarise them",
        description=(
            "Run every scenario as one task on a Dask cluster (a local one by default) and "
            "write DIR/<name>/ (one run folder per district, as `planning run` writes it), "
            "DIR/index.html, summary.csv, summary.xlsx, map.html and batch.json. A failing "
            "district never stops the others; a rerun skips unchanged districts. Needs the "
            'dask extra: pip install -e ".[dask]".'
        ),
    )
    batch.add_argument("scenarios", type=Path, nargs="+", metavar="SCENARIO")
    batch.add_argument("--out", type=Path, required=True, help="batch folder")
    batch.add_argument(
        "--workers", type=int, help="worker processes of the local cluster (default: CPUs, max 4)"
    )
    batch.add_argument(
        "--scheduler",
        help="address of your Dask scheduler (tcp://host:8786); its workers must see the "
        "input files and the batch folder by the same paths (checked first)",
    )
    batch.add_argument(
        "--force", action="store_true", help="rerun districts that are unchanged since last time"
    )
    batch.add_argument("--language", help="language of the batch pages (zh or en)")
    sub.add_parser(
        "check-developments",
        help="四同步 compliance of new residential developments (see its --help)",
        add_help=False,
    )
    demo = sub.add_parser("demo", parents=[common], help="run the embedded central-Wuhan scenario")
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("reports/demo"),
        help="output folder (default reports/demo)",
    )
    return p


def _interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM into KeyboardInterrupt, so that a run cleans up as on Ctrl-C."""
    raise KeyboardInterrupt


def _on_sigterm(handler: Any) -> Any:
    """Set the SIGTERM handler (main thread only) and return the previous one."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    positional = [a for a in argv if not a.startswith("-")]
    if positional[:1] == ["check-developments"]:
        from planning import compliance

        at = argv.index("check-developments")
        rest = [a for a in argv[:at] if a in CONSOLE_FLAGS] + argv[at + 1 :]
        return compliance.main(rest)
    args = _parser().parse_args(argv)
    with console(quiet=args.quiet, verbose=args.verbose):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from planning.report import run_summary
    from planning.scenario import load_scenario
    from planning.workflow import run_scenario

    if args.command == "batch":
        return _batch(args)
    previous = None
    on_term = _on_sigterm(_interrupt)
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
        if args.command == "site" and not load_scenario(scenario).data.get("siting"):
            print(
                f"error: {scenario} has no `siting:` section; add one (model, p, "
                "threshold_min, candidates), see scenarios/wuhan-central.yaml.",
                file=sys.stderr,
            )
            return 2
        if args.command == "report":
            previous = args.previous
            if previous is None and not load_scenario(scenario).data.get("previous"):
                print(
                    "error: `planning report` compares with last year's run folder: give it "
                    "with --previous RUN_DIR or as `previous: RUN_DIR` in the scenario.",
                    file=sys.stderr,
                )
                return 2
        result = run_scenario(scenario, out_dir=out, previous=previous)
    except InputError as exc:
        print(error_message(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the run folder was left as it was.", file=sys.stderr)
        return 130
    finally:
        _on_sigterm(on_term)
    print("\n".join(run_summary(result, out_dir=Path(out))))
    return 0


def _batch(args: argparse.Namespace) -> int:
    from planning.batch import DaskMissingError, run_many
    from planning.report import strings

    if args.workers is not None and args.workers < 1:
        print("error: --workers must be at least 1.", file=sys.stderr)
        return 2
    try:
        res = run_many(
            args.scenarios,
            args.out,
            workers=args.workers,
            scheduler=args.scheduler,
            force=args.force,
            language=args.language,
        )
    except (InputError, DaskMissingError) as exc:
        print(
            error_message(exc) if isinstance(exc, InputError) else f"error: {exc}", file=sys.stderr
        )
        return 2
    t = strings(res.language)
    share = [c for c in res.summary.columns if re.fullmatch(r"coverage_share_[\d.]+min", c)]
    for rec in res.records:
        row = res.summary[res.summary["district"] == rec["name"]]
        word = t.get(f"batch_status_{rec['status']}", rec["status"])
        if rec["status"] != "failed" and len(row) and share:
            threshold = share[-1].removeprefix("coverage_share_").removesuffix("min")
            line = t["batch_console_line"].format(
                name=rec["name"],
                status=word,
                elderly=f"{row.iloc[0]['elderly']:,.0f}",
                threshold=threshold,
                share=f"{row.iloc[0][share[-1]]:.1%}",
            )
        else:
            line = f"{rec['name']} {word}"
        print(line)
        if rec["status"] == "failed":
            print(f"  {rec['error']}", file=sys.stderr)
    n_failed = len(res.failed)
    total = t["batch_console_total"].format(
        n=len(res.records),
        seconds=f"{res.wall_s:.1f}",
        failed=n_failed,
        path=Path(res.out_dir) / "index.html",
    )
    print(total)
    return 1 if n_failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
