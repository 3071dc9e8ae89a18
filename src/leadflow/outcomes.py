"""Closed-loop outcomes: what later became of a lead or opportunity.

Scope: the facts marketing learns from. Sales records an :class:`Outcome` for a lead — won (with
amount and currency), lost (with a reason), bought from a competitor, still evaluating us, in an
active purchase where we are not a candidate, expecting to buy by a date, no decision, or not in
the market at all — whenever it is known, including months after the lead was rejected or
recycled. The kinds that describe another vendor's deal (``competitor``, ``evaluating_others``)
are kept apart from our own pipeline (``won``, ``lost``, ``evaluating``).
Outcomes are separate from the lifecycle: a disqualified lead can still turn out to have bought
from a competitor a year later, and that is exactly what the feedback reports need to show.

>>> from datetime import datetime, timezone
>>> from decimal import Decimal
>>> at = datetime(2026, 6, 1, tzinfo=timezone.utc)
>>> Outcome(lead_id="L-1", kind="won", at=at, amount=Decimal("48000"), currency="eur").currency
'EUR'
>>> Outcome(lead_id="L-1", kind="won", at=at)
Traceback (most recent call last):
...
leadflow.errors.ValidationError: amount: None is required for a 'won' outcome
"""

from __future__ import annotations

import enum
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from leadflow import _validate as v
from leadflow.errors import ValidationError

__all__ = ["Outcome", "OutcomeKind", "latest_outcome"]

_CURRENCY = re.compile(r"^[A-Z]{3}$")


class OutcomeKind(enum.StrEnum):
    """What became of a lead."""

    #: We won the deal (amount and currency required).
    WON = "won"
    #: We had the opportunity and lost it (reason required).
    LOST = "lost"
    #: The lead bought from a competitor (optionally which one, and the deal's amount).
    COMPETITOR = "competitor"
    #: The lead is evaluating us: an open opportunity of ours.
    EVALUATING = "evaluating"
    #: The lead is in an active purchase in which we are not a candidate.
    EVALUATING_OTHERS = "evaluating_others"
    #: The lead expects to buy by ``expected_by`` (required).
    EXPECTS_TO_BUY = "expects_to_buy"
    #: The buyer decided not to buy.
    NO_DECISION = "no_decision"
    #: The lead is not in the market for what we sell.
    NOT_IN_MARKET = "not_in_market"

    @property
    def is_final(self) -> bool:
        """Whether the outcome closes the question (not a purchase still under way)."""
        return self not in _OPEN

    @property
    def is_ours(self) -> bool:
        """Whether the outcome is about our own opportunity (won, lost, evaluating us)."""
        return self in _OURS


_OPEN = frozenset(
    {OutcomeKind.EVALUATING, OutcomeKind.EVALUATING_OTHERS, OutcomeKind.EXPECTS_TO_BUY}
)
_OURS = frozenset({OutcomeKind.WON, OutcomeKind.LOST, OutcomeKind.EVALUATING})


def _outcome_kind(value: Any) -> Any:
    return v.coerce_enum(OutcomeKind, value)


def _to_decimal(value: Any) -> Any:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int | str):
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _check_amount(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ValidationError(attribute.name, value, "must be a finite amount >= 0")


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _check_currency(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, str) or not _CURRENCY.match(value)):
        raise ValidationError(attribute.name, value, "is not an ISO 4217 currency code")


@attrs.frozen(kw_only=True)
class Outcome:
    """What became of a lead, recorded at ``at``.

    ``amount`` and ``currency`` are required for ``won``; ``reason`` for ``lost``; ``competitor``
    (the vendor chosen) is optional for ``competitor`` and ``evaluating_others``; ``expected_by``
    (when the lead expects to buy) is required for ``expects_to_buy`` and refused elsewhere.
    """

    lead_id: str = attrs.field(validator=v.non_empty)
    kind: OutcomeKind = attrs.field(converter=_outcome_kind, validator=v.member_of(OutcomeKind))
    at: datetime = attrs.field(validator=v.aware)
    amount: Decimal | None = attrs.field(
        default=None, converter=_to_decimal, validator=_check_amount
    )
    currency: str | None = attrs.field(default=None, converter=_upper, validator=_check_currency)
    reason: str | None = None
    competitor: str | None = None
    opportunity_id: str | None = None
    recorded_by: str | None = None
    expected_by: datetime | None = attrs.field(default=None, validator=v.optional_aware)

    def __attrs_post_init__(self) -> None:
        if self.kind is OutcomeKind.WON:
            if self.amount is None:
                raise ValidationError("amount", None, "is required for a 'won' outcome")
            if self.currency is None:
                raise ValidationError("currency", None, "is required for a 'won' outcome")
        elif self.amount is not None and self.currency is None:
            raise ValidationError("currency", None, "is required when an amount is given")
        if self.kind is OutcomeKind.LOST and not (self.reason and self.reason.strip()):
            raise ValidationError("reason", self.reason, "is required for a 'lost' outcome")
        if self.kind is OutcomeKind.EXPECTS_TO_BUY and self.expected_by is None:
            raise ValidationError(
                "expected_by", None, "is required for an 'expects_to_buy' outcome"
            )
        if self.kind is not OutcomeKind.EXPECTS_TO_BUY and self.expected_by is not None:
            raise ValidationError(
                "expected_by", self.expected_by, "is only for an 'expects_to_buy' outcome"
            )


def latest_outcome(outcomes: list[Outcome] | tuple[Outcome, ...], lead_id: str) -> Outcome | None:
    """The most recent outcome recorded for *lead_id*, or ``None``."""
    mine = [o for o in outcomes if o.lead_id == lead_id]
    return max(mine, key=lambda o: o.at) if mine else None
