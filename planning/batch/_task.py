"""One district of a batch: the task a Dask worker runs, and the checks that let a rerun skip it.

A task is a plain dictionary (a *job*) in and a plain dictionary (a *record*) out, so that it
pickles to any worker. :func:`run_district` runs ``planning run`` on one scenario into its
run folder. An unusable input comes back as a ``failed`` record with the message
``planning run`` prints, and so does any other error that would only repeat (with its
traceback); errors of the machine (``OSError``, ``MemoryError``) are raised, so that Dask
retries the task, and a worker that dies has its task moved to another worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from planning import __version__, settings
from planning._errors import InputError, error_message
from planning.report import is_complete
from planning.scenario import Scenario

#: Statuses of a district in ``batch.json``.
DONE, SKIPPED, FAILED = "done", "skipped", "failed"


def parameters_hash(sc: Scenario) -> str:
    """Return the SHA-256 of what a run of `sc` depends on besides its input files.

    That is the scenario's content (every parameter, path and section), the version of
    this package (its built-in rule sets and methods) and, when ``rules`` names a YAML
    file, that file's content.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(sc.data, sort_keys=True, default=str).encode("utf-8"))
    digest.update(__version__.encode("utf-8"))
    rules = sc.data.get("rules")
    name = rules.get("name") if isinstance(rules, dict) else rules
    if isinstance(name, str) and name.endswith((".yaml", ".yml")):
        path = sc.resolve(name)
        digest.update(path.read_bytes() if path.is_file() else b"missing")
    return digest.hexdigest()


def inputs_unchanged(inputs: list[dict[str, Any]]) -> bool:
    """Return True when every recorded input file still has its recorded SHA-256."""
    from planning.workflow import record_input

    for item in inputs:
        if not item.get("sha256"):  # a download (osmnx) cannot be checked: rerun
            return False
        now: list[dict[str, Any]] = []
        record_input(now, str(item.get("role", "")), Path(str(item["path"])))
        if now[0]["sha256"] != item["sha256"] or now[0]["bytes"] != item.get("bytes"):
            return False
    return True


def can_skip(job: dict[str, Any]) -> bool:
    """Return True when the job's district is unchanged since its last run and complete."""
    prev = job.get("previous") or {}
    return (
        not job.get("force")
        and prev.get("status") in (DONE, SKIPPED)
        and prev.get("params_hash") == job["params_hash"]
        and bool(prev.get("inputs"))
        and is_complete(Path(job["out_dir"]))
        and inputs_unchanged(prev["inputs"])
    )


def _where() -> dict[str, Any]:
    try:
        from distributed import get_worker

        worker = str(get_worker().address)
    except (ImportError, ValueError):
        worker = "local process"
    return {
        "worker": worker,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def _peak_rss_mb() -> float:
    """Return this process's peak resident memory in MiB.

    Linux keeps ``ru_maxrss`` across the fork and exec that start a worker process, so a
    worker would report its parent's peak: the high-water mark of the process's own
    memory (``VmHWM``) is read instead where it exists.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _failed(base: dict[str, Any], exc: Exception, start: float, *, trace: bool) -> dict[str, Any]:
    rec = {
        **base,
        "status": FAILED,
        "error": error_message(exc),
        "inputs": [],
        "timings_s": {},
        "wall_s": round(time.perf_counter() - start, 3),
        **_where(),
    }
    if trace:
        rec["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return rec


def run_district(job: dict[str, Any]) -> dict[str, Any]:
    """Run one district's scenario into its run folder and return its record.

    Parameters
    ----------
    job : dict
        ``name``, ``scenario`` (absolute path), ``out_dir`` (absolute path of its run
        folder), ``params_hash``, ``force`` and ``previous`` (its record in the last
        ``batch.json``, or None).

    Returns
    -------
    dict
        ``status`` (``done``, ``skipped`` or ``failed``), ``error`` (the message
        ``planning run`` prints), ``inputs`` (files with SHA-256, as ``run.json`` has them),
        ``timings_s`` (per step), ``wall_s``, and where it ran (``worker``, ``host``,
        ``pid``, ``peak_rss_mb``: the process's peak resident memory so far).

    Raises
    ------
    OSError, MemoryError
        So that Dask retries the task (a full disk, a lost share, memory pressure).

    """
    from planning.workflow import run_scenario

    start = time.perf_counter()
    base = {"name": job["name"], "params_hash": job["params_hash"]}
    if can_skip(job):
        prev = job["previous"]
        return {
            **base,
            "status": SKIPPED,
            "error": None,
            "inputs": prev["inputs"],
            "timings_s": prev.get("timings_s", {}),
            "wall_s": round(time.perf_counter() - start, 3),
            **_where(),
        }
    out_dir = Path(job["out_dir"])
    (out_dir / "run.json").unlink(missing_ok=True)  # an interrupted rerun is never "complete"
    settings.progress = False
    logging.getLogger("planning").setLevel(logging.WARNING)
    try:
        result = run_scenario(job["scenario"], out_dir=out_dir)
    except InputError as exc:
        return _failed(base, exc, start, trace=False)
    except (OSError, MemoryError):
        raise
    except Exception as exc:  # a bug or a library error: the same input fails the same way
        return _failed(base, exc, start, trace=True)
    return {
        **base,
        "status": DONE,
        "error": None,
        "inputs": result.inputs,
        "timings_s": result.timings_s,
        "wall_s": round(time.perf_counter() - start, 3),
        **_where(),
    }
