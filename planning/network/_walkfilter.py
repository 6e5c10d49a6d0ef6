"""Which OpenStreetMap ways are walkable, and the reason for each one that is not.

Two layers, tried in this order:

1. **osmnx 2.1's** ``network_type="walk"`` **filter, exactly**: the Overpass filter of
   ``osmnx._overpass._get_network_filter("walk")`` with osmnx's default access rule, evaluated
   as Overpass does: ``["highway"]`` needs the key, and ``["k"!~"re"]`` drops a way whose
   value of ``k`` matches the regular expression ``re`` anywhere (unanchored, case
   sensitive), keeping ways without the key. So ``highway=motorway`` (``motor``) and
   ``foot=no`` are dropped, and also ``highway=unknown`` (``no``), as osmnx does.
2. **Our rules** (:data:`WALK_RULES`), on by default, each chosen by name with
   ``exclude=``: nobody walks on

   - ``elevated``: a trunk- or motorway-class road (``highway`` = ``trunk``,
     ``trunk_link``, ``motorway``, ``motorway_link``) with a ``bridge`` tag other than
     ``no`` -- elevated expressways; ``layer`` is not looked at;
   - ``tunnel``: such a road with a ``tunnel`` tag other than ``no``;
   - ``motorroad``: any way tagged ``motorroad=yes`` (motor-road rules bar pedestrians);
   - ``no_sidewalk``: a ``trunk``, ``trunk_link``, ``primary`` or ``primary_link`` road
     without sidewalks: ``sidewalk`` or ``sidewalk:both`` is ``no``/``none``, or both
     ``sidewalk:left`` and ``sidewalk:right`` are.

   A way explicitly open to pedestrians, ``foot`` = ``yes``, ``designated`` or
   ``permissive``, is kept by all four; ``elevated`` and ``tunnel`` also keep a way mapped
   with a sidewalk (``sidewalk``, ``sidewalk:both``, ``:left`` or ``:right`` = ``yes``,
   ``both``, ``left`` or ``right``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from planning._errors import InputError

#: Our own exclusion rules, by name (see the module docstring for the exact tags).
WALK_RULES: dict[str, str] = {
    "elevated": "trunk/motorway-class road on a bridge",
    "tunnel": "trunk/motorway-class road in a tunnel",
    "motorroad": "motorroad=yes, closed to pedestrians",
    "no_sidewalk": "trunk/primary-class road tagged without sidewalk",
}

#: osmnx 2.1 ``network_type="walk"``: each ``["key"!~"regex"]`` clause, in filter order,
#: with ``settings.default_access`` (``["access"!~"private"]``) in its place.
OSMNX_WALK_CLAUSES: tuple[tuple[str, str], ...] = (
    ("area", "yes"),
    ("access", "private"),
    (
        "highway",
        "abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|proposed|"
        "raceway|razed|rest_area|services",
    ),
    ("foot", "no"),
    ("service", "private"),
    ("sidewalk", "separate"),
    ("sidewalk:both", "separate"),
    ("sidewalk:left", "separate"),
    ("sidewalk:right", "separate"),
)

_CLAUSES = tuple((key, re.compile(pattern)) for key, pattern in OSMNX_WALK_CLAUSES)
_FAST = {"trunk", "trunk_link", "motorway", "motorway_link"}
_MAJOR = {"trunk", "trunk_link", "primary", "primary_link"}
_FOOT_OK = {"yes", "designated", "permissive"}
_SIDEWALK_KEYS = ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")
_HAS_SIDEWALK = {"yes", "both", "left", "right"}
_NO_SIDEWALK = {"no", "none"}

NO_HIGHWAY = "no highway tag"


def check_exclude(exclude: Iterable[str] | str) -> tuple[str, ...]:
    """Return the rule names of `exclude` as a tuple, refusing unknown names.

    Raises
    ------
    InputError
        When `exclude` is a bare string or names a rule that does not exist; the message
        lists the valid names.

    """
    valid = ", ".join(WALK_RULES)
    if isinstance(exclude, str) or not isinstance(exclude, Iterable):
        msg = f"exclude must be a list of rule names out of {valid}; got {exclude!r}."
        raise InputError(msg)
    names = tuple(exclude)
    unknown = [n for n in names if n not in WALK_RULES]
    if unknown:
        msg = (
            f"Unknown walk exclusion rule(s) {', '.join(map(repr, unknown))}: "
            f"the valid ones are {valid} (use [] to keep all such ways)."
        )
        raise InputError(msg)
    return tuple(dict.fromkeys(names))


def osmnx_walk_reason(tags: Mapping[str, Any]) -> str | None:
    """Return why osmnx 2.1's walk filter drops a way with these tags, or None if kept."""
    if "highway" not in tags:
        return NO_HIGHWAY
    for key, pattern in _CLAUSES:
        value = tags.get(key)
        if isinstance(value, str) and pattern.search(value):
            return f"osmnx walk filter: {key}={value}"
    return None


def rule_reason(tags: Mapping[str, Any], exclude: Iterable[str]) -> str | None:
    """Return the first of our rules in `exclude` that drops a way, or None."""
    if tags.get("foot") in _FOOT_OK:
        return None
    highway = tags.get("highway")
    has_sidewalk = any(tags.get(k) in _HAS_SIDEWALK for k in _SIDEWALK_KEYS)
    tests = {
        "elevated": highway in _FAST and _set_not_no(tags, "bridge") and not has_sidewalk,
        "tunnel": highway in _FAST and _set_not_no(tags, "tunnel") and not has_sidewalk,
        "motorroad": tags.get("motorroad") == "yes",
        "no_sidewalk": highway in _MAJOR and _without_sidewalk(tags),
    }
    for name in exclude:
        if tests[name]:
            return f"{name}: {WALK_RULES[name]}"
    return None


def walk_reason(tags: Mapping[str, Any], exclude: Iterable[str]) -> str | None:
    """Return why a way is not walkable (osmnx's filter first, then our rules), or None."""
    return osmnx_walk_reason(tags) or rule_reason(tags, exclude)


def describe_filter(exclude: Iterable[str]) -> str:
    """Name the filter in force, for messages."""
    rules = ", ".join(exclude) or "none"
    return f"osmnx 2.1 network_type='walk' filter plus exclude=[{rules}]"


def _set_not_no(tags: Mapping[str, Any], key: str) -> bool:
    value = tags.get(key)
    return isinstance(value, str) and value != "no"


def _without_sidewalk(tags: Mapping[str, Any]) -> bool:
    side = {k: tags.get(k) in _NO_SIDEWALK for k in _SIDEWALK_KEYS}
    return (
        side["sidewalk"]
        or side["sidewalk:both"]
        or (side["sidewalk:left"] and side["sidewalk:right"])
    )
