"""Scoring a lead, a stream of leads and an account; explanations; acting on recommendations."""

from __future__ import annotations

import math
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from leadflow.errors import ValidationError
from leadflow.lifecycle import Stage, transition
from leadflow.model import Account, Activity, Lead
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
    Signal,
    Thresholds,
    TitleKeywords,
    load_scorecard,
)
from leadflow.rules.scoring import (
    Contribution,
    Recommendation,
    ScoreResult,
    Trend,
    apply_recommendation,
    recommend,
    score_account,
    score_lead,
    score_many,
)

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
CARD = load_scorecard(Path(__file__).resolve().parents[2] / "examples" / "scorecard.toml")
ACME = Account(id="A-1", name="Acme", industry="Software", annual_revenue=2e9)


def lead(lead_id: str = "L-1", **fields: object) -> Lead:
    return Lead(id=lead_id, created_at=NOW - timedelta(days=365), **fields)  # type: ignore[arg-type]


def act(kind: str, days_ago: float, n: int = 0, lead_id: str = "L-1") -> Activity:
    return Activity(
        id=f"{lead_id}-{kind}-{n}",
        lead_id=lead_id,
        kind=kind,
        occurred_at=NOW - timedelta(days=days_ago),
    )


def one_rule(rule: Rule) -> Scorecard:
    return Scorecard(name="t", rules=[rule])


def fit_points(when: object, who: Lead, account: Account | None = None) -> float:
    card = one_rule(Rule(id="r", category="fit", points=7, when=when))  # type: ignore[arg-type]
    return score_lead(card, who, [], as_of=NOW, account=account).total


# -- the example card ------------------------------------------------------------------------


def test_vp_at_target_company_with_a_fresh_quote_request_is_sql_ready() -> None:
    who = lead(title="VP Operations", email="ada@acme.io", account_id="A-1")
    result = score_lead(CARD, who, [act("quote_request", 3)], as_of=NOW, account=ACME)
    ids = [c.rule_id for c in result.contributions]
    assert ids == ["vp_or_above", "target_industry", "revenue_over_500m", "quote_request"]
    assert result.fit == 50.0
    quote = result.contributions[-1]
    assert quote.raw_points == 40.0
    assert quote.points == pytest.approx(40 * 0.5 ** (3 / 30))
    assert quote.evidence == ("L-1-quote_request-0",)
    assert quote.age_days == pytest.approx(3.0)
    assert result.total == math.fsum(c.points for c in result.contributions)
    assert result.has_intent
    assert result.recommendation is Recommendation.SQL_READY
    assert result.explain() == (
        "+20 VP+ title, +15 target industry, +15 revenue over $500M, "
        "+37.3 quote request 3 days ago (half-life 30 d)"
    )


def test_interest_alone_never_makes_sql_ready() -> None:
    who = lead(title="Chief Risk Officer", industry="Financial Services", annual_revenue=9e8)
    acts = [act("case_study_download", 1, i) for i in range(3)]
    acts += [act("webinar_attended", 1, i) for i in range(3)]
    result = score_lead(CARD, who, acts, as_of=NOW)
    assert result.total >= CARD.thresholds.sql_ready
    assert not result.has_intent
    assert result.intent == 0.0
    assert result.recommendation is Recommendation.MQL


def test_caps_bound_a_rule_and_say_so() -> None:
    acts = [act("case_study_download", 0.5, i) for i in range(5)]
    result = score_lead(CARD, lead(), acts, as_of=NOW)
    (case,) = result.contributions
    assert case.points == 25.0
    assert case.capped
    assert case.raw_points == 50.0
    assert case.explain() == "+25 case-study download x5, latest today (half-life 30 d) [capped]"


def test_negative_fit_and_nurture() -> None:
    result = score_lead(CARD, lead(title="Student", email="kim@gmail.com"), [], as_of=NOW)
    assert result.total == -40.0
    assert result.recommendation is Recommendation.NURTURE
    assert result.explain() == "-30 student, -10 free-mail domain"
    assert score_lead(CARD, lead(), [], as_of=NOW).explain() == "no rule matched"


