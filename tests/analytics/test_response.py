"""First responses, delay buckets and the half-life fit."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.analytics import conversion_by_delay, decay_curve, first_responses, fit_decay
from leadflow.analytics.response import FirstResponse, fit_decay_stratified
from leadflow.errors import InsufficientDataError, ValidationError
from leadflow.lifecycle import transition
from leadflow.model import Lead, Touch

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _loglik(p0: float, lam: float, delays: list[float], conv: list[bool]) -> float:
    total = 0.0
    for d, c in zip(delays, conv, strict=True):
        p = p0 * math.exp(-lam * d)
        if p >= 1:
            return -math.inf
        total += math.log(p) if c else math.log1p(-p)
    return total


def test_the_fit_is_the_maximum_of_the_likelihood() -> None:
    rng = random.Random(3)
    delays = [round(rng.uniform(0, 48), 2) for _ in range(400)]
    conv = [rng.random() < 0.5 * 2 ** (-d / 10) for d in delays]
    fit = fit_decay(delays, conv)
    best = _loglik(fit.initial_rate, fit.decay_per_hour, delays, conv)
    # No point of a grid around the estimate has a higher likelihood.
    for i in range(-10, 11):
        for j in range(-10, 11):
            p0 = fit.initial_rate * (1 + i / 50)
            lam = fit.decay_per_hour * (1 + j / 50)
            assert _loglik(p0, lam, delays, conv) <= best + 1e-6
    # The interval ends lie where the profile likelihood drops by chi2_1(0.95)/2 = 1.92.
    assert fit.ci_low_hours is not None and fit.ci_high_hours is not None
    assert fit.ci_low_hours < fit.half_life_hours < fit.ci_high_hours  # type: ignore[operator]
    for end in (fit.ci_low_hours, fit.ci_high_hours):
        lam = math.log(2) / end
        profile = max(
            _loglik(fit.initial_rate * math.exp(k / 400), lam, delays, conv)
            for k in range(-400, 401)
        )
        assert best - profile == pytest.approx(1.92, abs=0.02)


def test_no_decay_gives_no_half_life_and_an_open_interval() -> None:
    delays = [float(d) for d in range(40)] * 5
    conv = [i % 4 == 0 for i in range(len(delays))]
    fit = fit_decay(delays, conv)
    # The rate is flat (one in four at every delay): the data cannot bound the half-life above.
    assert fit.ci_high_hours is None
    assert fit.ci_low_hours is not None


def test_rising_conversion_is_clamped_to_no_decay() -> None:
    delays = [float(d) for d in range(20)] * 4
    conv = [d >= 10 for d in delays]
    fit = fit_decay(delays, conv)
    assert fit.decay_per_hour == 0
    assert fit.half_life_hours is None
    assert fit.initial_rate == pytest.approx(0.5, abs=1e-6)


def test_the_fit_refuses_what_it_cannot_estimate() -> None:
    with pytest.raises(InsufficientDataError, match="no lead converted"):
        fit_decay([1.0, 2.0], [False, False])
    with pytest.raises(InsufficientDataError, match="every lead converted"):
        fit_decay([1.0, 2.0], [True, True])
    with pytest.raises(ValidationError, match=r"delays: -1\.0"):
        fit_decay([-1.0, 2.0], [True, False])
    with pytest.raises(ValidationError, match="confidence"):
        fit_decay([1.0, 2.0], [True, False], confidence=1.5)


def test_first_responses_use_the_first_touch_after_hand_off() -> None:
    lead = Lead(id="A", created_at=T0, handed_off_at=T0 + timedelta(hours=1), stage="mql")
    lead = transition(lead, "sal", at=T0 + timedelta(hours=4))
    lead = transition(lead, "sql", at=T0 + timedelta(hours=9))
    never = Lead(id="B", created_at=T0, handed_off_at=T0)
    not_handed = Lead(id="C", created_at=T0)
    touches = [
        Touch(id="t0", lead_id="A", kind="call", at=T0, by="u"),  # before hand-off: ignored
        Touch(id="t2", lead_id="A", kind="call", at=T0 + timedelta(hours=5), by="u"),
        Touch(id="t1", lead_id="A", kind="email", at=T0 + timedelta(hours=3), by="u"),
    ]
    rows = first_responses([lead, never, not_handed], touches)
    assert [(r.lead_id, r.delay_hours, r.converted) for r in rows] == [
        ("A", 2.0, True),
        ("B", None, False),
    ]
    business = first_responses([lead], touches, elapsed=lambda a, b: 0.5)
    assert business[0].delay_hours == 0.5


def test_delay_buckets_are_half_open_and_count_no_response() -> None:
    def r(delay: float | None, conv: bool) -> FirstResponse:
        return FirstResponse(
            lead_id="x", handed_off_at=T0, first_touch_at=None, delay_hours=delay, converted=conv
        )

    rows = conversion_by_delay(
        [r(0.0, True), r(0.99, False), r(1.0, True), r(100.0, False), r(None, False)],
        edges=(0, 1, 4),
    )
    assert [(b.bucket, b.leads, b.converted, b.rate) for b in rows] == [
        ("<1h", 2, 1, 0.5),
        ("1h-4h", 1, 1, 1.0),
        (">=4h", 1, 0, 0.0),
        ("no response", 1, 0, 0.0),
    ]
    with pytest.raises(ValidationError, match="edges"):
        conversion_by_delay([], edges=(1, 4))


def test_the_decay_curve_halves_at_the_half_life() -> None:
    rng = random.Random(5)
    delays = [rng.uniform(0, 40) for _ in range(2000)]
    fit = fit_decay(delays, [rng.random() < 0.4 * 2 ** (-d / 8) for d in delays])
    assert fit.half_life_hours is not None
    assert fit.predicted_rate(fit.half_life_hours) == pytest.approx(fit.initial_rate / 2, rel=1e-4)
    curve = decay_curve(fit, max_hours=48, points=5)
    assert [p.hours for p in curve] == [0, 12, 24, 36, 48]
    assert all(a.rate > b.rate for a, b in itertools.pairwise(curve))


@given(
    rows=st.lists(
        st.tuples(
            st.floats(0, 200, allow_nan=False),
            st.booleans(),
            st.sampled_from(["ads", "webinar", "seo"]),
        ),
        min_size=8,
        max_size=60,
    ),
    seed=st.randoms(use_true_random=False),
)
def test_the_fit_does_not_depend_on_the_order_of_the_leads(rows, seed) -> None:  # type: ignore[no-untyped-def]
    """A CRM and the store list the same leads in different orders; their half-lives (crude and
    adjusted) must agree to the last bit, or two reports of the same data differ."""
    shuffled = list(rows)
    seed.shuffle(shuffled)
    for fit in (
        lambda r: fit_decay([d for d, _, _ in r], [c for _, c, _ in r]),
        lambda r: fit_decay_stratified(
            [d for d, _, _ in r], [c for _, c, _ in r], [k for _, _, k in r]
        ),
    ):
        try:
            first = fit(rows)
        except InsufficientDataError:
            continue
        assert fit(shuffled) == first
