"""Score validity: does the scorecard predict anything? Conversion by score band, and suggestions.

Scope: the check both teams need before arguing about individual leads. Inputs are plain mappings,
so any scorecard fits: each lead's score (``lead_id -> score``), which rules fired for it
(``lead_id -> rule names``) and each rule's current points (``rule -> points``).

* :func:`conversion_by_score_band`: leads and conversion rate per score band (a lead converted if
  it reached one of *converted_stages*, by default ``sql`` or beyond). A scorecard that predicts
  shows rates rising band by band.
* :func:`suggest_points`: **a suggestion, not a fit to apply blindly.** With enough *closed* leads
  (those whose latest outcome is final: ``won`` counts as a win; ``lost``, ``competitor`` and
  ``no_decision`` as not), it computes for each rule

  1. the rule's **lift in log-odds**: ``logit(win rate | rule fired) - logit(win rate | not
     fired)``, each rate smoothed with +0.5 wins and +0.5 non-wins (Haldane-Anscombe), so an
     empty cell never gives an infinite lift;
  2. the scorecard's **points per log-odd**: the slope ``β`` of a one-variable logistic regression
     of win on total score over the same closed leads (maximum likelihood, Newton's method);
  3. the **suggested points** ``round(lift / β)`` and the change from the current points.

  The lift is marginal: rules that fire together share credit, so read suggestions as "this rule
  looks over/under-weighted", re-check after changing a few, and keep a human in the loop. When
  ``β <= 0`` (higher scores do not win more) no point scale exists and no rule gets a number.
  **Rare rules are not judged**: a rule that fired for fewer than ``min_per_arm`` (default 20)
  closed leads — or did not fire for fewer than that — gets neither a lift nor a number; its row
  says "too rare to judge" (a rule that never fired has no evidence at all, and a smoothed lift
  for it would be invented).
* :func:`validity_by_segment`: the same check within segments (any lead field, or an account
  field as ``account.<field>``): conversion per score band, the AUC (the chance that a converted
  lead outscored one that did not) and whether the bands rise, per segment beside the pooled
  figure, with a warning when a segment's pattern differs from the pooled one — in either
  direction of Simpson's paradox (valid pooled but flat or reversed in a segment; invalid pooled
  but valid within the segments).

>>> scores = {"A": 80.0, "B": 20.0}
>>> from datetime import datetime, timezone
>>> from leadflow.model import Lead
>>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> leads = [Lead(id="A", created_at=at, stage="sql"), Lead(id="B", created_at=at, stage="mql")]
>>> [(b.band, b.leads, b.rate) for b in conversion_by_score_band(leads, scores, edges=(0, 50))]
[('0-50', 1, 0.0), ('>=50', 1, 1.0)]
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import pairwise

import attrs

from leadflow.analytics._common import Row, ratio, reached
from leadflow.analytics.response import CONVERTED_STAGES
from leadflow.errors import ValidationError
from leadflow.model import Account, Activity, Lead, by_lead
from leadflow.outcomes import Outcome, OutcomeKind
from leadflow.rules.scorecard import Scorecard
from leadflow.rules.scoring import score_lead

__all__ = [
    "SCORE_BANDS",
    "HandoffScores",
    "PointSuggestion",
    "ScoreBand",
    "conversion_by_score_band",
    "SegmentValidity",
    "auc",
    "auc_standard_error",
    "check_segment",
    "score_slope",
    "scores_at_handoff",
    "segment_value",
    "suggest_points",
    "validity_by_segment",
]

#: Default band edges: [0, 20), [20, 40), [40, 60), [60, 80), [80, ∞).
SCORE_BANDS: tuple[float, ...] = (0.0, 20.0, 40.0, 60.0, 80.0)


@attrs.frozen(kw_only=True)
class ScoreBand(Row):
    """Conversion of the leads scored within ``[lower, upper)`` (``upper`` None: no bound).

    Scores below the first edge are counted in the first band.
    """

    band: str
    lower: float
    upper: float | None
    leads: int
    converted: int
    rate: float | None


@attrs.frozen(kw_only=True)
class PointSuggestion(Row):
    """A *suggested* change to one rule's points, and the counts it rests on.

    ``status`` is ``"suggested"`` when a number could be computed, else why not.
    """

    rule: str
    current_points: float
    fired: int
    fired_won: int
    not_fired: int
    not_fired_won: int
    lift_log_odds: float | None
    suggested_points: float | None
    change: float | None
    status: str


@attrs.frozen(kw_only=True)
class HandoffScores:
    """What the scorecard said about each lead when it was handed to sales.

    ``scores``: lead id to total; ``rule_hits``: lead id to the ids of the rules that contributed
    points; ``points``: rule id to its configured points — the three inputs of
    :func:`conversion_by_score_band` and :func:`suggest_points`.
    """

    scores: Mapping[str, float]
    rule_hits: Mapping[str, frozenset[str]]
    points: Mapping[str, float]


def scores_at_handoff(
    card: Scorecard,
    leads: Iterable[Lead],
    activities: Iterable[Activity] = (),
    *,
    accounts: Mapping[str, Account] | None = None,
) -> HandoffScores:
    """Score every handed-off lead with *card* as of its ``handed_off_at``.

    Validity asks whether the score sales was given predicted what followed, so each lead is
    scored on what was known at hand-off (later activities are ignored); leads never handed off
    are left out.
    """
    theirs = by_lead(activities)
    lookup = accounts or {}
    scores: dict[str, float] = {}
    hits: dict[str, frozenset[str]] = {}
    for lead in leads:
        at = lead.handed_off_at
        if at is None:
            continue
        account = lookup.get(lead.account_id) if lead.account_id else None
        result = score_lead(card, lead, theirs.get(lead.id, []), as_of=at, account=account)
        scores[lead.id] = result.total
        hits[lead.id] = frozenset(c.rule_id for c in result.contributions if c.points)
    return HandoffScores(
        scores=scores, rule_hits=hits, points={rule.id: rule.points for rule in card.rules}
    )


def _fmt(x: float) -> str:
    return f"{x:g}"


def conversion_by_score_band(
    leads: Iterable[Lead],
    scores: Mapping[str, float],
    *,
    edges: Sequence[float] = SCORE_BANDS,
    converted_stages: Sequence[str] = CONVERTED_STAGES,
) -> list[ScoreBand]:
    """Leads and conversion per score band; leads without a score are left out."""
    bounds = list(edges)
    if not bounds or bounds != sorted(set(bounds)):
        raise ValidationError("edges", edges, "must be strictly increasing")
    n: Counter[int] = Counter()
    conv: Counter[int] = Counter()
    for lead in leads:
        score = scores.get(lead.id)
        if score is None:
            continue
        i = max((j for j, low in enumerate(bounds) if score >= low), default=0)
        n[i] += 1
        conv[i] += reached(lead, converted_stages)
    rows = []
    for i, low in enumerate(bounds):
        high = bounds[i + 1] if i + 1 < len(bounds) else None
        name = f"{_fmt(low)}-{_fmt(high)}" if high is not None else f">={_fmt(low)}"
        rows.append(
            ScoreBand(
                band=name,
                lower=low,
                upper=high,
                leads=n[i],
                converted=conv[i],
                rate=ratio(conv[i], n[i]),
            )
        )
    return rows


def _closed(outcomes: Iterable[Outcome]) -> dict[str, bool]:
    """lead_id -> won, from each lead's latest final outcome."""
    latest: dict[str, Outcome] = {}
    for o in outcomes:
        if not o.kind.is_final:
            continue
        if o.lead_id not in latest or o.at >= latest[o.lead_id].at:
            latest[o.lead_id] = o
    return {lead_id: o.kind is OutcomeKind.WON for lead_id, o in latest.items()}


