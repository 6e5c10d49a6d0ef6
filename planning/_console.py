"""Console of the command lines: progress bars, log lines and ``-q``/``-v``.

Only the command lines enter :func:`console`; the library itself never
configures logging.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from planning import settings

#: The console flags every command accepts, before or after its name.
CONSOLE_FLAGS = ("-q", "--quiet", "-v", "--verbose")

_log = logging.getLogger("planning")


def add_console_options(p: argparse.ArgumentParser, *, default: Any) -> None:
    """Add ``-q/--quiet`` and ``-v/--verbose`` to a parser (`default` False or SUPPRESS)."""
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="no progress bars: print only the final summary (and warnings, errors)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="also log each step of the run (file sizes, timings)",
    )


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler a command line puts on the ``planning`` logger for its run."""


@contextmanager
def console(*, quiet: bool = False, verbose: bool = False) -> Iterator[None]:
    """Set up the console of one command: progress bars unless `quiet`, log lines if `verbose`.

    Only the ``planning`` logger gets a handler (INFO when `verbose`, else WARNING), so
    other libraries' INFO lines (pyogrio "Created N records", matplotlib, numexpr) are
    never shown and their warnings and errors always are. The previous progress
    setting, level and handlers are restored on exit.
    """
    progress, level = settings.progress, _log.level
    settings.progress = not quiet
    handler = _ConsoleHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    _log.addHandler(handler)
    _log.setLevel(logging.INFO if verbose and not quiet else logging.WARNING)
    try:
        yield
    finally:
        _log.removeHandler(handler)
        _log.setLevel(level)
        settings.progress = progress
