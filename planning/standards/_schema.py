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
        clause: "a 一刻钟 community home-care circle by 2025"
        confidence: S
        note: "interpreted: a stricter local reading of the 15-minute circle"

Every value carries its source (``source_id`` into ``sources``), the clause it comes from
and a confidence letter: **V** verbatim, **S** secondary summary, **R** recalled and not
yet checked (reports must flag R values, see :meth:`RuleSet.unverified`).

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

import copy
import difflib
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import yaml

from planning._errors import InputError, ScenarioError

logger = logging.getLogger(__name__)

#: Measures a target can check (see the module docstring and coverage.py).
MEASURES: tuple[str, ...] = ("spatial_coverage", "admin_coverage", "capacity_per_1000")
#: Measures whose target value is a share (a fraction between 0 and 1).
SHARE_MEASURES: tuple[str, ...] = ("spatial_coverage", "admin_coverage")
#: Station kinds (GLOSSARY.md).
KINDS: tuple[str, ...] = ("centre", "station", "daycare", "meal", "carehome")
#: Administrative levels for ``admin_coverage`` (GLOSSARY.md).
LEVELS: tuple[str, ...] = ("street", "community", "district")
#: Confidence letters and what they mean (STANDARDS.md).
CONFIDENCE: dict[str, dict[str, str]] = {
    "V": {"en": "verbatim from the source", "zh": "原文核实"},
    "S": {"en": "from a secondary summary", "zh": "来自二手摘要"},
    "R": {"en": "recalled, not yet checked against the text", "zh": "凭记忆，尚未核对原文"},
}

_TOP_KEYS = (
    "name",
    "title",
    "description",
    "sources",
    "walk",
    "thresholds_min",
    "life_circles",
    "targets",
    "compliance",
    "extends",
)
_REQUIRED_TOP = ("name", "title", "description", "sources", "walk", "thresholds_min")
_TEXT_KEYS = ("zh", "en")
_SOURCE_KEYS = ("id", "citation", "year", "url")
_WALK_KEYS = ("speed_m_s", "source_id", "confidence", "clause", "note")
_CIRCLE_VALUES = ("walking_distance_m", "population", "dwellings")
_CIRCLE_KEYS = ("minutes", *_CIRCLE_VALUES, "source_id", "clause", "confidence", "note")
_TARGET_KEYS = (
    "id",
    "measure",
    "kinds",
    "threshold_min",
    "level",
    "min",
    "year",
    "label",
    "source_id",
    "clause",
    "confidence",
    "note",
)
#: For list sections: the key that identifies an entry (for merging and error paths).
_LIST_ID = {"sources": "id", "life_circles": "minutes", "targets": "id"}
_ITEM_KEYS = {"sources": _SOURCE_KEYS, "life_circles": _CIRCLE_KEYS, "targets": _TARGET_KEYS}
_MAPPING_KEYS = {"title": _TEXT_KEYS, "description": _TEXT_KEYS, "walk": _WALK_KEYS}

#: Sections of ``compliance`` and the value keys each takes (see planning.compliance);
#: every section also takes ``source_id``, ``clause``, ``confidence`` and ``note``.
COMPLIANCE_SECTIONS: dict[str, tuple[str, ...]] = {
    "area_m2_per_100hh": ("new", "existing"),
    "min_area_m2": ("site", "facility"),
    "land_m2_per_resident": ("min", "persons_per_household"),
    "dates": ("rule", "tolerance_days", "milestones", "first_phase"),
    "location": ("tolerance_m",),
    "reach": ("threshold_min", "max_dist_m", "inclusive", "to", "kinds", "max_snap_m"),
    "acceptance_withheld": ("criteria",),
}
#: The four milestones of 四同步 (GLOSSARY.md), in their order.
MILESTONES: tuple[str, ...] = ("planning", "construction", "acceptance", "delivery")
#: How facility dates compare with housing dates (``compliance.dates.rule``).
DATE_RULES: tuple[str, ...] = ("not_later_than", "same_phase")
#: What residents may walk to for ``compliance.reach.to``.
REACH_TO: tuple[str, ...] = ("own", "stations")
#: The criteria a development is judged on (columns of the compliance table).
CRITERIA: tuple[str, ...] = ("area", "site", "land", "timing", "location", "reach")
_PROVENANCE_KEYS = ("source_id", "clause", "confidence", "note")


