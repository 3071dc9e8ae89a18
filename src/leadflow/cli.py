"""The ``leadflow`` command (also ``python -m leadflow``): argparse, standard library only.

Scope: parse arguments, load configuration, call the library, print results. Every subcommand
is one entry of :data:`COMMANDS` — a name, a help line, and the import paths of a function that
adds its arguments and one that runs it — so a new subcommand is one more line in that table
(its module is imported only when the subcommand runs).

Output: a human summary on stdout; ``--json`` prints one JSON document instead. Progress goes to
stderr, and only when stderr is a terminal. Errors are one line on stderr (``leadflow: error:
...``); ``--debug`` shows the traceback.

Exit codes (:class:`Exit`):

====  ===========================================================================
0     success
1     partial: some records were refused, failed or conflicted (the rest went through)
2     usage or configuration error (bad arguments, malformed config, unknown adapter)
3     adapter or data-source error (cannot connect, authentication, store unreadable)
4     internal error (a bug: please report it with ``--debug`` output)
130   interrupted (Ctrl-C)
141   stdout closed by the reader (``leadflow ... | head -1``); nothing is printed
====  ===========================================================================
"""

from __future__ import annotations

import argparse
import enum
import importlib
import json
import os
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import attrs

from leadflow.errors import (
    AdapterError,
    ConfigError,
    LeadflowError,
    OptionalDependencyError,
    ValidationError,
)

__all__ = [
    "COMMANDS",
    "Command",
    "Exit",
    "Output",
    "Progress",
    "build_parser",
    "load_toml",
    "main",
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


#: The subcommands. Add a line to add one.
COMMANDS: dict[str, Command] = {
    "demo": Command(
        help="create a realistic sample store and run the whole job on it",
        arguments="leadflow.cli_commands:demo_arguments",
        run="leadflow.cli_commands:demo",
    ),
    "import": Command(
        help="import leads, accounts, activities or touches from CSV / JSON lines",
        arguments="leadflow.cli_commands:import_arguments",
        run="leadflow.cli_commands:import_",
    ),
    "score": Command(
        help="score the leads in a store with a scorecard and explain the scores",
        arguments="leadflow.cli_commands:score_arguments",
        run="leadflow.cli_commands:score",
    ),
    "sla": Command(
        help="evaluate SLA policies for the leads in a store and report adherence",
        arguments="leadflow.cli_commands:sla_arguments",
        run="leadflow.cli_commands:sla",
    ),
    "run": Command(
        help="read, score, recommend stages, evaluate SLAs and write back, against any adapter",
        arguments="leadflow.cli_commands:run_arguments",
        run="leadflow.cli_commands:run",
    ),
    "report": Command(
        help="write the feedback report (HTML, JSON or CSV) from a store or any adapter",
        arguments="leadflow.cli_report:report_arguments",
        run="leadflow.cli_report:report",
    ),
    "adapters": Command(
        help="list installed adapters and their capabilities",
        arguments="leadflow.cli_commands:adapters_arguments",
        run="leadflow.cli_commands:adapters",
    ),
}


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    func: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return func


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


def parse_now(text: str | None) -> datetime | None:
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
        raise ValidationError("--now", text, "is not an ISO-8601 instant") from None
    if value.tzinfo is None:
        raise ValidationError("--now", text, "has no UTC offset; add one, e.g. 'Z' or '+01:00'")
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
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(str(file), "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(file), f"is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(str(file), f"cannot read: {exc.strerror or exc}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of :data:`COMMANDS` (each subcommand's module
    is imported here to add its arguments).

    >>> build_parser().parse_args(["sla", "--by", "owner"]).by
    'owner'
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    common.add_argument("--quiet", action="store_true", help="no progress output")
    parser = argparse.ArgumentParser(
        prog="leadflow",
        description="A shared definition of a good lead, SLAs for following leads up, and the "
        "feedback loop. Exit codes: 0 ok, 1 partial (some records failed or decisions not "
        "carried out), 2 usage/config error, 3 adapter error, 4 internal error, 130 "
        "interrupted, 141 stdout closed by the reader.",
        parents=[common],
    )
    from leadflow import __version__

    parser.add_argument("--version", action="version", version=f"leadflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        child = sub.add_parser(name, help=command.help, description=command.help, parents=[common])
        _resolve(command.arguments)(child)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else int(Exit.USAGE)
    out = Output(
        stdout=sys.stdout,
        stderr=sys.stderr,
        json=args.json,
        progress=Progress(sys.stderr, enabled=sys.stderr.isatty() and not args.quiet),
    )
    try:
        code = int(_resolve(COMMANDS[args.command].run)(args, out))
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        out.progress.done()
        _silence_stdout()
        return int(Exit.BROKEN_PIPE)
    except KeyboardInterrupt:
        out.progress.done()
        sys.stderr.write("leadflow: interrupted\n")
        return int(Exit.INTERRUPTED)
    except Exception as exc:
        out.progress.done()
        if args.debug:
            raise
        sys.stderr.write(f"leadflow: error: {_one_line(exc)}\n")
        return int(_code_for(exc))
    out.progress.done()
    return code


def _silence_stdout() -> None:
    """Point stdout at devnull so Python's final flush does not fail again on the closed pipe
    (the recipe of the Python docs' note on SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file descriptor (an embedding, a test capture)
        pass


def _code_for(exc: BaseException) -> Exit:
    if isinstance(exc, ConfigError | ValidationError | LookupError | OptionalDependencyError):
        return Exit.USAGE
    if isinstance(exc, AdapterError | OSError):
        return Exit.ADAPTER
    if isinstance(exc, LeadflowError):
        return Exit.USAGE
    return Exit.INTERNAL


def _one_line(exc: BaseException) -> str:
    from leadflow.adapters.sync import redact

    text = redact(" ".join(str(exc).split())) or type(exc).__name__
    if not isinstance(exc, LeadflowError):
        text = f"{type(exc).__name__}: {text}"
        if _code_for(exc) is Exit.INTERNAL:
            text += " (this is a bug in leadflow; rerun with --debug and report it)"
    return text
