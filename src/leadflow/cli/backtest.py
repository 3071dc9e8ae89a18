"""``leadflow backtest``: how would these scorecards have ranked the leads already handed to sales?

Every handed-off lead is scored as of its hand-off (no look-ahead) with each ``--card``; the
command prints each card's AUC, conversion and lift by score decile, the calibration of its
recommendations, and — with two cards — the leads that flip between ``sql_ready`` and not, with
what became of them (:func:`leadflow.analytics.backtest.backtest`). ``--propose FILE`` fits the
first card's points from outcomes (a regularised logistic regression on its own rules, validated
on the latest ``--holdout`` share of hand-offs), writes the revised card to FILE and prints the
TOML diff for a human to review (:func:`leadflow.analytics.backtest.propose_points`).

Where it reads: ``--store`` (default: the demo store), or ``--adapter NAME --config FILE`` like
``leadflow run``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from leadflow import ports
from leadflow.cli.base import Exit, Output
from leadflow.cli.config import (
    DEFAULT_DEMO_STORE,
    check_output,
    load_adapter,
    open_store,
    run_config,
)
from leadflow.errors import ConfigError
from leadflow.ports import Entity

__all__ = ["backtest", "backtest_arguments"]


def backtest_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow backtest``."""
    parser.add_argument(
        "--card",
        dest="cards",
        type=Path,
        action="append",
        required=True,
        help="scorecard TOML (give two to compare them; flips are between the first two)",
    )
    parser.add_argument(
        "--store", type=Path, help=f"the SQLite store to read (default: ./{DEFAULT_DEMO_STORE})"
    )
    parser.add_argument("--adapter", help="installed adapter to read, as in 'leadflow run'")
    parser.add_argument("--config", type=Path, help="the TOML of 'leadflow run'")
    parser.add_argument(
        "--propose",
        type=Path,
        help="fit the first card's points from outcomes and write the revised card here",
    )
    parser.add_argument(
        "--holdout", type=float, default=0.3, help="latest share of hand-offs held out (0.3)"
    )
    parser.add_argument("--l2", type=float, default=1.0, help="L2 penalty of the fit (1.0)")
    parser.add_argument("--flips", type=int, default=10, help="how many flipped leads to print")
    parser.add_argument(
        "--force", action="store_true", help="let --propose replace an existing file"
    )


def _read(args: argparse.Namespace) -> dict[str, list[Any]]:
    if args.config is not None:
        if args.store is not None:
            raise ConfigError("--store", "give --store or --config, not both")
        name = args.adapter or "sqlite"
        config = run_config(args.config, name)
        adapter = load_adapter(name, config["settings"], source=args.config)
    elif args.adapter is not None:
        raise ConfigError("--adapter", f"needs --config FILE with [adapters.{args.adapter}]")
    else:
        adapter = open_store(args.store if args.store is not None else Path(DEFAULT_DEMO_STORE))
    try:
        # Through the port, as the report reads: an entity the adapter does not declare (or has
        # no reader for) is simply empty.
        data: dict[str, list[Any]] = {
            name: ports.read_all(adapter, entity) if ports.readable(adapter, entity) else []
            for name, entity in (
                ("leads", Entity.LEAD),
                ("activities", Entity.ACTIVITY),
                ("accounts", Entity.ACCOUNT),
                ("outcomes", Entity.OUTCOME),
            )
        }
    finally:
        adapter.close()
    return data


def _check_options(args: argparse.Namespace) -> None:
    """Every option checked before anything is read or scored."""
    if len(args.cards) > 2:
        raise ConfigError("--card", f"give one or two scorecards, got {len(args.cards)}")
    if not (0 < args.holdout < 1):  # also refuses NaN
        raise ConfigError("--holdout", f"must be a share between 0 and 1, got {args.holdout}")
    if not (0 <= args.l2 < math.inf):
        raise ConfigError("--l2", f"must be a finite penalty >= 0, got {args.l2}")
    if args.flips < 0:
        raise ConfigError("--flips", f"must be 0 or more, got {args.flips}")
    if args.propose is not None:
        # The proposal is for a human to review: it never replaces a card by itself.
        check_output(
            "--propose", args.propose, inputs=[*args.cards, args.store], overwrite=args.force
        )


def backtest(args: argparse.Namespace, out: Output) -> int:
    """Backtest the cards over the store's handed-off leads; optionally propose a revision."""
    from leadflow.analytics.backtest import backtest as run_backtest
    from leadflow.analytics.backtest import propose_points
    from leadflow.rules.scorecard import dump_scorecard, load_scorecard

    _check_options(args)
    cards = [load_scorecard(path) for path in args.cards]
    data = _read(args)
    accounts = {a.id: a for a in data["accounts"]}
    result = run_backtest(
        cards, data["leads"], data["activities"], accounts=accounts, outcomes=data["outcomes"]
    )
    payload: dict[str, Any] = result.to_dict()
    for path, card in zip(args.cards, result.cards, strict=True):
        out.text(
            f"{path} ({card.card}): {card.leads} handed-off leads, {card.converted} converted, "
            f"AUC {'-' if card.auc is None else f'{card.auc:.3f}'} (0.5 = a coin toss)"
        )
        out.text(
            "  lift by decile (1 = top scores): "
            + " ".join(
                f"{d.decile}:{'-' if d.lift is None else f'{d.lift:.2f}'}" for d in card.deciles
            )
        )
        out.text(
            "  recommendations: "
            + "; ".join(
                f"{c.recommendation} {c.leads} leads, "
                f"{'-' if c.rate is None else f'{c.rate:.0%}'} converted"
                for c in card.calibration
            )
        )
    if len(result.cards) >= 2:
        first, second = args.cards[0], args.cards[1]
        out.text(f"sql_ready flips from {first} to {second}: {len(result.flips)} leads")
        for label, n in result.flips_summary.items():
            out.text(f"  {label}: {n}")
        for flip in result.flips[: max(0, args.flips)]:
            out.text(
                f"  {flip.lead_id}: {flip.first} ({flip.first_score:.1f}) -> {flip.second} "
                f"({flip.second_score:.1f}); converted: {'yes' if flip.converted else 'no'}; "
                f"outcome: {flip.outcome or '-'}"
            )
    code = Exit.OK
    if args.propose is not None:
        proposal = propose_points(
            cards[0],
            data["leads"],
            data["activities"],
            accounts=accounts,
            holdout=args.holdout,
            l2=args.l2,
        )
        args.propose.write_text(dump_scorecard(proposal.card), encoding="utf-8")
        payload["proposal"] = proposal.to_dict()
        payload["proposal"]["written"] = str(args.propose)
        out.text(
            f"Proposed points for {cards[0].name} (fitted on {proposal.training_leads} leads, "
            f"validated on the {proposal.holdout_leads} handed off from {proposal.holdout_from}):"
        )
        out.text(
            f"  holdout AUC: current {proposal.holdout_auc_current}, "
            f"proposed {proposal.holdout_auc_proposed}"
        )
        for revision in proposal.revisions:
            if revision.note:
                out.text(f"  ! {revision.rule}: {revision.note}")
        out.text(proposal.diff.rstrip("\n") or "  (no change)")
        out.text(f"wrote {args.propose} (review the diff before using it)")
    out.data(payload)
    return code
