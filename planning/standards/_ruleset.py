"""The validated rule set: :class:`RuleSet`, built from parsed parts and back to plain data."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from planning._errors import InputError
from planning.standards._model import (
    _CIRCLE_VALUES,
    _REQUIRED_TOP,
    COMPLIANCE_SECTIONS,
    Bilingual,
    LifeCircle,
    Source,
    Target,
    Text,
    Unverified,
    Walk,
)
from planning.standards._schema import _Ctx, _parse_parts


@dataclass(frozen=True)
class RuleSet:
    """A validated rule set (see :mod:`planning.standards` for the schema).

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
        elif isinstance(value, Bilingual):
            value = value.to_json()
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, dict):
            value = dict(value)
        out[name] = value
    return out


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
