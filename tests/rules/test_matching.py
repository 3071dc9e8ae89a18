"""Conditions that know how to match: ``Condition.matches``, ``Condition.matcher()`` and the
matcher objects of :mod:`leadflow.rules.matching`, checked against scoring."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.errors import ValidationError
from leadflow.model import Account, Activity, Lead
from leadflow.rules import matching
from leadflow.rules.scorecard import (
    ActivityCount,
    AllOf,
    AnyOf,
    Category,
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
    TitleKeywords,
    iter_conditions,
)
from leadflow.rules.scoring import score_lead

from .strategies import KINDS, T0, accounts, activities, conditions, leads, scorecards

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SRC = Path(__file__).resolve().parents[2] / "src" / "leadflow"


def lead(**fields: object) -> Lead:
    return Lead(id="L-1", created_at=T0 - timedelta(days=400), **fields)  # type: ignore[arg-type]


def act(kind: str, days_ago: float, n: int = 0) -> Activity:
    return Activity(
        id=f"{kind}-{n}", lead_id="L-1", kind=kind, occurred_at=T0 - timedelta(days=days_ago)
    )


def reads_activities(rule: Rule) -> bool:
    return rule.when is not None and any(
        isinstance(c, ActivityCount) for _, c in iter_conditions(rule.when)
    )


# -- matches agrees with scoring -------------------------------------------------------------


@SETTINGS
@given(data=st.data(), card=scorecards())
def test_a_rules_condition_matches_exactly_when_scoring_says_it_held(
    data: st.DataObject, card: Scorecard
) -> None:
    account = data.draw(accounts())
    drawn = data.draw(leads())
    subject = attrs.evolve(drawn, account_id=None if account is None else account.id)
    acts = data.draw(activities(KINDS + list(card.kinds)))
    result = score_lead(card, subject, acts, as_of=T0, account=account)
    contributed = {c.rule_id for c in result.contributions}
    for rule in card.rules:
        if rule.when is None:
            continue
        holds = rule.when.matches(subject, account, activities=acts, as_of=T0)
        if rule.category is Category.FIT:
            # a fit rule contributes exactly when its condition holds
            assert holds == (rule.id in contributed), rule
        elif rule.id in contributed:
            # a behaviour rule contributes only when its condition (or gate) holds
            assert holds, rule
        elif not rule.activities and holds:
            # a rule without activities that holds but adds nothing: no activity behind it
            found = rule.when.matcher().evidence(
                subject, account, matching.sightings_by_kind(subject.id, acts, T0)
            )
            assert found is not None
            assert not found


@SETTINGS
@given(data=st.data(), condition=conditions(KINDS))
def test_matches_is_the_matchers_verdict(data: st.DataObject, condition: object) -> None:
    assert isinstance(condition, matching_conditions())
    subject = data.draw(leads())
    account = data.draw(accounts())
    acts = data.draw(activities(KINDS))
    seen = matching.sightings_by_kind(subject.id, acts, T0)
    found = condition.matcher().evidence(subject, account, seen)
    assert condition.matches(subject, account, activities=acts, as_of=T0) == (found is not None)
    if found is not None:  # evidence is activities of the lead, at or before as_of
        assert all(s.age_days >= 0 and s.activity in acts for s in found)


def matching_conditions() -> tuple[type, ...]:
    return (
        Equals,
        OneOf,
        Range,
        Regex,
        TitleKeywords,
        Missing,
        Present,
        FreeMailDomain,
        AllOf,
        AnyOf,
        Not,
        ActivityCount,
    )


# -- each condition on its own ---------------------------------------------------------------


def test_field_conditions_match_like_the_docs_say() -> None:
    vp = lead(title="VP Sales", country=" us ", employees=250, email="ada@Gmail.com")
    account = Account(id="A-1", name="Acme", industry="Software", annual_revenue=2e9)
    assert Equals(field="country", value="US").matches(vp)
    assert not Equals(field="country", value="DE").matches(vp)
    assert OneOf(field="account.industry", values=["retail", "software"]).matches(vp, account)
    assert not OneOf(field="account.industry", values=["software"]).matches(vp)  # no account
    assert Range(field="employees", min=100, max=250).matches(vp)
    assert not Range(field="employees", min=251).matches(vp)
    assert not Range(field="annual_revenue", min=0).matches(vp)  # missing is no number
    assert Range(field="account.annual_revenue", min=5e8).matches(vp, account)
    assert Regex(field="email", pattern=r"(?i)@gmail\.com$").matches(vp)
    assert not Regex(field="email", pattern=r"@Gmail").matches(vp)  # e-mails are normalised
    assert TitleKeywords(keywords=["vp"]).matches(vp)
    assert not TitleKeywords(keywords=["VP"]).matches(lead(title="SVP Sales"))
    assert Missing(field="company").matches(vp)
    assert Present(field="title").matches(vp)
    assert FreeMailDomain().matches(vp)
    assert not FreeMailDomain(domains=["example.org"]).matches(vp)
    assert not FreeMailDomain().matches(lead())  # no address


def test_numbers_and_booleans_compare_apart() -> None:
    assert Equals(field="employees", value=1.0).matches(lead(employees=1))
    assert not Equals(field="properties.flag", value=True).matches(lead(properties={"flag": 1}))
    assert Equals(field="properties.flag", value=True).matches(lead(properties={"flag": True}))
    assert not Range(field="properties.flag", min=0).matches(lead(properties={"flag": True}))


def test_activity_conditions_count_activities_up_to_as_of_within_the_window() -> None:
    two_in_14 = ActivityCount(kinds=["pricing_page_visit"], at_least=2, within_days=14)
    acts = [act("pricing_page_visit", 3, 0), act("pricing_page_visit", 10, 1)]
    assert two_in_14.matches(lead(), activities=acts, as_of=T0)
    assert not two_in_14.matches(lead(), activities=acts[:1], as_of=T0)
    # 11 days later the older visit is 21 days old: outside the window
    assert not two_in_14.matches(lead(), activities=acts, as_of=T0 + timedelta(days=11))
    # before the visits happened nothing counts
    assert not two_in_14.matches(lead(), activities=acts, as_of=T0 - timedelta(days=20))
    assert not two_in_14.matches(lead())


def test_combinators_and_their_evidence() -> None:
    quote = ActivityCount(kinds=["quote_request"])
    demo = ActivityCount(kinds=["demo_request"])
    acts = [act("quote_request", 2), act("demo_request", 5)]
    seen = matching.sightings_by_kind("L-1", acts, T0)
    subject = lead(title="CTO")
    either = AnyOf(conditions=[quote, demo]).matcher()
    found = either.evidence(subject, None, seen)
    assert [s.activity.id for s in found or ()] == ["quote_request-0", "demo_request-0"]
    both = AllOf(conditions=[quote, Present(field="title")]).matcher()
    assert [s.activity.id for s in both.evidence(subject, None, seen) or ()] == ["quote_request-0"]
    assert Not(condition=quote).matcher().evidence(subject, None, seen) is None
    assert Not(condition=demo).matcher().evidence(subject, None, {}) == ()
    assert not AllOf(conditions=[quote, Missing(field="title")]).matches(
        subject, activities=acts, as_of=T0
    )


def test_an_any_of_on_fields_alone_stops_at_the_first_part_that_holds() -> None:
    on_fields = AnyOf(conditions=[Present(field="title"), Missing(field="title")])
    assert isinstance(on_fields.matcher(), matching.FirstMatch)
    reading = AnyOf(conditions=[Present(field="title"), ActivityCount(kinds=["web_visit"])])
    assert isinstance(reading.matcher(), matching.AnyMatch)


def test_activities_need_an_aware_as_of_and_the_right_lead() -> None:
    condition = ActivityCount(kinds=["web_visit"])
    with pytest.raises(ValidationError, match="as_of: None is required"):
        condition.matches(lead(), activities=[act("web_visit", 1)])
    with pytest.raises(ValidationError, match="naive"):
        condition.matches(lead(), activities=[act("web_visit", 1)], as_of=T0.replace(tzinfo=None))
    other = Activity(id="X", lead_id="L-2", kind="web_visit", occurred_at=T0)
    with pytest.raises(ValidationError, match="belongs to lead 'L-2'"):
        condition.matches(lead(), activities=[other], as_of=T0)


def test_matchers_are_plain_frozen_values() -> None:
    condition = AllOf(
        conditions=[
            TitleKeywords(keywords=["VP"]),
            AnyOf(conditions=[Equals(field="account.properties.tier", value="A")]),
            Not(condition=Regex(field="properties.persona", pattern="^x")),
        ]
    )
    built = condition.matcher()
    assert built == condition.matcher()  # equal conditions prepare equal matchers
    assert attrs.has(type(built))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.parts = ()  # type: ignore[misc]
    assert matching.reader("title") == matching.LeadField("title")
    assert matching.reader("account.name") == matching.AccountField("name")
    assert matching.reader("properties.persona") == matching.LeadProperty("persona")


# -- no generated code -----------------------------------------------------------------------


def test_the_package_generates_no_code() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bexec\(|(?<![.\w])compile\(", line)
    ]
    assert offenders == []
