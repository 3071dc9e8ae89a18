"""Reading rule files (scorecards, SLA policies): one place that turns a missing or unreadable
file into :class:`~leadflow.errors.ConfigError` and names the file in every error its content
produces.

Scope: file reading and error attribution for the ``load_*``/``loads_*`` functions of
:mod:`leadflow.rules`; parsing stays with each rule module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path

from leadflow.errors import ConfigError, ValidationError

__all__ = ["UNNAMED", "in_source", "read_rule_file"]

#: The ``source`` of text that came from no file; errors about it are not prefixed.
UNNAMED = "<string>"


def read_rule_file(path: str | PathLike[str]) -> str:
    """The UTF-8 text of *path*; ``ConfigError(path, ...)`` when it cannot be read.

    >>> read_rule_file("no/such/rules.toml")
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
        return data.decode("utf-8-sig")  # a byte-order mark is skipped
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{file}: line {line}", f"is not UTF-8 text ({exc.reason}); save the file as UTF-8"
        ) from None


@contextmanager
def in_source(source: str) -> Iterator[None]:
    """Prefix the location of a ``ConfigError``/``ValidationError`` raised inside with *source*.

    >>> with in_source("sla.toml"):
    ...     raise ConfigError("policies[0].name", "must be a string")
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: sla.toml: policies[0].name: must be a string
    """
    if source == UNNAMED:
        yield
        return
    try:
        yield
    except ConfigError as exc:
        if exc.path.startswith(source):
            raise
        where = f"{source}: {exc.path}" if exc.path else source
        raise ConfigError(where, exc.problem) from exc
    except ValidationError as exc:
        raise ValidationError(f"{source}: {exc.field}", exc.value, exc.reason) from exc