def test_windowed_count_rule_decays_from_its_newest_evidence() -> None:
    acts = [act("pricing_page_visit", 2, 0), act("pricing_page_visit", 9, 1)]
    (pricing,) = score_lead(CARD, lead(), acts, as_of=NOW).contributions
    assert pricing.rule_id == "pricing_interest"
    assert pricing.points == pytest.approx(15 * 0.5 ** (2 / 7))
    assert set(pricing.evidence) == {a.id for a in acts}
    late = [act("pricing_page_visit", 2, 0), act("pricing_page_visit", 20, 1)]
    assert score_lead(CARD, lead(), late, as_of=NOW).contributions == ()


def test_activities_after_as_of_and_unread_kinds_are_ignored() -> None:
    future = act("quote_request", -1)
    result = score_lead(CARD, lead(), [future, act("unsubscribe", 1)], as_of=NOW)
    assert result.total == 0.0


def test_ages_are_elapsed_time_across_a_dst_change_in_one_zone() -> None:
    # Both instants in America/New_York, a DST change (2026-03-08) between them: Python
    # subtracts two datetimes of the same zone as wall clocks (48 h here), but 47 h elapsed.
    ny = ZoneInfo("America/New_York")
    as_of = datetime(2026, 3, 9, 12, 0, tzinfo=ny)
    quote = Activity(
        id="q", lead_id="L-1", kind="quote_request", occurred_at=datetime(2026, 3, 7, 12, tzinfo=ny)
    )
    (result,) = score_many(CARD, [(lead(), [quote])], as_of=as_of)
    (contribution,) = result.contributions
    assert contribution.age_days == pytest.approx(47 / 24, abs=1e-12)
    assert contribution.points == pytest.approx(40 * 0.5 ** (47 / 24 / 30), rel=1e-12)
    assert score_lead(CARD, lead(), [quote], as_of=as_of) == result
    behind = score_account(CARD, ACME, [(lead(account_id="A-1"), [quote])], as_of=as_of)
    assert behind.engagement == pytest.approx(contribution.points, rel=1e-12)


def test_the_account_trend_window_is_elapsed_time_in_any_zone() -> None:
    # the window's start is trend_window_days of elapsed time before as_of: in New York, with
    # 2026-03-08's DST change inside the window, the wall clock would start it an hour late
    ny = ZoneInfo("America/New_York")
    as_of = datetime(2026, 3, 20, 12, 0, tzinfo=ny)
    start = as_of.astimezone(UTC) - timedelta(days=CARD.trend_window_days)
    acts = [
        Activity(id="w", lead_id="L-1", kind="webinar_attended",
                 occurred_at=start + timedelta(minutes=30)),
        Activity(id="q", lead_id="L-1", kind="quote_request", occurred_at=start - timedelta(days=2)),
    ]  # fmt: skip
    people = [(lead(account_id="A-1"), acts)]
    utc = score_account(CARD, ACME, people, as_of=as_of.astimezone(UTC))
    there = score_account(CARD, ACME, people, as_of=as_of)
    assert there.previous_engagement == utc.previous_engagement
    assert there.trend is utc.trend
    assert there.engagement == utc.engagement


def test_per_rule_window_and_gate() -> None:
    rule = Rule(
        id="r",
        category="behaviour",
        signal="interest",
        points=10,
        activities=["web_visit"],
        within_days=7,
        when=Present(field="title"),
    )
    card = one_rule(rule)
    acts = [act("web_visit", 1, 0), act("web_visit", 30, 1)]
    assert score_lead(card, lead(), acts, as_of=NOW).total == 0.0
    (only,) = score_lead(card, lead(title="CTO"), acts, as_of=NOW).contributions
    assert only.evidence == ("L-1-web_visit-0",)


