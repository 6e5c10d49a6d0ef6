"""Report and map strings in Chinese and English, read from ``templates/i18n.yaml``.

Every key of the file holds one text per language (``zh``, ``en``); a language is
available when every key has it. Code identifiers stay English (GLOSSARY.md).
Codes in tables (levels, kinds, verdicts, statuses) are shown with :func:`code_text`;
the English phrases tables record (excluded inputs, gap reasons) with :func:`phrase`,
from ``templates/phrases.yaml``.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import yaml

from planning import _text
from planning._errors import InputError

_FILE = "i18n.yaml"
_PHRASES = "phrases.yaml"
#: Code columns whose values share the strings of another column.
_CODE_ALIASES = {
    "kind_prev": "kind",
    "met_prev": "met",
    "acceptance_withheld": "met",
    "area": "verdict",
    "site": "verdict",
    "land": "verdict",
    "timing": "verdict",
    "location": "verdict",
    "reach": "verdict",
}


def _table() -> dict[str, dict[str, str]]:
    return _text.table()


def available_languages() -> list[str]:
    """Return the languages every string of ``templates/i18n.yaml`` is given in."""
    table = _table()
    langs: set[str] | None = None
    for texts in table.values():
        langs = set(texts) if langs is None else langs & set(texts)
    return sorted(langs or ())


def lang_code(language: str) -> str:
    """Return the short code (``zh`` or ``en``) of a language such as ``zh-CN``.

    Raises
    ------
    InputError
        When no report template exists for the language.

    """
    code = str(language).strip().lower().replace("_", "-").split("-")[0]
    available = available_languages()
    if code not in available:
        msg = (
            f"No report template for language {language!r}: the report strings "
            f"(planning/report/templates/{_FILE}) exist in {', '.join(available)}. Set "
            f"`language: zh` or `language: en` in the scenario, or add a '{code}' text to "
            f"every key of planning/report/templates/{_FILE}."
        )
        raise InputError(msg)
    return code


def html_lang(language: str) -> str:
    """Return the HTML ``lang`` attribute value for a language (``zh-CN`` or ``en``)."""
    code = lang_code(language)
    return "zh-CN" if code == "zh" else code


def strings(language: str) -> dict[str, str]:
    """Return every report string in `language` as ``{key: text}``."""
    return dict(_strings(lang_code(language)))


@cache
def _strings(code: str) -> dict[str, str]:
    return {key: texts[code] for key, texts in _table().items()}


def kind_label(kind: Any, language: str) -> str:
    """Return the GLOSSARY.md name of a station kind (the kind itself when unknown)."""
    t = strings(language)
    return t.get(f"kind_{kind}", str(kind))


@cache
def _phrases() -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    path = resources.files("planning.report").joinpath("templates", _PHRASES)
    rows: list[dict[str, str]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    exact: dict[str, str] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for row in rows:
        en, zh = str(row["en"]), str(row["zh"])
        if "{" not in en:
            exact[en] = zh
            continue
        parts = re.split(r"\{(\w+)\}", en)
        regex = "".join(
            re.escape(part)
            if i % 2 == 0
            else f"(?P<{part}>-?[0-9][0-9,.]*)"
            if part in ("n", "m")
            else f"(?P<{part}>.+?)"
            for i, part in enumerate(parts)
        )
        patterns.append((re.compile(f"^{regex}$"), zh))
    return exact, patterns


@cache
def phrase(text: Any, language: str) -> str:
    """Return a phrase recorded in English in a table (``templates/phrases.yaml``) in `language`.

    Phrases with numbers match their pattern (``"beyond 15 min"``); ``"A: B"`` without an
    entry of its own is translated part by part. An unknown phrase is returned as is.
    """
    value = "" if text is None else str(text)
    if lang_code(language) != "zh" or not value.strip():
        return value
    exact, patterns = _phrases()
    if value in exact:
        return exact[value]
    for pattern, zh in patterns:
        match = pattern.match(value)
        if match:
            groups = {k: phrase(v, language) for k, v in match.groupdict().items()}
            return zh.format(**groups)
    if ": " in value:
        head, tail = value.split(": ", 1)
        return f"{phrase(head, language)}：{phrase(tail, language)}"
    return value


def code_text(column: str, value: Any, language: str) -> Any:
    """Return the text of a code (``level``, ``kind``, ``verdict``, ``met``...) in `language`.

    Booleans read yes/no; codes without a string (and values that are no code) come back
    unchanged, through :func:`phrase`.
    """
    if value is None or (isinstance(value, float) and value != value):
        return value
    t = _strings(lang_code(language))
    col = _CODE_ALIASES.get(column, column)
    if isinstance(value, bool) or col == "met":
        key = {True: "yes", False: "no", "True": "yes", "False": "no"}.get(value)
        return t[key] if key else value
    if not isinstance(value, str):
        return value
    key = f"{col}_{value}".replace("/", "")
    if key in t:
        return t[key]
    if col == "due" and value in t:
        return t[value]
    return phrase(value, language)
