"""planning: site community elderly-care stations on real road networks.

The public modules are re-exported here; see the README for a tour.
"""

from __future__ import annotations

from planning import settings
from planning._errors import CRSError, InputError, ScenarioError

__version__ = "0.1.0"

__all__ = [
    "CRSError",
    "InputError",
    "ScenarioError",
    "__version__",
    "settings",
]