# -- conditions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "who", "hit"),
    [
        (Equals(field="country", value="us"), lead(country=" US "), True),
        (Equals(field="employees", value=250), lead(employees=250), True),
        (Equals(field="employees", value=True), lead(employees=1), False),
        (Equals(field="country", value="US"), lead(), False),
        (OneOf(field="industry", values=("Retail", "Software")), lead(industry="software"), True),
        (Range(field="annual_revenue", min=5e8), lead(annual_revenue=5e8), True),
        (Range(field="annual_revenue", min=5e8), lead(annual_revenue=4.99e8), False),
        (Range(field="employees", max=10), lead(), False),
        (Range(field="properties.seats", min=10), lead(properties={"seats": 12}), True),
        (Range(field="properties.seats", min=10), lead(properties={"seats": "12"}), False),
        (Regex(field="email", pattern=r"\.edu$"), lead(email="a@uni.edu"), True),
        (Regex(field="email", pattern=r"\.edu$"), lead(), False),
        (TitleKeywords(keywords=("VP",)), lead(title="vp, sales"), True),
        (TitleKeywords(keywords=("VP",)), lead(title="SVP Sales"), False),
        (TitleKeywords(keywords=("Head of",)), lead(title="Global Head of IT"), True),
        (Missing(field="company"), lead(), True),
        (Present(field="company"), lead(company="Acme"), True),
        (FreeMailDomain(), lead(email="x@GMAIL.com"), True),
        (FreeMailDomain(), lead(email="x@acme.io"), False),
        (FreeMailDomain(), lead(), False),
        (FreeMailDomain(domains=("acme.io",)), lead(email="x@acme.io"), True),
        (Equals(field="email_domain", value="acme.io"), lead(email="x@acme.io"), True),
        (AllOf(conditions=[Missing(field="title"), Missing(field="email")]), lead(), True),
        (AnyOf(conditions=[Present(field="title"), Present(field="email")]), lead(), False),
        (Not(condition=Present(field="title")), lead(), True),
    ],
)
def test_field_conditions(when: object, who: Lead, hit: bool) -> None:
    assert fit_points(when, who) == (7.0 if hit else 0.0)


def test_account_fields_read_the_account() -> None:
    who = lead(account_id="A-1")
    assert fit_points(Equals(field="account.industry", value="software"), who, ACME) == 7.0
    assert fit_points(Missing(field="account.industry"), who) == 7.0
    other = Account(id="A-2", name="Other")
    with pytest.raises(ValidationError, match="account: 'A-2' is not the account of lead 'L-1'"):
        score_lead(CARD, who, [], as_of=NOW, account=other)


def test_negated_activity_condition_on_a_fit_rule() -> None:
    quiet = Rule(
        id="gone_quiet",
        category="fit",
        points=-5,
        when=Not(condition=ActivityCount(kinds=("web_visit",), within_days=90)),
    )
    card = one_rule(quiet)
    assert score_lead(card, lead(), [], as_of=NOW).total == -5.0
    assert score_lead(card, lead(), [act("web_visit", 10)], as_of=NOW).total == 0.0


def test_behaviour_rule_without_activity_behind_it_adds_nothing() -> None:
    rule = Rule(
        id="r",
        category="behaviour",
        signal="intent",
        points=10,
        when=AnyOf(conditions=[Present(field="title"), ActivityCount(kinds=("rfp",))]),
    )
    card = one_rule(rule)
    assert score_lead(card, lead(title="CEO"), [], as_of=NOW).total == 0.0
    assert score_lead(card, lead(title="CEO"), [act("rfp", 0)], as_of=NOW).total == 10.0


# -- errors ----------------------------------------------------------------------------------


def test_bad_input_is_refused_with_the_field() -> None:
    with pytest.raises(ValidationError, match=r"as_of: .* is a naive datetime"):
        score_lead(CARD, lead(), [], as_of=datetime(2026, 3, 1))
    with pytest.raises(ValidationError, match="activities: 'L-2-rfp-0' belongs to lead 'L-2'"):
        score_lead(CARD, lead(), [act("rfp", 1, lead_id="L-2")], as_of=NOW)


# -- contributions are a plain tuple, built with the result ---------------------------------


