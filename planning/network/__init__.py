"""The network stage."""

from __future__ import annotations

from planning.network._lines import (
    Network,
    choose_metric_crs,
    network_from_lines,
    network_from_osmnx,
    network_from_xml,
    read_network,
)

__all__ = [
    "Network",
    "choose_metric_crs",
    "network_from_lines",
    "network_from_osmnx",
    "network_from_xml",
    "read_network",
]
