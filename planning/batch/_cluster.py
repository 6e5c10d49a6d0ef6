"""The Dask cluster of a batch: a local one by default, or the user's; and what workers see.

Only this package imports Dask (``pip install -e ".[dask]"``). A local cluster binds to
127.0.0.1 (no network), runs one single-threaded worker process per district slot, keeps
Dask's log lines off the console and has a dashboard only when ``bokeh`` is installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from planning._errors import InputError

_INSTALL = 'pip install -e ".[dask]"'


class DaskMissingError(ImportError):
    """``dask.distributed`` is not installed: the batch needs the ``dask`` extra."""


class WorkerPathError(InputError):
    """Some workers of the cluster cannot see input paths that this machine sees."""


def distributed() -> Any:
    """Return the ``distributed`` module, or raise a message that says how to install it.

    Raises
    ------
    DaskMissingError
        When ``dask.distributed`` cannot be imported.

    """
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        msg = (
            "`planning batch` runs each district as a task on dask.distributed, which is not "
            f"installed ({exc}). Install the extra with `{_INSTALL}` (or `conda install -c "
            "conda-forge dask distributed`), or run the districts one by one with "
            "`planning run SCENARIO`."
        )
        raise DaskMissingError(msg) from exc


@contextmanager
def open_client(
    *, workers: int | None = None, scheduler: str | None = None
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Yield a Dask client and a description of its scheduler, and close what was opened.

    Parameters
    ----------
    workers : int, optional
        Number of worker processes of the local cluster (default: the CPU count, at
        most 4); ignored with `scheduler`.
    scheduler : str, optional
        Address of the user's scheduler, e.g. ``tcp://10.0.0.5:8786``.

    """
    dd = distributed()
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the scheduler, nanny and client log INFO lines otherwise
    try:
        with _client(dd, workers, scheduler) as opened:
            yield opened
    finally:
        quiet.setLevel(level)


@contextmanager
def _client(
    dd: Any, workers: int | None, scheduler: str | None
) -> Iterator[tuple[Any, dict[str, Any]]]:
    if scheduler:
        try:
            client = dd.Client(scheduler, timeout="20s")
        except OSError as exc:
            msg = (
                f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({exc}). Start "
                "one with `dask scheduler` and workers with `dask worker ADDRESS`, or leave "
                "out --scheduler to run on a local cluster."
            )
            raise InputError(msg) from exc
        try:
            yield client, {"kind": "remote", "address": scheduler, "dashboard": _dashboard(client)}
        finally:
            client.close()
        return
    n = workers or min(os.cpu_count() or 1, 4)
    cluster = dd.LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # its HTTP server runs even without bokeh
        silence_logs=logging.ERROR,
    )
    client = dd.Client(cluster)
    try:
        info = {"kind": "local", "address": cluster.scheduler_address, "n_workers": n}
        yield client, {**info, "dashboard": _dashboard(client)}
    finally:
        client.close()
        cluster.close()


def _dashboard(client: Any) -> str | None:
    if importlib.util.find_spec("bokeh") is None:
        return None
    try:
        return str(client.dashboard_link)
    except (AttributeError, KeyError):
        return None


def workers_of(client: Any) -> list[dict[str, Any]]:
    """Return each worker's address, host, threads and memory limit in bytes."""
    info = client.scheduler_info()["workers"]
    return [
        {
            "address": addr,
            "host": w.get("host"),
            "nthreads": w.get("nthreads"),
            "memory_limit": w.get("memory_limit"),
        }
        for addr, w in sorted(info.items())
    ]


def missing_paths(paths: list[str]) -> list[str]:
    """Return the paths that do not exist here (run on every worker by the batch)."""
    return [p for p in paths if not Path(p).exists()]


def check_worker_paths(client: Any, needs: dict[str, list[str]]) -> None:
    """Check on every worker that each district's paths exist, as they do on this machine.

    Parameters
    ----------
    client : distributed.Client
    needs : dict
        District name → absolute paths it reads or writes (only paths that exist here).

    Raises
    ------
    WorkerPathError
        Naming every worker, the paths it misses and the districts that need them.

    """
    paths = sorted({p for ps in needs.values() for p in ps})
    if not paths:
        return
    found: dict[str, list[str]] = client.run(missing_paths, paths)
    lines = []
    for worker, missing in sorted(found.items()):
        for path in missing:
            who = ", ".join(sorted(d for d, ps in needs.items() if path in ps))
            lines.append(f"  {worker}: {path} (needed by {who})")
    if lines:
        msg = (
            "some Dask workers cannot see the batch's files, which they read and write by the "
            "same paths as this machine:\n" + "\n".join(lines) + "\nMount the data and the "
            "output folder at the same paths on every worker (e.g. a shared drive), or run "
            "without --scheduler on a local cluster."
        )
        raise WorkerPathError(msg)
