"""The columnar plan gives the per-record path's numbers: same scores (to 1e-9), same
recommendations, on generated files and on hypothesis-generated small inputs."""

from __future__ import annotations

import math
import pickle
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.errors import ValidationError
from leadflow.etl import ErrorSink, compile_scorecard
from leadflow.etl.synthetic import GeneratedFiles
from leadflow.model import Account, Activity, Lead
from leadflow.rules.scorecard import (
    ActivityCount,
    AllOf,
    AnyOf,
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
    load_scorecard,
)
from leadflow.rules.scoring import ScoreResult, score_lead

from .conftest import AS_OF, make_accounts

TS = pa.timestamp("us", tz="UTC")
SEED_CARD = load_scorecard("examples/scorecard.toml")


def per_record(
    card: Scorecard, leads: pa.Table, events: pa.Table, accounts: pa.Table | None = None
) -> dict[str, ScoreResult]:
    """Score every lead row through the per-record API."""
    grouped: dict[str, list[Activity]] = defaultdict(list)
    for row in events.to_pylist():
        grouped[row["lead_id"]].append(Activity.from_record(row))
    by_account = {}
    if accounts is not None:
        for row in accounts.to_pylist():
            account = Account.from_record({k: v for k, v in row.items() if v is not None})
            by_account[account.id] = account
    results = {}
    for row in leads.to_pylist():
        lead = Lead.from_record({k: v for k, v in row.items() if v is not None})
        account = by_account.get(lead.account_id) if lead.account_id else None
        results[lead.id] = score_lead(card, lead, grouped[lead.id], as_of=AS_OF, account=account)
    return results


def assert_same(columnar: pa.Table, expected: dict[str, ScoreResult], card: Scorecard) -> None:
    rows = columnar.to_pylist()
    assert sorted(r["id"] for r in rows) == sorted(expected)
    for row in rows:
        result = expected[row["id"]]
        assert row["recommendation"] == result.recommendation.value, (row, result)
        for name, value in [
            ("score", result.total),
            ("fit", result.fit),
            ("behaviour", result.behaviour),
            ("interest", result.interest),
            ("intent", result.intent),
        ]:
            assert math.isclose(row[name], value, rel_tol=0, abs_tol=1e-9), (name, row, result)
        if f"rule_{card.rules[0].id}" in row:
            contributed = {c.rule_id: c.points for c in result.contributions}
            for rule in card.rules:
                got = row[f"rule_{rule.id}"]
                if rule.id in contributed:
                    assert got == pytest.approx(contributed[rule.id], abs=1e-9), (rule.id, row)
                else:
                    assert got is None, (rule.id, row)


def test_seed_card_on_generated_files_equals_per_record(small_files: GeneratedFiles) -> None:
    leads = pq.read_table(small_files.leads)
    events = pq.read_table(small_files.events)
    accounts = make_accounts(leads)
    plan = compile_scorecard(SEED_CARD, explain=True)
    columnar = plan.score(leads, events, as_of=AS_OF, accounts=accounts)
    expected = per_record(SEED_CARD, leads, events, accounts)
    assert_same(columnar, expected, SEED_CARD)
    assert {r.recommendation.value for r in expected.values()} >= {"nurture", "mql", "sql_ready"}


def test_batches_in_any_order_and_size_give_the_same_scores(small_files: GeneratedFiles) -> None:
    leads = pq.read_table(small_files.leads)
    events = pq.read_table(small_files.events)
    plan = compile_scorecard(SEED_CARD)
    whole = plan.score(leads, events, as_of=AS_OF)
    reversed_events = events.take(pa.array(range(events.num_rows - 1, -1, -1)))
    pieces = plan.score(
        leads.to_batches(max_chunksize=37), reversed_events.to_batches(101), as_of=AS_OF
    )
    assert pieces.column("id").to_pylist() == whole.column("id").to_pylist()
    for a, b in zip(
        pieces.column("score").to_pylist(), whole.column("score").to_pylist(), strict=True
    ):
        assert a == pytest.approx(b, abs=1e-9)


def test_plan_pickles_and_is_plain_data() -> None:
    plan = compile_scorecard(SEED_CARD, explain=True)
    assert pickle.loads(pickle.dumps(plan)) == plan
    assert "email" in dict(plan.lead_columns)
    assert {"industry", "annual_revenue"} <= dict(plan.account_columns).keys()


