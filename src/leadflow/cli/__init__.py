"""The ``leadflow`` command (also ``python -m leadflow``): argparse, standard library only.

Scope: parse arguments, load configuration, call the library, print results. Every subcommand
is one entry of :data:`COMMANDS` — a name, a help line, and the import paths of a function that
adds its arguments and one that runs it — so a new subcommand is one more line in that table
(its module is imported only when the subcommand runs).

Layout (kept so by an import-linter contract): one module per command (``adapters``,
``backtest``, ``compile_sql``, ``demo``, ``importing``, ``report``, ``run``, ``score``, ``sla``),
none importing another; below them the shared helpers — ``jobs`` (running and printing the job),
``reporting`` (building and writing the feedback report) and ``files`` (the file modes' input
contract options), then ``config`` (run
configuration, rule files, stores, adapters), then ``base`` (exit codes, :class:`Output`, the
clock, TOML).

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
5     too many input rows refused: a file-mode job (``score``/``sla --leads``) went over
      ``--max-errors``; the errors file is written, the output is not
130   interrupted (Ctrl-C)
141   stdout closed by the reader (``leadflow ... | head -1``); nothing is printed
====  ===========================================================================
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from leadflow.cli.base import (
    Command,
    Exit,
    Output,
    Progress,
    load_toml,
    parse_now,
    wall_clock,
)
from leadflow.errors import (
    AdapterError,
    ConfigError,
    LeadflowError,
    OptionalDependencyError,
    TooManyRefusedError,
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


#: The subcommands. Add a line to add one.
COMMANDS: dict[str, Command] = {
    "demo": Command(
        help="create a realistic sample store and run the whole job on it",
        arguments="leadflow.cli.demo:demo_arguments",
        run="leadflow.cli.demo:demo",
    ),
    "import": Command(
        help="import leads, accounts, activities, touches, stage changes, rejections or "
        "outcomes from CSV / JSON lines (a file lands whole or not at all)",
        arguments="leadflow.cli.importing:import_arguments",
        run="leadflow.cli.importing:import_",
    ),
    "score": Command(
        help="score the leads in a store with a scorecard and explain the scores",
        arguments="leadflow.cli.score:score_arguments",
        run="leadflow.cli.score:score",
    ),
    "sla": Command(
        help="evaluate SLA policies for the leads in a store and report adherence",
        arguments="leadflow.cli.sla:sla_arguments",
        run="leadflow.cli.sla:sla",
    ),
    "run": Command(
        help="read, score, recommend stages, evaluate SLAs and write back, against any adapter",
        arguments="leadflow.cli.run:run_arguments",
        run="leadflow.cli.run:run",
    ),
    "report": Command(
        help="write the feedback report (HTML, JSON or CSV) from a store or any adapter",
        arguments="leadflow.cli.report:report_arguments",
        run="leadflow.cli.report:report",
    ),
    "compile-sql": Command(
        help="print a scorecard as one SQL query for DuckDB, Spark, PostgreSQL or a warehouse",
        arguments="leadflow.cli.compile_sql:compile_sql_arguments",
        run="leadflow.cli.compile_sql:compile_sql",
    ),
    "backtest": Command(
        help="score handed-off leads as of their hand-off with one or two scorecards and compare",
        arguments="leadflow.cli.backtest:backtest_arguments",
        run="leadflow.cli.backtest:backtest",
    ),
    "adapters": Command(
        help="list installed adapters and their capabilities",
        arguments="leadflow.cli.adapters:adapters_arguments",
        run="leadflow.cli.adapters:adapters",
    ),
}


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    func: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return func


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
        "carried out), 2 usage/config error, 3 adapter error, 4 internal error, 5 too many rows refused (--max-errors), 130 "
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
    if isinstance(exc, TooManyRefusedError):
        return Exit.TOO_MANY_REFUSED
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