def score_slope(scores: Sequence[float], won: Sequence[bool]) -> float:
    """Slope ``β`` of ``logit P(win) = a + b * score`` by maximum likelihood (Newton's method).

    Scores are centred first for stability. Raises :class:`ValidationError` when the outcomes do
    not vary.
    """
    if len(scores) != len(won) or not scores:
        raise ValidationError("won", len(won), "must have one entry per score, and some")
    if all(won) or not any(won):
        raise ValidationError("won", sum(won), "needs both wins and non-wins")
    mean = sum(scores) / len(scores)
    xs = [s - mean for s in scores]
    alpha = math.log(sum(won) / (len(won) - sum(won)))
    beta = 0.0
    for _ in range(100):
        ga = gb = haa = hab = hbb = 0.0
        for x, y in zip(xs, won, strict=True):
            p = 1.0 / (1.0 + math.exp(-(alpha + beta * x)))
            r = (1.0 if y else 0.0) - p
            v = p * (1.0 - p)
            ga += r
            gb += r * x
            haa += v
            hab += v * x
            hbb += v * x * x
        det = haa * hbb - hab * hab
        if det <= 0:
            break
        da = (hbb * ga - hab * gb) / det
        db = (haa * gb - hab * ga) / det
        alpha, beta = alpha + da, beta + db
        if abs(da) + abs(db) < 1e-10:
            break
    return beta


