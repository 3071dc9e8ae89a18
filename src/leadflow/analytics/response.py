"""Response time vs conversion: conversion by first-response delay, and the lead half-life.

Scope: the numbers that justify an SLA. A lead's **first-response delay** is the time from its
hand-off (``Lead.handed_off_at``) to the first sales :class:`~leadflow.model.Touch` at or after it,
in hours — wall-clock by default, or whatever *elapsed* measures (pass a business-hours function
to count business hours). A lead **converted** if it ever reached one of *converted_stages*
(default: ``sql`` or beyond).

The **half-life** model: a lead answered after ``d`` hours converts with probability
``p0 * 2 ** (-d / h)`` — an exponential decay with initial rate ``p0`` and half-life ``h``.
:func:`estimate_half_life` fits it by maximum likelihood (Bernoulli likelihood, parameters
``log p0`` and the decay rate ``λ = ln 2 / h``; the log-likelihood is concave in them, so a damped
Newton iteration finds the maximum) and gives a **profile-likelihood** confidence interval: the
decay rates whose profile log-likelihood lies within ``χ²₁(confidence) / 2`` of the maximum,
found by bracketing and regula falsi (Illinois); the half-life interval is the image of that
interval. Pure Python, no numpy, deterministic (no random numbers). Leads never answered are left
out of the fit (their delay is unknown, not infinite).

>>> delays = [0, 0, 0, 0, 8, 8, 8, 8, 16, 16, 16, 16, 24, 24, 24, 24]
>>> converted = [1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
>>> fit = fit_decay(delays, [bool(c) for c in converted])
>>> fit.half_life_hours, fit.ci_low_hours, fit.ci_high_hours is None
(8.49..., 3.05..., True)
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import Any

import attrs

from leadflow.analytics._common import Row, ratio, reached
from leadflow.business_time import BusinessCalendar
from leadflow.errors import InsufficientDataError, ValidationError
from leadflow.lifecycle import Stage
from leadflow.model import Lead, Touch

__all__ = [
    "CONVERTED_STAGES",
    "DELAY_BUCKETS",
    "DecayPoint",
    "DelayBucket",
    "FirstResponse",
    "BusinessHours",
    "HalfLife",
    "HalfLifeComparison",
    "WALL_CLOCK",
    "business_hours",
    "clock_of",
    "compare_half_lives",
    "fit_decay_stratified",
    "conversion_by_delay",
    "decay_curve",
    "estimate_half_life",
    "first_responses",
    "fit_decay",
]

#: Stages whose reaching counts as a conversion by default: sales accepted a real opportunity.
CONVERTED_STAGES: tuple[str, ...] = tuple(
    s.value for s in (Stage.SQL, Stage.OPPORTUNITY, Stage.WON, Stage.LOST)
)

#: Default bucket edges, in hours: [0, 1), [1, 4), [4, 24), [24, 72), [72, ∞).
DELAY_BUCKETS: tuple[float, ...] = (0.0, 1.0, 4.0, 24.0, 72.0)

_HOUR = timedelta(hours=1)
_METHOD = "maximum likelihood (damped Newton); profile-likelihood interval"
_STRATIFIED = (
    "stratified maximum likelihood (shared decay, one baseline per stratum); "
    "profile-likelihood interval"
)

#: The clock of delays measured as plain elapsed time.
WALL_CLOCK = "wall-clock hours"


@attrs.frozen(kw_only=True)
class FirstResponse(Row):
    """One handed-off lead: when it was first touched, after how long, and whether it converted."""

    lead_id: str
    handed_off_at: datetime
    first_touch_at: datetime | None
    delay_hours: float | None
    converted: bool


@attrs.frozen(kw_only=True)
class DelayBucket(Row):
    """Conversion of the leads first answered within ``[lower_hours, upper_hours)``.

    The ``no response`` bucket has both bounds ``None``; the last bucket has ``upper_hours`` None.
    """

    bucket: str
    lower_hours: float | None
    upper_hours: float | None
    leads: int
    converted: int
    rate: float | None


@attrs.frozen(kw_only=True)
class HalfLife(Row):
    """The fitted decay ``rate(d) = initial_rate * 2 ** (-d / half_life_hours)``.

    ``half_life_hours`` is ``None`` when the best fit has no decay; ``ci_high_hours`` is ``None``
    when the interval does not exclude "no decay" (the data cannot bound the half-life above).
    """

    leads: int
    converted: int
    initial_rate: float
    decay_per_hour: float
    half_life_hours: float | None
    ci_low_hours: float | None
    ci_high_hours: float | None
    confidence: float
    method: str = _METHOD
    #: What the hours are: ``"wall-clock hours"``, or ``"business hours (<calendar>)"`` when the
    #: delays were measured on a business calendar (:func:`business_hours`).
    clock: str = WALL_CLOCK
    #: The dimensions the fit was adjusted for (``()`` for the crude, pooled fit) and how many
    #: strata took part (a shared decay with one baseline rate per stratum).
    adjusted_for: tuple[str, ...] = ()
    strata: int = 1

    def predicted_rate(self, hours: float) -> float:
        """The fitted conversion rate of a lead first answered after *hours*."""
        return self.initial_rate * math.exp(-self.decay_per_hour * hours)


@attrs.frozen(kw_only=True)
class DecayPoint(Row):
    """One point of the fitted decay curve."""

    hours: float
    rate: float


@attrs.frozen
class BusinessHours:
    """An *elapsed* function for :func:`first_responses` that counts a calendar's open hours,
    and says so: :attr:`label` is the clock every half-life measured with it carries.

    >>> from datetime import datetime, timezone
    >>> from leadflow.business_time import BusinessCalendar
    >>> hours = business_hours(BusinessCalendar.weekdays("UTC", name="weekdays-utc"))
    >>> friday_4pm = datetime(2026, 3, 6, 16, tzinfo=timezone.utc)
    >>> hours(friday_4pm, datetime(2026, 3, 9, 10, tzinfo=timezone.utc))  # to Monday 10:00
    2.0
    >>> hours.label
    'business hours (weekdays-utc)'
    """

    calendar: BusinessCalendar

    @property
    def label(self) -> str:
        """``"business hours (<calendar name>)"``."""
        return f"business hours ({self.calendar.name or 'unnamed calendar'})"

    def __call__(self, start: datetime, end: datetime) -> float:
        """Open hours of the calendar between *start* and *end*."""
        return self.calendar.between(start, end) / _HOUR


def business_hours(calendar: BusinessCalendar) -> BusinessHours:
    """An *elapsed* function for :func:`first_responses` that counts *calendar*'s open hours
    (a :class:`BusinessHours`, labelled with the calendar)."""
    return BusinessHours(calendar)


def clock_of(elapsed: Callable[[datetime, datetime], float] | None) -> str:
    """The clock label of an *elapsed* function: :data:`WALL_CLOCK` for ``None``, the function's
    own ``label`` when it has one (:class:`BusinessHours`), else ``"custom hours"``."""
    if elapsed is None:
        return WALL_CLOCK
    label = getattr(elapsed, "label", None)
    return label if isinstance(label, str) and label else "custom hours"


def first_responses(
    leads: Iterable[Lead],
    touches: Iterable[Touch],
    *,
    converted_stages: Sequence[str] = CONVERTED_STAGES,
    elapsed: Callable[[datetime, datetime], float] | None = None,
) -> list[FirstResponse]:
    """Every handed-off lead with its first touch at or after hand-off and the delay in hours.

    *elapsed(start, end)* returns hours between two instants (default: wall-clock hours). Leads
    without ``handed_off_at`` are skipped.
    """
    by_lead: defaultdict[str, list[datetime]] = defaultdict(list)
    for touch in touches:
        by_lead[touch.lead_id].append(touch.at)
    rows = []
    for lead in leads:
        start = lead.handed_off_at
        if start is None:
            continue
        after = [t for t in by_lead.get(lead.id, ()) if t >= start]
        first = min(after) if after else None
        delay: float | None = None
        if first is not None:
            delay = elapsed(start, first) if elapsed is not None else (first - start) / _HOUR
            delay = round(delay, 6)
        rows.append(
            FirstResponse(
                lead_id=lead.id,
                handed_off_at=start,
                first_touch_at=first,
                delay_hours=delay,
                converted=reached(lead, converted_stages),
            )
        )
    return rows


def _bucket_label(low: float, high: float | None) -> str:
    def fmt(x: float) -> str:
        return f"{x:g}h"

    if high is None:
        return f">={fmt(low)}"
    if low == 0:
        return f"<{fmt(high)}"
    return f"{fmt(low)}-{fmt(high)}"


def conversion_by_delay(
    responses: Iterable[FirstResponse], *, edges: Sequence[float] = DELAY_BUCKETS
) -> list[DelayBucket]:
    """Conversion rate per first-response delay bucket, plus a final ``no response`` bucket."""
    bounds = list(edges)
    if not bounds or bounds != sorted(set(bounds)) or bounds[0] != 0:
        raise ValidationError("edges", edges, "must be increasing and start at 0")
    n: Counter[int] = Counter()
    won: Counter[int] = Counter()
    for r in responses:
        if r.delay_hours is None:
            i = -1
        else:
            i = (
                max(j for j, low in enumerate(bounds) if r.delay_hours >= low)
                if r.delay_hours >= 0
                else 0
            )
        n[i] += 1
        won[i] += r.converted
    rows = []
    for i, low in enumerate(bounds):
        high = bounds[i + 1] if i + 1 < len(bounds) else None
        rows.append(
            DelayBucket(
                bucket=_bucket_label(low, high),
                lower_hours=low,
                upper_hours=high,
                leads=n[i],
                converted=won[i],
                rate=ratio(won[i], n[i]),
            )
        )
    rows.append(
        DelayBucket(
            bucket="no response",
            lower_hours=None,
            upper_hours=None,
            leads=n[-1],
            converted=won[-1],
            rate=ratio(won[-1], n[-1]),
        )
    )
    return rows


# -- the fit -------------------------------------------------------------------------------------


class _Data:
    """Delays aggregated: successes enter the likelihood through their count and delay sum only;
    failures are grouped by distinct delay (exact; fast when delays repeat, e.g. whole minutes).

    Order-free: the delay sum is ``math.fsum`` and the distinct delays are sorted, so the same
    leads in another order give the same fit to the last bit (a CRM and the store list leads in
    different orders, and their reports must agree)."""

    def __init__(self, delays: Sequence[float], converted: Sequence[bool]) -> None:
        fails: Counter[float] = Counter()
        success_delays: list[float] = []
        for d, c in zip(delays, converted, strict=True):
            if c:
                success_delays.append(d)
            else:
                fails[d] += 1
        self.successes = len(success_delays)
        self.success_delay = math.fsum(success_delays)
        self.fail_d = sorted(fails)
        self.fail_w = [float(fails[d]) for d in self.fail_d]
        self.n = len(delays)

    def decays(self, lam: float) -> list[float]:
        return [math.exp(-lam * d) for d in self.fail_d]

    def loglik(self, a: float, lam: float, decays: list[float] | None = None) -> float:
        if a > 0.0:  # p0 > 1 is not a probability
            return -math.inf
        e = decays if decays is not None else self.decays(lam)
        p0 = math.exp(a)
        total = self.successes * a - lam * self.success_delay
        for w, x in zip(self.fail_w, e, strict=True):
            q = p0 * x
            if q >= 1.0:
                return -math.inf
            total += w * math.log1p(-q)
        return total

    def profile(self, lam: float, a0: float) -> tuple[float, float]:
        """max over a of loglik(a, lam), a <= 0: concave in a, so Newton's method from a0, kept
        inside the feasible region (p0 <= 1, every failure's probability below 1)."""
        e = self.decays(lam)
        a_max = min(0.0, lam * min(self.fail_d, default=0.0))
        a = min(a0, a_max - 1e-6)
        for _ in range(100):
            p0 = math.exp(a)
            g = float(self.successes)
            h = 0.0
            for w, x in zip(self.fail_w, e, strict=True):
                q = p0 * x
                r = q / (1.0 - q)
                g -= w * r
                h -= w * r / (1.0 - q)
            if h >= 0:
                break
            candidate = a - g / h
            if candidate >= a_max:  # the optimum lies at or beyond the bound: approach it
                candidate = (a + a_max) / 2
            if abs(candidate - a) < 1e-12:
                a = candidate
                break
            a = candidate
        return a, self.loglik(a, lam, e)


def _fit(data: _Data) -> tuple[float, float, float]:
    """Joint damped Newton over (a, λ) with λ >= 0; returns a, λ, loglik."""
    a = math.log(data.successes / data.n)
    lam = 0.0
    ll = data.loglik(a, lam)
    for _ in range(200):
        p0 = math.exp(a)
        ga = float(data.successes)
        gl = -data.success_delay
        haa = hal = hll = 0.0
        for w, d in zip(data.fail_w, data.fail_d, strict=True):
            q = p0 * math.exp(-lam * d)
            g1 = q / (1.0 - q)
            g2 = q / (1.0 - q) ** 2
            ga -= w * g1
            gl += w * g1 * d
            haa -= w * g2
            hal += w * g2 * d
            hll -= w * g2 * d * d
        det = haa * hll - hal * hal
        if det <= 0:
            break
        da = -(hll * ga - hal * gl) / det
        dl = -(haa * gl - hal * ga) / det
        if lam + dl < 0:  # the optimum lies on the boundary λ = 0 or beyond: project
            dl = -lam
            da = -ga / haa if lam == 0 else da
        t = 1.0
        while t > 1e-12:
            ca, cl = a + t * da, max(0.0, lam + t * dl)
            cll = data.loglik(ca, cl)
            if cll >= ll:
                break
            t /= 2
        else:
            break
        moved = abs(ca - a) + abs(cl - lam)
        a, lam, ll = ca, cl, cll
        if moved < 1e-11:
            break
    if lam == 0.0:
        a, ll = data.profile(0.0, a)
    if a > -1e-7:  # p0 = 1 binds: maximise the (concave) profile over λ instead
        a, lam, ll = _fit_on_profile(data, lam)
    return a, lam, ll


def _fit_on_profile(data: _Data, lam0: float) -> tuple[float, float, float]:
    """Golden-section search of the (concave) profile log-likelihood over λ >= 0."""
    lam = _argmax_concave(lambda x: data.profile(x, 0.0)[1], hint=lam0)
    a, ll = data.profile(lam, 0.0)
    return a, lam, ll


def _crossing(f: Callable[[float], float], lo: float, hi: float) -> float:
    """The λ in [lo, hi] where *f* changes sign (*f* monotone there): the one root finder of
    this module, for the pooled and the stratified profile likelihood alike.

    Regula falsi with the Illinois modification (superlinear, and the bracket always holds the
    crossing), stopped at a relative width of 1e-9 or when the crossing is hit within 1e-9.
    """
    f_lo, f_hi = f(lo), f(hi)
    side = 0
    for _ in range(200):
        if f_hi == f_lo:
            mid = (lo + hi) / 2
        else:
            mid = hi - f_hi * (hi - lo) / (f_hi - f_lo)
            if not lo < mid < hi:
                mid = (lo + hi) / 2
        f_mid = f(mid)
        if abs(f_mid) < 1e-9:
            return mid
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
            if side == -1:
                f_hi /= 2
            side = -1
        else:
            hi, f_hi = mid, f_mid
            if side == 1:
                f_lo /= 2
            side = 1
        if hi - lo <= 1e-9 * max(hi, 1e-12):
            break
    return (lo + hi) / 2


def fit_decay(
    delays: Sequence[float],
    converted: Sequence[bool],
    *,
    confidence: float = 0.95,
    clock: str = WALL_CLOCK,
) -> HalfLife:
    """Fit ``rate(d) = p0 * exp(-λ d)`` to delays (hours) and conversions; see the module doc.

    Raises :class:`~leadflow.errors.InsufficientDataError` when there are no conversions or no
    failures (nothing to fit), and :class:`~leadflow.errors.ValidationError` for a negative or
    non-finite delay. *clock* labels the hours (see :attr:`HalfLife.clock`).
    """
    _check_fit_input(delays, converted, confidence)
    data = _Data(delays, converted)
    if data.successes == 0:
        raise InsufficientDataError("half-life", "no lead converted")
    if data.successes == data.n:
        raise InsufficientDataError("half-life", "every lead converted")
    a, lam, ll = _fit(data)
    # A decay too small to show over the observed delays is no decay: a half-life a million
    # times the longest delay is numerical noise of the optimiser (it read 1.2e17 h), and it would
    # differ between two fits of the same data in other units.
    negligible = 1e-6 / max(*delays, 1e-12)
    if lam < negligible:
        lam = 0.0
    crit = NormalDist().inv_cdf((1 + confidence) / 2) ** 2 / 2
    target = ll - crit
    # Lower λ bound (upper half-life bound).
    if lam == 0.0 or data.profile(0.0, a)[1] >= target:
        lam_low = 0.0
    else:
        lam_low = _crossing(lambda x: data.profile(x, a)[1] - target, 0.0, lam)
    # Upper λ bound: step out until the profile falls below the target.
    hi = max(lam * 2, 1e-6)
    while data.profile(hi, a)[1] > target:
        hi *= 2
        if hi > 1e6:
            break
    lam_high = _crossing(lambda x: data.profile(x, a)[1] - target, lam, hi)
    if lam_low < negligible:
        lam_low = 0.0
    ln2 = math.log(2)
    return HalfLife(
        leads=data.n,
        converted=data.successes,
        initial_rate=round(math.exp(a), 6),
        decay_per_hour=round(lam, 9),
        half_life_hours=round(ln2 / lam, 4) if lam > 0 else None,
        ci_low_hours=round(ln2 / lam_high, 4) if lam_high > 0 else None,
        ci_high_hours=round(ln2 / lam_low, 4) if lam_low > 0 else None,
        confidence=confidence,
        clock=clock,
    )


def _check_fit_input(delays: Sequence[float], converted: Sequence[bool], confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValidationError("confidence", confidence, "must be between 0 and 1")
    if len(delays) != len(converted):
        raise ValidationError("converted", len(converted), "must have one entry per delay")
    for d in delays:
        if not math.isfinite(d) or d < 0:
            raise ValidationError("delays", d, "must be finite and >= 0 hours")


def _argmax_concave(f: Callable[[float], float], hint: float) -> float:
    """The maximiser over λ >= 0 of a concave *f*: bracket by doubling, then golden section."""
    hi = max(hint, 1e-3)
    while f(2 * hi) > f(hi):
        hi *= 2
        if hi > 1e4:
            raise InsufficientDataError(
                "half-life",
                "every conversion came at the shortest delays, so the decay has no finite estimate",
            )
    lo, hi = 0.0, 2 * hi
    golden = (math.sqrt(5) - 1) / 2
    m1, m2 = hi - golden * (hi - lo), lo + golden * (hi - lo)
    f1, f2 = f(m1), f(m2)
    for _ in range(300):
        if hi - lo <= 1e-11 * max(hi, 1e-9):
            break
        if f1 < f2:
            lo, m1, f1 = m1, m2, f2
            m2 = lo + golden * (hi - lo)
            f2 = f(m2)
        else:
            hi, m2, f2 = m2, m1, f1
            m1 = hi - golden * (hi - lo)
            f1 = f(m1)
    best = (lo + hi) / 2
    return 0.0 if f(0.0) >= f(best) else best


def fit_decay_stratified(
    delays: Sequence[float],
    converted: Sequence[bool],
    strata: Sequence[str],
    *,
    confidence: float = 0.95,
    clock: str = WALL_CLOCK,
    adjusted_for: Sequence[str] = ("stratum",),
) -> HalfLife:
    """The half-life adjusted for confounding: one decay shared by all strata, one baseline
    conversion rate per stratum, fitted jointly by maximum likelihood.

    Why: when better-fit leads are answered faster *and* convert more anyway, the pooled fit of
    :func:`fit_decay` reads part of the fit difference as decay and reports a half-life that is
    too short. Within a stratum (a fit or score band, a source) that difference is held still; the
    shared decay is what remains. The profile log-likelihood of the decay is the sum of each
    stratum's profile (each stratum's baseline maximised on its own); it is concave, so its
    maximum and the profile-likelihood interval are found by golden section and bisection.
    Strata with no conversion (or nothing but conversions at one delay) carry no information
    about the decay and are left out of the fit (their leads still count in ``leads``).
    ``initial_rate`` is the lead-weighted mean of the strata's baselines.

    >>> # the good stratum is answered fast and converts more; within a stratum, no decay at all
    >>> delays = [1.0] * 40 + [30.0] * 10 + [1.0] * 10 + [30.0] * 40
    >>> strata = ["good"] * 50 + ["poor"] * 50
    >>> converted = [i % 2 == 0 for i in range(50)] + [i % 10 == 0 for i in range(50)]
    >>> crude = fit_decay(delays, converted)
    >>> crude.half_life_hours  # the pooled fit reads the strata's difference as decay
    23.724
    >>> adjusted = fit_decay_stratified(delays, converted, strata, adjusted_for=["fit band"])
    >>> adjusted.half_life_hours is None, adjusted.strata, adjusted.ci_low_hours
    (True, 2, 25.7806)
    >>> compare_half_lives(crude, adjusted).disagree
    True
    """
    _check_fit_input(delays, converted, confidence)
    if len(strata) != len(delays):
        raise ValidationError("strata", len(strata), "must have one entry per delay")
    grouped: defaultdict[str, tuple[list[float], list[bool]]] = defaultdict(lambda: ([], []))
    for d, c, k in zip(delays, converted, strata, strict=True):
        grouped[k][0].append(d)
        grouped[k][1].append(c)
    parts = [  # in stratum order, so the sum over strata does not depend on the leads' order
        (_Data(ds, cs), len(ds))
        for ds, cs in (grouped[k] for k in sorted(grouped))
        if any(cs) and not (all(cs) and len(set(ds)) == 1)
    ]
    successes = sum(1 for c in converted if c)
    if successes == 0:
        raise InsufficientDataError("half-life", "no lead converted")
    if successes == len(converted):
        raise InsufficientDataError("half-life", "every lead converted")
    if not parts or all(p.successes == p.n for p, _ in parts):
        raise InsufficientDataError("half-life", "no stratum has both conversions and failures")
    starts = {id(p): math.log(p.successes / p.n) for p, _ in parts}

    def profile(lam: float) -> float:
        return sum(p.profile(lam, starts[id(p)])[1] for p, _ in parts)

    lam = _argmax_concave(profile, hint=1e-2)
    negligible = 1e-6 / max(*delays, 1e-12)
    if lam < negligible:
        lam = 0.0
    best = profile(lam)
    target = best - NormalDist().inv_cdf((1 + confidence) / 2) ** 2 / 2
    lam_low = 0.0 if profile(0.0) >= target else _crossing(lambda x: profile(x) - target, 0.0, lam)
    hi = max(lam * 2, 1e-6)
    while profile(hi) > target and hi < 1e6:
        hi *= 2
    lam_high = _crossing(lambda x: profile(x) - target, lam, hi)
    if lam_low < negligible:
        lam_low = 0.0
    weights = sum(n for _, n in parts)
    p0 = sum(math.exp(p.profile(lam, starts[id(p)])[0]) * n for p, n in parts) / weights
    ln2 = math.log(2)
    return HalfLife(
        leads=len(delays),
        converted=successes,
        initial_rate=round(p0, 6),
        decay_per_hour=round(lam, 9),
        half_life_hours=round(ln2 / lam, 4) if lam > 0 else None,
        ci_low_hours=round(ln2 / lam_high, 4) if lam_high > 0 else None,
        ci_high_hours=round(ln2 / lam_low, 4) if lam_low > 0 else None,
        confidence=confidence,
        method=_STRATIFIED,
        clock=clock,
        adjusted_for=tuple(adjusted_for),
        strata=len(parts),
    )


def estimate_half_life(
    responses: Iterable[FirstResponse],
    *,
    confidence: float = 0.95,
    clock: str = WALL_CLOCK,
    strata: Mapping[str, str] | None = None,
    adjusted_for: Sequence[str] = ("stratum",),
) -> HalfLife:
    """:func:`fit_decay` over the answered leads of :func:`first_responses`; with *strata* (lead
    id → stratum label, e.g. a score band or a source), :func:`fit_decay_stratified` instead,
    *adjusted_for* naming the dimensions. Leads missing from *strata* form a stratum ``"-"``."""
    answered = [r for r in responses if r.delay_hours is not None]
    delays = [max(0.0, r.delay_hours or 0.0) for r in answered]
    conv = [r.converted for r in answered]
    if strata is None:
        return fit_decay(delays, conv, confidence=confidence, clock=clock)
    return fit_decay_stratified(
        delays,
        conv,
        [strata.get(r.lead_id, "-") for r in answered],
        confidence=confidence,
        clock=clock,
        adjusted_for=adjusted_for,
    )


@attrs.frozen(kw_only=True)
class HalfLifeComparison(Row):
    """The crude (pooled) half-life beside the one adjusted for confounders, and whether they
    disagree: one's estimate lies outside the other's confidence interval."""

    crude: HalfLife
    adjusted: HalfLife
    disagree: bool
    warning: str | None

    def to_dict(self) -> dict[str, Any]:
        """Both fits as nested rows, with the verdict."""
        return {
            "crude": self.crude.to_dict(),
            "adjusted": self.adjusted.to_dict(),
            "disagree": self.disagree,
            "warning": self.warning,
        }


def _outside(h: float | None, fit: HalfLife) -> bool:
    """Whether half-life *h* (None: no decay) lies outside *fit*'s interval."""
    low = fit.ci_low_hours if fit.ci_low_hours is not None else 0.0
    high = fit.ci_high_hours  # None: unbounded above
    if h is None:
        return high is not None
    return h < low or (high is not None and h > high)


def _hours(fit: HalfLife) -> str:
    if fit.half_life_hours is None:
        low = f" (CI from {fit.ci_low_hours:.1f} h)" if fit.ci_low_hours is not None else ""
        return f"no decay{low}"
    high = f"{fit.ci_high_hours:.1f}" if fit.ci_high_hours is not None else "∞"
    low = f"{fit.ci_low_hours:.1f}" if fit.ci_low_hours is not None else "0"
    return f"{fit.half_life_hours:.1f} h (CI {low} to {high} h)"


def compare_half_lives(crude: HalfLife, adjusted: HalfLife) -> HalfLifeComparison:
    """Crude vs adjusted, with a warning when they disagree beyond their intervals (then the
    pooled figure mixes the decay with differences between the strata: trust the adjusted one)."""
    disagree = _outside(crude.half_life_hours, adjusted) or _outside(
        adjusted.half_life_hours, crude
    )
    warning = None
    if disagree:
        dims = ", ".join(adjusted.adjusted_for) or "strata"
        warning = (
            f"the pooled half-life, {_hours(crude)}, disagrees with the one adjusted for {dims}, "
            f"{_hours(adjusted)} ({adjusted.clock}): leads that differ in {dims} were answered at "
            "different speeds and convert at different rates anyway, so the pooled figure is "
            "confounded; read the adjusted one"
        )
    return HalfLifeComparison(crude=crude, adjusted=adjusted, disagree=disagree, warning=warning)


def decay_curve(fit: HalfLife, *, max_hours: float, points: int = 49) -> list[DecayPoint]:
    """The fitted rate at *points* evenly spaced delays from 0 to *max_hours*."""
    if points < 2 or max_hours <= 0:
        raise ValidationError("points", points, "needs at least 2 points over a positive range")
    step = max_hours / (points - 1)
    return [
        DecayPoint(hours=round(i * step, 6), rate=round(fit.predicted_rate(i * step), 6))
        for i in range(points)
    ]
