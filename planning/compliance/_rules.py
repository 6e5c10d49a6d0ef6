"""The compliance sections of a rule set with their provenance, ready to apply."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from planning._errors import InputError
from planning.standards import Bilingual, RuleSet, load_rules


@dataclass(frozen=True)
class Rule:
    """One section of a rule set's ``compliance:`` with its provenance."""

    section: str
    values: dict[str, Any]
    source_id: str | None
    citation: Bilingual | None
    clause: Bilingual | None
    confidence: str
    note: Bilingual | None

    def get(self, key: str, default: Any = None) -> Any:
        """Return a value of the section, or `default` when not given."""
        value = self.values.get(key)
        return default if value is None else value


@dataclass(frozen=True)
class ComplianceRules:
    """The compliance sections of a rule set and its walking speed, ready to apply."""

    name: str
    walk_speed_m_s: float
    sections: dict[str, Rule]

    @classmethod
    def from_rules(cls, rules: RuleSet) -> ComplianceRules:
        """Build from a loaded rule set; raise InputError when it has no compliance rules."""
        meta = ("source_id", "clause", "confidence", "note")
        sections = {
            name: Rule(
                name,
                {k: v for k, v in raw.items() if k not in meta},
                raw.get("source_id"),
                getattr(rules.sources.get(raw.get("source_id") or ""), "citation", None),
                _bilingual(raw.get("clause")),
                raw.get("confidence") or "R",
                _bilingual(raw.get("note")),
            )
            for name, raw in rules.compliance.items()
            if raw is not None
        }
        if not sections:
            msg = (
                f"rule set {rules.name!r} has no `compliance:` rules, so developments cannot be "
                "checked. Use one of national-2013, guangdong-city, guizhou-2022, anhui-2022, "
                "jiangsu-2022-draft, anshan-2021, or add a `compliance:` section."
            )
            raise InputError(msg)
        return cls(rules.name, rules.walk.speed_m_s, sections)

    def get(self, section: str) -> Rule | None:
        """Return a section, or None when the rule set does not have it."""
        return self.sections.get(section)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per section with its values and provenance (for reports).

        ``citation``, ``clause`` and ``note`` are in English, with ``citation_zh``,
        ``clause_zh`` and ``note_zh`` beside them.
        """
        rows = []
        for r in self.sections.values():
            row = {**r.__dict__, "values": json.dumps(r.values, ensure_ascii=False)}
            for key in ("citation", "clause", "note"):
                text = row.pop(key)
                row[key] = None if text is None else str(text)
                row[f"{key}_zh"] = None if text is None else getattr(text, "zh", str(text))
            rows.append(row)
        return pd.DataFrame(rows)


def _load(rules: RuleSet | str | Path) -> ComplianceRules:
    return ComplianceRules.from_rules(rules if isinstance(rules, RuleSet) else load_rules(rules))


def _bilingual(value: Any) -> Bilingual | None:
    """Return a section's clause or note (``{zh, en}`` or one string) as a Bilingual."""
    if value is None or isinstance(value, Bilingual):
        return value
    if isinstance(value, dict):
        return Bilingual(str(value.get("en", "")), str(value.get("zh", "")))
    return Bilingual(str(value))
