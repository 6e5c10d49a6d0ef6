"""The functions of the siting stage: site stations, the coverage curve and its chart.

:func:`site_stations` builds the named model on the network and solves it;
:func:`coverage_curve` solves MCLP for every number of new sites up to a maximum;
:func:`plot_coverage_curve` draws that curve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from planning._errors import InputError
from planning._validate import suggest
from planning.network import Network
from planning.siting._allocation import CapacitatedCoverage, PMedian
from planning.siting._base import _SitingModel
from planning.siting._candidates import generate_candidates
from planning.siting._covering import LSCP, MCLP, OnePlusN
from planning.siting._result import SitingResult

_MODELS: dict[str, type[_SitingModel]] = {
    "lscp": LSCP,
    "mclp": MCLP,
    "pmedian": PMedian,
    "capacitated": CapacitatedCoverage,
    "1+n": OnePlusN,
}


def site_stations(
    network: Network,
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | None,
    candidates: gpd.GeoDataFrame | None = None,
    *,
    model: str = "mclp",
    p: int | None = None,
    threshold_min: float = 15.0,
    weight: str = "elderly",
    time_limit_s: float = 60.0,
    candidate_spacing_m: float = 300.0,
    **options: Any,
) -> SitingResult:
    """Site new stations on the network with one of the models, exactly where possible.

    Parameters
    ----------
    network : Network
    demand : geopandas.GeoDataFrame
        Demand points with the `weight` column (and ``unit_id`` for equity or 1+N).
    stations : geopandas.GeoDataFrame or None
        Existing stations (``station_id``, ``kind``; ``capacity`` for the capacitated
        model); always open.
    candidates : geopandas.GeoDataFrame, optional
        Candidate sites (``site_id``, ``kind``, optional ``cost``, ``capacity``,
        ``unit_id``); generated with :func:`generate_candidates` when omitted.
    model : {"mclp", "lscp", "pmedian", "capacitated", "1+n"}
        The model.
    p : int
        New sites (MCLP, p-median, capacitated) or new kind-B stations (1+N).
    threshold_min : float
        Walking-time threshold in minutes.
    weight : str
        Demand column to weight by (default ``elderly``).
    time_limit_s : float
        Seconds allowed to HiGHS.
    candidate_spacing_m : float
        Spacing of generated candidates in metres.
    **options
        Model options (``target_share``, ``max_time_min``, ``capacity_col``,
        ``demand_per_place``, ``require_full``, ``threshold_a_min``, ``kind_a``,
        ``kind_b``, ``a_counts_for_b``) and common ones: ``forced``, ``forbidden``
        (site ids), ``budget`` (with per-site ``cost_col``, default ``cost``),
        ``equity_share`` (float or ``{unit_id: share}``), ``units``, ``unit_level``,
        ``unit_col``, ``max_snap_m`` (default the limit the demand was covered with,
        ``demand.attrs["max_snap_m"]``, so that sites and demand snap as in the
        coverage), ``reduce``; solver ones: ``mip_rel_gap``, ``threads``, ``exact``.

    Returns
    -------
    SitingResult
        With ``siting``: the new sites as a layer in the network CRS.

    """
    key = model.lower().replace("-", "").replace("_", "")
    key = {"1plusn": "1+n", "oneplusn": "1+n", "1n": "1+n"}.get(key, key)
    if key not in _MODELS:
        hint = suggest(key, list(_MODELS))
        msg = f"Unknown siting model {model!r}.{hint} Use one of {list(_MODELS)}."
        raise InputError(msg)
    if candidates is None:
        candidates = generate_candidates(
            network, demand, stations, threshold_min=threshold_min, weight=weight,
            spacing_m=candidate_spacing_m, max_snap_m=options.get("max_snap_m"),
        )  # fmt: skip
    solve_opts = {k: options.pop(k) for k in ("mip_rel_gap", "threads", "exact") if k in options}
    if key != "lscp":
        if p is None:
            msg = f"The {key} model needs `p`, the number of new sites."
            raise InputError(msg)
        options["n_b" if key == "1+n" else "p"] = p
    built = _MODELS[key].from_geodataframe(
        network, demand, stations, candidates, threshold_min=threshold_min, weight=weight,
        **options,
    )  # fmt: skip
    return built.solve(time_limit_s=time_limit_s, **solve_opts)


def coverage_curve(
    network: Network,
    demand: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | None,
    candidates: gpd.GeoDataFrame,
    *,
    p_max: int,
    threshold_min: float = 15.0,
    weight: str = "elderly",
    time_limit_s: float = 30.0,
    **options: Any,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Solve MCLP for p = 0 … `p_max` new sites: the coverage curve and its sites.

    Each p is solved exactly within `time_limit_s` (else best known, with its gap); the
    heuristic of each p starts from the answer for p − 1, so the covered demand never
    decreases. Optimal solutions for different p need not be nested: a site chosen at
    p = 3 may leave at p = 4. The sites layer therefore gives both the greedy sequence
    (nested by construction) and every p at which a site is in the best solution.

    Parameters
    ----------
    network, demand, stations, candidates
        As for :func:`site_stations`.
    p_max : int
        Largest number of new sites.
    threshold_min : float
        Walking-time threshold in minutes.
    weight : str
        Demand column to weight by.
    time_limit_s : float
        Seconds allowed to HiGHS for each p.
    **options
        Common options of :func:`site_stations` (forced, forbidden, budget, ...).

    Returns
    -------
    curve : pandas.DataFrame
        One row per p: ``p``, ``covered``, ``share``, ``marginal_gain``, ``gap``,
        ``status``, ``best_bound``, ``solve_time_s``, ``selected_ids``.
    sites : geopandas.GeoDataFrame
        ``site_id``, ``p_greedy`` (p at which the site enters the greedy sequence),
        ``p_first_optimal``, ``optimal_at`` (the p whose best solution holds it), ``kind``,
        ``lon``, ``lat``, ``unit_id``, geometry.

    """
    solve_opts = {k: options.pop(k) for k in ("mip_rel_gap", "threads") if k in options}
    model = MCLP.from_geodataframe(
        network, demand, stations, candidates, p=p_max, threshold_min=threshold_min,
        weight=weight, **options,
    )  # fmt: skip
    curve, sites = model.curve(p_max, time_limit_s=time_limit_s, **solve_opts)
    assert isinstance(sites, gpd.GeoDataFrame)
    return curve, sites


