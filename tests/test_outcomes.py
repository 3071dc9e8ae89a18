"""Closed-loop outcomes."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from leadflow.errors import ValidationError
from leadflow.outcomes import Outcome, OutcomeKind, latest_outcome


def test_won_needs_amount_and_currency(t0: datetime) -> None:
    won = Outcome(lead_id="L-1", kind="won", at=t0, amount="120000.50", currency="usd")
    assert won.amount == Decimal("120000.50") and won.currency == "USD"
    with pytest.raises(ValidationError) as info:
        Outcome(lead_id="L-1", kind="won", at=t0, amount=10)
    assert info.value.field == "currency"


def test_lost_needs_reason(t0: datetime) -> None:
    with pytest.raises(ValidationError, match="reason"):
        Outcome(lead_id="L-1", kind="lost", at=t0)
    assert Outcome(lead_id="L-1", kind="lost", at=t0, reason="price").reason == "price"


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", "-5"), ("amount", "abc"), ("currency", "EURO"), ("kind", "maybe")],
)
def test_bad_values_name_the_field(t0: datetime, field: str, value: str) -> None:
    kwargs: dict[str, object] = {
        "lead_id": "L-1",
        "kind": "won",
        "at": t0,
        "amount": "1",
        "currency": "EUR",
    }
    kwargs[field] = value
    with pytest.raises(ValidationError) as info:
        Outcome(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_competitor_and_latest(t0: datetime) -> None:
    first = Outcome(lead_id="L-1", kind="evaluating", at=t0)
    later = Outcome(
        lead_id="L-1", kind="competitor", at=t0 + timedelta(days=300), competitor="Globex"
    )
    assert latest_outcome([later, first], "L-1") == later
    assert latest_outcome([first], "L-2") is None
    assert not OutcomeKind.EVALUATING.is_final and OutcomeKind.COMPETITOR.is_final
