"""What every ``leadflow`` subcommand shares: exit codes, output, the clock and TOML files.

Scope: the bottom layer of :mod:`leadflow.cli` — it imports nothing of the CLI above it. A
subcommand's ``run(args, out)`` prints through :class:`Output` and returns an :class:`Exit` code;
:func:`parse_now` and :func:`wall_clock` are the only ways a command gets its instant (the library
below never reads the clock); :func:`load_toml` turns a missing or malformed file into a
:class:`~leadflow.errors.ConfigError` naming it.
"""

from __future__ import annotations

import enum
import json
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import attrs

from leadflow._files import read_text
from leadflow.errors import ConfigError, ValidationError

__all__ = [
    "Command",
    "Exit",
    "Output",
    "Progress",
    "load_toml",
    "parse_now",
    "wall_clock",
]


class Exit(enum.IntEnum):
    """The exit codes scripts can rely on."""

    OK = 0
    PARTIAL = 1
    USAGE = 2
    ADAPTER = 3
    INTERNAL = 4
    #: a file-mode job refused more input rows than ``--max-errors`` allows (nothing written)
    TOO_MANY_REFUSED = 5
    INTERRUPTED = 130
    #: stdout was closed by the reader (``leadflow ... | head -1``): 128 + SIGPIPE, as a shell
    #: reports a command killed by the signal.
    BROKEN_PIPE = 141


@attrs.frozen(kw_only=True)
class Command:
    """One subcommand: ``arguments`` and ``run`` are ``"module:function"`` paths.

    ``arguments(parser)`` adds the subcommand's options; ``run(args, out)`` does the work and
    returns an :class:`Exit` code (``out`` is the :class:`Output` to print through).
    """

    help: str
    arguments: str
    run: str


class Progress:
    """A one-line progress counter on stderr, shown only when stderr is a terminal."""

    def __init__(self, stream: IO[str], *, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self._shown = False

    def __call__(self, phase: str, done: int, total: int | None = None) -> None:
        """Show *phase* and a count (and a bar when *total* is known)."""
        if not self.enabled:
            return
        if total:
            filled = int(30 * min(done, total) / total)
            text = f"{phase:<18} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}"
        else:
            text = f"{phase:<18} {done}"
        self.stream.write("\r" + text[:100].ljust(60))
        self.stream.flush()
        self._shown = True

    def done(self) -> None:
        """Clear the progress line."""
        if self._shown:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()
            self._shown = False


@attrs.define
class Output:
    """Where a command prints: human text or one JSON document, plus progress.

    A subcommand's run function receives one; it calls both :meth:`text` and :meth:`data`, and
    ``--json`` decides which one is shown.

    >>> import io
    >>> out = Output(stdout=io.StringIO(), stderr=io.StringIO(), json=False,
    ...              progress=Progress(io.StringIO(), enabled=False))
    >>> out.text("3 leads scored"); out.data({"scored": 3})
    >>> print(out.stdout.getvalue(), end="")
    3 leads scored
    """

    stdout: IO[str]
    stderr: IO[str]
    json: bool
    progress: Progress

    def text(self, line: str = "") -> None:
        """Print a line of the human summary (suppressed under ``--json``)."""
        if not self.json:
            self.stdout.write(line + "\n")

    def data(self, payload: Mapping[str, Any]) -> None:
        """Print the machine-readable result (only under ``--json``)."""
        if self.json:
            json.dump(payload, self.stdout, indent=2, sort_keys=True, default=str)
            self.stdout.write("\n")

    def warn(self, line: str) -> None:
        """A one-line note on stderr (always shown)."""
        self.stderr.write(f"leadflow: {line}\n")


def parse_now(text: str | None, option: str = "--now") -> datetime | None:
    """``--now``: an ISO-8601 instant with an offset (naive instants are refused).

    >>> parse_now("2026-03-02T09:00:00Z").isoformat(), parse_now(None)
    ('2026-03-02T09:00:00+00:00', None)
    >>> parse_now("2026-03-02T09:00")
    Traceback (most recent call last):
    ...
    leadflow.errors.ValidationError: --now: '2026-03-02T09:00' has no UTC offset; add one, e.g. 'Z' or '+01:00'
    """
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(option, text, "is not an ISO-8601 instant") from None
    if value.tzinfo is None:
        raise ValidationError(option, text, "has no UTC offset; add one, e.g. 'Z' or '+01:00'")
    return value


def wall_clock() -> datetime:
    """The current instant: the CLI is the one place that reads the clock (when no ``--now``).

    >>> wall_clock().utcoffset()
    datetime.timedelta(0)
    """
    return datetime.now(UTC)


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; a missing or malformed file is a :class:`ConfigError` naming it.

    >>> load_toml("examples/sla.toml")["policies"][0]["name"]
    'handoff_follow_up'
    >>> load_toml("no/such.toml")
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: no/such.toml: no such file
    """
    file = Path(path)
    try:
        return tomllib.loads(read_text(file))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(file), f"is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(str(file), "is nested too deeply to read") from None
