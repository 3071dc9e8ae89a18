"""``leadflow report``: read a store (any adapter) and write the feedback report.

Scope: the outer layer between :mod:`leadflow.analytics` and the command line. It reads every
lead and touch through the :class:`~leadflow.ports.Adapter` protocol; rejections and outcomes come
from the adapter's ``rejections()`` / ``outcomes()`` when it keeps them (the SQLite store does),
else rejections are recovered from the stage histories and outcomes are left out. With SLA
policies it evaluates them (:func:`leadflow.rules.sla.evaluate_many`) for the adherence tables.
Then it writes the report as a self-contained HTML page, JSON, or a directory of CSV files.

The CLI reads the clock only when ``--now`` is not given; everything below it takes ``now`` as an
argument.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadflow.adapters import load
from leadflow.analytics import build_report, business_hours, render_html, write_csv
from leadflow.analytics.report import FeedbackReport
from leadflow.analytics.validity import scores_at_handoff
from leadflow.calendar import BusinessCalendar
from leadflow.errors import ConfigError, LeadflowError, ValidationError
from leadflow.model import Account, Activity, Lead, Touch
from leadflow.outcomes import Outcome
from leadflow.ports import Adapter
from leadflow.reasons import Rejection
from leadflow.rules.scorecard import Scorecard, load_scorecard
from leadflow.rules.sla import SLAPolicy, evaluate_many, load_policies

__all__ = ["FORMATS", "add_parser", "main", "report_from_adapter", "run", "write_report"]

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
    leads: list[Lead] = _all(adapter.read_leads())
    touches: list[Touch] = _all(adapter.read_touches())
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
        activities: list[Activity] = _all(adapter.read_activities())
        accounts: list[Account] = _all(adapter.read_accounts())
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


def _now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(tz=UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("--now", text, "is not an ISO-8601 timestamp") from None
    if value.tzinfo is None:
        raise ValidationError("--now", text, "has no UTC offset; add one, e.g. +00:00")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand to an :mod:`argparse` subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="write the feedback report (HTML, JSON or CSV) from a store",
        description="Read a store and write the sales & marketing feedback report.",
    )
    parser.add_argument(
        "--store", default="leadflow.db", help="SQLite store file (default: leadflow.db)"
    )
    parser.add_argument("--adapter", default="sqlite", help="adapter name (default: sqlite)")
    parser.add_argument(
        "--out", default="leadflow-report.html", help="output file or, for csv, directory"
    )
    parser.add_argument("--format", choices=FORMATS, default="html", dest="fmt")
    parser.add_argument(
        "--now", help="the instant the report is as of (ISO 8601 with offset; default: now)"
    )
    parser.add_argument("--sla", help="SLA policies TOML file, for the adherence tables")
    parser.add_argument(
        "--scorecard", help="scorecard TOML file, for conversion by score band at hand-off"
    )
    parser.add_argument(
        "--calendar", help="business calendar TOML file (default: weekdays 09-17 UTC)"
    )
    parser.add_argument(
        "--business-hours",
        action="store_true",
        help="measure first-response delays in the calendar's business hours",
    )
    parser.add_argument("--title", default="Sales & marketing feedback report")
    parser.set_defaults(handler=run)
    return parser


def _calendar(path: str | None) -> BusinessCalendar | None:
    if path is None:
        return None
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, f"cannot be read as TOML: {exc}") from None
    return BusinessCalendar.from_dict(data.get("calendar", data), path=path)


def run(args: argparse.Namespace) -> int:
    """Carry out ``leadflow report`` with parsed *args*; returns the exit status."""
    now = _now(args.now)
    policies: tuple[SLAPolicy, ...] = ()
    if args.sla:
        try:
            policies = load_policies(args.sla)
        except OSError as exc:
            raise ConfigError(args.sla, f"cannot be read: {exc.strerror}") from None
    card: Scorecard | None = None
    if args.scorecard:
        try:
            card = load_scorecard(args.scorecard)
        except OSError as exc:
            raise ConfigError(args.scorecard, f"cannot be read: {exc.strerror}") from None
    config = {"path": args.store} if args.adapter == "sqlite" else {}
    if args.adapter == "sqlite" and not Path(args.store).is_file():
        raise ConfigError(
            "--store", f"{args.store!r} does not exist (run leadflow demo, or import)"
        )
    adapter = load(args.adapter, **config)
    try:
        report = report_from_adapter(
            adapter,
            now=now,
            policies=policies,
            calendar=_calendar(args.calendar),
            use_business_hours=args.business_hours,
            scorecard=card,
            title=args.title,
        )
    finally:
        adapter.close()
    for path in write_report(report, args.out, fmt=args.fmt):
        print(f"wrote {path}")  # noqa: T201
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m leadflow.cli_report``: the subcommand on its own."""
    parser = argparse.ArgumentParser(prog="leadflow")
    sub = parser.add_subparsers(required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except LeadflowError as exc:
        parser.exit(2, f"leadflow report: error: {exc}\n")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
