"""Invariants of scoring, checked with hypothesis over generated scorecards, leads, activities.

* the score never rises as ``as_of`` moves on with no new activity (monotone cards: those whose
  activity-driven points are non-negative and whose activity conditions are not negated — for
  other cards a decaying penalty legitimately raises the score);
* adding an activity never lowers the score of a monotone card;
* the contributions sum exactly (``math.fsum``) to the total, for any card;
* evaluation never reads the wall clock;
* ``score_many`` gives what ``score_lead`` gives.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadflow.rules.scoring as scoring_module
from leadflow.model import Account, Activity, Lead
from leadflow.rules.scorecard import Category, Scorecard, Signal
from leadflow.rules.scoring import score_account, score_lead, score_many

from .strategies import KINDS, T0, accounts, activities, leads, scorecards

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
later = st.floats(min_value=0, max_value=400.0).map(lambda d: timedelta(days=d))


def kinds_of(card: Scorecard) -> list[str]:
    return KINDS + list(card.kinds)


def with_account(lead: Lead, account: Account | None) -> Lead:
    import attrs

    return attrs.evolve(lead, account_id=None if account is None else account.id)


@SETTINGS
@given(data=st.data(), card=scorecards(monotone=True), gap1=later, gap2=later)
def test_score_is_non_increasing_in_as_of(
    data: st.DataObject, card: Scorecard, gap1: timedelta, gap2: timedelta
) -> None:
    account = data.draw(accounts())
    lead = with_account(data.draw(leads()), account)
    acts = data.draw(activities(kinds_of(card)))
    first = score_lead(card, lead, acts, as_of=T0 + gap1, account=account)
    second = score_lead(card, lead, acts, as_of=T0 + gap1 + gap2, account=account)
    assert second.total <= first.total


@SETTINGS
@given(data=st.data(), card=scorecards(monotone=True), gap=later)
def test_adding_an_activity_never_lowers_the_score(
    data: st.DataObject, card: Scorecard, gap: timedelta
) -> None:
    account = data.draw(accounts())
    lead = with_account(data.draw(leads()), account)
    acts = data.draw(activities(kinds_of(card)))
    kind = data.draw(st.sampled_from(kinds_of(card)))
    age = data.draw(st.floats(min_value=0, max_value=200 * 86400.0))
    extra = Activity(
        id="extra", lead_id=lead.id, kind=kind, occurred_at=T0 - timedelta(seconds=age)
    )
    before = score_lead(card, lead, acts, as_of=T0 + gap, account=account)
    after = score_lead(card, lead, [*acts, extra], as_of=T0 + gap, account=account)
    assert after.total >= before.total


@SETTINGS
@given(data=st.data(), card=scorecards(), gap=later)
def test_contributions_sum_exactly_to_the_total(
    data: st.DataObject, card: Scorecard, gap: timedelta
) -> None:
    account = data.draw(accounts())
    lead = with_account(data.draw(leads()), account)
    acts = data.draw(activities(kinds_of(card)))
    result = score_lead(card, lead, acts, as_of=T0 + gap, account=account)
    points = [c.points for c in result.contributions]
    assert math.fsum(points) == result.total
    assert math.fsum(reversed(points)) == result.total
    assert math.fsum(c.points for c in result.contributions if c.category is Category.FIT) == (
        result.fit
    )
    assert (
        math.fsum(c.points for c in result.contributions if c.signal is Signal.INTENT)
        == result.intent
    )
    assert sum(points) == pytest.approx(result.total, rel=1e-9, abs=1e-9)
    ids = {a.id for a in acts}
    for c in result.contributions:
        assert set(c.evidence) <= ids
        if c.category is Category.BEHAVIOUR:
            assert c.evidence, "behaviour points always name the activities behind them"
        if card.rule(c.rule_id).cap is not None:
            assert abs(c.points) <= card.rule(c.rule_id).cap  # type: ignore[operator]
    assert result.explain()


@SETTINGS
@given(data=st.data(), card=scorecards())
def test_score_many_is_score_lead_in_a_stream(data: st.DataObject, card: Scorecard) -> None:
    account = data.draw(accounts())
    rows = []
    for i in range(3):
        lead = with_account(data.draw(leads(f"L-{i}")), account)
        rows.append((lead, data.draw(activities(kinds_of(card), lead.id, max_size=5))))
    lookup = {} if account is None else {account.id: account}
    streamed = list(score_many(card, iter(rows), as_of=T0, accounts=lookup))
    single = [score_lead(card, lead, acts, as_of=T0, account=account) for lead, acts in rows]
    assert streamed == single


class _Clock(AssertionError):
    pass


def _boom(*_args: Any, **_kwargs: Any) -> Any:
    raise _Clock("evaluation read the wall clock")


class _NoClockDatetime(dt.datetime):
    now = classmethod(_boom)  # type: ignore[assignment]
    utcnow = classmethod(_boom)  # type: ignore[assignment]
    today = classmethod(_boom)  # type: ignore[assignment]


class _NoClockDate(dt.date):
    today = classmethod(_boom)  # type: ignore[assignment]


@contextmanager
def no_clock() -> Iterator[None]:
    """Every wall-clock and monotonic-clock entry point raises while inside."""
    patch = pytest.MonkeyPatch()
    try:
        for name in (
            "time",
            "time_ns",
            "monotonic",
            "monotonic_ns",
            "perf_counter",
            "perf_counter_ns",
            "localtime",
            "gmtime",
            "ctime",
            "asctime",
        ):
            patch.setattr(time, name, _boom)
        patch.setattr(scoring_module, "datetime", _NoClockDatetime)
        patch.setattr(dt, "datetime", _NoClockDatetime)
        patch.setattr(dt, "date", _NoClockDate)
        yield
    finally:
        patch.undo()


def test_the_clock_guard_works() -> None:
    with no_clock(), pytest.raises(_Clock):
        time.time()
    with no_clock(), pytest.raises(_Clock):
        dt.datetime.now(dt.UTC)


@SETTINGS
@given(data=st.data(), card=scorecards())
def test_evaluation_never_reads_the_clock(data: st.DataObject, card: Scorecard) -> None:
    account = data.draw(accounts())
    lead = with_account(data.draw(leads()), account)
    acts = data.draw(activities(kinds_of(card)))
    with no_clock():
        score_lead(card, lead, acts, as_of=T0, account=account).explain()
        list(score_many(card, [(lead, acts)], as_of=T0))
        if account is not None:
            score_account(card, account, [(lead, acts)], as_of=T0)


def test_scoring_source_has_no_clock_calls() -> None:
    import inspect

    import leadflow.rules.scorecard as scorecard_module

    for module in (scoring_module, scorecard_module):
        source = inspect.getsource(module)
        for call in (".now(", ".utcnow(", ".today(", "time.time", "monotonic(", "perf_counter("):
            assert call not in source, f"{module.__name__} calls {call}"
