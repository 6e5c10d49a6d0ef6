"""Exceptions raised by the package, each naming what was wrong and how to fix it."""

from __future__ import annotations


class InputError(ValueError):
    """Input data cannot be used as given (bad file, column, row, value)."""


class CRSError(InputError):
    """A layer has no CRS, or a CRS that cannot be used for the requested measure."""


class ScenarioError(InputError):
    """A scenario file is malformed, has unknown keys or invalid values."""


class InfeasibleError(InputError):
    """A siting request cannot be met; the message gives the numbers that prevent it."""


class OutputError(InputError):
    """An output file or folder cannot be written; the message names the path and the fix."""


def error_message(exc: BaseException) -> str:
    """Return the one-line message the command line prints for an exception.

    An :class:`InputError` (an :class:`OutputError` too) already names the file, row, key
    or path and the fix; any other exception is prefixed with its type, e.g.
    ``error: MemoryError: ...``.
    """
    if isinstance(exc, InputError):
        return f"error: {exc}"
    return f"error: {type(exc).__name__}: {exc}"
