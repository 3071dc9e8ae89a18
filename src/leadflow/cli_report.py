"""``leadflow report``: read a store (any adapter) and write the feedback report.

Scope: the outer layer between :mod:`leadflow.analytics` and the command line. It reads every
lead and touch through the :class:`~leadflow.ports.Adapter` protocol; rejections and outcomes come
from the adapter's ``rejections()`` / ``outcomes()`` when it keeps them (the SQLite store does),
else rejections are recovered from the stage histories and outcomes are left out. With SLA
policies it evaluates them (:func:`leadflow.rules.sla.evaluate_many`) for the adherence tables.
Then it writes the report as a self-contained HTML page, JSON, or a directory of CSV files.

Where it reads: ``--store`` (a SQLite store), or, like ``leadflow run``, ``--adapter NAME
--config FILE`` — any installed adapter built from the file's ``[adapters.<name>]`` table, with the
file's ``sla``, ``scorecard`` and ``[calendar]`` as defaults (:func:`~leadflow.cli_commands.run_config`
and :func:`~leadflow.cli_commands.load_adapter`, the code ``run`` uses). Without ``--config`` the
defaults follow the other subcommands: the demo store, the demo's SLA policy, calendar and
scorecard. The CLI reads the clock only when ``--now`` is not given; everything below it takes
``now`` as an argument.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from leadflow.analytics import build_report, business_hours, render_html, write_csv
from leadflow.analytics.report import FeedbackReport
from leadflow.analytics.validity import scores_at_handoff
from leadflow.calendar import BusinessCalendar
from leadflow.cli import Exit, Output, parse_now, wall_clock
from leadflow.cli_commands import (
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
from leadflow.errors import ConfigError, ValidationError
from leadflow.model import Account, Activity, Lead, Touch
from leadflow.outcomes import Outcome
from leadflow.ports import Adapter, Entity
from leadflow.reasons import Rejection
from leadflow.rules.scorecard import Scorecard, load_scorecard
from leadflow.rules.sla import SLAPolicy, evaluate_many, load_policies

__all__ = [
    "DEFAULT_REPORT",
    "FORMATS",
    "report",
    "report_arguments",
    "report_from_adapter",
    "write_demo_report",
    "write_report",
]

#: Where ``leadflow report`` (and ``leadflow demo``) write the HTML page by default.
DEFAULT_REPORT = "leadflow-report.html"

#: What ``--format`` accepts: one HTML file, one JSON file, or a directory of CSV files.
FORMATS = ("html", "json", "csv")


def _all(pages: Iterable[Any]) -> list[Any]:
    return [versioned.item for page in pages for versioned in page.items]


def report_from_adapter(
    adapter: Adapter,
    *,
    now: datetime,
    policies: Sequence[SLAPolicy] = (),
    calendar: BusinessCalendar | None = None,
    use_business_hours: bool = False,
    scorecard: Scorecard | None = None,
    title: str = "Sales & marketing feedback report",
) -> FeedbackReport:
    """Read everything the report needs from *adapter* and build it as of *now*.

    *calendar* (default: weekdays 09:00-17:00 UTC) is used for SLA evaluation and, with
    *use_business_hours*, for first-response delays. With *scorecard*, leads are scored as of
    their hand-off (from the adapter's activities and accounts) for the score-validity tables.
    """
    can_read = adapter.capabilities.can_read
    leads: list[Lead] = _all(adapter.read_leads())
    touches: list[Touch] = _all(adapter.read_touches()) if can_read(Entity.TOUCH) else []
    rejections: list[Rejection] | None = None
    outcomes: list[Outcome] = []
    if callable(getattr(adapter, "rejections", None)):
        rejections = list(adapter.rejections())  # type: ignore[attr-defined]
    if callable(getattr(adapter, "outcomes", None)):
        outcomes = list(adapter.outcomes())  # type: ignore[attr-defined]
    cal = (
        calendar if calendar is not None else BusinessCalendar.weekdays("UTC", name="weekdays-utc")
    )
    sla_results = []
    if policies:
        evaluations = evaluate_many(leads, touches, now=now, policies=policies, calendar=cal)
        sla_results = [result for ev in evaluations for result in ev.results()]
    scored = None
    if scorecard is not None:
        activities: list[Activity] = (
            _all(adapter.read_activities()) if can_read(Entity.ACTIVITY) else []
        )
        accounts: list[Account] = _all(adapter.read_accounts()) if can_read(Entity.ACCOUNT) else []
        scored = scores_at_handoff(
            scorecard, leads, activities, accounts={a.id: a for a in accounts}
        )
    return build_report(
        leads=leads,
        scores=scored.scores if scored else None,
        rule_hits=scored.rule_hits if scored else None,
        points=scored.points if scored else None,
        touches=touches,
        outcomes=outcomes,
        rejections=rejections or None,
        sla_results=sla_results,
        now=now,
        title=title,
        elapsed=business_hours(cal) if use_business_hours else None,
    )


def write_report(report: FeedbackReport, out: str | Path, *, fmt: str = "html") -> list[Path]:
    """Write *report* to *out* as ``html`` or ``json`` (a file) or ``csv`` (a directory, one
    file per table); returns the files written."""
    target = Path(out)
    if fmt == "html":
        target.write_text(render_html(report), encoding="utf-8")
        return [target]
    if fmt == "json":
        target.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        return [target]
    if fmt == "csv":
        target.mkdir(parents=True, exist_ok=True)
        return [write_csv(rows, target / f"{name}.csv") for name, rows in report.tables().items()]
    raise ValidationError("format", fmt, f"is not one of {', '.join(FORMATS)}")


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


def write_demo_report(store: Path, out: Path, *, now: datetime) -> Path:
    """The report ``leadflow demo`` ends with: the demo store with the demo's SLA, calendar and
    scorecard, as of the demo's *now*, as HTML at *out*."""
    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.demo import demo_calendar, demo_policies, demo_scorecard

    with SQLiteAdapter(store) as adapter:
        built = report_from_adapter(
            adapter,
            now=now,
            policies=demo_policies(),
            calendar=demo_calendar(),
            scorecard=demo_scorecard(),
            title="leadflow demo: sales & marketing feedback report",
        )
    (path,) = write_report(built, out, fmt="html")
    return path
