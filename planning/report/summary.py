"""The summary of a run that the console prints: coverage, targets, gaps, siting, 四同步.

:func:`run_summary` returns plain lines in the report language: older people and the
covered share per threshold, older people unreachable (farther than the snapping limit
from every road), every target of the rule set met or not with its value, the proposed
sites, the 四同步 verdicts of the developments, the annual comparison and where the
report is.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from planning.report._i18n import lang_code, strings
from planning.report.context import _num, _pct
from planning.report.layers import compliance_of, siting_of
from planning.results import RunResult


def run_summary(
    result: RunResult, language: str | None = None, *, out_dir: Path | None = None
) -> list[str]:
    """Return the console summary of a run, one line per item, in the report language.

    Parameters
    ----------
    result : RunResult
    language : str, optional
        ``zh`` or ``en``; default the scenario's ``language`` (``zh``).
    out_dir : Path, optional
        The run folder, named on the last lines; default ``result.out_dir``.

    Returns
    -------
    list of str

    """
    lang = lang_code(language or str(result.scenario.data.get("language", "zh")))
    t = strings(lang)
    cov = result.coverage
    totals = cov.totals
    shares = t["console_list_sep"].join(
        t["console_share"].format(t=f"{x:g}", share=_pct(totals[f"coverage_share_{x:g}min"]))
        for x in cov.thresholds_min
    )
    lines = [
        t["console_coverage"].format(
            name=result.scenario.name, elderly=_num(totals["elderly"]), shares=shares
        ),
        t["console_unreachable"].format(
            n=_num(totals.get("elderly_unreachable", 0.0)),
            m=f"{result.scenario.max_snap_m:g}",
        ),
        *_target_lines(result, t, lang),
        t["console_gaps"].format(n=_num(len(cov.gaps)), elderly=_num(_gap_elderly(cov.gaps))),
        *_siting_lines(result, t),
        *_compliance_lines(result, t),
        *_annual_lines(result, t),
    ]
    folder = out_dir if out_dir is not None else result.out_dir
    if folder is not None:
        lines.append(t["console_report"].format(path=Path(folder) / "index.html"))
    return lines


def _gap_elderly(gaps: pd.DataFrame) -> float:
    return float(gaps["elderly"].sum()) if "elderly" in gaps and len(gaps) else 0.0


def _target_lines(result: RunResult, t: dict[str, str], lang: str) -> list[str]:
    targets = result.coverage.targets
    met = [r["met"] for _, r in targets.iterrows()]
    lines = [
        t["console_targets"].format(
            met=sum(m is True for m in met),
            n=len(met),
            unknown=sum(m is None or m != m for m in met),
        )
    ]
    for _, r in targets.iterrows():
        share = r["measure"] in ("spatial_coverage", "admin_coverage")
        fmt = "{:.1%}" if share else "{:.1f}"
        state = r["met"]
        known = state is not None and state == state
        key = ("console_met" if state else "console_missed") if known else "console_not_evaluated"
        mark = t[key]
        units = ""
        if r["units_total"] is not None and r["units_total"] == r["units_total"]:
            units = t["console_target_units"].format(
                met=int(r["units_meeting"]), n=int(r["units_total"])
            )
        lines.append(
            t["console_target"].format(
                mark=mark,
                label=r[f"label_{lang}"] or r["target_id"],
                value=_num(r["value"], fmt),
                min=fmt.format(r["min"]),
                units=units,
            )
        )
    return lines


def _siting_lines(result: RunResult, t: dict[str, str]) -> list[str]:
    sites, _ = siting_of(result)
    if sites is None or result.siting is None:
        return []
    res = result.siting
    th = f"{result.coverage.thresholds_min[-1]:g}"
    after = sites["cumulative_share"].max() if "cumulative_share" in sites and len(sites) else None
    return [
        t["console_siting"].format(
            n=len(sites),
            model=getattr(res, "model", ""),
            status=getattr(res, "status", ""),
            t=th,
            before=_pct(result.coverage.totals.get(f"coverage_share_{th}min")),
            after=_pct(after),
        )
    ]


def _compliance_lines(result: RunResult, t: dict[str, str]) -> list[str]:
    devs = compliance_of(result)
    if devs is None:
        return []
    verdicts = devs.get("verdict", pd.Series(dtype=str)).fillna("UNKNOWN").astype(str).str.upper()
    withheld = devs.get("acceptance_withheld", pd.Series(False, index=devs.index))
    counts = {v: int((verdicts == v).sum()) for v in ("PASS", "FAIL", "UNKNOWN")}
    lines = [
        t["console_compliance"].format(
            n=len(devs), withheld=int(withheld.fillna(False).astype(bool).sum()), **counts
        )
    ]
    ids = devs.get("dev_id", pd.Series(devs.index, index=devs.index)).astype(str)
    for verdict in ("FAIL", "UNKNOWN"):
        chosen = sorted(ids[verdicts.to_numpy() == verdict])
        if chosen:
            lines.append(
                t["console_compliance_ids"].format(
                    verdict=t[f"verdict_{verdict}"], ids=", ".join(chosen)
                )
            )
    return lines


def _annual_lines(result: RunResult, t: dict[str, str]) -> list[str]:
    comp = result.comparison
    if comp is None:
        return []
    lines = [
        t["console_annual"].format(
            path=comp.previous.path,
            year=comp.previous_year or "–",
            added=len(comp.stations_added),
            closed=len(comp.stations_closed),
        )
    ]
    lines += [t["console_note"].format(note=t[n.key].format(**n.params)) for n in comp.notes]
    if result.out_dir is not None:
        lines.append(t["console_annual_page"].format(path=result.out_dir / "annual.html"))
    return lines
