"""Hypothesis strategies for scorecards, leads and activities (test-only).

Kept beside the scorecard tests rather than in ``leadflow.testing`` (another module's owner).
``scorecards()`` draws any valid card; ``monotone_scorecards()`` draws cards for which the
time-decay and added-activity invariants hold (activity-driven points are never negative and
activity conditions are never negated).
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from leadflow.model import STANDARD_ACTIVITY_KINDS, Account, Activity, Lead
from leadflow.rules.scorecard import (
    ActivityCount,
    AllOf,
    AnyOf,
    Condition,
    Equals,
    FreeMailDomain,
    Missing,
    Not,
    OneOf,
    Present,
    Range,
    Regex,
    Rule,
    Scorecard,
    Thresholds,
    TitleKeywords,
)

KINDS = sorted(STANDARD_ACTIVITY_KINDS)
TEXT_FIELDS = [
    "title",
    "industry",
    "country",
    "company",
    "source",
    "email",
    "email_domain",
    "account.industry",
    "account.name",
    "account.domain",
    "properties.persona",
]
NUMERIC = ["annual_revenue", "employees", "account.annual_revenue", "account.employees"]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
small = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, allow_infinity=False)
words = st.text(string.ascii_letters + " -", min_size=1, max_size=12).filter(str.strip)
identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
scalars = st.one_of(st.text(max_size=10), st.integers(-(10**9), 10**9), finite, st.booleans())


def field_conditions() -> st.SearchStrategy[Condition]:
    """Leaf conditions on lead and account fields."""
    fields = st.sampled_from(TEXT_FIELDS + NUMERIC)
    return st.one_of(
        st.builds(Equals, field=fields, value=scalars),
        st.builds(OneOf, field=fields, values=st.lists(scalars, min_size=1, max_size=4)),
        st.builds(
            lambda f, a, b: Range(field=f, min=min(a, b), max=max(a, b)),
            st.sampled_from(NUMERIC),
            small,
            small,
        ),
        st.builds(Range, field=st.sampled_from(NUMERIC), min=small),
        st.builds(Regex, field=fields, pattern=st.sampled_from([r"(?i)\.edu$", "^VP", "a|b"])),
        st.builds(TitleKeywords, keywords=st.lists(words, min_size=1, max_size=3)),
        st.builds(Missing, field=fields),
        st.builds(Present, field=fields),
        st.builds(FreeMailDomain),
        st.builds(
            FreeMailDomain,
            domains=st.lists(st.sampled_from(["gmail.com", "ex.org"]), min_size=1, max_size=2),
        ),
    )


def activity_conditions(kinds: list[str]) -> st.SearchStrategy[ActivityCount]:
    """Activity conditions over *kinds*."""
    return st.builds(
        ActivityCount,
        kinds=st.lists(st.sampled_from(kinds), min_size=1, max_size=3, unique=True),
        at_least=st.integers(1, 3),
        within_days=st.none() | positive,
    )


def conditions(kinds: list[str], *, negate: bool = True) -> st.SearchStrategy[Condition]:
    """Condition trees; with ``negate=False`` no ``not`` wraps an activity condition."""
    leaves: st.SearchStrategy[Condition] = field_conditions() | activity_conditions(kinds)

    def extend(children: st.SearchStrategy[Condition]) -> st.SearchStrategy[Condition]:
        lists = st.lists(children, min_size=1, max_size=3)
        options: list[st.SearchStrategy[Condition]] = [
            st.builds(AllOf, conditions=lists),
            st.builds(AnyOf, conditions=lists),
        ]
        options.append(st.builds(Not, condition=children if negate else field_conditions()))
        return st.one_of(options)

    return st.recursive(leaves, extend, max_leaves=5)


@st.composite
def rules(draw: st.DrawFn, kinds: list[str], *, monotone: bool = False) -> Rule:
    """One valid rule using *kinds*; ``monotone`` keeps activity points >= 0 and un-negated."""
    rule_id = draw(identifiers)
    label = draw(st.none() | words)
    extra = {} if label is None else {"label": label}
    cap = draw(st.none() | positive)
    if draw(st.booleans()):
        when = draw(conditions(kinds, negate=not monotone))
        points = draw(small)
        if monotone and any(isinstance(c, ActivityCount) for c in _walk(when)):
            points = abs(points)
        return Rule(id=rule_id, category="fit", points=points, when=when, cap=cap, **extra)
    signal = draw(st.sampled_from(["interest", "intent"]))
    points = abs(draw(small)) if monotone else draw(small)
    half_life = draw(st.none() | positive)
    if draw(st.booleans()):
        when = draw(st.none() | conditions(kinds, negate=not monotone))
        return Rule(
            id=rule_id,
            category="behaviour",
            signal=signal,
            points=points,
            cap=cap,
            half_life_days=half_life,
            activities=draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=3, unique=True)),
            within_days=draw(st.none() | positive),
            when=when,
            **extra,
        )
    gate = draw(activity_conditions(kinds))
    other = draw(st.none() | conditions(kinds, negate=not monotone))
    when = gate if other is None else AllOf(conditions=[gate, other])
    return Rule(
        id=rule_id,
        category="behaviour",
        signal=signal,
        points=points,
        cap=cap,
        half_life_days=half_life,
        when=when,
        **extra,
    )


def _walk(condition: Condition) -> list[Condition]:
    from leadflow.rules.scorecard import iter_conditions

    return [c for _, c in iter_conditions(condition)]


@st.composite
def thresholds(draw: st.DrawFn) -> Thresholds:
    """Valid thresholds (sql_ready >= mql)."""
    a, b = draw(small), draw(small)
    return Thresholds(
        mql=min(a, b),
        sql_ready=max(a, b),
        sql_ready_requires_intent=draw(st.booleans()),
        winnable_fit=draw(small),
        winnable_contacts=draw(st.integers(1, 10)),
        winnable_engagement=draw(small),
    )


@st.composite
def scorecards(draw: st.DrawFn, *, monotone: bool = False, max_rules: int = 6) -> Scorecard:
    """Any valid scorecard; with ``monotone=True`` one whose score obeys the decay invariants."""
    extra_kinds = draw(
        st.lists(identifiers.filter(lambda k: k not in STANDARD_ACTIVITY_KINDS), max_size=2)
    )
    extra_kinds = list(dict.fromkeys(extra_kinds))
    kinds = KINDS + extra_kinds
    drawn = draw(
        st.lists(
            rules(kinds, monotone=monotone),
            min_size=1,
            max_size=max_rules,
            unique_by=lambda r: r.id,
        )
    )
    return Scorecard(
        name=draw(words),
        description=draw(st.text(max_size=30)),
        half_life_days=draw(positive),
        kinds=extra_kinds,
        trend_window_days=draw(positive),
        trend_tolerance=draw(st.floats(min_value=0, max_value=0.9)),
        thresholds=draw(thresholds()),
        rules=drawn,
    )


def leads(lead_id: str = "L-1") -> st.SearchStrategy[Lead]:
    """Leads with the fields scorecards read."""
    return st.builds(
        Lead,
        id=st.just(lead_id),
        created_at=st.just(T0 - timedelta(days=400)),
        email=st.none()
        | st.sampled_from(["ada@gmail.com", "bo@example.com", "cy@uni.edu", "di@corp.io"]),
        title=st.none()
        | st.sampled_from(["VP Sales", "Director of IT", "Student", "Engineer", "CEO"]),
        industry=st.none() | st.sampled_from(["Software", "Retail", "Healthcare"]),
        annual_revenue=st.none() | st.floats(min_value=0, max_value=1e10),
        employees=st.none() | st.integers(0, 100_000),
        country=st.none() | st.sampled_from(["US", "DE", "FR"]),
    )


def accounts() -> st.SearchStrategy[Account | None]:
    """An account (or none) for a lead."""
    return st.none() | st.builds(
        Account,
        id=st.just("A-1"),
        name=st.just("Example Ltd"),
        industry=st.none() | st.sampled_from(["Software", "Retail"]),
        annual_revenue=st.none() | st.floats(min_value=0, max_value=1e10),
    )


def activities(
    kinds: list[str], lead_id: str = "L-1", *, max_size: int = 12
) -> st.SearchStrategy[list[Activity]]:
    """Activities of *kinds* in the 200 days before :data:`T0`, with unique ids."""
    one = st.builds(
        lambda kind, age: (kind, age),
        st.sampled_from(kinds),
        st.floats(min_value=0, max_value=200 * 86400.0),
    )
    return st.lists(one, max_size=max_size).map(
        lambda items: [
            Activity(
                id=f"A{i}",
                lead_id=lead_id,
                kind=kind,
                occurred_at=T0 - timedelta(seconds=age),
            )
            for i, (kind, age) in enumerate(items)
        ]
    )
