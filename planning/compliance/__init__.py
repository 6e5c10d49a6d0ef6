"""Check new residential developments against the 四同步 and facility-area rules of a rule set.

For every development of a register (one row per project or phase) and every criterion of
the rule set's ``compliance:`` section, the verdict is PASS, FAIL, UNKNOWN (data missing or
unreadable: never guessed) or N/A (the rule set has no such rule, or there is nothing to
check), with a reason in Chinese and English and the shortfall as a number. The overall
verdict is FAIL if any criterion fails, else UNKNOWN if any is unknown, else PASS.

Criteria (columns of :attr:`ComplianceResult.table`):

- ``area``: facility floor area ≥ households / 100 × the rate for new or existing areas,
  and ≥ the minimum per facility; ``area_shortfall_m2``.
- ``site``: every single site ≥ the minimum per site (no site at all fails);
  ``site_shortfall_m2`` of the worst site.
- ``land``: facility land ≥ m² per resident × residents (national 0.1 m²);
  ``land_shortfall_m2``.
- ``timing``: each facility milestone (planning, construction, acceptance, delivery)
  compared with the housing's; ``timing_late_days`` beyond the tolerance.
- ``location``: every facility point within the development polygon plus a tolerance;
  ``location_outside_m``.
- ``reach``: every resident point (the polygon's corners and an inner point) within the
  walking threshold of its own facility or an existing station, measured on the road
  network (never with straight lines: without a network it is UNKNOWN, the straight-line
  distance is given as information); ``reach_time_min``, ``reach_excess_min``.

``acceptance_withheld`` flags developments whose completion acceptance (竣工验收) must be
withheld: a listed criterion fails and the housing has not been accepted yet as of the
as-of date (if it has, the action is rectification, 整改).

Rule-set schema
---------------
Every section is optional; ``null`` switches off a section inherited with ``extends:``.
Each takes ``source_id`` (into ``sources``), ``clause``, ``confidence`` (V/S/R; a section
without one is reported as R, unverified) and ``note``::

    compliance:
      area_m2_per_100hh: {new: 20, existing: 15}   # floor area per 100 households
      min_area_m2: {site: 350, facility: 300}      # per single site; per development
      land_m2_per_resident: {min: 0.1, persons_per_household: 2.6}
      dates:
        rule: not_later_than      # facility ≤ housing + tolerance; or same_phase: |Δ| ≤ tolerance
        tolerance_days: 0
        milestones: [planning, construction, acceptance, delivery]
        first_phase: false        # true: phases of one project_id are pooled and the
                                  # facility is compared with the first phase's housing
      location: {tolerance_m: 200}
      reach:
        threshold_min: 5          # or max_dist_m: 700 (walking distance on the network)
        inclusive: true           # false: strictly below the threshold
        to: [own, stations]       # the development's own sites and/or existing stations
        kinds: [station, daycare] # station kinds that count (default: any)
        max_snap_m: 300
      acceptance_withheld: {criteria: [area, site, timing]}

A custom rule set in a few lines (``planning check-developments reg.xlsx --rules my.yaml``)::

    name: my-district-2025
    extends: guizhou-2022
    sources:
      - {id: my-2025, citation: "区住建局 2025 年配建要求（内部文件）", year: 2025}
    compliance:
      dates: {rule: not_later_than, tolerance_days: 30, source_id: my-2025,
              clause: "设施竣工验收不晚于住宅 30 日", confidence: V}
      reach: null                 # no walking check
      acceptance_withheld: {criteria: [area, site, timing], source_id: my-2025,
                            clause: "配建不达标不得组织竣工验收", confidence: V}

Register
--------
Columns in English or their common Chinese forms (see
``planning.compliance._register.ALIASES``; a ``columns=`` mapping ``{header: canonical}`` comes
first): ``dev_id`` (项目编号), ``name`` (项目名称), ``households`` (户数),
``area_kind`` (类型: 新建/老旧; all new when the column is absent), ``facility_area_m2``
(配建面积; read as one site unless ``facility_sites_m2`` (各处面积, "380;360") or a
facility layer lists the sites), ``facility_land_m2``, ``residents`` (人口),
``project_id``/``phase`` (所属项目/分期), lon/lat (经度/纬度) or ``wkt`` for the
geometry, ``facility_lon``/``facility_lat`` (设施经度/纬度), and the dates
``{housing,facility}_{planning,construction,acceptance,delivery}`` (e.g. 住宅竣工验收日期,
养老设施交付时间). A plain date counts as actual when on or before the as-of date and
as planned after it; ``..._planned``/``..._actual`` columns (计划…/实际…) say it
explicitly, and a facility date planned before the as-of date with no actual date is
overdue (FAIL). Dates: 2026-10-31, 2026/10/31, 2026.10.31, 20261031, 2026年10月31日,
2026年10月 (a whole month: judged only when the month decides), date cells and Excel
serial numbers. Facility sites: a ``facilities`` layer or sheet beside the register, or
another file, with ``dev_id`` and ``area_m2`` (设施编号, 项目编号, 面积) and points.

Examples
--------
>>> from planning import compliance
>>> result = compliance.check_developments(
...     "data/wuhan_developments.gpkg", None, "guizhou-2022", asof="2026-01-01"
... )  # doctest: +SKIP
>>> result.table[["dev_id", "verdict", "area", "site", "timing", "location"]]  # doctest: +SKIP
"""

from __future__ import annotations

from planning.compliance._check import ComplianceResult, check_developments
from planning.compliance._cli import main
from planning.compliance._outputs import read_outputs, write_outputs
from planning.compliance._reasons import FAIL, NA, PASS, UNKNOWN
from planning.compliance._rules import ComplianceRules, Rule
from planning.compliance._tables import COLUMNS

__all__ = [
    "COLUMNS",
    "FAIL",
    "NA",
    "PASS",
    "UNKNOWN",
    "ComplianceResult",
    "ComplianceRules",
    "Rule",
    "check_developments",
    "main",
    "read_outputs",
    "write_outputs",
]
