"""Run many scenarios as tasks on a Dask cluster and bring their results together."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from planning import __version__, settings
from planning._errors import InputError, error_message
from planning.batch._cluster import check_worker_paths, distributed, open_client, workers_of
from planning.batch._outputs import batch_language, write_outputs
from planning.batch._task import DONE, FAILED, SKIPPED, parameters_hash, run_district
from planning.scenario import Scenario, load_scenario

#: Version of the layout of ``batch.json``.
BATCH_FORMAT_VERSION = 1
#: Times Dask reruns a task that raised an error of the machine (OSError, MemoryError).
RETRIES = 2


@dataclass
class BatchResult:
    """What a batch produced: one record per district, the summary and where it went.

    Attributes
    ----------
    out_dir : Path
        The batch folder (``index.html``, ``summary.csv``, ``summary.xlsx``,
        ``map.html``, ``batch.json`` and one run folder per district).
    records : list of dict
        Per district, in the order given: ``name``, ``scenario``, ``folder``, ``status``
        (``done``, ``skipped`` or ``failed``), ``error``, ``inputs``, ``timings_s``,
        ``wall_s``, ``worker``, ``peak_rss_mb``.
    summary : pandas.DataFrame
        One row per district (the rows of ``summary.csv``).
    scheduler : dict
        ``kind`` (``local``, ``remote`` or ``client``), ``address`` and ``dashboard``.
    wall_s : float
        Wall time of the whole batch in seconds.
    workers : list of dict
        The cluster's workers: address, host, threads, memory limit in bytes.
    language : str
        Language of the batch pages.

    """

    out_dir: Path
    records: list[dict[str, Any]]
    summary: pd.DataFrame
    scheduler: dict[str, Any]
    wall_s: float
    workers: list[dict[str, Any]] = field(default_factory=list)
    language: str = "zh"

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The records of the districts that failed."""
        return [r for r in self.records if r["status"] == FAILED]

    def map(self, *, height: str = "500px") -> Any:
        """Return the map of the districts (``map.html``) for display, e.g. in Jupyter.

        Raises
        ------
        InputError
            When no district has a run folder to draw (all failed).

        """
        import geopandas as gpd

        from planning.report.overview import districts_map

        path = self.out_dir / "districts.gpkg"
        if not path.is_file():
            msg = f"{self.out_dir}: no district finished, so there is no map to draw."
            raise InputError(msg)
        districts = gpd.read_file(path, layer="districts")
        ths = [
            c.removeprefix("coverage_share_").removesuffix("min")
            for c in districts.columns
            if re.fullmatch(r"coverage_share_[\d.]+min", c)
        ]
        return districts_map(districts, ths, language=self.language, height=height)

    def _repr_html_(self) -> str:
        counts = {s: sum(r["status"] == s for r in self.records) for s in (DONE, SKIPPED, FAILED)}
        head = (
            f"<p>{len(self.records)} districts: {counts[DONE]} run, {counts[SKIPPED]} "
            f"unchanged (skipped), {counts[FAILED]} failed, in {self.wall_s:.1f} s "
            f"&rarr; {html.escape(str(self.out_dir / 'index.html'))}</p>"
        )
        return head + str(self.summary.to_html(index=False, na_rep="–"))


def run_many(
    scenarios: list[str | Path],
    out_dir: str | Path,
    client: Any = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    language: str | None = None,
) -> BatchResult:
    """Run every scenario as one Dask task and write the batch folder.

    Parameters
    ----------
    scenarios : list of str or Path
        Scenario files, one per district (each needs a unique ``name``).
    out_dir : str or Path
        Batch folder; each district's run folder is ``out_dir/<name>``.
    client : distributed.Client, optional
        A client of a running cluster; default: a cluster opened for this batch.
    workers : int, optional
        Worker processes of the local cluster (default: CPU count, at most 4).
    scheduler : str, optional
        Address of the user's Dask scheduler instead of a local cluster. Workers must
        see the input files and `out_dir` by the same paths: this is checked first.
    force : bool
        Rerun districts that are unchanged since the last batch into `out_dir`.
    language : str, optional
        Language of the batch pages (``zh`` or ``en``); default the scenarios' own
        (the most common ``language:``).

    Returns
    -------
    BatchResult

    Raises
    ------
    DaskMissingError
        When dask.distributed is not installed.
    InputError
        When no scenario is given, or workers miss paths (a district whose own input
        is unusable fails alone and is recorded instead).

    """
    if not scenarios:
        msg = "planning batch: give at least one scenario file, e.g. scenarios/*.yaml."
        raise InputError(msg)
    dd = distributed()
    start = time.perf_counter()
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    previous = _previous_records(out)
    jobs, records = _plan(scenarios, out, previous, force)
    others = [r for name, r in previous.items() if name not in records]
    if client is None:
        with open_client(workers=workers, scheduler=scheduler) as (own, info):
            return _finish(own, info, jobs, (records, others), out, start, language, dd)
    info = {"kind": "client", "address": str(client.scheduler.address), "dashboard": None}
    return _finish(client, info, jobs, (records, others), out, start, language, dd)


def _finish(
    client: Any,
    info: dict[str, Any],
    jobs: list[dict[str, Any]],
    both: tuple[dict[str, dict[str, Any]], list[dict[str, Any]]],
    out: Path,
    start: float,
    language: str | None,
    dd: Any,
) -> BatchResult:
    records, others = both
    if info.get("dashboard") and settings.progress:
        print(f"Dask dashboard: {info['dashboard']}", file=sys.stderr)
    check_worker_paths(client, {j["name"]: j["needs"] for j in jobs})
    _gather(client, jobs, records, dd)
    ordered = [records[k] for k in records]
    wall = round(time.perf_counter() - start, 3)
    workers = workers_of(client)
    run_info = {
        "scheduler": f"{info['kind']} {info['address']}",
        "dashboard": info.get("dashboard"),
        "n_workers": len(workers),
        "wall_s": wall,
    }
    summary = write_outputs(ordered, out, language=language, run_info=run_info)
    wall = round(time.perf_counter() - start, 3)
    _write_record(out, info, workers, ordered, wall, others)
    lang = batch_language(ordered, language)
    return BatchResult(out, ordered, summary, info, wall, workers, lang)