def _scored() -> ScoreResult:
    """A fresh result with per-activity contributions."""
    acts = [act("quote_request", 3), act("case_study_download", 2, 1), act("web_visit", 1, 2)]
    return score_lead(CARD, lead(title="VP Sales"), acts, as_of=NOW, account=ACME)


def _built(result: ScoreResult) -> ScoreResult:
    """The same result made by the public constructor from explicitly built contributions."""
    fields = {name: getattr(result, name) for name in ScoreResult._fields}
    contributions = [Contribution(**c._asdict()) for c in result.contributions]
    return ScoreResult(**{**fields, "contributions": tuple(contributions)})


def test_contributions_are_plain_values_everywhere() -> None:
    expected = _built(_scored())
    assert [c.rule_id for c in expected.contributions] == [
        "vp_or_above",
        "target_industry",
        "revenue_over_500m",
        "quote_request",
        "case_study",
    ]
    quote = expected.contributions[3]
    assert quote == Contribution(
        rule_id="quote_request",
        label="quote request",
        category=Category.BEHAVIOUR,
        signal=Signal.INTENT,
        raw_points=40,
        points=40 * 0.5 ** (3 / 30),
        evidence=("L-1-quote_request-0",),
        age_days=3.0,
        half_life_days=30,
    )
    # Each check on a fresh result: nothing about a result depends on what was read before.
    assert expected == _scored()
    assert _scored() == expected
    assert hash(expected) == hash(_scored())
    assert repr(expected) == repr(_scored())
    assert expected._asdict() == _scored()._asdict()
    assert pickle.loads(pickle.dumps(_scored())) == expected
    assert _scored()._replace(total=1.0) == expected._replace(total=1.0)
    assert _scored().explain() == expected.explain()
    assert _scored().has_intent
    result = _scored()
    assert type(result.contributions) is tuple
    assert all(type(c) is Contribution for c in result.contributions)
    # the accessor the named tuple made, like every other field's: nothing swapped in later
    assert type(ScoreResult.__dict__["contributions"]) is type(ScoreResult.__dict__["lead_id"])


def test_results_are_immutable_named_records() -> None:
    result = _scored()
    with pytest.raises(AttributeError):
        result.total = 1.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        result.contributions[0].points = 1.0  # type: ignore[misc]
    # the card's fixed contributions are shared between results, which is safe only so
    assert _scored().contributions[0] is result.contributions[0]
    assert result._replace(total=1.0).total == 1.0
    assert result.total != 1.0
    assert {result, _scored()} == {result}
    assert result._asdict()["contributions"][0]._asdict()["rule_id"] == "vp_or_above"


def test_results_take_their_fields_by_position_in_the_order_listed() -> None:
    # scoring builds them positionally; a reordered field would put a value in the wrong place
    result = _scored()
    for value in (result, *result.contributions):
        by_name = type(value)(**{name: getattr(value, name) for name in value._fields})
        assert by_name == value
    assert list(Contribution._fields) == [
        "rule_id", "label", "category", "signal", "raw_points", "points", "evidence",
        "age_days", "half_life_days", "capped",
    ]  # fmt: skip
    assert list(ScoreResult._fields) == [
        "lead_id", "scorecard", "as_of", "total", "fit", "behaviour", "interest", "intent",
        "contributions", "recommendation",
    ]  # fmt: skip


# -- score_many ------------------------------------------------------------------------------


def test_score_many_streams_lazily_and_matches_score_lead() -> None:
    pulled: list[int] = []

    def pairs():  # type: ignore[no-untyped-def]
        for i in range(5):
            pulled.append(i)
            who = lead(f"L-{i}", title="VP", account_id="A-1")
            yield who, [act("demo_request", i, 0, lead_id=who.id)]

    stream = score_many(CARD, pairs(), as_of=NOW, accounts={"A-1": ACME})
    first = next(stream)
    assert pulled == [0]
    rest = list(stream)
    assert [r.lead_id for r in [first, *rest]] == [f"L-{i}" for i in range(5)]
    expected = score_lead(
        CARD,
        lead("L-3", title="VP", account_id="A-1"),
        [act("demo_request", 3, 0, lead_id="L-3")],
        as_of=NOW,
        account=ACME,
    )
    assert rest[2] == expected