# --------------------------------------------------------------------------- data classes
@dataclass(frozen=True, eq=False)
class Text(Mapping[str, str]):
    """A text in Chinese and English; also a read-only mapping ``{"zh": ..., "en": ...}``."""

    zh: str
    en: str

    def __getitem__(self, lang: str) -> str:
        if lang not in _TEXT_KEYS:
            raise KeyError(lang)
        return str(getattr(self, lang))

    def __iter__(self) -> Iterator[str]:
        return iter(_TEXT_KEYS)

    def __len__(self) -> int:
        return len(_TEXT_KEYS)

    def for_lang(self, lang: str) -> str:
        """Return the text for a report language (``"zh"``, ``"zh-CN"``, ``"en"``...)."""
        return self.zh if lang.lower().startswith("zh") else self.en


@dataclass(frozen=True)
class Source:
    """A document that rules are taken from; ``year`` is None when unknown."""

    id: str
    citation: str
    year: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class Walk:
    """Walking speed used to turn minutes into network distance, with its source."""

    speed_m_s: float
    source_id: str
    confidence: str
    clause: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class LifeCircle:
    """A GB 50180 life-circle level: walking distance (m), population and dwelling ranges.

    Ranges are ``(min, max)`` tuples (equal for a single figure), None when not given;
    ``confidence`` maps each given value field to its letter.
    """

    minutes: float
    source_id: str
    confidence: dict[str, str]
    walking_distance_m: tuple[float, float] | None = None
    population: tuple[float, float] | None = None
    dwellings: tuple[float, float] | None = None
    clause: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Target:
    """A policy target checked by coverage.py.

    ``min`` is the target value: a share 0–1 for ``spatial_coverage`` and
    ``admin_coverage``, places per 1,000 older people for ``capacity_per_1000``.
    ``kinds`` None means stations of any kind count.
    """

    id: str
    measure: str
    min: float
    label: Text
    source_id: str
    clause: str
    confidence: str
    kinds: tuple[str, ...] | None = None
    threshold_min: float | None = None
    level: str | None = None
    year: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class Unverified:
    """A rule value with confidence R, which reports must flag as not yet checked."""

    path: str
    value: Any
    source_id: str
    clause: str | None


@dataclass(frozen=True)
class RuleSet:
    """A validated rule set (see the module docstring for the schema).

    ``origin`` says where it was read from; ``overridden`` lists the paths (e.g.
    ``"walk.speed_m_s"``, ``"targets[circle15].min"``) that scenario overrides changed.
    """

    name: str
    title: Text
    description: Text
    sources: dict[str, Source]
    walk: Walk
    thresholds_min: tuple[float, ...]
    life_circles: tuple[LifeCircle, ...] = ()
    targets: tuple[Target, ...] = ()
    compliance: dict[str, Any] = field(default_factory=dict)
    extends: str | None = None
    origin: str | None = None
    overridden: tuple[str, ...] = ()

    def target(self, target_id: str) -> Target:
        """Return the target with id ``target_id``."""
        for target in self.targets:
            if target.id == target_id:
                return target
        ids = [t.id for t in self.targets]
        msg = f"rule set {self.name!r} has no target {target_id!r}; its targets are {ids}."
        raise InputError(msg)

    def source_of(self, target: Target | str) -> Source:
        """Return the source document of a target (given as a Target or its id)."""
        found = self.target(target) if isinstance(target, str) else target
        return self.sources[found.source_id]

    def unverified(self) -> list[Unverified]:
        """List every value with confidence R (recalled, not yet checked).

        Returns
        -------
        list of Unverified
            One entry per walk speed, life-circle value, target or compliance section
            with confidence R (a compliance section without a confidence counts as R),
            with its path (as in :attr:`overridden`), value, source id and clause.

        """
        flags: list[Unverified] = []
        if self.walk.confidence == "R":
            walk = self.walk
            flags.append(Unverified("walk.speed_m_s", walk.speed_m_s, walk.source_id, walk.clause))
        for circle in self.life_circles:
            for key in _CIRCLE_VALUES:
                if circle.confidence.get(key) == "R":
                    path = f"life_circles[{circle.minutes}].{key}"
                    value = getattr(circle, key)
                    flags.append(Unverified(path, value, circle.source_id, circle.clause))
        for target in self.targets:
            if target.confidence == "R":
                path = f"targets[{target.id}].min"
                flags.append(Unverified(path, target.min, target.source_id, target.clause))
        for name, section in self.compliance.items():
            if isinstance(section, Mapping) and section.get("confidence", "R") == "R":
                values = {k: v for k, v in section.items() if k in COMPLIANCE_SECTIONS[name]}
                source = str(section.get("source_id") or "(no source given)")
                flags.append(
                    Unverified(f"compliance.{name}", values, source, section.get("clause"))
                )
        return flags

    def to_dict(self) -> dict[str, Any]:
        """Return the rule set as plain JSON-serialisable data (for run.json).

        The result uses the YAML schema (plus ``origin`` and ``overridden``) and is
        accepted by :meth:`from_dict`, which rebuilds an equal rule set.
        """
        return {
            "name": self.name,
            "title": _asdict(self.title),
            "description": _asdict(self.description),
            "extends": self.extends,
            "sources": [_asdict(s) for s in self.sources.values()],
            "walk": _asdict(self.walk),
            "thresholds_min": list(self.thresholds_min),
            "life_circles": [_asdict(c) for c in self.life_circles],
            "targets": [_asdict(t) for t in self.targets],
            "compliance": copy.deepcopy(self.compliance),
            "origin": self.origin,
            "overridden": list(self.overridden),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleSet:
        """Rebuild and validate a rule set from :meth:`to_dict` output.

        ``extends`` is kept as a label only: the data is already resolved.
        """
        raw = dict(data)
        origin = raw.pop("origin", None)
        overridden = raw.pop("overridden", None) or []
        ctx = _Ctx("rule-set data" if origin is None else f"rule-set data from {origin}")
        return _build(ctx, raw, origin=origin, overridden=tuple(overridden))


def _asdict(obj: Any) -> dict[str, Any]:
    """Return a dataclass as a dict of JSON types, leaving out None values."""
    out: dict[str, Any] = {}
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        if value is None:
            continue
        if isinstance(value, Text):
            value = dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, dict):
            value = dict(value)
        out[name] = value
    return out