def _logit(wins: int, total: int) -> float:
    return math.log((wins + 0.5) / (total - wins + 0.5))


def suggest_points(
    scores: Mapping[str, float],
    rule_hits: Mapping[str, Collection[str]],
    points: Mapping[str, float],
    outcomes: Iterable[Outcome],
    *,
    min_closed: int = 200,
    min_per_arm: int = 20,
) -> list[PointSuggestion]:
    """Suggested points per rule from closed outcomes (see the module docstring for the method).

    Only leads with a score and a final outcome count. With fewer than *min_closed* of them every
    row says so; a rule that fired (or did not fire) for fewer than *min_per_arm* of them gets no
    number.
    """
    closed = _closed(outcomes)
    ids = [i for i in closed if i in scores]
    wins = [closed[i] for i in ids]
    beta: float | None = None
    status_all = "suggested"
    if len(ids) < min_closed:
        status_all = f"too few closed outcomes ({len(ids)} < {min_closed})"
    elif all(wins) or not any(wins):
        status_all = "closed outcomes do not vary (all won or none won)"
    else:
        beta = score_slope([scores[i] for i in ids], wins)
        if beta <= 0:
            status_all = "higher scores do not win more (slope <= 0): no point scale"
            beta = None
    rows = []
    for rule in sorted(points):
        fired = [i for i in ids if rule in rule_hits.get(i, ())]
        fired_set = set(fired)
        fw = sum(closed[i] for i in fired)
        nf = len(ids) - len(fired)
        nfw = sum(wins) - fw
        rare = min(len(fired_set), nf) < min_per_arm
        lift = round(_logit(fw, len(fired)) - _logit(nfw, nf), 6) if ids and not rare else None
        status = status_all
        if rare and ids:
            status = (
                f"too rare to judge: fired for {len(fired)} and not for {nf} closed leads "
                f"(each needs >= {min_per_arm})"
            )
        suggested = change = None
        if beta is not None and status == "suggested" and lift is not None:
            suggested = float(round(lift / beta))
            change = suggested - points[rule]
        rows.append(
            PointSuggestion(
                rule=rule,
                current_points=points[rule],
                fired=len(fired),
                fired_won=fw,
                not_fired=nf,
                not_fired_won=nfw,
                lift_log_odds=lift,
                suggested_points=suggested,
                change=change,
                status=status,
            )
        )
    return rows