def test_score_many_reports_bad_rows_and_goes_on() -> None:
    bad = (lead("L-2"), [act("rfp", 1, lead_id="L-9")])
    rows = [(lead("L-1"), []), bad, (lead("L-3"), [])]
    with pytest.raises(ValidationError):
        list(score_many(CARD, rows, as_of=NOW))
    errors: list[tuple[str, str]] = []
    results = score_many(
        CARD, rows, as_of=NOW, on_error=lambda who, e: errors.append((who.id, str(e)))
    )
    assert [r.lead_id for r in results] == ["L-1", "L-3"]
    assert errors == [("L-2", "activities: 'L-9-rfp-0' belongs to lead 'L-9', not to 'L-2'")]


# -- accounts --------------------------------------------------------------------------------


def committee(days_ago: float) -> list[tuple[Lead, list[Activity]]]:
    people = []
    for i in range(3):
        who = lead(f"L-{i}", title="Engineer", account_id="A-1")
        acts = [
            act("webinar_attended", days_ago, 0, lead_id=who.id),
            act("case_study_download", days_ago, 0, lead_id=who.id),
        ]
        people.append((who, acts))
    return people


def test_account_with_an_engaged_committee_is_sales_winnable_without_intent() -> None:
    rolled = score_account(CARD, ACME, committee(2), as_of=NOW)
    assert rolled.fit == 30.0  # target industry + revenue, judged on the account
    assert rolled.engaged_contacts == ("L-0", "L-1", "L-2")
    assert not rolled.intent
    assert rolled.trend is Trend.RISING
    assert rolled.engagement >= CARD.thresholds.winnable_engagement
    assert rolled.sales_winnable
    assert rolled.total == math.fsum([rolled.fit, rolled.engagement])
    person = rolled.contacts[0]
    assert person.recommendation is Recommendation.NURTURE
    assert recommend(person, rolled) is Recommendation.SALES_WINNABLE


def test_account_trend_cools_without_new_activity_and_then_is_not_winnable() -> None:
    rolled = score_account(CARD, ACME, committee(45), as_of=NOW)
    assert rolled.trend is Trend.COOLING
    assert rolled.previous_engagement > rolled.engagement
    assert not rolled.sales_winnable


def test_account_steady_and_intent_from_any_contact() -> None:
    # one webinar every trend window (30 d = the half-life): engagement hardly changes
    regular = [
        (who, [act("webinar_attended", 30 * k, k, lead_id=who.id) for k in range(6)])
        for who, _ in committee(0)
    ]
    rolled = score_account(CARD, ACME, regular, as_of=NOW)
    assert rolled.trend is Trend.STEADY
    assert rolled.engagement == pytest.approx(rolled.previous_engagement, rel=0.05)
    people = committee(0)
    people[1][1].append(act("quote_request", 1, 0, lead_id="L-1"))
    rolled = score_account(CARD, ACME, people, as_of=NOW)
    assert rolled.intent_contacts == ("L-1",)
    assert rolled.intent


def test_small_or_off_target_accounts_are_not_winnable() -> None:
    small = Account(id="A-1", name="Tiny", industry="Retail", annual_revenue=1e6)
    assert score_account(CARD, small, committee(2), as_of=NOW).fit == 0.0
    assert not score_account(CARD, small, committee(2), as_of=NOW).sales_winnable
    assert not score_account(CARD, ACME, committee(2)[:2], as_of=NOW).sales_winnable


# -- applying recommendations ----------------------------------------------------------------


def test_mql_moves_an_inquiry_to_mql_through_the_lifecycle() -> None:
    who = lead(title="VP Sales", industry="Software", annual_revenue=1e9)
    result = score_lead(CARD, who, [], as_of=NOW)
    assert result.recommendation is Recommendation.MQL
    moved = apply_recommendation(who, result, at=NOW, by="scoring")
    assert moved.stage == "mql"
    assert moved.history[-1].by == "scoring"
    assert moved.history[-1].note == "scorecard seed: mql at 50"
    assert apply_recommendation(moved, result, at=NOW, by="scoring") is moved