def plot_coverage_curve(curve: pd.DataFrame, path: str | Path) -> Path:
    """Draw the coverage curve (share against p, marginal gains as bars) to an image file.

    Parameters
    ----------
    curve : pandas.DataFrame
        The table from :func:`coverage_curve`.
    path : str or Path
        Output file; the suffix gives the format (``.png``, ``.pdf``, ``.svg``). The
        same curve gives the same bytes (no date or version in the file).

    Returns
    -------
    Path

    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from planning._writing import save_figure

    fig = Figure(figsize=(7.0, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    bars = ax.twinx()
    bars.bar(curve["p"], curve["marginal_gain"], color="#c7d7ea", width=0.7, zorder=1)
    bars.set_ylabel("marginal gain (weight)")
    ax.set_zorder(bars.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(curve["p"], curve["share"] * 100, color="#1f4e79", marker="o", zorder=3)
    odd = curve["status"] != "optimal"
    if odd.any():
        ax.scatter(curve.loc[odd, "p"], curve.loc[odd, "share"] * 100, color="#d62728",
                   zorder=4, label="not proved optimal")  # fmt: skip
        ax.legend(loc="lower right")
    ax.set_xlabel("new stations p")
    ax.set_ylabel("covered share of demand (%)")
    ax.set_title("Coverage curve")
    ax.grid(alpha=0.3)
    out = Path(path)
    return save_figure(fig, out, dpi=150, bbox_inches="tight")
