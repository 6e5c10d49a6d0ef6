"""Optimal siting of new stations beside existing ones: LSCP, MCLP, p-median, capacitated, 1+N.

Each model is a class in the spopt style: ``from_cost_matrix`` takes arrays (a sparse
demand × site matrix of travel times in seconds, weights, site attributes) and never sees
a GeoDataFrame; ``from_geodataframe`` only builds those arrays on the network (snapping
with :func:`planning.access.snap_points`, reach with
:func:`planning.access.coverage_matrix`); ``.solve()`` returns a :class:`SitingResult`.
Sites are the columns: existing stations (always open, their coverage counts) and
candidates. ``y_j`` is 1 when candidate ``j`` is opened, ``N_i`` the sites within the
threshold of demand point ``i`` and ``w_i`` its weight (older people by default).

* **LSCP**: minimise ``Σ y_j`` subject to ``Σ_i w_i z_i ≥ s · W_reach`` with
  ``z_i ≤ Σ_{j ∈ N_i} y_j`` and ``0 ≤ z_i ≤ 1``, where ``W_reach`` is the demand any site
  (existing or candidate) reaches and ``s`` the target share (default 1).
* **MCLP**: maximise ``Σ_i w_i z_i`` with the same ``z`` and ``Σ y_j ≤ p``.
* **p-median**: minimise ``Σ_i w_i (c0_i + Σ_j (t_ij − c0_i) x_ij)`` with ``Σ_j x_ij ≤ 1``
  and ``x_ij ≤ y_j`` over the stored pairs (times up to ``max_time``), ``Σ y_j ≤ p``. The
  base cost ``c0_i`` is the time to the nearest existing station, or the *unserved
  penalty* (default: the maximum time) when none is within the maximum time: demand no
  open site reaches within it is counted at the penalty and reported as unserved.
* **Capacitated coverage**: maximise ``Σ x_ij`` (weight served) with ``Σ_j x_ij ≤ w_i``,
  ``Σ_i x_ij ≤ cap_j y_j`` (existing: ``≤ cap_j``), ``x_ij ≤ w_i y_j`` and ``Σ y_j ≤ p``.
  A point's demand may be split between stations within reach (each person goes to at
  most one station); ``require_full=True`` makes ``Σ_j x_ij = w_i`` for reachable points.
* **1+N**: at least one centre of kind A in every unit (``Σ_{j ∈ A_u} y_j ≥ 1`` for each
  unit without an existing centre, one new centre per such unit) plus ``Σ_{j ∈ B} y_j ≤ N``
  stations of kind B; maximise demand covered by kind B within its threshold (kind A too
  with ``a_counts_for_b=True``), then, among those optima, demand covered by kind A
  within its own threshold (a second, lexicographic solve).

Side constraints for every model: forced sites (fixed open), forbidden sites (removed),
a budget ``Σ cost_j y_j ≤ B`` (forced sites included), and a minimum covered share in
every unit (equity): covered weight of unit ``u`` ≥ share × total weight of ``u``
(all its points, reachable or not; for p-median "covered" means within the maximum
time, for the capacitated model "assigned").

Solving: a greedy + interchange heuristic runs first and is handed to HiGHS as the
starting incumbent; the answer is never worse than the heuristic, even at the time
limit (see :mod:`planning.siting._solve`). Before that the model is shrunk exactly
(see :mod:`planning.siting._reductions`; ``reduce=False`` keeps the full model): fixed sites
and unreachable or weightless demand become constants, demand points with the same
candidate set are merged, and in the coverage models dominated candidates are dropped.
Objectives count every station (existing ones included), as spopt's do, and the gap is
relative to that objective. Results are deterministic: ties go to the earlier site and
HiGHS runs with a fixed seed.

The modules, each importing only those below it: ``_api`` (:func:`site_stations`,
:func:`coverage_curve`, :func:`plot_coverage_curve`) and ``_candidates``
(:func:`generate_candidates`); the models in ``_covering`` (LSCP, MCLP, 1+N) and
``_allocation`` (p-median, capacitated) on ``_base`` and ``_result``; the geo layer
``_geo`` (GeoDataFrames to arrays); the driver ``_solve``, its ``_heuristics`` and
``_milp`` (HiGHS); the ``_cores`` with their ``_reductions``; the checked arrays ``_data``.

Examples
--------
>>> from planning import io, network, population, siting
>>> net = network.read_network("data/wuhan_roads.gpkg")
>>> units = io.read_units("data/wuhan_units.gpkg")
>>> demand = population.demand_from_rasters(
...     ["data/wuhan_elderly_60plus.tif"], ["data/wuhan_population_20plus.tif"],
...     crs=net.crs, units=units)
>>> stations = io.read_stations("data/wuhan_stations.gpkg")
>>> sites = io.read_stations("data/wuhan_candidates.gpkg", id_col="site_id")
>>> res = siting.site_stations(net, demand, stations, sites, model="mclp", p=5,
...                            threshold_min=15, max_snap_m=500)  # doctest: +SKIP
>>> res.status, res.siting[["rank", "site_id", "elderly_newly_covered"]]  # doctest: +SKIP
"""

from __future__ import annotations

from planning.siting._allocation import CapacitatedCoverage, PMedian
from planning.siting._api import coverage_curve, plot_coverage_curve, site_stations
from planning.siting._candidates import generate_candidates
from planning.siting._covering import LSCP, MCLP, OnePlusN
from planning.siting._result import SitingResult

__all__ = [
    "LSCP",
    "MCLP",
    "CapacitatedCoverage",
    "OnePlusN",
    "PMedian",
    "SitingResult",
    "coverage_curve",
    "generate_candidates",
    "plot_coverage_curve",
    "site_stations",
]
