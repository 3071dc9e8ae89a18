"""``leadflow report``: read a store (or any adapter) and write the feedback report.

Where it reads: ``--store`` (a SQLite store), or, like ``leadflow run``, ``--adapter NAME
--config FILE`` — any installed adapter built from the file's ``[adapters.<name>]`` table, with the
file's ``sla``, ``scorecard`` and ``[calendar]`` as defaults (:func:`~leadflow.cli.config.run_config`
and :func:`~leadflow.cli.config.load_adapter`, the code ``run`` uses). Without ``--config`` the
defaults follow the other subcommands: the demo store, the demo's SLA policy, calendar and
scorecard. The CLI reads the clock only when ``--now`` is not given. The report itself is built
and written by :mod:`leadflow.cli.reporting`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leadflow.analytics import render_html
from leadflow.cli.base import Exit, Output, parse_now, wall_clock
from leadflow.cli.config import (
    DEFAULT_DEMO_STORE,
    load_adapter,
    load_calendar,
    open_store,
    policies_and_calendar,
    rule_arguments,
    run_calendar,
    run_config,
    scorecard_or_demo,
)
from leadflow.cli.reporting import DEFAULT_REPORT, FORMATS, report_from_adapter, write_report
from leadflow.errors import ConfigError
from leadflow.ports import Adapter
from leadflow.rules.scorecard import Scorecard, load_scorecard
from leadflow.rules.sla import SLAPolicy, load_policies

__all__ = [
    "report",
    "report_arguments",
]


def report_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow report``."""
    parser.add_argument(
        "--store",
        type=Path,
        help=f"the SQLite store to read (default: ./{DEFAULT_DEMO_STORE}; not with --config)",
    )
    parser.add_argument(
        "--adapter",
        help="installed adapter to read from, as in 'leadflow run' (default with --config: sqlite)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="the TOML of 'leadflow run': [adapters.<name>] settings; its sla, scorecard and "
        "[calendar] are the defaults",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(DEFAULT_REPORT),
        help=f"output file ('-': stdout, html or json), or directory for --format csv "
        f"(default: ./{DEFAULT_REPORT})",
    )
    parser.add_argument("--format", choices=FORMATS, default="html", dest="fmt")
    parser.add_argument("--now", help="the instant the report is as of (ISO 8601; default: now)")
    rule_arguments(parser, "policies", "calendar", "scorecard", otherwise="; with --config, its")
    parser.add_argument(
        "--business-hours",
        action="store_true",
        help="measure first-response delays in the calendar's business hours",
    )
    parser.add_argument("--title", default="Sales & marketing feedback report")


def _source(args: argparse.Namespace) -> tuple[Adapter, dict[str, Any] | None]:
    """The adapter to read (``--store``, or ``--adapter``/``--config`` as ``run`` loads it) and
    the resolved ``--config`` (``None`` without one)."""
    if args.config is not None:
        if args.store is not None:
            raise ConfigError(
                "--store", "give --store or --config, not both (the config's adapter is read)"
            )
        name = args.adapter or "sqlite"
        config = run_config(args.config, name)
        adapter: Adapter = load_adapter(name, config["settings"], source=args.config)
        return adapter, config
    if args.adapter is not None:
        raise ConfigError(
            "--adapter", f"needs --config FILE holding the [adapters.{args.adapter}] settings"
        )
    store: Adapter = open_store(args.store if args.store is not None else Path(DEFAULT_DEMO_STORE))
    return store, None


def report(args: argparse.Namespace, out: Output) -> int:
    """Read a store (or any adapter, from a run configuration) and write the feedback report."""
    now = parse_now(args.now) or wall_clock()
    to_stdout = str(args.out) == "-"
    if to_stdout and args.fmt == "csv":
        raise ConfigError("--out -", "--format csv writes a directory of files, not stdout")
    if to_stdout and args.json:
        raise ConfigError("--out -", "the report is the output; leave out --json")
    for option, path in (("--policies", args.policies), ("--scorecard", args.scorecard)):
        if path is not None and not path.is_file():
            raise ConfigError(f"{option} {path}", "no such file")
    adapter, config = _source(args)
    try:
        policies: Sequence[SLAPolicy]
        card: Scorecard | None
        if config is None:
            policies, calendar = policies_and_calendar(args.policies, args.calendar)
            card = scorecard_or_demo(args.scorecard)
        else:  # the run's own rules, unless the command line names others
            sla, cards = args.policies or config["sla"], args.scorecard or config["scorecard"]
            policies = load_policies(sla) if sla is not None else ()
            card = load_scorecard(cards) if cards is not None else None
            calendar = load_calendar(args.calendar) if args.calendar else run_calendar(config)
        built = report_from_adapter(
            adapter,
            now=now,
            policies=policies,
            calendar=calendar,
            use_business_hours=args.business_hours,
            scorecard=card,
            title=args.title,
        )
    finally:
        adapter.close()
    if to_stdout:
        text = render_html(built) if args.fmt == "html" else json.dumps(built.to_dict(), indent=2)
        out.stdout.write(text.rstrip("\n") + "\n")
        return Exit.OK
    written = write_report(built, args.out, fmt=args.fmt)
    out.data({"now": now.isoformat(), "written": [str(p) for p in written]})
    for path in written:
        out.text(f"wrote {path}")
    return Exit.OK
