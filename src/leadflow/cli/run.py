"""``leadflow run``: read → score → recommend stages → evaluate SLAs → write back, against any
installed adapter, with the state (cursors, scores, SLA clocks) in a SQLite store."""

from __future__ import annotations

import argparse
from pathlib import Path

from leadflow.cli.base import Exit, Output, parse_now, wall_clock
from leadflow.cli.config import run_calendar, run_config
from leadflow.cli.jobs import print_run_report, run_job, scorer_from

__all__ = [
    "run",
    "run_arguments",
]


def run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow run``."""
    parser.add_argument("--adapter", default="sqlite", help="installed adapter name")
    parser.add_argument(
        "--config",
        type=Path,
        required=True,
        help="TOML: store, sla, scorecard, [calendar], [adapters.<name>] settings",
    )
    parser.add_argument("--now", help="run as of this ISO-8601 instant (default: now)")
    parser.add_argument("--job", help="job name, the key its cursors are saved under")
    parser.add_argument(
        "--dry-run", action="store_true", help="decide and report, but write nothing"
    )


def run(args: argparse.Namespace, out: Output) -> int:
    """Read → score → recommend stages → evaluate SLAs → write back, against any adapter."""
    from leadflow.rules.sla import load_policies

    config = run_config(args.config, args.adapter)
    now = parse_now(args.now) or wall_clock()
    policies = load_policies(config["sla"]) if config["sla"] is not None else ()
    calendar = run_calendar(config)
    scorer = scorer_from(config["scorecard"])
    report = run_job(
        adapter_name=args.adapter,
        settings=config["settings"],
        store_path=config["store"],
        job_name=args.job or f"run:{args.adapter}",
        now=now,
        policies=policies,
        calendar=calendar,
        scorer=scorer,
        batch_size=config["batch_size"],
        dry_run=args.dry_run,
        out=out,
        source=args.config,
    )
    out.progress.done()
    out.data(report.to_dict())
    print_run_report(out, report)
    return Exit.OK if report.ok else Exit.PARTIAL
