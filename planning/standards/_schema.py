"""Check the keys and values of a rule-set mapping and parse its sections into parts.

Every failure names the file (or the scenario overrides) and the path of the value, says
what was expected and how to fix it (:class:`_Ctx`).
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from planning._errors import InputError, ScenarioError
from planning.standards._model import (
    _CIRCLE_VALUES,
    _ITEM_KEYS,
    _LIST_ID,
    _PROVENANCE_KEYS,
    _TEXT_KEYS,
    _TOP_KEYS,
    _WALK_KEYS,
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
    Walk,
)


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


def _bitext(ctx: _Ctx, value: Any, path: str) -> Bilingual:
    """Return a citation, clause or note: ``{zh: ..., en: ...}`` or one string for both."""
    if isinstance(value, str):
        return Bilingual(_str(ctx, value, path))
    if not isinstance(value, Mapping):
        ctx.fail(path, f"must be a text or {{zh: ..., en: ...}}, got {value!r}")
    text = _text(ctx, value, path)
    return Bilingual(text.en, text.zh)


def _opt_bitext(ctx: _Ctx, value: Any, path: str) -> Bilingual | None:
    return None if value is None else _bitext(ctx, value, path)


def _source(ctx: _Ctx, data: dict[str, Any], path: str) -> Source:
    year = data.get("year")
    return Source(
        id=_str(ctx, _req(ctx, data, "id", path), f"{path}.id"),
        citation=_bitext(ctx, _req(ctx, data, "citation", path), f"{path}.citation"),
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
        clause=_opt_bitext(ctx, data.get("clause"), f"{path}.clause"),
        note=_opt_bitext(ctx, data.get("note"), f"{path}.note"),
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
        clause=_opt_bitext(ctx, data.get("clause"), f"{path}.clause"),
        note=_opt_bitext(ctx, data.get("note"), f"{path}.note"),
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
        clause=_bitext(ctx, _req(ctx, data, "clause", path), f"{path}.clause"),
        confidence=_letter(ctx, _req(ctx, data, "confidence", path), f"{path}.confidence"),
        kinds=_kinds(ctx, data.get("kinds"), f"{path}.kinds"),
        threshold_min=None
        if threshold is None
        else _num(ctx, threshold, f"{path}.threshold_min", positive=True),
        level=None if level is None else _choice(ctx, level, f"{path}.level", LEVELS),
        year=None if year is None else _int(ctx, year, f"{path}.year"),
        note=_opt_bitext(ctx, data.get("note"), f"{path}.note"),
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
    _opt_str(ctx, data.get("source_id"), f"{path}.source_id")
    for key in ("clause", "note"):
        _opt_bitext(ctx, data.get(key), f"{path}.{key}")
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
