"""The string tables of reports and summaries (Chinese and English), readable from any floor.

The tables live in ``planning/report/templates/i18n.yaml`` (every key: ``zh`` and
``en``); :mod:`planning.report._i18n` checks languages and serves the report, and the
in-memory results (notebook summaries of :class:`planning.results.RunResult` and the
coverage result) read their labels here, without importing the report stage.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from planning import settings

_FILE = ("report", "templates", "i18n.yaml")


@cache
def table() -> dict[str, dict[str, str]]:
    """Return ``{key: {"zh": text, "en": text}}`` of ``templates/i18n.yaml``."""
    path = resources.files("planning").joinpath(*_FILE)
    data: dict[str, dict[str, str]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def short_code(language: str | None) -> str:
    """Return ``zh`` or ``en`` for a language such as ``zh-CN`` (default ``settings.language``)."""
    code = str(language or settings.language).strip().lower().replace("_", "-").split("-")[0]
    return "en" if code == "en" else "zh"


def text(key: str, language: str | None = None) -> str:
    """Return the string `key` in `language` (``zh`` for any language but English)."""
    return table()[key][short_code(language)]
