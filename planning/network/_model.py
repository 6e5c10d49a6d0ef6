"""The `Network` type: nodes and edges in a metric CRS, travel-time matrix, exclusions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from pyproj import CRS
from scipy import sparse

from planning._errors import InputError

Components = Literal["largest", "keep"]


Noding = Literal["vertices", "endpoints", "crossings"]


@dataclass
class Network:
    """An undirected walking network in a projected metric CRS.

    Attributes
    ----------
    nodes : geopandas.GeoDataFrame
        One row per node, index ``0..n-1``; columns ``x``, ``y``, ``component``.
    edges : geopandas.GeoDataFrame
        One row per edge, index ``0..m-1``; columns ``u``, ``v`` (node positions, the
        geometry runs from ``u`` to ``v``), ``length_m``, ``travel_time_s``.
    walk_speed_m_s : float
        Walking speed used for ``travel_time_s``, metres per second.
    source : str
        Where the network came from (path or query).
    excluded : pandas.DataFrame
        What was left out and why: columns ``item``, ``reason``, ``count``, ``length_m``.

    """

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    walk_speed_m_s: float
    source: str
    excluded: pd.DataFrame = field(default_factory=lambda: _excluded_frame([]))
    components: pd.DataFrame = field(default_factory=pd.DataFrame)
    _csr: sparse.csr_matrix | None = field(default=None, repr=False)

    @property
    def crs(self) -> CRS:
        """The projected CRS of nodes and edges."""
        return CRS.from_user_input(self.edges.crs)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    def csr(self) -> sparse.csr_matrix:
        """Return the symmetric node × node matrix of edge travel times in seconds.

        Parallel edges keep their shortest time; self-loops are left out (they never
        shorten a path).
        """
        if self._csr is None:
            self._csr = _travel_time_matrix(
                self.edges["u"].to_numpy(),
                self.edges["v"].to_numpy(),
                self.edges["travel_time_s"].to_numpy(),
                self.n_nodes,
            )
        return self._csr

    def with_speed(self, walk_speed_m_s: float) -> Network:
        """Return a copy whose ``travel_time_s`` is computed at another walking speed."""
        _check_speed(walk_speed_m_s)
        edges = self.edges.copy()
        edges["travel_time_s"] = edges["length_m"] / walk_speed_m_s
        return Network(
            self.nodes, edges, walk_speed_m_s, self.source, self.excluded, self.components
        )

    def to_networkx(self) -> nx.MultiGraph:
        """Return the network as a networkx MultiGraph (node keys are node positions)."""
        g = nx.MultiGraph(crs=self.crs)
        g.add_nodes_from(
            (int(i), {"x": float(x), "y": float(y)})
            for i, x, y in zip(self.nodes.index, self.nodes["x"], self.nodes["y"], strict=True)
        )
        g.add_edges_from(
            (int(u), int(v), {"length_m": float(le), "travel_time_s": float(t)})
            for u, v, le, t in zip(
                self.edges["u"],
                self.edges["v"],
                self.edges["length_m"],
                self.edges["travel_time_s"],
                strict=True,
            )
        )
        return g

    def summary(self) -> dict[str, Any]:
        """Return counts and lengths for reports and ``run.json``."""
        return {
            "source": self.source,
            "crs": self.crs.to_string(),
            "walk_speed_m_s": self.walk_speed_m_s,
            "nodes": int(self.n_nodes),
            "edges": len(self.edges),
            "length_km": round(float(self.edges["length_m"].sum()) / 1000.0, 3),
            "components": len(self.components),
            "excluded": self.excluded.to_dict(orient="records"),
        }


def _excluded_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item", "reason", "count", "length_m"])


def _check_speed(walk_speed_m_s: float) -> None:
    if not np.isfinite(walk_speed_m_s) or walk_speed_m_s <= 0:
        msg = (
            f"walk_speed_m_s must be a positive number of metres per second, got {walk_speed_m_s}."
        )
        raise InputError(msg)


def _travel_time_matrix(
    u: np.ndarray, v: np.ndarray, time_s: np.ndarray, n: int
) -> sparse.csr_matrix:
    keep = u != v
    u, v, time_s = u[keep], v[keep], np.maximum(time_s[keep], 1e-9)
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    data = np.concatenate([time_s, time_s])
    order = np.lexsort((data, cols, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    mat = sparse.csr_matrix((data[first], (rows[first], cols[first])), shape=(n, n))
    return mat


def _row(item: str, reason: str, count: int, length_m: float) -> dict[str, Any]:
    return {"item": item, "reason": reason, "count": count, "length_m": round(length_m, 1)}
