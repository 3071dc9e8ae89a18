"""Rule files (scorecards, SLA policies): naming the file in every error its content produces.

Scope: error attribution for the ``load_*``/``loads_*`` functions of :mod:`leadflow.rules`; the
file's text is read by :func:`leadflow._files.read_text`, parsing stays with each rule module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from leadflow.errors import ConfigError, ValidationError

__all__ = ["UNNAMED", "in_source"]

#: The ``source`` of text that came from no file; errors about it are not prefixed.
UNNAMED = "<string>"


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
