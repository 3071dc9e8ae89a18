"""Reading a configuration file's text: one place that turns a missing, unreadable or wrongly
encoded file into a :class:`~leadflow.errors.ConfigError` naming it.

Scope: scorecards, SLA policies and calendars (:mod:`leadflow.rules`) and the command line's TOML
files (:func:`leadflow.cli.base.load_toml`) all read their text here; parsing stays with each.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from leadflow.errors import ConfigError

__all__ = ["read_text"]


def read_text(path: str | PathLike[str]) -> str:
    """The UTF-8 text of *path* (a byte-order mark skipped); ``ConfigError(path, ...)`` when the
    file is missing, a directory, unreadable, UTF-16 or not UTF-8 (naming the line and byte).

    >>> read_text("no/such/rules.toml")
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: no/such/rules.toml: no such file
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(file), "no such file") from None
    except IsADirectoryError:
        raise ConfigError(str(file), "is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(str(file), f"cannot be read: {exc.strerror or exc}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(str(file), "is UTF-16 text; save the file as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{file}: line {line}",
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x}: {exc.reason}); "
            "save the file as UTF-8",
        ) from None
