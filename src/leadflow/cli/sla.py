"""``leadflow sla``: evaluate SLA policies for the leads of a store and print adherence; with
``--leads``/``--touches`` (file mode, ``leadflow[etl]``), judge Parquet or CSV files through
:func:`leadflow.etl.evaluate_sla_files`."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from leadflow.cli.base import Exit, Output, parse_now, wall_clock
from leadflow.cli.config import (
    DEFAULT_DEMO_STORE,
    calendar_choice,
    open_store,
    policies_and_calendar,
    read_all,
    rule_arguments,
)
from leadflow.cli.files import as_of, contract_arguments, contract_options, report_summary
from leadflow.cli.jobs import adherence_table
from leadflow.errors import ConfigError

__all__ = [
    "sla",
    "sla_arguments",
    "sla_file_mode_arguments",
    "sla_files",
]


def sla_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow sla``."""
    parser.add_argument(
        "--store",
        type=Path,
        default=Path(DEFAULT_DEMO_STORE),
        help=f"the store to read (default: ./{DEFAULT_DEMO_STORE})",
    )
    rule_arguments(parser, "policies", "calendar")
    parser.add_argument("--now", help="evaluate as of this ISO-8601 instant (default: now)")
    parser.add_argument(
        "--by",
        default="owner",
        help="comma-separated adherence dimensions (owner, team, source, step, policy)",
    )
    sla_file_mode_arguments(parser)


def sla(args: argparse.Namespace, out: Output) -> int:
    """Evaluate SLA policies for every lead in a store and print adherence."""
    if getattr(args, "leads", None) is not None:  # file mode (leadflow[etl]): see sla_files below
        return sla_files(args, out)
    from leadflow.model import by_lead
    from leadflow.rules.sla import adherence, evaluate_many

    now = parse_now(args.now) or wall_clock()
    policies, calendar = policies_and_calendar(args.policies, args.calendar)
    by = tuple(part.strip() for part in args.by.split(",") if part.strip())
    with open_store(args.store) as store:
        leads = read_all(store, "read_leads")
        out.progress("reading touches", len(leads))
        touches = read_all(store, "read_touches")
        mine = by_lead(touches)
        evaluations = evaluate_many(
            [(lead, mine.get(lead.id, [])) for lead in leads],
            as_of=now,
            policies=policies,
            calendar=calendar,
        )
    rows = adherence(evaluations, by=by)
    states = Counter(e.state for e in evaluations)
    out.data(
        {
            "now": now.isoformat(),
            "evaluated": len(evaluations),
            "states": dict(states),
            "adherence": rows,
        }
    )
    out.text(
        f"SLA as of {now.isoformat()}: {len(evaluations)} leads under a policy "
        f"({', '.join(f'{k} {v}' for k, v in sorted(states.items()))})"
    )
    adherence_table(out, rows, by)
    return Exit.OK


def sla_file_mode_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the file-mode options to ``leadflow sla``."""
    group = parser.add_argument_group(
        "file mode (ETL)",
        'judge files instead of a store (needs --policies and --calendar); pip install "leadflow[etl]"',
    )
    group.add_argument(
        "--leads", type=Path, help="leads: .parquet, .csv, .csv.gz, a directory or a glob of parts"
    )
    group.add_argument("--touches", type=Path, help="touches, as --leads")
    group.add_argument("--out", type=Path, help="where to write lead x step rows (.parquet/.csv)")
    group.add_argument("--errors", type=Path, help="CSV file for refused rows (else: stop)")
    contract_arguments(group, scoring=False)


def sla_files(args: argparse.Namespace, out: Output) -> int:
    """Run file mode: judge ``--leads`` with ``--touches`` into ``--out``."""
    from leadflow.etl import compile_sla, evaluate_sla_files
    from leadflow.rules.sla import load_policies

    for option in ("touches", "out", "policies", "calendar"):
        if getattr(args, option) is None:
            raise ConfigError(f"--{option}", "is required with --leads")
    now = as_of(args)
    plan = compile_sla(load_policies(args.policies), calendar_choice(args.calendar))
    summary = evaluate_sla_files(
        plan, args.leads, args.touches, args.out, now=now, errors=args.errors,
        **contract_options(args),
    )  # fmt: skip
    report_summary(
        out,
        {"now": now.isoformat(), **summary.to_dict()},
        f"SLA as of {now.isoformat()}: {summary.leads_evaluated:,} of {summary.leads_read:,} "
        f"leads under a policy, {summary.rows_written:,} step rows -> {summary.output}",
    )
    return 0
