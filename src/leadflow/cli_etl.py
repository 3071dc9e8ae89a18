"""File modes of ``leadflow score`` and ``leadflow sla``: Parquet or CSV files of any size.

Scope: the options and the runners that ``leadflow score --leads ... --events ... --out ...``
and ``leadflow sla --leads ... --touches ... --out ...`` add to the store-based subcommands;
the work is :func:`leadflow.etl.score_files` and :func:`leadflow.etl.evaluate_sla_files`
(``leadflow[etl]``). pyarrow is imported only when file mode runs, so ``leadflow`` works
without the extra.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from leadflow.cli import Output, load_toml, parse_now, wall_clock
from leadflow.errors import ConfigError

__all__ = [
    "file_mode_arguments",
    "score_files_command",
    "sla_file_mode_arguments",
    "sla_files_command",
]


def file_mode_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the file-mode options to ``leadflow score``."""
    group = parser.add_argument_group(
        "file mode (ETL)", 'score files instead of a store; needs pip install "leadflow[etl]"'
    )
    group.add_argument("--leads", type=Path, help="leads file (.parquet or .csv)")
    group.add_argument("--events", type=Path, help="events (activities) file (.parquet or .csv)")
    group.add_argument("--accounts", type=Path, help="accounts file for account.* fields")
    group.add_argument("--out", type=Path, help="where to write the scores (.parquet or .csv)")
    group.add_argument("--errors", type=Path, help="CSV file for refused rows (else: stop)")
    group.add_argument("--card", dest="scorecard", type=Path, help="same as --scorecard")
    group.add_argument("--as-of", dest="now", help="same as --now")
    group.add_argument(
        "--partitions", type=int, default=1, help="split inputs by lead id first (memory / N)"
    )
    group.add_argument("--explain", action="store_true", help="add a rule.<id> column per rule")


def score_files_command(args: argparse.Namespace, out: Output) -> int:
    """Run file mode: score ``--leads`` with ``--events`` into ``--out``."""
    from leadflow.etl import compile_scorecard, score_files
    from leadflow.rules.scorecard import load_scorecard

    for option in ("events", "out", "scorecard"):
        if getattr(args, option) is None:
            flag = "--card" if option == "scorecard" else f"--{option}"
            raise ConfigError(flag, "is required with --leads")
    plan = compile_scorecard(load_scorecard(args.scorecard), explain=args.explain)
    as_of = parse_now(args.now) or wall_clock()
    summary = score_files(
        plan,
        args.leads,
        args.events,
        args.out,
        as_of=as_of,
        errors=args.errors,
        accounts=args.accounts,
        partitions=args.partitions,
    )
    out.data(
        {
            "as_of": as_of.isoformat(),
            "leads_read": summary.leads_read,
            "events_read": summary.events_read,
            "leads_scored": summary.leads_scored,
            "rows_refused": summary.rows_refused,
            "output": str(summary.output),
            "errors": None if summary.errors is None else str(summary.errors),
        }
    )
    out.text(
        f"Scored {summary.leads_scored:,} of {summary.leads_read:,} leads with "
        f"{summary.events_read:,} events as of {as_of.isoformat()} -> {summary.output}"
    )
    if summary.rows_refused:
        out.warn(f"{summary.rows_refused:,} rows refused; see {summary.errors}")
    return 0


def sla_file_mode_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the file-mode options to ``leadflow sla``."""
    group = parser.add_argument_group(
        "file mode (ETL)",
        'judge files instead of a store (needs --policies and --calendar); pip install "leadflow[etl]"',
    )
    group.add_argument("--leads", type=Path, help="leads file (.parquet or .csv)")
    group.add_argument("--touches", type=Path, help="touches file (.parquet or .csv)")
    group.add_argument("--out", type=Path, help="where to write lead x step rows (.parquet/.csv)")
    group.add_argument("--errors", type=Path, help="CSV file for refused rows (else: stop)")


def _calendar_choice(path: Path) -> Any:
    """One calendar table, or named ``[calendars.*]`` with a ``[choose]`` table (a resolver)."""
    from leadflow.calendar import BusinessCalendar, CalendarResolver

    data = load_toml(path)
    if "calendars" in data:
        return CalendarResolver.from_dict(data)
    return BusinessCalendar.from_dict(data, path=str(path))


def sla_files_command(args: argparse.Namespace, out: Output) -> int:
    """Run file mode: judge ``--leads`` with ``--touches`` into ``--out``."""
    from leadflow.etl import compile_sla, evaluate_sla_files
    from leadflow.rules.sla import load_policies

    for option in ("touches", "out", "policies", "calendar"):
        if getattr(args, option) is None:
            raise ConfigError(f"--{option}", "is required with --leads")
    plan = compile_sla(load_policies(args.policies), _calendar_choice(args.calendar))
    now = parse_now(args.now) or wall_clock()
    summary = evaluate_sla_files(
        plan, args.leads, args.touches, args.out, now=now, errors=args.errors
    )
    out.data(
        {
            "now": now.isoformat(),
            "leads_read": summary.leads_read,
            "touches_read": summary.touches_read,
            "leads_evaluated": summary.leads_evaluated,
            "rows_written": summary.rows_written,
            "rows_refused": summary.rows_refused,
            "output": str(summary.output),
            "errors": None if summary.errors is None else str(summary.errors),
        }
    )
    out.text(
        f"SLA as of {now.isoformat()}: {summary.leads_evaluated:,} of {summary.leads_read:,} "
        f"leads under a policy, {summary.rows_written:,} step rows -> {summary.output}"
    )
    if summary.rows_refused:
        out.warn(f"{summary.rows_refused:,} rows refused; see {summary.errors}")
    return 0
