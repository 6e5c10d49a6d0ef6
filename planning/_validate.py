"""Input checks shared by the readers: CRS, ids, columns, emptiness."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planning._errors import CRSError, InputError


def describe(name: str | Path | None) -> str:
    """Return a short label for a layer or file used in messages."""
    return f"'{name}'" if name is not None else "the layer"


def require_projected(gdf: gpd.GeoDataFrame, name: str) -> None:
    """Raise CRSError unless `gdf` is in a projected CRS in metres."""
    if gdf.crs is None or not gdf.crs.is_projected:
        msg = (
            f"`{name}` must be in a projected CRS in metres, got {gdf.crs}. "
            f"Reproject first, e.g. `{name}.to_crs({name}.estimate_utm_crs())`."
        )
        raise CRSError(msg)


def require_crs(gdf: gpd.GeoDataFrame, name: str | Path | None) -> None:
    """Raise CRSError when a layer carries no CRS."""
    if gdf.crs is None:
        msg = (
            f"{describe(name)} has no coordinate reference system. Give it one: in the "
            "scenario add `crs: EPSG:4326` (or `gcj02`, `bd09`, or the EPSG code of the "
            "layer) next to the path, or in Python `gdf.set_crs('EPSG:4326')`."
        )
        raise CRSError(msg)


def require_not_empty(gdf: pd.DataFrame, name: str | Path | None) -> None:
    """Raise InputError for a layer without rows."""
    if len(gdf) == 0:
        msg = f"{describe(name)} is empty: it has no features or rows. Check the file and layer."
        raise InputError(msg)


def require_columns(df: pd.DataFrame, columns: Iterable[str], name: str | Path | None) -> None:
    """Raise InputError naming the missing columns and suggesting close matches."""
    have = [str(c) for c in df.columns]
    for col in columns:
        if col not in df.columns:
            close = get_close_matches(col, have, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            msg = (
                f"{describe(name)} has no column '{col}'.{hint} Columns present: "
                f"{', '.join(have)}. Rename the column or map it in the scenario."
            )
            raise InputError(msg)


def require_unique(values: pd.Series, column: str, name: str | Path | None) -> None:
    """Raise InputError naming duplicated ids and their rows."""
    dup = values[values.duplicated(keep=False)]
    if len(dup):
        first = dup.iloc[0]
        rows = [str(i) for i in dup.index[dup == first][:5]]
        msg = (
            f"{describe(name)}: column '{column}' must be unique, but {dup.nunique()} value(s) "
            f"repeat, e.g. {first!r} in rows {', '.join(rows)}. Give every feature its own id."
        )
        raise InputError(msg)


def require_numeric(
    df: pd.DataFrame, column: str, name: str | Path | None, *, min_value: float | None = 0.0
) -> np.ndarray:
    """Return `column` as floats; raise InputError naming the first bad row."""
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() & df[column].notna()
    if bad.any():
        row: Any = bad.idxmax()
        msg = (
            f"{describe(name)}: column '{column}' must be numeric, row {row} has "
            f"{df[column].loc[row]!r}. Fix the value or leave the cell empty."
        )
        raise InputError(msg)
    if min_value is not None and (values < min_value).any():
        row = (values < min_value).idxmax()
        msg = (
            f"{describe(name)}: column '{column}' must be ≥ {min_value}, row {row} has "
            f"{values.loc[row]}. Correct the value."
        )
        raise InputError(msg)
    return np.asarray(values.to_numpy(dtype=float, na_value=np.nan))


def suggest(key: str, allowed: Sequence[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest allowed key, or an empty string."""
    close = get_close_matches(key, list(allowed), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""
