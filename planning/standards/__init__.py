"""Load the policy rule sets that every check of the toolkit reads (rules are data).

A rule set is a YAML file: the packaged ones live in ``planning/standards/`` and are
named by their file stem (see :func:`available_rule_sets`); a user may write their own
in a few lines, usually starting from a packaged one with ``extends:``::

    name: wuchang-2025
    extends: china-baseline
    targets:
      - id: circle10
        measure: spatial_coverage
        threshold_min: 10
        min: 0.8
        year: 2025
        label: {zh: 10分钟内老年人占比, en: Share of older people within 10 min}
        source_id: shanxi-2023
        clause:
          zh: 到 2025 年建成一刻钟社区居家养老服务圈
          en: "a 一刻钟 community home-care circle by 2025"
        confidence: S
        note: {zh: 解释性读法：更严格的地方读法, en: "interpreted: a stricter local reading"}

Every value carries its source (``source_id`` into ``sources``), the clause it comes from
and a confidence letter: **V** verbatim, **S** secondary summary, **R** recalled and not
yet checked (reports must flag R values, see :meth:`RuleSet.unverified`).

Citations, clauses and notes are shown in the report language, so they are written in
both, ``{zh: ..., en: ...}`` (every packaged rule set does); a plain string stands for
both languages. They load as :class:`Bilingual` strings: the English text, with the
Chinese in ``.zh`` (:func:`text_for` picks a language).

Top-level keys: ``name``, ``title`` {zh, en}, ``description`` {zh, en}, ``sources``
(list of {id, citation, year, url}), ``walk`` {speed_m_s, source_id, confidence, clause,
note}, ``thresholds_min``, ``life_circles``, ``targets``, ``compliance`` (the checks of
new residential developments, validated here and kept as a plain mapping; its schema is
documented in :mod:`planning.compliance`, the sections are :data:`COMPLIANCE_SECTIONS`) and
``extends``. A rule set that ``extends`` another inherits its values; each key it gives
replaces the parent's, except ``sources`` and ``targets`` (merged by ``id``: a same-id
entry replaces the parent's whole, new ones are appended) and ``compliance`` (merged
key by key).

Scenario overrides (:func:`load_rules` ``overrides=``) are merged field by field instead,
and the changed paths are recorded in :attr:`RuleSet.overridden` for the report.
"""

from __future__ import annotations

from planning.standards._loading import available_rule_sets, load_rules
from planning.standards._model import (
    COMPLIANCE_SECTIONS,
    CONFIDENCE,
    CRITERIA,
    DATE_RULES,
    KINDS,
    LEVELS,
    MEASURES,
    MILESTONES,
    REACH_TO,
    SHARE_MEASURES,
    Bilingual,
    LifeCircle,
    Source,
    Target,
    Text,
    Unverified,
    Walk,
    text_for,
)
from planning.standards._ruleset import RuleSet

__all__ = [
    "COMPLIANCE_SECTIONS",
    "CONFIDENCE",
    "CRITERIA",
    "DATE_RULES",
    "KINDS",
    "LEVELS",
    "MEASURES",
    "MILESTONES",
    "REACH_TO",
    "SHARE_MEASURES",
    "Bilingual",
    "LifeCircle",
    "RuleSet",
    "Source",
    "Target",
    "Text",
    "Unverified",
    "Walk",
    "available_rule_sets",
    "load_rules",
    "text_for",
]