def test_sql_ready_never_skips_sales_acceptance() -> None:
    who = lead(title="VP Sales", industry="Software", annual_revenue=1e9)
    result = score_lead(CARD, who, [act("quote_request", 1)], as_of=NOW)
    assert result.recommendation is Recommendation.SQL_READY
    assert apply_recommendation(who, result, at=NOW, by="s").stage == "mql"
    accepted = transition(transition(who, Stage.MQL, at=NOW), Stage.SAL, at=NOW)
    assert apply_recommendation(accepted, result, at=NOW, by="s").stage == "sql"


def test_nurture_and_winnable_designation() -> None:
    rolled = score_account(CARD, ACME, committee(2), as_of=NOW)
    who, person = rolled.contacts and (committee(2)[0][0], rolled.contacts[0])
    assert apply_recommendation(who, person, at=NOW, by="s") is who
    moved = apply_recommendation(who, person, at=NOW, by="s", account_score=rolled)
    assert moved.stage == "mql"
    assert moved.history[-1].note is not None and "sales_winnable" in moved.history[-1].note
    with pytest.raises(ValidationError, match="another lead"):
        apply_recommendation(lead("L-9"), person, at=NOW, by="s")


def test_thresholds_without_intent_requirement() -> None:
    card = Scorecard(
        name="t",
        thresholds=Thresholds(mql=10, sql_ready=15, sql_ready_requires_intent=False),
        rules=[Rule(id="r", category="fit", points=20, when=Missing(field="title"))],
    )
    assert score_lead(card, lead(), [], as_of=NOW).recommendation is Recommendation.SQL_READY


def test_user_values_in_generated_code_are_data_not_code() -> None:
    name = "x') or __import__('os').system('echo pwned') or ('"
    card = Scorecard(
        name="t",
        rules=[
            Rule(
                id="a",
                category="fit",
                points=1,
                when=Equals(field=f"properties.{name}", value=name),
            ),
            Rule(id="b", category="fit", points=2, when=Regex(field="title", pattern="\"\\n'''")),
            Rule(id="c", category="fit", points=4, when=OneOf(field="country", values=("\\", '"'))),
        ],
    )
    who = lead(title="say \"\n'''", country="\\", properties={name: name})
    assert score_lead(card, who, [], as_of=NOW).total == 7.0
    assert score_lead(card, lead(properties={name: "other"}), [], as_of=NOW).total == 0.0


def test_negative_behaviour_points_and_caps() -> None:
    rule = Rule(
        id="unsubscribed",
        category="behaviour",
        signal="interest",
        points=-20,
        cap=30,
        activities=["unsubscribe"],
    )
    card = one_rule(rule)
    (one,) = score_lead(
        card, lead(), [act("unsubscribe", 0, i) for i in range(2)], as_of=NOW
    ).contributions
    assert one.points == -30.0
    assert one.capped
    assert one.explain().startswith("-30 unsubscribed x2, latest today")


def test_rule_order_is_the_cards_even_with_mixed_rules() -> None:
    card = Scorecard(
        name="t",
        rules=[
            Rule(id="rfp", category="behaviour", signal="intent", points=5, activities=["rfp"]),
            Rule(id="titled", category="fit", points=1, when=Present(field="title")),
        ],
    )
    result = score_lead(card, lead(title="CTO"), [act("rfp", 1)], as_of=NOW)
    assert [c.rule_id for c in result.contributions] == ["rfp", "titled"]


class _Real(float):
    """A float subclass, as numpy's float64 is."""


def test_range_accepts_number_subclasses_but_not_bools() -> None:
    when = Range(field="properties.seats", min=10)
    assert fit_points(when, lead(properties={"seats": _Real(12.0)})) == 7.0
    assert fit_points(when, lead(properties={"seats": True})) == 0.0
