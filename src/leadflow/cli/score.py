"""``leadflow score``: score the leads of a store (read-only) and explain the top ones; with
``--leads``/``--events`` (file mode, ``leadflow[etl]``), score Parquet or CSV files of any size
through :func:`leadflow.etl.score_files` (pyarrow is imported only then)."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from leadflow.cli.base import Exit, Output, parse_now, wall_clock
from leadflow.cli.config import (
    DEFAULT_DEMO_STORE,
    open_store,
    read_all,
    rule_arguments,
    scorecard_or_demo,
)
from leadflow.cli.files import as_of, contract_arguments, contract_options, report_summary
from leadflow.errors import ConfigError

__all__ = [
    "file_mode_arguments",
    "score",
    "score_arguments",
    "score_files",
]


def score_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow score`` (file-mode options for ETL are added here too)."""
    parser.add_argument(
        "--store",
        type=Path,
        default=Path(DEFAULT_DEMO_STORE),
        help=f"the store to read (default: ./{DEFAULT_DEMO_STORE})",
    )
    rule_arguments(parser, "scorecard")
    parser.add_argument("--now", help="score as of this ISO-8601 instant (default: now)")
    parser.add_argument("--lead", action="append", default=[], help="score only this lead id")
    parser.add_argument("--top", type=int, default=10, help="how many top leads to print")
    file_mode_arguments(parser)


def score(args: argparse.Namespace, out: Output) -> int:
    """Score the leads in a store (read-only) and print the distribution and the top leads."""
    if getattr(args, "leads", None) is not None:  # file mode (leadflow[etl]): see score_files below
        return score_files(args, out)
    from leadflow.model import by_lead
    from leadflow.rules.scoring import score_many

    card = scorecard_or_demo(args.scorecard)
    now = parse_now(args.now) or wall_clock()
    with open_store(args.store) as store:
        leads = (
            list(store.leads_by_id(args.lead).values())
            if args.lead
            else read_all(store, "read_leads")
        )
        missing = sorted(set(args.lead) - {lead.id for lead in leads})
        if missing:
            raise ConfigError("--lead", f"no lead {missing[0]!r} in {args.store}")
        ids = [lead.id for lead in leads]
        activities = store.activities_for(ids)
        accounts = store.accounts_by_id({lead.account_id for lead in leads if lead.account_id})
    theirs = by_lead(activities)
    results = []
    for i, result in enumerate(
        score_many(
            card, ((lead, theirs.get(lead.id, [])) for lead in leads), as_of=now, accounts=accounts
        )
    ):
        results.append(result)
        if i % 500 == 0:
            out.progress("scoring", i, len(leads))
    out.progress.done()
    recs = Counter(r.recommendation.value for r in results)
    top = sorted(results, key=lambda r: (-r.total, r.lead_id))[: max(0, args.top)]
    out.data(
        {
            "scorecard": card.name,
            "as_of": now.isoformat(),
            "scored": len(results),
            "recommendations": dict(recs),
            "scores": [
                {
                    "lead_id": r.lead_id,
                    "score": r.total,
                    "fit": r.fit,
                    "interest": r.interest,
                    "intent": r.intent,
                    "recommendation": r.recommendation.value,
                    "explanation": r.explain(),
                }
                for r in (results if args.lead else top)
            ],
        }
    )
    out.text(f"Scorecard {card.name!r} as of {now.isoformat()}: {len(results)} leads scored")
    out.text("  " + ", ".join(f"{k} {v}" for k, v in sorted(recs.items())))
    for r in results if args.lead else top:
        out.text(f"  {r.lead_id:<10} {r.total:>6.1f}  {r.recommendation.value:<14} {r.explain()}")
    return Exit.OK


def file_mode_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the file-mode options to ``leadflow score``."""
    group = parser.add_argument_group(
        "file mode (ETL)", 'score files instead of a store; needs pip install "leadflow[etl]"'
    )
    group.add_argument(
        "--leads", type=Path, help="leads: .parquet, .csv, .csv.gz, a directory or a glob of parts"
    )
    group.add_argument("--events", type=Path, help="events (activities), as --leads")
    group.add_argument("--accounts", type=Path, help="accounts file for account.* fields")
    group.add_argument("--out", type=Path, help="where to write the scores (.parquet or .csv)")
    group.add_argument("--errors", type=Path, help="CSV file for refused rows (else: stop)")
    group.add_argument("--card", dest="scorecard", type=Path, help="same as --scorecard")
    group.add_argument(
        "--partitions",
        type=int,
        default=1,
        help="split inputs by lead id first and score each part alone (less memory, same bytes)",
    )
    group.add_argument("--explain", action="store_true", help="add a rule_<id> column per rule")
    group.add_argument(
        "--engine",
        choices=["auto", "arrow", "polars"],
        default="auto",
        help="auto (default): polars for Parquet inputs it reads, else the Arrow plan; "
        "the output bytes are the same",
    )
    contract_arguments(group, scoring=True)


def score_files(args: argparse.Namespace, out: Output) -> int:
    """Run file mode: score ``--leads`` with ``--events`` into ``--out``."""
    from leadflow.etl import compile_scorecard, score_files
    from leadflow.rules.scorecard import load_scorecard

    for option in ("events", "out", "scorecard"):
        if getattr(args, option) is None:
            flag = "--card" if option == "scorecard" else f"--{option}"
            raise ConfigError(flag, "is required with --leads")
    at = as_of(args)
    plan = compile_scorecard(load_scorecard(args.scorecard), explain=args.explain)
    summary = score_files(
        plan,
        args.leads,
        args.events,
        args.out,
        as_of=at,
        errors=args.errors,
        accounts=args.accounts,
        partitions=args.partitions,
        engine=args.engine,
        **contract_options(args),
    )
    report_summary(
        out,
        {"as_of": at.isoformat(), **summary.to_dict()},
        f"Scored {summary.leads_scored:,} of {summary.leads_read:,} leads with "
        f"{summary.events_read:,} events as of {at.isoformat()} -> {summary.output}",
    )
    return Exit.OK
