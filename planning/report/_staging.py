"""Atomic run folders: write into a hidden sibling, swap it in only when complete.

A run writes into ``.<name>.partial-<pid>`` next to the run folder ``<name>`` (same
parent, so the final rename is atomic); ``run.json`` with ``"status": "complete"`` is
written last, then the new folder takes the place of the old one (on Linux in one atomic
exchange, elsewhere by two renames). Until then the previous folder is untouched: a run
that fails, is interrupted (Ctrl-C, SIGTERM) or killed leaves it as it was. Leftovers
of killed runs (hidden ``.<name>.partial-*`` and ``.<name>.old-*`` siblings whose
process is gone, or on Windows that are a day old) are removed by the next run into the
same folder. When the run folder is a symbolic link, the folder it points to is replaced
and the link kept.

An existing folder is replaced only when it holds nothing but what a run writes: a
folder with other files (notes, a copy of the workbook under another name) is refused,
with the files named.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from planning._errors import OutputError
from planning._writing import check_output_dir, output_error, require_creatable

log = logging.getLogger(__name__)

#: Files a run may write at the top of its folder (and the single-layer GeoPackages that
#: earlier versions wrote, now layers of results.gpkg, so that their folders are replaced).
RUN_FILES = frozenset(
    {
        "index.html", "map.html", "annual.html", "run.json", "timings.json",
        "coverage.xlsx", "results.gpkg", "demand.gpkg", "service_areas.gpkg", "gaps.gpkg",
        "siting.gpkg", "coverage_units.csv", "coverage_stations.csv", "targets.csv",
        "excluded.csv", "siting.csv", "siting_curve.csv", "compliance.csv",
        "annual_units.csv", "annual_targets.csv", "annual_stations.csv",
    }
)  # fmt: skip
#: Sub-folders a run writes, with the suffixes of the files in them.
RUN_FOLDERS = {"units": (".html",), "charts": (".png",), "assets": (".js", ".css", ".txt")}
#: Files a file manager leaves in any folder; they do not stop a replacement.
_HARMLESS = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
#: Room a run needs beyond the size of the folder it replaces (bytes).
_SPARE_BYTES = 16 * 2**20


@contextmanager
def staged(out_dir: Path) -> Iterator[Path]:
    """Yield a fresh hidden sibling of `out_dir` to write into; swap it in on success.

    On an exception (or an interruption) the sibling is removed and `out_dir` is left
    as it was; a failed write is raised as :class:`OutputError` naming the file.
    """
    if out_dir.is_symlink():
        out_dir = out_dir.resolve()  # replace the folder the link points to, keep the link
    check_out_dir(out_dir)
    clean_leftovers(out_dir)
    tmp = _sibling(out_dir, "partial", os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        yield tmp
        _swap(tmp, out_dir)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _final_error(exc, tmp, out_dir) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_out_dir(out_dir: Path) -> None:
    """Check before any work that a run can replace or create `out_dir`.

    Raises
    ------
    OutputError
        When `out_dir` is a file, holds files a run does not write, or its parent
        cannot be created or written (read-only, full), with the path and the fix.

    """
    out_dir = Path(out_dir)
    require_creatable(out_dir)
    strangers = unexpected_files(out_dir)
    if strangers:
        shown = ", ".join(strangers[:10]) + (" …" if len(strangers) > 10 else "")
        msg = (
            f"'{out_dir}' is not a run folder that can be replaced: it holds "
            f"{len(strangers)} file(s) a run does not write ({shown}). A run replaces its "
            "folder as a whole; move these files elsewhere (close a workbook open in "
            "Excel: its lock file starts with ~$), or give another --out."
        )
        raise OutputError(msg)
    check_output_dir(out_dir.parent)
    need = _size(out_dir) + _SPARE_BYTES
    free = shutil.disk_usage(out_dir.parent).free
    if free < need:
        msg = (
            f"Not enough space to write '{out_dir}': {free / 2**20:.0f} MB free, the run "
            f"needs about {need / 2**20:.0f} MB (the new folder is written beside the old "
            "one). Free some space or write elsewhere with --out."
        )
        raise OutputError(msg)


def unexpected_files(out_dir: Path) -> list[str]:
    """Return the files of `out_dir` (relative, sorted) that no run writes there.

    A folder whose ``run.json`` says it is complete may hold what it lists as outputs;
    any other folder what :data:`RUN_FILES` and :data:`RUN_FOLDERS` name.
    """
    if not out_dir.is_dir():
        return []
    listed = _listed_outputs(out_dir)
    out = []
    for path in sorted(p for p in out_dir.rglob("*") if not p.is_dir()):
        rel = path.relative_to(out_dir)
        if rel.name in _HARMLESS or _expected(rel, listed):
            continue
        out.append(rel.as_posix())
    return out


def _expected(rel: Path, listed: set[str] | None) -> bool:
    if listed is not None:
        if rel.parts[0] == "units":
            return "units/*" in listed and len(rel.parts) == 2 and rel.suffix == ".html"
        return rel.as_posix() in listed or rel.as_posix() in ("run.json", "timings.json")
    if len(rel.parts) == 1:
        return rel.name in RUN_FILES
    return len(rel.parts) == 2 and rel.suffix in RUN_FOLDERS.get(rel.parts[0], ())


def _listed_outputs(out_dir: Path) -> set[str] | None:
    record = read_record(out_dir)
    if record is None or record.get("status") != "complete":
        return None
    outputs = record.get("outputs")
    return set(outputs) if isinstance(outputs, dict) else None


def read_record(folder: Path) -> dict[str, Any] | None:
    """Return the JSON object of ``folder/run.json``, or None when absent or unreadable."""
    try:
        record = json.loads((Path(folder) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def clean_leftovers(out_dir: Path) -> list[Path]:
    """Remove the hidden siblings that killed runs into `out_dir` left; return them.

    A sibling whose process still runs (another run into the same folder) is left
    alone. When `out_dir` itself is missing because a run was killed between the two
    renames of a swap, the previous folder is put back first.
    """
    removed = []
    for kind in ("old", "partial"):
        for path in sorted(out_dir.parent.glob(f".{out_dir.name}.{kind}-*")):
            pid = path.name.rpartition("-")[2]
            if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid), path):
                continue
            if kind == "old" and not out_dir.exists():
                path.rename(out_dir)
                log.warning("restored %s from an interrupted replacement", out_dir)
                continue
            shutil.rmtree(path, ignore_errors=True)
            log.info("removed %s, left by an interrupted run", path)
            removed.append(path)
    return removed


def _alive(pid: int, path: Path) -> bool:
    """Whether the run that left `path` may still be going.

    On POSIX the process is asked (signal 0); elsewhere, where that signal would end the
    process, a leftover counts as abandoned once it is a day old.
    """
    if os.name != "posix":
        return time.time() - path.stat().st_mtime < 86400
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sibling(out_dir: Path, kind: str, pid: int) -> Path:
    return out_dir.parent / f".{out_dir.name}.{kind}-{pid}"


def _swap(tmp: Path, out_dir: Path) -> None:
    """Put the complete folder `tmp` in the place of `out_dir`, then drop the old one."""
    if not out_dir.exists():
        tmp.rename(out_dir)
        return
    if _exchange(tmp, out_dir):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = _sibling(out_dir, "old", os.getpid())
    out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _size(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _final_error(exc: OSError, tmp: Path, out_dir: Path) -> OutputError:
    """Return the error of a failed write, naming the file as it would be in `out_dir`."""
    name = getattr(exc, "filename", None)
    if name:
        path = Path(name)
        try:
            exc.filename = str(out_dir / path.relative_to(tmp))
        except ValueError:
            exc.filename = str(path)
    error = output_error(exc, out_dir)
    unchanged = f" '{out_dir}' was left as it was." if out_dir.exists() else ""
    return OutputError(f"{error}{unchanged}")