def _gather(
    client: Any, jobs: list[dict[str, Any]], records: dict[str, dict[str, Any]], dd: Any
) -> None:
    futures = {}
    for job in jobs:
        task = {k: v for k, v in job.items() if k != "needs"}
        key = f"planning-{job['folder']}-{uuid.uuid4().hex[:8]}"
        fut = client.submit(run_district, task, key=key, pure=False, retries=RETRIES)
        futures[fut] = job["name"]
    bar = tqdm(total=len(futures), desc="districts", unit="district", disable=not settings.progress)
    for fut in dd.as_completed(list(futures)):
        name = futures[fut]
        try:
            rec = fut.result()
        except Exception as exc:  # the task's last attempt raised, or its workers died
            rec = {"status": FAILED, "error": _task_error(exc, dd), "traceback": _trace(exc)}
        records[name].update(rec)
        if rec["status"] == FAILED:
            bar.write(f"{name}: {rec['error']}")
        bar.set_postfix_str(f"{name} {rec['status']}", refresh=False)
        bar.update(1)
    bar.close()


def _task_error(exc: BaseException, dd: Any) -> str:
    if isinstance(exc, dd.KilledWorker):
        return (
            "error: the workers running this district died repeatedly (each time the task was "
            "moved to another worker), most often for lack of memory: give the workers more "
            "memory (fewer workers per machine) and run the batch again."
        )
    return error_message(exc)


def _trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _previous_records(out: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((out / "batch.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format_version") != BATCH_FORMAT_VERSION:
        return {}
    found = [*data.get("other_districts", []), *data.get("districts", [])]
    return {str(r["name"]): r for r in found if isinstance(r, dict) and "name" in r}


def _folder(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "district"


def _plan(
    scenarios: list[str | Path],
    out: Path,
    previous: dict[str, dict[str, Any]],
    force: bool,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Load every scenario; return the jobs to submit and a record per district."""
    jobs: list[dict[str, Any]] = []
    records: dict[str, dict[str, Any]] = {}
    folders: dict[str, str] = {}
    for spec in scenarios:
        path = Path(spec).resolve()
        base = {"scenario": str(path), "inputs": [], "timings_s": {}, "wall_s": 0.0}
        try:
            sc = load_scenario(path)
            folder = _folder(sc.name)
            if folder in folders:
                msg = (
                    f"{path}: scenarios {folders[folder]} and {path} both write "
                    f"{out / folder}; give each district a unique `name:`."
                )
                raise InputError(msg)
            params = parameters_hash(sc)
        except InputError as exc:
            key = f"{path.stem} ({len(records) + 1})" if path.stem in records else path.stem
            records[key] = {
                **base,
                "name": key,
                "folder": None,
                "status": FAILED,
                "error": error_message(exc),
            }
            continue
        folders[folder] = str(path)
        run_dir = out / folder
        records[sc.name] = {
            **base,
            "name": sc.name,
            "title": sc.data.get("title"),
            "language": str(sc.data.get("language", "zh")),
            "folder": folder,
            "status": "pending",
        }
        jobs.append(
            {
                "name": sc.name,
                "folder": folder,
                "scenario": str(path),
                "out_dir": str(run_dir),
                "params_hash": params,
                "force": force,
                "previous": previous.get(sc.name),
                "needs": [str(path), str(out), *_existing_inputs(sc)],
            }
        )
    return jobs, records


def _existing_inputs(sc: Scenario) -> list[str]:
    """Return the input paths a scenario names that exist on this machine."""
    found: list[str] = []
    for key in ("network", "stations", "units", "developments", "population"):
        spec = sc.section(key)
        values = [spec.get("path"), spec.get("facilities")]
        for group in ("elderly", "population"):
            v = spec.get(group) if key == "population" else None
            values += v if isinstance(v, list) else [v]
        found += [str(sc.resolve(v)) for v in values if isinstance(v, str)]
    cand = sc.section("siting").get("candidates")
    cand_path = cand.get("path") if isinstance(cand, dict) else cand
    if isinstance(cand_path, str):
        found.append(str(sc.resolve(cand_path)))
    prev = sc.data.get("previous")
    if isinstance(prev, str):
        found.append(str(sc.resolve(prev)))
    return [p for p in dict.fromkeys(found) if Path(p).exists()]


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "planning": __version__}
    for name in ("dask", "distributed", "numpy", "scipy", "pandas", "geopandas", "highspy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _write_record(
    out: Path,
    info: dict[str, Any],
    workers: list[dict[str, Any]],
    records: list[dict[str, Any]],
    wall_s: float,
    others: list[dict[str, Any]],
) -> None:
    """Write ``batch.json``: scheduler, workers, versions and every district's record.

    ``other_districts`` keeps the records of districts of earlier batches into the same
    folder that this batch did not name, so that running a few districts again does not
    make the next full batch redo the others.
    """
    record = {
        "format_version": BATCH_FORMAT_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "scheduler": info,
        "workers": workers,
        "versions": _versions(),
        "wall_s": wall_s,
        "counts": {s: sum(r["status"] == s for r in records) for s in (DONE, SKIPPED, FAILED)},
        "districts": records,
        "other_districts": others,
    }
    (out / "batch.json").write_text(
        json.dumps(record, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
