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

import attrs

from leadflow.analytics import render_html
from leadflow.cli.base import Exit, Output, load_toml, parse_now, wall_clock
from leadflow.cli.config import (
    DEFAULT_DEMO_STORE,
    check_output,
    is_demo_store,
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
from leadflow.errors import ConfigError, ValidationError
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
    parser.add_argument(
        "--half-life-strata",
        default="source",
        help="comma-separated lead fields (or score_band) the half-life is also adjusted for "
        "(default: source; '' for none)",
    )
    parser.add_argument(
        "--window-months",
        type=int,
        default=12,
        help="what became of rejected leads counts within this many months (12)",
    )
    parser.add_argument(
        "--rejected-between",
        metavar="START,END",
        help="the headline covers rejections made in [START, END) (ISO 8601 instants)",
    )
    parser.add_argument(
        "--segments",
        default="",
        help="comma-separated lead or account.<field> segments for score validity",
    )
    parser.add_argument(
        "--send",
        type=Path,
        metavar="FILE",
        help="also push the report: a TOML with [smtp] (e-mail, per-owner digests) and/or "
        "[webhook] (a Slack-compatible summary); secrets from *_env variables",
    )
    parser.add_argument(
        "--demo-rules",
        action="store_true",
        help="judge a store other than the demo's with the demo's rules (not your own)",
    )


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
    delivery = _delivery(args.send) if args.send is not None else None
    if not to_stdout:
        check_output(
            "--out",
            args.out,
            directory=args.fmt == "csv",
            inputs=[args.store, args.config, args.policies, args.scorecard, args.calendar],
        )
    adapter, config = _source(args)
    try:
        _refuse_to_invent_rules(args)
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
            **_options(args, card),
        )
    finally:
        adapter.close()
    missing = []
    if not policies:
        missing.append(
            "no SLA policies were given (--policies, or sla in the --config file): the SLA "
            "adherence sections are empty"
        )
    if card is None:
        missing.append(
            "no scorecard was given (--scorecard, or scorecard in the --config file): score "
            "validity and the score bands are empty"
        )
    if missing:
        built = attrs.evolve(built, notes=(*built.notes, *missing))
    if to_stdout:
        text = render_html(built) if args.fmt == "html" else json.dumps(built.to_dict(), indent=2)
        out.stdout.write(text.rstrip("\n") + "\n")
        return Exit.OK
    written = write_report(built, args.out, fmt=args.fmt)
    sent = _send(delivery, built, out) if delivery is not None else None
    data = built.to_dict()
    out.data(
        {
            "now": now.isoformat(),
            "written": [str(p) for p in written],
            "sent": sent,
            "half_life": data["half_life"][0] if data["half_life"] else None,
            "half_life_adjusted": data["half_life_adjusted"][0]
            if data["half_life_adjusted"]
            else None,
            "closed_loop_headline": data["closed_loop_headline"],
            "notes": data["notes"],
        }
    )
    _summary(built, out)
    for path in written:
        out.text(f"wrote {path}")
    return Exit.OK


#: Lead fields a half-life can be adjusted for: categories many leads share (not an id, an
#: e-mail, an instant or a nested value, which would put every lead in a stratum of its own).
_STRATA = ("source", "campaign", "industry", "country", "owner_id", "team", "stage", "company")


def _options(args: argparse.Namespace, card: Scorecard | None) -> dict[str, Any]:
    from leadflow.analytics.validity import check_segment

    strata = tuple(p.strip() for p in args.half_life_strata.split(",") if p.strip())
    for stratum in strata:
        if stratum != "score_band" and stratum not in _STRATA:
            raise ConfigError(
                "--half-life-strata",
                f"{stratum!r} is not one of score_band, {', '.join(_STRATA)}",
            )
    if "score_band" in strata and card is None:
        raise ConfigError("--half-life-strata", "score_band needs a scorecard (--scorecard)")
    segments = tuple(p.strip() for p in args.segments.split(",") if p.strip())
    for segment in segments:
        try:
            check_segment(segment)
        except ValidationError as exc:
            raise ConfigError("--segments", f"{segment!r} {exc.reason}") from None
    between = None
    if args.rejected_between:
        start, _, end = args.rejected_between.partition(",")
        first = parse_now(start.strip(), option="--rejected-between")
        last = parse_now(end.strip(), option="--rejected-between")
        if first is None or last is None or not first < last:
            raise ConfigError("--rejected-between", "must be START,END with START before END")
        between = (first, last)
    if args.window_months < 1:
        raise ConfigError("--window-months", f"must be at least 1, got {args.window_months}")
    return {
        "half_life_strata": strata,
        "closed_loop_months": args.window_months,
        "rejected_between": between,
        "validity_segments": segments,
    }


def _summary(built: Any, out: Output) -> None:
    """The headline numbers on the terminal, each half-life with its clock."""
    if built.closed_loop_headline is not None:
        out.text(built.closed_loop_headline.sentence)
    for name, fit in (("lead half-life", built.half_life), ("adjusted", built.half_life_adjusted)):
        if fit is None:
            continue
        value = f"{fit.half_life_hours:.1f} h" if fit.half_life_hours is not None else "no decay"
        dims = f" for {', '.join(fit.adjusted_for)}" if fit.adjusted_for else ""
        out.text(f"{name}{dims}: {value} ({fit.clock})")
    for note in built.notes:
        out.text(f"note: {note}")


def _refuse_to_invent_rules(args: argparse.Namespace) -> None:
    """The demo's scorecard, SLA policy and calendar judge only the demo store: on any other
    store the report would silently grade the user's leads by rules nobody agreed on."""
    if args.config is not None or args.demo_rules:
        return
    store = args.store if args.store is not None else Path(DEFAULT_DEMO_STORE)
    if is_demo_store(store):
        return
    missing = [
        option
        for option, value in (
            ("--policies", args.policies),
            ("--calendar", args.calendar),
            ("--scorecard", args.scorecard),
        )
        if value is None
    ]
    if missing:
        raise ConfigError(
            f"--store {store}",
            f"give {', '.join(missing)} (or --config with your run's sla, scorecard and "
            "[calendar]): the report will not judge your leads by the demo's rules; pass "
            "--demo-rules to use them anyway",
        )


def _delivery(path: Path) -> Any:
    """The ``--send`` file, read and checked before anything is read or written."""
    from leadflow.delivery import DeliveryConfig

    return DeliveryConfig.from_dict(load_toml(path), path=str(path))


def _send(delivery: Any, built: Any, out: Output) -> dict[str, int]:
    from leadflow.delivery import (
        digest_email,
        owner_digests,
        post_webhook,
        report_email,
        send_email,
        webhook_payload,
    )

    sent = {"report_emails": 0, "digests": 0, "webhook_posts": 0}
    if delivery.smtp is not None:
        smtp = delivery.smtp
        messages = [report_email(built, sender=smtp.sender, to=smtp.to)] if smtp.to else []
        digests = [
            digest_email(d, sender=smtp.sender, to=smtp.owners[d.owner])
            for d in owner_digests(built)
            if d.owner in smtp.owners and not d.empty
        ]
        send_email(smtp, [*messages, *digests])
        sent["report_emails"], sent["digests"] = len(messages), len(digests)
        out.text(
            f"sent the report to {len(smtp.to)} recipients and {len(digests)} owner digests "
            f"via {smtp.host}"
        )
    if delivery.webhook is not None:
        post_webhook(delivery.webhook, webhook_payload(built))
        sent["webhook_posts"] = 1
        out.text("posted the summary to the webhook")
    return sent
