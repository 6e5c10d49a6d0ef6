"""Find, read, extend and override rule sets: :func:`load_rules`, :func:`available_rule_sets`.

The packaged rule sets are the YAML files beside this module, found with
:mod:`importlib.resources` so that they are read from an installed package too.
"""

from __future__ import annotations

import copy
import difflib
import logging
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from planning._errors import InputError
from planning.standards._model import _ITEM_KEYS, _LIST_ID, _MAPPING_KEYS, _TOP_KEYS
from planning.standards._ruleset import RuleSet, _build
from planning.standards._schema import (
    _check_keys,
    _Ctx,
    _item_path,
    _list,
    _mapping,
    _parse_parts,
    _req,
)

logger = logging.getLogger(__name__)


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
