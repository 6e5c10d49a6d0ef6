"""What a rule set holds: the keys of its schema, its vocabularies and its parts.

The parts (:class:`Text`, :class:`Source`, :class:`Walk`, :class:`LifeCircle`,
:class:`Target`, :class:`Unverified`) are frozen data classes; the whole is
:class:`planning.standards.RuleSet`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: Measures a target can check (see :mod:`planning.standards` and coverage.py).
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


class Bilingual(str):
    """A rule-set text in English (the string itself) that also carries its Chinese.

    Citations, clauses and notes are written in a rule set as ``{zh: ..., en: ...}``;
    a plain string stands for both languages. String operations see the English text,
    reports pick theirs with :meth:`for_lang`.
    """

    zh: str

    def __new__(cls, en: str, zh: str | None = None) -> Bilingual:
        """Make the text from its English and (default: the same) Chinese version."""
        obj = super().__new__(cls, en)
        obj.zh = en if zh is None else zh
        return obj

    @property
    def en(self) -> str:
        """Return the English text."""
        return str.__str__(self)

    def for_lang(self, lang: str) -> str:
        """Return the text for a report language (``"zh"``, ``"zh-CN"``, ``"en"``...)."""
        return self.zh if lang.lower().startswith("zh") else self.en

    def to_json(self) -> str | dict[str, str]:
        """Return ``{"zh", "en"}``, or the string when both languages are the same."""
        return self.en if self.zh == self.en else {"zh": self.zh, "en": self.en}

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (Bilingual, (self.en, self.zh))


def text_for(value: Any, lang: str) -> str:
    """Return a rule-set text (:class:`Bilingual`, :class:`Text` or str) in `lang`."""
    if value is None:
        return ""
    if isinstance(value, Bilingual | Text):
        return value.for_lang(lang)
    if isinstance(value, Mapping):
        code = "zh" if lang.lower().startswith("zh") else "en"
        return str(value.get(code) or value.get("en") or value.get("zh") or "")
    return str(value)


@dataclass(frozen=True)
class Source:
    """A document that rules are taken from; ``year`` is None when unknown."""

    id: str
    citation: Bilingual
    year: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class Walk:
    """Walking speed used to turn minutes into network distance, with its source."""

    speed_m_s: float
    source_id: str
    confidence: str
    clause: Bilingual | None = None
    note: Bilingual | None = None


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
    clause: Bilingual | None = None
    note: Bilingual | None = None


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
    clause: Bilingual
    confidence: str
    kinds: tuple[str, ...] | None = None
    threshold_min: float | None = None
    level: str | None = None
    year: int | None = None
    note: Bilingual | None = None


@dataclass(frozen=True)
class Unverified:
    """A rule value with confidence R, which reports must flag as not yet checked."""

    path: str
    value: Any
    source_id: str
    clause: Bilingual | None
