"""Report and map strings in Chinese and English, read from ``templates/i18n.yaml``.

Every key of the file holds one text per language (``zh``, ``en``); a language is
available when every key has it. Code identifiers stay English (GLOSSARY.md).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from planning._errors import InputError

_FILE = "i18n.yaml"


@cache
def _table() -> dict[str, dict[str, str]]:
    path = resources.files("planning.report").joinpath("templates", _FILE)
    text = path.read_text(encoding="utf-8")
    data: dict[str, dict[str, str]] = yaml.safe_load(text)
    return data


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
    code = lang_code(language)
    return {key: texts[code] for key, texts in _table().items()}


def kind_label(kind: Any, language: str) -> str:
    """Return the GLOSSARY.md name of a station kind (the kind itself when unknown)."""
    t = strings(language)
    return t.get(f"kind_{kind}", str(kind))