def auc(scores: Sequence[float], converted: Sequence[bool]) -> float | None:
    """The area under the ROC curve: the chance that a converted lead's score is higher than a
    non-converted one's (ties count half) — 0.5 is a coin toss, 1.0 a perfect ranking. ``None``
    without both classes.

    >>> auc([10, 20, 30, 40], [False, False, True, True]), auc([1, 1], [True, False])
    (1.0, 0.5)
    """
    if len(scores) != len(converted):
        raise ValidationError("converted", len(converted), "must have one entry per score")
    pos = sum(1 for c in converted if c)
    neg = len(converted) - pos
    if pos == 0 or neg == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mid_rank = (i + j) / 2 + 1  # average rank of the tie group, 1-based
        rank_sum += mid_rank * sum(1 for k in range(i, j + 1) if converted[order[k]])
        i = j + 1
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def auc_standard_error(area: float, positives: int, negatives: int) -> float:
    """The standard error of an AUC of *area* from *positives* converted and *negatives*
    non-converted leads (Hanley & McNeil, 1982, *Radiology* 143:29-36): how far a segment's AUC
    moves by chance alone — about 0.1 with 12 conversions among 40 leads, 0.02 with 300 among 1,000.

    >>> round(auc_standard_error(0.7, 12, 28), 3), round(auc_standard_error(0.7, 300, 700), 3)
    (0.096, 0.019)
    """
    if positives < 1 or negatives < 1:
        raise ValidationError("positives", (positives, negatives), "needs both outcomes")
    q1 = area / (2 - area)
    q2 = 2 * area * area / (1 + area)
    variance = (
        area * (1 - area)
        + (positives - 1) * (q1 - area * area)
        + (negatives - 1) * (q2 - area * area)
    ) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))


def segment_value(lead: Lead, segment: str, accounts: Mapping[str, Account] | None = None) -> str:
    """The label of *lead* in *segment*: a lead field (``"industry"``) or property
    (``"properties.tier"``), or the same of the lead's account in *accounts*
    (``"account.industry"``, ``"account.properties.tier"``); missing values are ``"-"``."""
    record: Lead | Account | None = lead
    path = segment
    if segment.startswith("account."):
        record = (accounts or {}).get(lead.account_id or "")
        path = segment.removeprefix("account.")
    value: object = None
    if record is not None:
        if path.startswith("properties."):
            value = record.properties.get(path.removeprefix("properties."))
        else:
            value = getattr(record, path, None)
    return "-" if value is None or value == "" else str(value)


def check_segment(segment: str) -> None:
    """Refuse a *segment* that names no lead or account field (a :class:`ValidationError`)."""
    nested = {"history", "owner_history", "properties"}
    lead_fields = {a.name for a in attrs.fields(Lead)} - nested
    account_fields = {a.name for a in attrs.fields(Account)} - nested
    name = segment.removeprefix("account.")
    if name.startswith("properties.") and len(name) > len("properties."):
        return
    if segment.startswith("account."):
        if name not in account_fields:
            raise ValidationError(
                "segment", segment, f"is not an account field ({sorted(account_fields)})"
            )
    elif segment not in lead_fields:
        raise ValidationError(
            "segment", segment, f"is not a lead field, or 'account.<field>' ({sorted(lead_fields)})"
        )


@attrs.frozen(kw_only=True)
class SegmentValidity(Row):
    """Score validity within one segment (``value`` ``"(all)"`` is the pooled row).

    ``auc``: see :func:`auc`; ``rising``: whether conversion never falls from one populated band
    to the next; ``rates``: conversion per band as ``"0-20: 5%; 20-40: 9%; ..."``; ``warning``:
    why this segment's pattern differs from the pooled one (``None`` when it does not, or when
    the segment is too small to judge).
    """

    segment: str
    value: str
    leads: int
    converted: int
    auc: float | None
    rising: bool | None
    rates: str
    warning: str | None


