"""Backtests: how would a scorecard have ranked the leads already handed to sales, and a revision
of its points fitted from what became of them.

Scope: the "predictive scoring" peers sell as a black box, explainable and versioned instead.
Every handed-off lead is scored **as of its hand-off** (:func:`score_lead` ignores activities
after that instant; outcomes are only used as the answer; see below for lead fields). A lead
*converted* if it reached one of *converted_stages* (``sql`` or beyond), the report's definition.

* :func:`backtest` — per card: the AUC (the chance that a converted lead outscored one that did
  not), conversion and lift per score decile, the calibration of its recommendations (conversion
  of the leads it called ``sql_ready``, ``mql``, ``nurture`` ...), and, comparing two cards, the
  leads that flip between ``sql_ready`` and not, with what really became of them.
* :func:`propose_points` — refit the card's own rules: an L2-regularised logistic regression of
  conversion on each rule's points at hand-off divided by its points per event (1 for a fit
  rule that fired; for a behaviour rule, the decayed number of events it counted, up to its
  cap), trained on the earlier leads and validated on a time-based holdout (the latest
  ``holdout`` share of hand-offs). Coefficients become points on the card's own scale (points
  per log-odd: the slope of conversion on the card's total score over the training leads),
  rounded to whole points; a capped rule's cap is scaled with its points, so it still caps
  the same number of events. A rule whose sign flips is flagged. The result is a revised card,
  the holdout AUC of both cards, and a TOML diff a human reviews — never applied by itself.

What "as of hand-off" covers: activities after the hand-off are ignored; the lead's and
account's *fields* are their current values (leadflow keeps no history of field edits), so a
title changed after hand-off is read as it is now.

Pure Python (Newton's method on at most a few dozen rules); time is an argument throughout.

>>> import attrs
>>> from datetime import datetime, timezone
>>> from leadflow.lifecycle import transition
>>> from leadflow.model import Lead
>>> from leadflow.rules.scorecard import Rule, Scorecard, TitleKeywords
>>> card = Scorecard(name="vp", rules=[Rule(id="vp", label="VP title", category="fit",
...                  points=30, when=TitleKeywords(keywords=["VP"]))])
>>> t0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
>>> def lead(i, title, converted):
...     x = transition(Lead(id=f"L{i}", created_at=t0, title=title), "mql", at=t0)
...     x = attrs.evolve(x, handed_off_at=t0)
...     return transition(transition(x, "sal", at=t0), "sql", at=t0) if converted else x
>>> leads = [lead(1, "VP Sales", True), lead(2, "Intern", False), lead(3, "VP IT", False)]
>>> (result,) = backtest([card], leads).cards
>>> result.leads, result.converted, result.auc
(3, 1, 0.75)
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import attrs

from leadflow.analytics._common import Row, ratio, reached
from leadflow.analytics.response import CONVERTED_STAGES
from leadflow.analytics.validity import auc, score_slope
from leadflow.errors import InsufficientDataError, ValidationError
from leadflow.model import Account, Activity, Lead, by_lead
from leadflow.outcomes import Outcome, latest_outcome
from leadflow.rules.scorecard import Scorecard, dump_scorecard
from leadflow.rules.scoring import Recommendation, ScoreResult, score_lead

__all__ = [
    "Backtest",
    "CardBacktest",
    "Decile",
    "Flip",
    "PointRevision",
    "Proposal",
    "RecommendationCalibration",
    "backtest",
    "propose_points",
]


@attrs.frozen(kw_only=True)
class Decile(Row):
    """Conversion of one score decile (1 = the top tenth of scores) and its lift over the
    average."""

    decile: int
    leads: int
    converted: int
    rate: float | None
    lift: float | None
    min_score: float
    max_score: float


@attrs.frozen(kw_only=True)
class RecommendationCalibration(Row):
    """How the leads the card recommended one way actually did."""

    recommendation: str
    leads: int
    converted: int
    rate: float | None


@attrs.frozen(kw_only=True)
class CardBacktest:
    """One card's backtest over the handed-off leads."""

    card: str
    leads: int
    converted: int
    auc: float | None
    deciles: tuple[Decile, ...]
    calibration: tuple[RecommendationCalibration, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready plain data."""
        return {
            "card": self.card,
            "leads": self.leads,
            "converted": self.converted,
            "auc": self.auc,
            "deciles": [d.to_dict() for d in self.deciles],
            "calibration": [c.to_dict() for c in self.calibration],
        }


@attrs.frozen(kw_only=True)
class Flip(Row):
    """A lead one card called ``sql_ready`` and the other did not, and what became of it."""

    lead_id: str
    handed_off_at: str
    first: str
    second: str
    first_score: float
    second_score: float
    converted: bool
    outcome: str | None


@attrs.frozen(kw_only=True)
class Backtest:
    """Every card's backtest, and the flips between the first two cards."""

    cards: tuple[CardBacktest, ...]
    flips: tuple[Flip, ...]

    @property
    def flips_summary(self) -> dict[str, int]:
        """Counts of flips by direction and real conversion."""
        c: Counter[str] = Counter()
        for f in self.flips:
            gained = f.second == Recommendation.SQL_READY.value
            c[f"{'now' if gained else 'no longer'} sql_ready, converted={f.converted}"] += 1
        return dict(sorted(c.items()))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready plain data."""
        return {
            "cards": [c.to_dict() for c in self.cards],
            "flips": [f.to_dict() for f in self.flips],
            "flips_summary": self.flips_summary,
        }


def _handed_off(leads: Iterable[Lead]) -> list[Lead]:
    chosen = [lead for lead in leads if lead.handed_off_at is not None]
    return sorted(chosen, key=lambda lead: (lead.handed_off_at, lead.id))


def _score_all(
    card: Scorecard,
    leads: Sequence[Lead],
    activities: Mapping[str, list[Activity]],
    accounts: Mapping[str, Account],
) -> dict[str, ScoreResult]:
    out = {}
    for lead in leads:
        at = lead.handed_off_at
        if at is None:  # _handed_off keeps only leads with one
            continue
        account = accounts.get(lead.account_id) if lead.account_id else None
        out[lead.id] = score_lead(
            card, lead, activities.get(lead.id, []), as_of=at, account=account
        )
    return out


def _deciles(scores: Sequence[float], converted: Sequence[bool]) -> list[Decile]:
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    n = len(order)
    base = ratio(sum(converted), n)
    rows = []
    for d in range(10):
        members = order[d * n // 10 : (d + 1) * n // 10]
        if not members:
            continue
        won = sum(converted[i] for i in members)
        rate = ratio(won, len(members))
        rows.append(
            Decile(
                decile=d + 1,
                leads=len(members),
                converted=won,
                rate=rate,
                lift=None if rate is None or not base else round(rate / base, 6),
                min_score=round(min(scores[i] for i in members), 6),
                max_score=round(max(scores[i] for i in members), 6),
            )
        )
    return rows


def backtest(
    cards: Sequence[Scorecard],
    leads: Iterable[Lead],
    activities: Iterable[Activity] = (),
    *,
    accounts: Mapping[str, Account] | None = None,
    outcomes: Iterable[Outcome] = (),
    converted_stages: Sequence[str] = CONVERTED_STAGES,
) -> Backtest:
    """Score every handed-off lead as of its hand-off with each card; see the module docstring."""
    if not cards:
        raise ValidationError("cards", cards, "needs at least one scorecard")
    handed = _handed_off(leads)
    theirs = by_lead(activities)
    converted = [reached(lead, converted_stages) for lead in handed]
    results = [_score_all(card, handed, theirs, accounts or {}) for card in cards]
    rows = []
    for card, scored in zip(cards, results, strict=True):
        totals = [scored[lead.id].total for lead in handed]
        area = auc(totals, converted)
        per_rec: dict[str, list[bool]] = {}
        for lead, conv in zip(handed, converted, strict=True):
            per_rec.setdefault(scored[lead.id].recommendation.value, []).append(conv)
        rows.append(
            CardBacktest(
                card=card.name,
                leads=len(handed),
                converted=sum(converted),
                auc=None if area is None else round(area, 6),
                deciles=tuple(_deciles(totals, converted)),
                calibration=tuple(
                    RecommendationCalibration(
                        recommendation=rec,
                        leads=len(flags),
                        converted=sum(flags),
                        rate=ratio(sum(flags), len(flags)),
                    )
                    for rec, flags in sorted(per_rec.items())
                ),
            )
        )
    flips: list[Flip] = []
    if len(cards) >= 2:
        outcome_list = list(outcomes)
        ready = Recommendation.SQL_READY
        for lead, conv in zip(handed, converted, strict=True):
            a, b = results[0][lead.id], results[1][lead.id]
            if (a.recommendation is ready) != (b.recommendation is ready):
                latest = latest_outcome(outcome_list, lead.id)
                flips.append(
                    Flip(
                        lead_id=lead.id,
                        handed_off_at=lead.handed_off_at.isoformat() if lead.handed_off_at else "",
                        first=a.recommendation.value,
                        second=b.recommendation.value,
                        first_score=round(a.total, 6),
                        second_score=round(b.total, 6),
                        converted=conv,
                        outcome=latest.kind.value if latest is not None else None,
                    )
                )
    return Backtest(cards=tuple(rows), flips=tuple(flips))


# -- a proposed revision ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PointRevision(Row):
    """One rule's fitted weight and the points it suggests."""

    rule: str
    current_points: float
    coefficient: float
    proposed_points: float
    fired_in_training: int
    current_cap: float | None = None
    proposed_cap: float | None = None
    #: What a reviewer should look at: a sign flip, or a rule that never fired in training.
    note: str = ""


@attrs.frozen(kw_only=True)
class Proposal:
    """A revised card fitted from outcomes, validated on a time-based holdout.

    ``holdout_auc_current`` and ``holdout_auc_proposed`` compare both cards on the leads handed
    off after ``holdout_from`` — leads the fit never saw. ``diff`` is a unified diff of the two
    cards' TOML, for a human to review.
    """

    card: Scorecard
    revisions: tuple[PointRevision, ...]
    training_leads: int
    holdout_leads: int
    holdout_from: str
    holdout_auc_current: float | None
    holdout_auc_proposed: float | None
    points_per_log_odd: float
    l2: float
    diff: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready plain data (the card as its TOML)."""
        return {
            "card": dump_scorecard(self.card),
            "revisions": [r.to_dict() for r in self.revisions],
            "training_leads": self.training_leads,
            "holdout_leads": self.holdout_leads,
            "holdout_from": self.holdout_from,
            "holdout_auc_current": self.holdout_auc_current,
            "holdout_auc_proposed": self.holdout_auc_proposed,
            "points_per_log_odd": self.points_per_log_odd,
            "l2": self.l2,
            "diff": self.diff,
        }


def _features(card: Scorecard, result: ScoreResult) -> list[float]:
    """Each rule's points in *result* over its points per event: 1 for a fit rule that fired;
    for a behaviour rule the decayed number of events it counted (its cap already applied), so
    a fitted weight is a weight *per event*, like the card's points."""
    got: dict[str, float] = {}
    for c in result.contributions:
        got[c.rule_id] = got.get(c.rule_id, 0.0) + c.points
    return [got.get(rule.id, 0.0) / rule.points if rule.points else 0.0 for rule in card.rules]


def _fit_logistic(xs: Sequence[Sequence[float]], ys: Sequence[bool], l2: float) -> list[float]:
    """Intercept + weights of an L2-penalised logistic regression (intercept not penalised),
    by Newton's method with step halving."""
    k = len(xs[0]) + 1
    rows = [[1.0, *x] for x in xs]
    w = [0.0] * k
    pos = sum(ys)
    w[0] = math.log((pos + 0.5) / (len(ys) - pos + 0.5))

    def objective(weights: Sequence[float]) -> float:
        total = 0.0
        for x, y in zip(rows, ys, strict=True):
            z = sum(a * b for a, b in zip(weights, x, strict=True))
            total += (z if y else 0.0) - (
                z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))
            )
        return total - l2 / 2 * sum(v * v for v in weights[1:])

    current = objective(w)
    for _ in range(100):
        grad = [0.0] * k
        hess = [[0.0] * k for _ in range(k)]
        for x, y in zip(rows, ys, strict=True):
            z = sum(a * b for a, b in zip(w, x, strict=True))
            p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
            r = (1.0 if y else 0.0) - p
            v = p * (1.0 - p)
            for i in range(k):
                grad[i] += r * x[i]
                xi = v * x[i]
                if xi:
                    for j in range(i, k):
                        hess[i][j] -= xi * x[j]
        for i in range(1, k):
            grad[i] -= l2 * w[i]
            hess[i][i] -= l2
        for i in range(k):
            for j in range(i):
                hess[i][j] = hess[j][i]
        step = _solve([[-h for h in row] for row in hess], grad)
        t = 1.0
        while t > 1e-10:
            candidate = [a + t * b for a, b in zip(w, step, strict=True)]
            value = objective(candidate)
            if value >= current - 1e-12:
                break
            t /= 2
        else:
            break
        moved = max(abs(a - b) for a, b in zip(candidate, w, strict=True))
        w, current = candidate, value
        if moved < 1e-9:
            break
    return w


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Solve a symmetric positive-definite system by Gaussian elimination with partial pivoting."""
    n = len(b)
    m = [[*row, rhs] for row, rhs in zip(a, b, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-300:
            continue
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            if f:
                for c in range(col, n + 1):
                    m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        s = m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))
        x[r] = s / m[r][r] if abs(m[r][r]) >= 1e-300 else 0.0
    return x


def propose_points(
    card: Scorecard,
    leads: Iterable[Lead],
    activities: Iterable[Activity] = (),
    *,
    accounts: Mapping[str, Account] | None = None,
    holdout: float = 0.3,
    l2: float = 1.0,
    converted_stages: Sequence[str] = CONVERTED_STAGES,
    min_leads: int = 100,
) -> Proposal:
    """Fit the card's points from outcomes; see the module docstring. Raises
    :class:`~leadflow.errors.InsufficientDataError` with fewer than *min_leads* handed-off leads,
    without conversions and non-conversions in the training set, or when higher scores of the
    current card do not convert more there (no point scale to keep)."""
    if not 0 < holdout < 1:
        raise ValidationError("holdout", holdout, "must be a share between 0 and 1")
    if l2 < 0 or not math.isfinite(l2):
        raise ValidationError("l2", l2, "must be a finite penalty >= 0")
    handed = _handed_off(leads)
    if len(handed) < min_leads:
        raise InsufficientDataError(
            "point proposal", f"{len(handed)} handed-off leads (needs {min_leads})"
        )
    theirs = by_lead(activities)
    scored = _score_all(card, handed, theirs, accounts or {})
    cut = int(len(handed) * (1 - holdout))
    train, test = handed[:cut], handed[cut:]
    y_train = [reached(lead, converted_stages) for lead in train]
    if all(y_train) or not any(y_train):
        raise InsufficientDataError("point proposal", "the training leads' outcomes do not vary")
    beta = score_slope([scored[lead.id].total for lead in train], y_train)
    if beta <= 0:
        raise InsufficientDataError(
            "point proposal",
            "higher scores of the current card do not convert more: no point scale to keep",
        )
    xs = [_features(card, scored[lead.id]) for lead in train]
    weights = _fit_logistic(xs, y_train, l2)
    revisions = []
    rules = []
    for i, rule in enumerate(card.rules):
        proposed = float(round(weights[i + 1] / beta))
        fired = sum(1 for x in xs if x[i])
        cap = None
        if rule.cap is not None and proposed and rule.points:
            cap = float(round(rule.cap * abs(proposed / rule.points), 2)) or None
        notes = []
        if proposed and rule.points and (proposed > 0) != (rule.points > 0):
            notes.append("sign flips: review")
        if not fired:
            notes.append("never fired in training: kept by the penalty near 0")
        revisions.append(
            PointRevision(
                rule=rule.id,
                current_points=rule.points,
                coefficient=round(weights[i + 1], 6),
                proposed_points=proposed,
                fired_in_training=fired,
                current_cap=rule.cap,
                proposed_cap=cap,
                note="; ".join(notes),
            )
        )
        rules.append(attrs.evolve(rule, points=proposed, cap=cap))
    revised = attrs.evolve(card, rules=rules)
    revised_scores = _score_all(revised, test, theirs, accounts or {})
    y_test = [reached(lead, converted_stages) for lead in test]
    current_auc = auc([scored[lead.id].total for lead in test], y_test)
    proposed_auc = auc([revised_scores[lead.id].total for lead in test], y_test)
    diff = "".join(
        difflib.unified_diff(
            dump_scorecard(card).splitlines(keepends=True),
            dump_scorecard(revised).splitlines(keepends=True),
            fromfile=f"{card.name} (current)",
            tofile=f"{card.name} (proposed)",
        )
    )
    first_test = test[0].handed_off_at if test else None
    return Proposal(
        card=revised,
        revisions=tuple(revisions),
        training_leads=len(train),
        holdout_leads=len(test),
        holdout_from=first_test.isoformat() if first_test is not None else "",
        holdout_auc_current=None if current_auc is None else round(current_auc, 6),
        holdout_auc_proposed=None if proposed_auc is None else round(proposed_auc, 6),
        points_per_log_odd=round(1 / beta, 6),
        l2=l2,
        diff=diff,
    )
