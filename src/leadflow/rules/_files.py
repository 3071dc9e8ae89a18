"""Rule files (scorecards, SLA policies): naming the file and the place in every error their
content produces, and writing rules back as TOML.

Scope: error attribution for the ``load_*``/``loads_*`` functions of :mod:`leadflow.rules`
(:func:`in_source` for the file, :func:`build` for the place within it) and the TOML writers of
their ``dump_*`` functions; the file's text is read by :func:`leadflow._files.read_text`,
parsing stays with each rule module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from leadflow.errors import ConfigError, ValidationError

__all__ = ["UNNAMED", "build", "in_source", "toml_key", "toml_string", "toml_value"]

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


def build(cls: type[Any], path: str, kwargs: dict[str, Any]) -> Any:
    """``cls(**kwargs)``, with errors re-raised as :class:`ConfigError` under *path*."""
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{path}.{exc.path}" if exc.path else path, exc.problem) from None
    except ValidationError as exc:
        raise ConfigError(f"{path}.{exc.field}", f"{exc.value!r} {exc.reason}") from None


# -- writing TOML ----------------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_key(key: str) -> str:
    """*key* as a TOML key: bare when it can be, else a quoted string."""
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_string(text: str) -> str:
    """*text* as a TOML basic string (a lone surrogate, which TOML cannot hold, is refused)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ConfigError("", f"string {text!r} holds a lone surrogate, which TOML cannot hold")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_value(value: Any) -> str:
    """*value* (a bool, number, string, list or mapping) as a TOML value.

    >>> toml_value({"name": "VP+", "points": 20.0, "tags": ["a b", True]})
    '{ name = "VP+", points = 20.0, tags = ["a b", true] }'
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError("", f"{value!r} is not a finite number")
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    raise ConfigError("", f"cannot write {value!r} as TOML")