def test_bad_rows_are_reported_and_good_rows_scored() -> None:
    at = AS_OF - timedelta(days=1)
    leads = pa.table(
        {
            "id": ["L-1", "L-2", "  "],
            "created_at": pa.array([at, at, at], TS),
            "title": ["VP Sales", "CEO", "CTO"],
            "email": ["a@example.com", "broken", "c@example.com"],
            "industry": [None, None, None],
            "annual_revenue": pa.array([None, None, None], pa.float64()),
        }
    )
    events = pa.table(
        {
            "lead_id": ["L-1", "L-1", None],
            "kind": ["quote_request", "Quote Request", "demo_request"],
            "occurred_at": pa.array([at, at, at], TS),
        }
    )
    plan = compile_scorecard(SEED_CARD)
    sink = ErrorSink(None)
    scores = plan.score(leads, events, as_of=AS_OF, errors=sink)
    assert scores.column("id").to_pylist() == ["L-1"]
    assert [(e.source, e.row, e.field) for e in sink.errors] == [
        ("events", 1, "kind"),
        ("events", 2, "lead_id"),
        ("leads", 1, "email"),
        ("leads", 2, "id"),
    ]
    with pytest.raises(ValidationError, match="email: 'broken' is not a valid e-mail address"):
        plan.score(leads, events.slice(0, 1), as_of=AS_OF)


def test_naive_as_of_is_refused() -> None:
    plan = compile_scorecard(SEED_CARD)
    with pytest.raises(ValidationError, match="as_of"):
        plan.aggregate(pa.table({"lead_id": ["L-1"]}), as_of=datetime(2026, 3, 2))


# -- hypothesis: random small cards and inputs ---------------------------------------------------

KINDS = ["quote_request", "demo_request", "pricing_page_visit", "webinar_attended", "email_click"]
TITLES = ["VP Sales", "svp marketing", "Director of IT", "Head of Data", "Student", "Intern",
          "Chief Executive", "Engineer", " vp ", "AVP", None]  # fmt: skip
INDUSTRIES = ["Software", " software ", "Retail", "SOFTWARE", None]
EMAILS = ["ann@gmail.com", "bo@example.com", "cy@uni.edu", "DI@Hotmail.com", "dé@uni.edu", None]

field_conditions = st.one_of(
    st.builds(
        TitleKeywords,
        keywords=st.lists(
            st.sampled_from(["VP", "Director", "Head of", "Student", "Chief"]),
            min_size=1,
            max_size=3,
            unique=True,
        ),
    ),
    st.builds(OneOf, field=st.just("industry"), values=st.just(["software", "Healthcare"])),
    st.builds(
        Equals,
        field=st.sampled_from(["industry", "account.industry"]),
        value=st.sampled_from(["Software", "retail"]),
    ),
    st.builds(
        Range,
        field=st.sampled_from(["annual_revenue", "employees", "account.annual_revenue"]),
        min=st.sampled_from([1e6, 5e8]),
        max=st.sampled_from([None, 1e9]),
    ),
    st.builds(Regex, field=st.just("email"), pattern=st.sampled_from([r"\.edu$", r"(?i)^d"])),
    st.builds(Missing, field=st.sampled_from(["title", "email", "account.annual_revenue"])),
    st.builds(Present, field=st.sampled_from(["industry", "employees", "full_name"])),
    st.builds(FreeMailDomain),
)
activity_conditions = st.builds(
    ActivityCount,
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=2, unique=True),
    at_least=st.integers(1, 3),
    within_days=st.sampled_from([None, 7.0, 30.0]),
)


def trees(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(AllOf, conditions=st.lists(inner, min_size=1, max_size=3)),
            st.builds(AnyOf, conditions=st.lists(inner, min_size=1, max_size=3)),
            st.builds(Not, condition=inner),
        ),
        max_leaves=4,
    )


@st.composite
def rules(draw: st.DrawFn, index: int) -> Rule:
    kind = draw(st.sampled_from(["fit", "per_activity", "once"]))
    points = draw(st.sampled_from([-30.0, -5.0, 3.0, 10.0, 40.0]))
    cap = draw(st.sampled_from([None, 5.0, 25.0]))
    if kind == "fit":
        when = draw(trees(st.one_of(field_conditions, activity_conditions)))
        return Rule(id=f"r{index}", category="fit", points=points, cap=cap, when=when)
    half_life = draw(st.sampled_from([None, 7.0, 45.0]))
    signal = draw(st.sampled_from(["interest", "intent"]))
    if kind == "per_activity":
        return Rule(
            id=f"r{index}", category="behaviour", signal=signal, points=points, cap=cap,
            half_life_days=half_life,
            activities=draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=2, unique=True)),
            within_days=draw(st.sampled_from([None, 10.0])),
            when=draw(st.one_of(st.none(), trees(field_conditions))),
        )  # fmt: skip
    when = draw(
        st.one_of(activity_conditions, trees(st.one_of(field_conditions, activity_conditions)))
    )
    if not any(isinstance(c, ActivityCount) for c in _walk(when)):
        when = AllOf(conditions=[when, draw(activity_conditions)])
    return Rule(id=f"r{index}", category="behaviour", signal=signal, points=points, cap=cap,
                half_life_days=half_life, when=when)  # fmt: skip


def _walk(condition: Any) -> list[Any]:
    found = [condition]
    for child in getattr(condition, "conditions", ()):
        found += _walk(child)
    if hasattr(condition, "condition"):
        found += _walk(condition.condition)
    return found


