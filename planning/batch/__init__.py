"""Many districts at once: each scenario one task on a Dask cluster, one summary report.

:func:`run_many` (``planning batch SCENARIO... --out DIR``) runs every scenario as a task
on ``dask.distributed`` (a local cluster of worker processes by default, or the user's
scheduler), writes each district's run folder as ``planning run`` does, and brings them
together in the batch folder:

- ``index.html``: each district's older people, coverage at each threshold, targets met,
  largest gap, proposed sites and 四同步 verdicts, with a link to its folder, and the
  targets by district; ``map.html``, a small map of the district outlines coloured by
  coverage (``districts.gpkg`` holds the same layer);
- ``summary.csv`` (UTF-8 with BOM, for Excel) and ``summary.xlsx`` (sheets ``summary``,
  ``targets`` and ``columns``): a row per district;
- ``batch.json``: the scheduler, workers, versions and, per district, its status, error,
  timings, input files with SHA-256 and the hash of its parameters.

One failing district never stops the others. A rerun into the same folder skips the
districts whose inputs and parameters are unchanged and whose run folder is complete
(``force=True`` redoes them). Dask is an extra: ``pip install -e ".[dask]"``.
"""

from __future__ import annotations

from planning.batch._cluster import DaskMissingError, WorkerPathError
from planning.batch._run import BATCH_FORMAT_VERSION, BatchResult, run_many

__all__ = [
    "BATCH_FORMAT_VERSION",
    "BatchResult",
    "DaskMissingError",
    "WorkerPathError",
    "run_many",
]