# --------------------------------------------------------------------------- validation
@dataclass(frozen=True)
class _Ctx:
    """Where the data being validated comes from, for error messages."""

    origin: str
    overridden: frozenset[str] = frozenset()
    scenario: bool = False  # True while reading the overrides themselves
    extends: bool = False  # True while checking a file that extends another

    def from_overrides(self, path: str) -> bool:
        return self.scenario or any(
            path == p or path.startswith((p + ".", p + "[")) for p in self.overridden
        )

    def label(self, scenario: bool) -> str:
        return f"the scenario overrides of {self.origin}" if scenario else self.origin

    def fail(self, path: str, problem: str, fix: str = "") -> NoReturn:
        scenario = self.from_overrides(path)
        origin = self.label(scenario)
        where = f"{path} in {origin}" if path else origin
        msg = f"{where}: {problem}." + (f" {fix}" if fix else "")
        if self.overridden and not scenario:
            msg += f" (The scenario overrides changed: {', '.join(sorted(self.overridden))}.)"
        raise (ScenarioError if scenario else InputError)(msg)


def _check_keys(ctx: _Ctx, data: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
    for key in data:
        if key in allowed:
            continue
        at = f" at {path}" if path else ""
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        msg = (
            f"unknown key {key!r}{at} in {ctx.label(ctx.scenario)}{hint} "
            f"Allowed keys here: {', '.join(allowed)}."
        )
        raise (ScenarioError if ctx.scenario else InputError)(msg)


def _mapping(ctx: _Ctx, value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        ctx.fail(path, f"must be a mapping (key: value lines), got {value!r}")
    return dict(value)


def _list(ctx: _Ctx, value: Any, path: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        ctx.fail(path, f"must be a list (lines starting with '- '), got {value!r}")
    return list(value)


def _req(ctx: _Ctx, data: Mapping[str, Any], key: str, path: str) -> Any:
    if data.get(key) is None:
        fix = f"Add `{key}: ...`."
        if ctx.extends and path.startswith(("targets[", "sources[")):
            fix += (
                " An entry with the id of one in the extended rule set replaces it whole: give "
                "all its fields, or change single values with scenario overrides instead."
            )
        ctx.fail(path, f"the required key {key!r} is missing", fix)
    return data[key]


def _str(ctx: _Ctx, value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        ctx.fail(path, f"must be a non-empty text, got {value!r}", "Quote it if needed.")
    return value


def _opt_str(ctx: _Ctx, value: Any, path: str) -> str | None:
    return None if value is None else _str(ctx, value, path)


def _num(ctx: _Ctx, value: Any, path: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        ctx.fail(path, f"must be a number, got {value!r}", "Write it without quotes or units.")
    if value < 0 or (positive and value == 0):
        ctx.fail(path, f"must be {'positive' if positive else 'zero or more'}, got {value!r}")
    return value


def _int(ctx: _Ctx, value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        ctx.fail(path, f"must be a whole number, got {value!r}")
    return value


def _choice(ctx: _Ctx, value: Any, path: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"Did you mean {close[0]!r}? " if close else ""
        ctx.fail(path, f"must be one of {list(choices)}, got {value!r}", hint.strip())
    return str(value)


def _letter(ctx: _Ctx, value: Any, path: str) -> str:
    return _choice(ctx, value, path, tuple(CONFIDENCE))


def _pair(ctx: _Ctx, value: Any, path: str) -> tuple[float, float]:
    items = value if isinstance(value, list | tuple) else [value]
    if len(items) not in (1, 2):
        ctx.fail(path, f"must be a number or a [min, max] pair, got {value!r}")
    low, high = (_num(ctx, v, path) for v in (items[0], items[-1]))
    if low > high:
        ctx.fail(path, f"min {low!r} is larger than max {high!r}", "Write it as [min, max].")
    return low, high


def _text(ctx: _Ctx, value: Any, path: str) -> Text:
    data = _mapping(ctx, value, path)
    _check_keys(ctx, data, _TEXT_KEYS, path)
    zh, en = (_str(ctx, _req(ctx, data, k, path), f"{path}.{k}") for k in _TEXT_KEYS)
    return Text(zh=zh, en=en)


def _source(ctx: _Ctx, data: dict[str, Any], path: str) -> Source:
    year = data.get("year")
    return Source(
        id=_str(ctx, _req(ctx, data, "id", path), f"{path}.id"),
        citation=_str(ctx, _req(ctx, data, "citation", path), f"{path}.citation"),
        year=None if year is None else _int(ctx, year, f"{path}.year"),
        url=_opt_str(ctx, data.get("url"), f"{path}.url"),
    )


def _walk(ctx: _Ctx, value: Any, path: str) -> Walk:
    data = _mapping(ctx, value, path)
    _check_keys(ctx, data, _WALK_KEYS, path)
    speed = _num(ctx, _req(ctx, data, "speed_m_s", path), f"{path}.speed_m_s", positive=True)
    if not 0.3 <= speed <= 3.0:
        ctx.fail(
            f"{path}.speed_m_s",
            f"{speed!r} m/s is not a walking speed",
            "Give metres per second, e.g. 0.8 (older pedestrians) or 1.111 (1000 m in 15 min).",
        )
    return Walk(
        speed_m_s=speed,
        source_id=_str(ctx, _req(ctx, data, "source_id", path), f"{path}.source_id"),
        confidence=_letter(ctx, _req(ctx, data, "confidence", path), f"{path}.confidence"),
        clause=_opt_str(ctx, data.get("clause"), f"{path}.clause"),
        note=_opt_str(ctx, data.get("note"), f"{path}.note"),
    )


def _circle(ctx: _Ctx, data: dict[str, Any], path: str) -> LifeCircle:
    values = {
        k: _pair(ctx, data[k], f"{path}.{k}") for k in _CIRCLE_VALUES if data.get(k) is not None
    }
    conf = _req(ctx, data, "confidence", path)
    if isinstance(conf, Mapping):
        _check_keys(ctx, conf, _CIRCLE_VALUES, f"{path}.confidence")
        missing = [k for k in values if k not in conf]
        if missing:
            ctx.fail(f"{path}.confidence", f"gives no letter for {missing}", "Add one per value.")
        letters = {k: _letter(ctx, conf[k], f"{path}.confidence.{k}") for k in values}
    else:
        letter = _letter(ctx, conf, f"{path}.confidence")
        letters = dict.fromkeys(values, letter)
    return LifeCircle(
        minutes=_num(ctx, _req(ctx, data, "minutes", path), f"{path}.minutes", positive=True),
        source_id=_str(ctx, _req(ctx, data, "source_id", path), f"{path}.source_id"),
        confidence=letters,
        clause=_opt_str(ctx, data.get("clause"), f"{path}.clause"),
        note=_opt_str(ctx, data.get("note"), f"{path}.note"),
        **values,
    )


def _kinds(ctx: _Ctx, value: Any, path: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = _list(ctx, [value] if isinstance(value, str) else value, path)
    if not items:
        ctx.fail(path, "is an empty list", "Leave `kinds` out to count stations of any kind.")
    return tuple(_choice(ctx, k, path, KINDS) for k in items)


def _target(ctx: _Ctx, data: dict[str, Any], path: str) -> Target:
    measure = _choice(ctx, _req(ctx, data, "measure", path), f"{path}.measure", MEASURES)
    minimum = _num(ctx, _req(ctx, data, "min", path), f"{path}.min")
    if measure in SHARE_MEASURES and minimum > 1:
        ctx.fail(
            f"{path}.min",
            f"must be a share between 0 and 1 for measure {measure!r}, got {minimum!r}",
            f"Write shares as fractions, e.g. {minimum / 100:g} for {minimum:g} %.",
        )
    needs = {"threshold_min": measure != "admin_coverage", "level": measure == "admin_coverage"}
    for key, needed in needs.items():
        if needed and data.get(key) is None:
            ctx.fail(path, f"measure {measure!r} needs `{key}`", f"Add `{key}: ...`.")
        if not needed and data.get(key) is not None:
            ctx.fail(f"{path}.{key}", f"does not apply to measure {measure!r}", "Remove it.")
    threshold, level, year = data.get("threshold_min"), data.get("level"), data.get("year")
    return Target(
        id=_str(ctx, _req(ctx, data, "id", path), f"{path}.id"),
        measure=measure,
        min=minimum,
        label=_text(ctx, _req(ctx, data, "label", path), f"{path}.label"),
        source_id=_str(ctx, _req(ctx, data, "source_id", path), f"{path}.source_id"),
        clause=_str(ctx, _req(ctx, data, "clause", path), f"{path}.clause"),
        confidence=_letter(ctx, _req(ctx, data, "confidence", path), f"{path}.confidence"),
        kinds=_kinds(ctx, data.get("kinds"), f"{path}.kinds"),
        threshold_min=None
        if threshold is None
        else _num(ctx, threshold, f"{path}.threshold_min", positive=True),
        level=None if level is None else _choice(ctx, level, f"{path}.level", LEVELS),
        year=None if year is None else _int(ctx, year, f"{path}.year"),
        note=_opt_str(ctx, data.get("note"), f"{path}.note"),
    )


_ITEM_PARSERS: dict[str, Callable[[_Ctx, dict[str, Any], str], Any]] = {
    "sources": _source,
    "life_circles": _circle,
    "targets": _target,
}


def _item_path(section: str, item: Any, index: int) -> str:
    key = item.get(_LIST_ID[section]) if isinstance(item, Mapping) else None
    return f"{section}[{key if isinstance(key, str | int | float) else index}]"


def _items(ctx: _Ctx, value: Any, section: str) -> list[Any]:
    """Parse a list section (sources, life_circles, targets), rejecting duplicate ids."""
    parsed, seen = [], set()
    for index, item in enumerate(_list(ctx, value, section)):
        path = _item_path(section, item, index)
        data = _mapping(ctx, item, path)
        _check_keys(ctx, data, _ITEM_KEYS[section], path)
        obj = _ITEM_PARSERS[section](ctx, data, path)
        key = getattr(obj, _LIST_ID[section])
        if key in seen:
            ctx.fail(path, f"{_LIST_ID[section]} {key!r} appears twice", "Give each a unique one.")
        seen.add(key)
        parsed.append(obj)
    return parsed


def _thresholds(ctx: _Ctx, value: Any, path: str) -> tuple[float, ...]:
    items = tuple(_num(ctx, v, path, positive=True) for v in _list(ctx, value, path))
    if not items or len(set(items)) != len(items):
        ctx.fail(path, f"must be a non-empty list of distinct minutes, got {value!r}")
    return items


def _bool(ctx: _Ctx, value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        ctx.fail(path, f"must be true or false, got {value!r}")
    return value


def _subset(ctx: _Ctx, value: Any, path: str, choices: tuple[str, ...]) -> None:
    items = _list(ctx, [value] if isinstance(value, str) else value, path)
    if not items or len(set(map(str, items))) != len(items):
        ctx.fail(path, f"must be a non-empty list without repeats of {list(choices)}")
    for item in items:
        _choice(ctx, item, path, choices)


def _compliance_section(ctx: _Ctx, name: str, data: dict[str, Any], path: str) -> None:
    """Check the values of one compliance section (see planning.compliance)."""
    keys = COMPLIANCE_SECTIONS[name]
    given = [k for k in keys if data.get(k) is not None]
    if name in ("area_m2_per_100hh", "min_area_m2") and not given:
        ctx.fail(path, f"gives no value: add one of {', '.join(keys)}")
    for key in ("new", "existing", "site", "facility", "tolerance_m"):
        if data.get(key) is not None:
            _num(ctx, data[key], f"{path}.{key}")
    for key in ("min", "persons_per_household", "threshold_min", "max_dist_m", "max_snap_m"):
        if data.get(key) is not None:
            _num(ctx, data[key], f"{path}.{key}", positive=True)
    for key in ("inclusive", "first_phase"):
        if data.get(key) is not None:
            _bool(ctx, data[key], f"{path}.{key}")
    if name == "land_m2_per_resident":
        _req(ctx, data, "min", path)
    elif name == "location":
        _req(ctx, data, "tolerance_m", path)
    elif name == "dates":
        if data.get("rule") is not None:
            _choice(ctx, data["rule"], f"{path}.rule", DATE_RULES)
        if data.get("tolerance_days") is not None:
            days = _int(ctx, data["tolerance_days"], f"{path}.tolerance_days")
            if days < 0:
                ctx.fail(f"{path}.tolerance_days", f"must be zero or more, got {days}")
        if data.get("milestones") is not None:
            _subset(ctx, data["milestones"], f"{path}.milestones", MILESTONES)
    elif name == "reach":
        if ("threshold_min" in given) == ("max_dist_m" in given):
            ctx.fail(
                path,
                "needs exactly one of `threshold_min` (minutes) and `max_dist_m` (metres)",
                "A radius in metres is measured as walking distance on the network.",
            )
        if data.get("to") is not None:
            _subset(ctx, data["to"], f"{path}.to", REACH_TO)
        _kinds(ctx, data.get("kinds"), f"{path}.kinds")
    elif name == "acceptance_withheld" and data.get("criteria") is not None:
        _subset(ctx, data["criteria"], f"{path}.criteria", CRITERIA)
    for key in ("source_id", "clause", "note"):
        _opt_str(ctx, data.get(key), f"{path}.{key}")
    if data.get("confidence") is not None:
        _letter(ctx, data["confidence"], f"{path}.confidence")


def _compliance(ctx: _Ctx, value: Any, path: str) -> dict[str, Any]:
    """Validate the ``compliance`` mapping and return a copy (null switches a section off)."""
    data = _mapping(ctx, value, path)
    _check_keys(ctx, data, tuple(COMPLIANCE_SECTIONS), path)
    for name, section in data.items():
        if section is not None:
            at = f"{path}.{name}"
            fields = _mapping(ctx, section, at)
            _check_keys(ctx, fields, (*COMPLIANCE_SECTIONS[name], *_PROVENANCE_KEYS), at)
            _compliance_section(ctx, name, fields, at)
    return copy.deepcopy(data)


def _parse_parts(ctx: _Ctx, raw: Any) -> dict[str, Any]:
    """Parse every top-level section present in ``raw`` (no cross-references)."""
    data = _mapping(ctx, raw, "")
    _check_keys(ctx, data, _TOP_KEYS, "")
    parsers: dict[str, Callable[[_Ctx, Any, str], Any]] = {
        "name": _str,
        "extends": _str,
        "title": _text,
        "description": _text,
        "walk": _walk,
        "thresholds_min": _thresholds,
        "compliance": _compliance,
        "sources": lambda c, v, p: {s.id: s for s in _items(c, v, p)},
        "life_circles": lambda c, v, p: tuple(_items(c, v, p)),
        "targets": lambda c, v, p: tuple(_items(c, v, p)),
    }
    return {k: parsers[k](ctx, v, k) for k, v in data.items() if v is not None}


def _build(ctx: _Ctx, raw: Any, *, origin: str | None, overridden: tuple[str, ...] = ()) -> RuleSet:
    """Validate a complete rules mapping, including cross-references, into a RuleSet."""
    parts = _parse_parts(ctx, raw)
    for key in _REQUIRED_TOP:
        if key not in parts:
            ctx.fail("", f"the required key {key!r} is missing", f"Add `{key}:` or `extends:`.")
    rules = RuleSet(**parts, origin=origin, overridden=overridden)
    refs: list[tuple[str, str]] = [("walk.source_id", rules.walk.source_id)]
    refs += [(f"life_circles[{c.minutes}].source_id", c.source_id) for c in rules.life_circles]
    refs += [(f"targets[{t.id}].source_id", t.source_id) for t in rules.targets]
    refs += [
        (f"compliance.{name}.source_id", section["source_id"])
        for name, section in rules.compliance.items()
        if isinstance(section, Mapping) and section.get("source_id") is not None
    ]
    for path, source_id in refs:
        if source_id not in rules.sources:
            ctx.fail(
                path,
                f"unknown source_id {source_id!r}",
                f"Use one of {sorted(rules.sources)} or add it under `sources:`.",
            )
    for target in rules.targets:
        if target.threshold_min is not None and target.threshold_min not in rules.thresholds_min:
            ctx.fail(
                f"targets[{target.id}].threshold_min",
                f"{target.threshold_min!r} min is not in thresholds_min "
                f"{list(rules.thresholds_min)}",
                "Add it to `thresholds_min` so that coverage is computed for it.",
            )
    return rules


# --------------------------------------------------------------------------- loading
def _standards_dir() -> Any:
    return resources.files("planning") / "standards"


def available_rule_sets() -> list[str]:
    """Return the names of the packaged rule sets (file stems), sorted."""
    return sorted(
        p.name.removesuffix(".yaml") for p in _standards_dir().iterdir() if p.name.endswith(".yaml")
    )


def _is_path(ref: str | Path) -> bool:
    text = str(ref)
    return isinstance(ref, Path) or "/" in text or "\\" in text or text.endswith((".yaml", ".yml"))


def _read(ref: str | Path, base_dir: Path | None) -> tuple[dict[str, Any], str, Path | None]:
    """Read one rules file; return its mapping, its origin label and its folder."""
    if _is_path(ref):
        path = Path(ref).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        origin = f"rules file '{path}'"
        if not path.is_file():
            msg = (
                f"{origin} does not exist. Give the path to a YAML rules file or one of the "
                f"packaged rule sets {available_rule_sets()}."
            )
            raise InputError(msg)
        text, stem, folder = path.read_text(encoding="utf-8"), path.stem, path.parent
    else:
        names = available_rule_sets()
        if ref not in names:
            close = difflib.get_close_matches(str(ref), names, n=1)
            hint = f"Did you mean {close[0]!r}? " if close else ""
            msg = (
                f"unknown rule set {str(ref)!r}. {hint}The packaged rule sets are {names}; "
                f"or give the path to your own YAML file."
            )
            raise InputError(msg)
        origin = f"rules file 'planning/standards/{ref}.yaml'"
        text, stem, folder = (_standards_dir() / f"{ref}.yaml").read_text("utf-8"), str(ref), None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"{origin} is not valid YAML; check the indentation and quoting here:\n{exc}"
        raise InputError(msg) from exc
    data = _mapping(_Ctx(origin), raw, "")
    data.setdefault("name", stem)
    return data, origin, folder


def _merge_items(base: list[Any], new: list[Any], key: str) -> list[Any]:
    """Replace entries of ``base`` that share ``key`` with ``new``'s and append the rest."""
    merged = copy.deepcopy(base)
    index = {item[key]: i for i, item in enumerate(merged)}
    for item in new:
        if item[key] in index:
            merged[index[item[key]]] = copy.deepcopy(item)
        else:
            merged.append(copy.deepcopy(item))
    return merged


def _resolve(
    ref: str | Path, base_dir: Path | None = None, chain: tuple[str, ...] = ()
) -> tuple[dict[str, Any], str]:
    """Read a rules file and everything it extends into one raw mapping."""
    data, origin, folder = _read(ref, base_dir)
    # check this file's keys and values on their own, so that errors name this file
    _parse_parts(_Ctx(origin, extends=data.get("extends") is not None), data)
    if origin in chain:
        cycle = " → ".join(o.removeprefix("rules file ") for o in (*chain, origin))
        msg = f"{origin} extends itself ({cycle}). Remove one of the `extends:` keys."
        raise InputError(msg)
    parent_ref = data.get("extends")
    if parent_ref is None:
        return data, origin
    parent, _ = _resolve(parent_ref, folder, (*chain, origin))
    merged = copy.deepcopy(parent)
    for key, value in data.items():
        if key in ("sources", "targets"):
            merged[key] = _merge_items(parent.get(key) or [], value or [], _LIST_ID[key])
        elif key == "compliance":
            merged[key] = {**(parent.get(key) or {}), **copy.deepcopy(value or {})}
        else:
            merged[key] = copy.deepcopy(value)
    name = data["name"]
    if "title" not in data:
        merged["title"] = {"zh": name, "en": name}
    if "description" not in data:
        merged["description"] = {
            "zh": f"基于 {parent_ref} 的规则集",
            "en": f"Based on {parent_ref}",
        }
    return merged, origin


def _apply_overrides(
    ctx: _Ctx, raw: dict[str, Any], overrides: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Merge scenario overrides field by field; return the result and the changed paths."""
    merged, paths = copy.deepcopy(raw), []
    overrides = _mapping(ctx, overrides, "")
    _check_keys(ctx, overrides, _TOP_KEYS, "")
    for key, value in overrides.items():
        if key in ("name", "extends"):
            ctx.fail(key, "cannot be overridden", "Write a rules file with `extends:` instead.")
        if key in _MAPPING_KEYS or key == "compliance":
            fields = _mapping(ctx, value, key)
            if key in _MAPPING_KEYS:
                _check_keys(ctx, fields, _MAPPING_KEYS[key], key)
            merged[key] = {**(merged.get(key) or {}), **copy.deepcopy(fields)}
            paths += [f"{key}.{k}" for k in fields]
        elif key in _LIST_ID:
            id_key, entries = _LIST_ID[key], list(merged.get(key) or [])
            for index, item in enumerate(_list(ctx, value, key)):
                path = _item_path(key, item, index)
                fields = _mapping(ctx, item, path)
                _check_keys(ctx, fields, _ITEM_KEYS[key], path)
                _req(ctx, fields, id_key, path)
                match = [e for e in entries if e.get(id_key) == fields[id_key]]
                if match:
                    match[0].update(copy.deepcopy(fields))
                    paths += [f"{path}.{k}" for k in fields if k != id_key]
                else:
                    entries.append(copy.deepcopy(fields))
                    paths.append(path)
            merged[key] = entries
        else:
            merged[key] = copy.deepcopy(value)
            paths.append(key)
    return merged, paths


def load_rules(name_or_path: str | Path, *, overrides: Mapping[str, Any] | None = None) -> RuleSet:
    """Load, resolve and validate a rule set, optionally with scenario overrides.

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        A packaged rule set name (see :func:`available_rule_sets`) or the path to a YAML
        rules file (which may ``extends:`` a packaged name or a path relative to it).
    overrides : mapping, optional
        Values merged over the loaded rule set field by field, e.g.
        ``{"walk": {"speed_m_s": 1.0}, "targets": [{"id": "circle15", "min": 0.8}]}``.
        A list entry whose id (``minutes`` for life circles) matches changes only the
        fields given; a new id adds a complete entry. The changed paths are recorded in
        :attr:`RuleSet.overridden`.

    Returns
    -------
    RuleSet
        The validated rule set.

    Raises
    ------
    InputError
        If the name is unknown, the file is missing or not valid YAML, or a key or value
        is invalid (unknown keys get a suggestion). The message names the file and path.
    ScenarioError
        If ``overrides`` has an unknown key or sets an invalid value.

    """
    raw, origin = _resolve(name_or_path)
    paths: list[str] = []
    if overrides:
        raw, paths = _apply_overrides(_Ctx(origin, scenario=True), raw, overrides)
    ctx = _Ctx(origin, overridden=frozenset(paths))
    rules = _build(
        ctx,
        raw,
        origin=origin.removeprefix("rules file '").removesuffix("'"),
        overridden=tuple(paths),
    )
    logger.info(
        "loaded rule set %r from %s: %d targets, walk %.3f m/s, overridden: %s",
        rules.name,
        origin,
        len(rules.targets),
        rules.walk.speed_m_s,
        list(paths) or "nothing",
    )
    return rules