@st.composite
def cards(draw: st.DrawFn) -> Scorecard:
    count = draw(st.integers(1, 5))
    mql = draw(st.sampled_from([0.0, 10.0, 30.0]))
    return Scorecard(
        name="generated",
        rules=[draw(rules(i)) for i in range(count)],
        half_life_days=draw(st.sampled_from([14.0, 30.0])),
        thresholds=Thresholds(
            mql=mql,
            sql_ready=mql + draw(st.sampled_from([0.0, 20.0])),
            sql_ready_requires_intent=draw(st.booleans()),
        ),
    )


@st.composite
def inputs(draw: st.DrawFn) -> tuple[pa.Table, pa.Table, pa.Table]:
    n = draw(st.integers(1, 6))
    ids = [f"L-{i}" for i in range(n)]
    leads = pa.table(
        {
            "id": ids,
            "created_at": pa.array([AS_OF - timedelta(days=90)] * n, TS),
            "title": [draw(st.sampled_from(TITLES)) for _ in ids],
            "industry": [draw(st.sampled_from(INDUSTRIES)) for _ in ids],
            "email": [draw(st.sampled_from(EMAILS)) for _ in ids],
            "annual_revenue": [draw(st.sampled_from([None, 0.0, 5e8, 2e9])) for _ in ids],
            "employees": pa.array(
                [draw(st.sampled_from([None, 10, 5000])) for _ in ids], pa.int64()
            ),
            "first_name": [draw(st.sampled_from([None, "Ann"])) for _ in ids],
            "account_id": [draw(st.sampled_from([None, "A-1", "A-2"])) for _ in ids],
        }
    )
    events = draw(
        st.lists(
            st.tuples(
                st.sampled_from(ids),
                st.sampled_from(KINDS),
                # ages in seconds: some in the future (ignored), some on window edges
                st.one_of(
                    st.integers(-86_400, 60 * 86_400), st.sampled_from([0, 7 * 86_400, 10 * 86_400])
                ),
            ),
            max_size=25,
        )
    )
    events_table = pa.table(
        {
            "id": [f"E-{i}" for i in range(len(events))],
            "lead_id": pa.array([e[0] for e in events], pa.string()),
            "kind": pa.array([e[1] for e in events], pa.string()),
            "occurred_at": pa.array([AS_OF - timedelta(seconds=e[2]) for e in events], TS),
        }
    )
    accounts = pa.table(
        {
            "id": ["A-1", "A-2"],
            "name": ["One", "Two"],
            "industry": ["software", None],
            "annual_revenue": [6e8, None],
        }
    )
    return leads, events_table, accounts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cards(), inputs())
def test_any_card_on_any_small_input_equals_per_record(
    card: Scorecard, data: tuple[pa.Table, pa.Table, pa.Table]
) -> None:
    leads, events, accounts = data
    expected = per_record(card, leads, events, accounts)
    for explain in (True, False):
        plan = compile_scorecard(card, explain=explain)
        columnar = plan.score(leads, events, as_of=AS_OF, accounts=accounts)
        assert_same(columnar, expected, card)


def test_threads_do_not_change_results(
    small_files: GeneratedFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leadflow.etl.plan as plan_module

    monkeypatch.setattr(plan_module, "_MIN_SLICE", 16)  # slice even a small batch
    leads = pq.read_table(small_files.leads)
    events = pq.read_table(small_files.events)
    plan = compile_scorecard(SEED_CARD, explain=True)
    one = plan.score(leads, events.to_batches(max_chunksize=500), as_of=AS_OF, threads=1)
    three = plan.score(leads, events.to_batches(max_chunksize=500), as_of=AS_OF, threads=3)
    assert three.num_rows == leads.num_rows
    assert three.column("id").to_pylist() == leads.column("id").to_pylist()
    assert three.equals(one)
    with pytest.raises(ValueError, match="threads"):
        plan.score(leads, events, as_of=AS_OF, threads=0)


def test_custom_properties_read_like_from_record() -> None:
    card = Scorecard(
        name="props",
        rules=[
            Rule(
                id="buyer",
                category="fit",
                points=10,
                when=Equals(field="properties.persona", value="Buyer"),
            ),
            Rule(
                id="seats", category="fit", points=5, when=Range(field="properties.seats", min=10)
            ),
        ],
    )
    at = AS_OF - timedelta(days=3)
    leads = pa.table(
        {
            "id": ["L-1", "L-2", "L-3"],
            "created_at": pa.array([at] * 3, TS),
            "persona": [" buyer ", "user", ""],
            "properties.seats": pa.array([12, 3, None], pa.int64()),
        }
    )
    events = pa.table({"lead_id": pa.array([], pa.string()), "kind": pa.array([], pa.string()),
                       "occurred_at": pa.array([], TS)})  # fmt: skip
    assert_same(compile_scorecard(card).score(leads, events, as_of=AS_OF),
                per_record(card, leads, events), card)  # fmt: skip
    scores = compile_scorecard(card).score(leads, events, as_of=AS_OF)
    assert scores.column("score").to_pylist() == [15.0, 0.0, 0.0]