def _rates(bands: Sequence[ScoreBand]) -> tuple[str, bool | None]:
    populated = [b for b in bands if b.leads and b.rate is not None]
    text = "; ".join(f"{b.band}: {b.rate:.0%}" for b in populated if b.rate is not None)
    if len(populated) < 2:
        return text, None
    rates = [b.rate or 0.0 for b in populated]
    return text, all(b >= a for a, b in pairwise(rates))


def validity_by_segment(
    leads: Iterable[Lead],
    scores: Mapping[str, float],
    segment: str,
    *,
    accounts: Mapping[str, Account] | None = None,
    edges: Sequence[float] = SCORE_BANDS,
    converted_stages: Sequence[str] = CONVERTED_STAGES,
    min_leads: int = 30,
    min_each: int = 5,
    tolerance: float = 0.1,
    z: float = 1.96,
) -> list[SegmentValidity]:
    """Score validity per value of *segment*, after the pooled row (see the module docstring).

    A segment with at least *min_leads* scored leads, of which at least *min_each* converted and
    *min_each* did not, is judged: a warning when its AUC differs from the pooled AUC by more
    than *tolerance* **and** by more than chance explains — *z* standard errors of an AUC equal
    to the pooled one from the segment's counts (:func:`auc_standard_error`; 1.96: at most a 5%
    false-alarm rate per segment on a score that is equally valid everywhere). The warnings say "valid pooled, flat (or reversed) here",
    "invalid pooled, valid here" (Simpson's paradox), or better/worse here.
    """
    check_segment(segment)
    scored = [lead for lead in leads if lead.id in scores]
    groups: dict[str, list[Lead]] = {}
    for lead in scored:
        groups.setdefault(segment_value(lead, segment, accounts), []).append(lead)

    def row(value: str, members: list[Lead], pooled: float | None) -> SegmentValidity:
        conv = [reached(lead, converted_stages) for lead in members]
        area = auc([scores[lead.id] for lead in members], conv)
        text, rising = _rates(
            conversion_by_score_band(
                members, scores, edges=edges, converted_stages=converted_stages
            )
        )
        warning = None
        positives = sum(conv)
        judged = (
            len(members) >= min_leads
            and positives >= min_each
            and len(members) - positives >= min_each
            and area is not None
            and pooled is not None
        )
        margin = tolerance
        if judged and pooled is not None:
            # Chance under "this segment is as valid as the pool": the standard error at the
            # pooled AUC. At the segment's own AUC it shrank where a small segment happened to
            # separate well (zero at AUC 1), and ~9% of equally valid segments were warned about.
            margin = max(
                tolerance, z * auc_standard_error(pooled, positives, len(members) - positives)
            )
        if judged and area is not None and pooled is not None and abs(area - pooled) > margin:
            if pooled > 0.5 + tolerance and area <= 0.5 + tolerance:
                warning = (
                    f"the score predicts conversion pooled (AUC {pooled:.2f}) but not for "
                    f"{segment} = {value} (AUC {area:.2f}): do not trust it there"
                )
            elif pooled <= 0.5 + tolerance and area > 0.5 + tolerance:
                warning = (
                    f"the score looks useless pooled (AUC {pooled:.2f}) but predicts within "
                    f"{segment} = {value} (AUC {area:.2f}): the segments differ in base rate and "
                    "score (Simpson's paradox); judge the score within segments"
                )
            else:
                warning = (
                    f"the score predicts {'better' if area > pooled else 'worse'} for "
                    f"{segment} = {value} (AUC {area:.2f}) than pooled (AUC {pooled:.2f})"
                )
        return SegmentValidity(
            segment=segment,
            value=value,
            leads=len(members),
            converted=sum(conv),
            auc=None if area is None else round(area, 6),
            rising=rising,
            rates=text,
            warning=warning,
        )

    pooled_row = row("(all)", scored, None)
    rows = [pooled_row]
    for value in sorted(groups, key=lambda v: (-len(groups[v]), v)):
        rows.append(row(value, groups[value], pooled_row.auc))
    return rows
