"""Package-wide defaults, in one place, with their units and sources.

Change a value for the whole session by assignment, e.g.
``planning.settings.walk_speed_m_s = 1.1``; every function that uses a default also
takes it as a keyword argument.
"""

from __future__ import annotations

#: Walking speed of older pedestrians in metres per second (STANDARDS.md §2:
#: measured 65+ mean 0.97 m/s, 15th percentile 0.92 m/s; 0.8 m/s is a cautious default
#: so that a 15-minute circle is 720 m of network distance).
walk_speed_m_s: float = 0.8

#: The GB 50180-2018 "standard" mode: 1000 m in 15 minutes.
standard_walk_speed_m_s: float = 1000.0 / 900.0

#: Service-circle thresholds in minutes (GB 50180-2018 life circles).
thresholds_min: tuple[int, ...] = (5, 10, 15)

#: Points farther than this from every network edge are reported unreachable (metres).
max_snap_m: float = 300.0

#: Cell size in metres of the grid on which service areas are drawn when the demand has
#: no raster grid of its own (point or polygon demand); raster demand uses its raster.
service_area_cell_m: float = 50.0

#: Show tqdm progress bars on long steps.
progress: bool = True

#: Most sources searched in one bounded shortest-path call (their windows side by side).
dijkstra_chunk_size: int = 1024

#: Our walk-filter rules applied on top of osmnx's walk filter to OpenStreetMap ways
#: (planning.network._walkfilter): no walking on elevated or tunnelled trunk/motorway
#: roads, on motorroad=yes, nor on trunk/primary roads tagged without sidewalk.
walk_exclude: tuple[str, ...] = ("elevated", "tunnel", "motorroad", "no_sidewalk")

#: Units of one level may overlap by at most this many square metres (digitising slivers
#: along shared boundaries); larger overlaps are an error, since a place in two units
#: would be counted in one only.
unit_overlap_tolerance_m2: float = 100.0
