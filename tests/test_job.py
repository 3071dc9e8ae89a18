"""The job: incremental, restartable, idempotent; writes for one lead travel together."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.demo import demo_calendar, demo_policies, demo_scorecard, generate
from leadflow.job import Job, Scoring, _batches, run, scorecard_scorer
from leadflow.model import Activity, Lead, StageChange
from leadflow.ports import Cursor, Entity, Page, RecordError, ScoreWrite, SLAWrite, Write

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store() -> SQLiteAdapter:
    data = generate(leads=200, seed=5)
    adapter = SQLiteAdapter(":memory:")
    adapter.upsert(Entity.ACCOUNT, data.accounts)
    adapter.upsert(Entity.LEAD, data.leads)
    adapter.upsert(Entity.ACTIVITY, data.activities)
    adapter.upsert(Entity.TOUCH, data.touches)
    assert all(r.ok for r in adapter.write([*data.rejections, *data.outcomes]))
    return adapter


def job(**overrides: object) -> Job:
    settings: dict[str, object] = {
        "name": "t",
        "now": NOW,
        "scorer": scorecard_scorer(demo_scorecard()),
        "policies": demo_policies(),
        "calendar": demo_calendar(),
        "batch_size": 37,
    }
    settings.update(overrides)
    return Job(**settings)  # type: ignore[arg-type]


def test_a_run_applies_then_a_rerun_changes_nothing(store: SQLiteAdapter) -> None:
    first = run(job(), store, cursors=store, history=store)
    assert first.ok, first.problems
    assert first.read["leads"] == 200
    assert first.writes["score"] == {"applied": 200}
    assert first.recommendations, "some leads score high enough to be handed over"
    second = run(job(), store, cursors=store, history=store)
    assert second.applied == 0
    assert second.ok
    third = run(job(), store, cursors=store, history=store)
    assert third.read == {}
    assert third.applied == 0


def test_new_activity_gets_its_lead_rescored(store: SQLiteAdapter) -> None:
    run(job(), store, cursors=store, history=store)
    run(job(), store, cursors=store, history=store)
    lead = next(iter(store.leads_by_id(["L-00003"]).values()))
    before = store.current_scores()[lead.id].score
    store.upsert(
        Entity.ACTIVITY,
        [
            Activity(
                id="ACT-new",
                lead_id=lead.id,
                kind="demo_request",
                occurred_at=NOW - timedelta(hours=1),
            )
        ],
    )
    report = run(job(), store, cursors=store, history=store)
    assert report.read == {"activities": 1}
    assert report.writes["score"]["applied"] == 1
    assert set(report.writes["score"]) <= {"applied", "unchanged"}, "open SLA leads re-judged"
    assert store.current_scores()[lead.id].score > before


def test_time_alone_moves_open_sla_clocks(store: SQLiteAdapter) -> None:
    run(job(), store, cursors=store, history=store)
    run(job(), store, cursors=store, history=store)
    later = run(job(now=NOW + timedelta(days=10), scorer=None), store, cursors=store, history=store)
    assert later.read == {}
    assert later.judged > 0, "open SLA clocks are judged again even with nothing new to read"
    assert later.writes["sla"].get("applied", 0) > 0


def test_a_separate_state_store_learns_the_clocks_the_adapter_already_holds(
    store: SQLiteAdapter,
) -> None:
    # The adapter already holds SLA clocks (an earlier run wrote them); a new state store must
    # still learn which are open, or time alone never moves them.
    run(job(), store, cursors=store, history=store)
    held = store.open_sla_leads()
    assert held
    state = SQLiteAdapter(":memory:")

    def separate(**overrides: object) -> Any:
        return run(
            job(**overrides),
            store,
            cursors=state,
            history=state,
            mirror=state.mirror,
            record=state.write,
        )

    first = separate()
    assert first.ok, first.problems
    assert first.writes["sla"].get("applied", 0) == 0
    assert first.writes["sla"]["unchanged"] > 0
    assert state.open_sla_leads() == held
    later = separate(now=NOW + timedelta(days=10), scorer=None)
    assert later.read == {}
    assert later.judged == len(held)
    assert later.writes["sla"].get("applied", 0) > 0


def test_dry_run_writes_and_saves_nothing(store: SQLiteAdapter) -> None:
    before = store.counts()
    report = run(job(dry_run=True), store, cursors=store, history=store)
    assert report.dry_run
    assert report.applied == 0
    assert report.writes["score"] == {"planned": 200}
    assert store.counts() == before
    assert store.load_cursor("t", Entity.LEAD) is None


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        job(now=datetime(2026, 3, 2, 9))


def _write(lead: int, n: int) -> Write:
    if n % 2:
        return SLAWrite(lead_id=f"L{lead}", due_at=None, state=f"s{n}")
    return ScoreWrite(lead_id=f"L{lead}", score=float(n))


@given(
    leads=st.lists(st.integers(0, 6), max_size=60),
    size=st.integers(1, 10),
)
def test_batches_keep_each_leads_writes_together(leads: list[int], size: int) -> None:
    writes = [_write(lead, n) for n, lead in enumerate(leads)]
    batches = list(_batches(writes, size))
    assert sorted(map(id, (w for b in batches for w in b))) == sorted(map(id, writes))
    homes: dict[str, int] = {}
    for index, batch in enumerate(batches):
        assert batch
        for write in batch:
            assert homes.setdefault(write.lead_id, index) == index
        if len({w.lead_id for w in batch}) > 1:
            assert len(batch) <= size
    for lead in {w.lead_id for w in writes}:
        assert [w for b in batches for w in b if w.lead_id == lead] == [
            w for w in writes if w.lead_id == lead
        ]


def test_job_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="calendar"):
        job(calendar=None)
    with pytest.raises(ValueError, match="batch_size"):
        job(batch_size=0)


@pytest.fixture
def bigger() -> SQLiteAdapter:
    """A store with enough leads that scoring hands some over (and finds winnable accounts)."""
    data = generate(leads=800, seed=5)
    adapter = SQLiteAdapter(":memory:")
    for entity, items in [
        (Entity.ACCOUNT, data.accounts),
        (Entity.LEAD, data.leads),
        (Entity.ACTIVITY, data.activities),
        (Entity.TOUCH, data.touches),
    ]:
        adapter.upsert(entity, items)
    assert all(r.ok for r in adapter.write([*data.rejections, *data.outcomes]))
    return adapter


def _handed_over_now(store: SQLiteAdapter) -> dict[str, Lead]:
    """The leads the job moved to ``mql`` at ``NOW``."""
    leads = store.leads_by_id(f"L-{i:05d}" for i in range(800))
    return {
        i: lead
        for i, lead in leads.items()
        if lead.stage == "mql" and lead.history[-1].at == NOW and lead.history[-1].by == "scoring"
    }


def test_scoring_a_lead_to_mql_hands_it_off_and_starts_its_sla(bigger: SQLiteAdapter) -> None:
    assert demo_policies()[0].trigger.kind.value == "handoff"
    report = run(job(), bigger, cursors=bigger, history=bigger)
    handed = _handed_over_now(bigger)
    assert len(handed) >= 3, "the demo has leads that score over the MQL threshold"
    assert report.recommendations["mql"] == len(handed)
    assert {lead.handed_off_at for lead in handed.values()} == {NOW}
    clocks = bigger.sla_clocks()
    # The hand-off starts the first-touch clock in the same run (24 business hours: Thursday).
    for i in handed:
        assert clocks[i].state == "pending"
        assert clocks[i].due_at is not None and NOW < clocks[i].due_at < NOW + timedelta(days=5)
    again = run(job(), bigger, cursors=bigger, history=bigger)
    assert again.applied == 0
    assert {lead.handed_off_at for lead in _handed_over_now(bigger).values()} == {NOW}


def test_without_a_handoff_stage_the_job_stamps_no_handoff(bigger: SQLiteAdapter) -> None:
    run(job(handoff_stage=None), bigger, cursors=bigger, history=bigger)
    handed = _handed_over_now(bigger)
    assert len(handed) >= 3
    assert all(lead.handed_off_at != NOW for lead in handed.values())
    # (a recycled lead handed over again keeps its earlier, stale hand-off time)
    fresh = {i for i, lead in handed.items() if lead.handed_off_at is None}
    assert fresh
    assert fresh.isdisjoint(bigger.sla_clocks()), "no hand-off, no clock"


def test_leads_at_sales_winnable_accounts_are_recommended_so(bigger: SQLiteAdapter) -> None:
    report = run(job(), bigger, cursors=bigger, history=bigger)
    winnable = report.scores["sales_winnable_accounts"]
    assert winnable >= 2, "the demo plants buying committees"
    scores = bigger.current_scores()
    leads = bigger.leads_by_id(scores)
    flagged = {i for i, s in scores.items() if s.recommendation == "sales_winnable"}
    assert len({leads[i].account_id for i in flagged}) == winnable
    # Below the MQL threshold, yet handed to sales because of the account.
    below = [i for i in flagged if scores[i].score < 50 and leads[i].history]
    assert any(
        leads[i].stage == "mql"
        and leads[i].history[-1].note
        and "sales_winnable" in (leads[i].history[-1].note or "")
        for i in below
    )


def test_the_roll_up_sees_the_whole_account_on_an_incremental_run(bigger: SQLiteAdapter) -> None:
    run(job(), bigger, cursors=bigger, history=bigger)
    run(job(), bigger, cursors=bigger, history=bigger)  # reads back what the first one wrote
    scores = bigger.current_scores()
    lead_id = min(i for i, s in scores.items() if s.recommendation == "sales_winnable")
    bigger.upsert(
        Entity.ACTIVITY,
        [
            Activity(
                id="ACT-x", lead_id=lead_id, kind="web_visit", occurred_at=NOW - timedelta(hours=1)
            )
        ],
    )
    report = run(job(), bigger, cursors=bigger, history=bigger)
    assert report.read == {"activities": 1}
    # Only the changed lead (and open SLA clocks) were judged, yet its account still rolls up.
    assert report.judged < 200
    assert bigger.current_scores()[lead_id].recommendation == "sales_winnable"


def test_without_the_roll_up_no_lead_is_sales_winnable(bigger: SQLiteAdapter) -> None:
    report = run(job(account_rollup=False), bigger, cursors=bigger, history=bigger)
    assert report.scores["sales_winnable_accounts"] == 0
    assert "sales_winnable" not in {s.recommendation for s in bigger.current_scores().values()}


def test_a_final_action_that_contradicts_its_reject_code_is_refused() -> None:
    from leadflow.errors import ConfigError
    from leadflow.rules.sla import FinalAction

    policies = demo_policies()
    wrong = attrs.evolve(
        policies[0], final=FinalAction(action="disqualify", reason="not_ready_to_buy")
    )
    with pytest.raises(ConfigError) as info:
        job(policies=(wrong, *policies[1:]))
    assert info.value.path == "policies[0].final.action"
    assert "'recycle'" in str(info.value)
    unknown = attrs.evolve(policies[0], final=FinalAction(action="recycle", reason="no_such_code"))
    with pytest.raises(ConfigError) as info:
        job(policies=(unknown, *policies[1:]))
    assert info.value.path == "policies[0].final.reason"


def test_a_final_action_that_cannot_be_carried_out_is_reported(bigger: SQLiteAdapter) -> None:
    store = bigger
    from leadflow.reasons import STANDARD_REASONS, RejectCode

    # The code now needs a note, which an SLA's final action never has: rejecting fails.
    strict = STANDARD_REASONS.replace(
        RejectCode(
            code="no_response",
            label="No response",
            disposition="recycle",
            reengage_after=timedelta(days=60),
            note_required=True,
        )
    )
    report = run(job(reasons=strict), store, cursors=store, history=store)
    finals = [s for s in report.skipped if s.step == "sla_final_action"]
    assert finals, "the demo has leads whose cadence ran out"
    assert not report.ok
    assert all("no_response" in s.error and "note" in s.error for s in finals)
    assert report.to_dict()["skipped"][0].keys() == {"record_id", "step", "error"}
    # the clock of every such lead is still written, not dropped with the action
    assert "rejection" not in report.writes
    clocks = store.sla_clocks()
    assert all(s.record_id in clocks for s in finals)
    # and a rerun reports them again rather than forgetting them
    again = run(job(reasons=strict), store, cursors=store, history=store)
    assert {s.record_id for s in again.skipped} == {s.record_id for s in finals}


class _RefusingOne:
    """The store, except that its first lead page reports one record it could not read."""

    def __init__(self, store: SQLiteAdapter) -> None:
        self._store = store
        self.name = "refusing"
        self.capabilities = store.capabilities

    def read_leads(self, cursor: Cursor | None = None) -> Iterator[Page[Lead]]:
        for index, page in enumerate(self._store.read_leads(cursor)):
            error = RecordError(entity=Entity.LEAD, record_id="CRM-9", error="bad e-mail")
            yield attrs.evolve(page, errors=(error,)) if index == 0 else page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_records_an_adapter_could_not_read_are_reported(store: SQLiteAdapter) -> None:
    report = run(job(), _RefusingOne(store), cursors=store, history=store)  # type: ignore[arg-type]
    assert [(s.record_id, s.step, s.error) for s in report.skipped] == [
        ("CRM-9", "read lead", "bad e-mail")
    ]
    assert not report.ok
    assert report.to_dict()["skipped"] == [
        {"record_id": "CRM-9", "step": "read lead", "error": "bad e-mail"}
    ]


def test_rejections_and_outcomes_made_in_the_system_reach_the_state_store(
    store: SQLiteAdapter,
) -> None:
    # The adapter (standing in for a CRM) holds the rejections sales made and the outcomes of
    # their leads; a run reads them from their own cursors and mirrors them into the state store.
    state = SQLiteAdapter(":memory:")
    made = store.rejections()
    became = store.outcomes()
    assert made and became

    def separate() -> Any:
        return run(
            job(scorer=None, policies=()),
            store,
            cursors=state,
            history=state,
            mirror=state.mirror,
            record=state.write,
        )

    first = separate()
    assert first.ok, first.problems
    assert (first.read["rejections"], first.read["outcomes"]) == (len(made), len(became))
    assert made == state.rejections()
    assert became == state.outcomes()
    again = separate()
    assert "rejections" not in again.read and "outcomes" not in again.read
    assert (len(made), len(became)) == (len(state.rejections()), len(state.outcomes()))
    assert state.load_cursor("t", Entity.REJECTION) is not None


def test_the_stage_change_written_is_the_scorers_own(bigger: SQLiteAdapter) -> None:
    """One transition: the change the scorer made (by "scoring", with its note) is the one
    written and stored; the job does not move the lead a second time (by "leadflow")."""
    base = scorecard_scorer(demo_scorecard())
    made: dict[str, StageChange] = {}

    def watching(*args: Any, **kwargs: Any) -> Scoring:
        scoring = base(*args, **kwargs)
        made.update((d.lead_id, d.change) for d in scoring.decisions if d.change is not None)
        return scoring

    report = run(job(scorer=watching), bigger, cursors=bigger, history=bigger)
    assert made, "the demo has leads that score over the MQL threshold"
    assert report.recommendations["mql"] == len(made)
    stored = bigger.leads_by_id(made)
    assert {i: lead.history[-1] for i, lead in stored.items()} == made
    assert {c.by for c in made.values()} == {"scoring"}
    assert all(c.note and c.note.startswith("scorecard ") for c in made.values())


def test_a_scorers_move_the_jobs_lifecycle_forbids_is_reported(store: SQLiteAdapter) -> None:
    base = scorecard_scorer(demo_scorecard())

    def leaping(*args: Any, **kwargs: Any) -> Scoring:
        scoring = base(*args, **kwargs)
        first = scoring.decisions[0]
        lead = store.leads_by_id([first.lead_id])[first.lead_id]
        leap = StageChange(from_stage=lead.stage, to_stage="won", at=NOW, by="scoring")
        return attrs.evolve(scoring, decisions=(attrs.evolve(first, change=leap),))

    report = run(job(scorer=leaping), store, cursors=store, history=store)
    [skipped] = report.skipped
    assert skipped.step == "stage"
    assert skipped.error.startswith("cannot move from")
    assert "to 'won'" in skipped.error
    assert "stage" not in report.writes


def test_an_account_roll_up_that_fails_is_reported_not_swallowed(store: SQLiteAdapter) -> None:
    """A contact filed under another account makes that account's roll-up fail: the account
    is listed in RunReport.skipped (step "account_rollup") and its leads are still scored."""
    base = scorecard_scorer(demo_scorecard())

    def misfiling(
        leads: Any, activities: Any, accounts: Any, *, now: datetime, contacts: Any = None
    ) -> Scoring:
        contacts = dict(contacts or {})
        first, second = sorted(contacts)[:2]
        contacts[first] = [*contacts[first], contacts[second][0]]  # someone at another account
        return base(leads, activities, accounts, now=now, contacts=contacts)

    report = run(job(scorer=misfiling), store, cursors=store, history=store)
    rollups = [s for s in report.skipped if s.step == "account_rollup"]
    assert len(rollups) == 1
    assert "is not the account of lead" in rollups[0].error
    assert not report.ok
    assert report.writes["score"] == {"applied": 200}
    assert {"record_id", "step", "error"} == report.to_dict()["skipped"][0].keys()


def test_scorecard_scorer_reports_the_account_whose_roll_up_failed() -> None:
    from leadflow.model import Account

    at = NOW
    acme = Account(id="A-1", name="Acme", created_at=at)
    here = Lead(id="L-1", created_at=at, account_id="A-1")
    there = Lead(id="L-2", created_at=at, account_id="A-2")
    scoring = scorecard_scorer(demo_scorecard())(
        [here], [], {"A-1": acme}, now=at, contacts={"A-1": [(here, []), (there, [])]}
    )
    assert [d.lead_id for d in scoring.decisions] == ["L-1"]
    assert [(s.record_id, s.step) for s in scoring.skipped] == [("A-1", "account_rollup")]


def test_a_scorers_recommendation_is_an_enum_and_written_as_its_value() -> None:
    from leadflow.rules.scoring import Recommendation

    lead = Lead(id="L-1", created_at=NOW, title="VP Engineering", industry="software")
    [decision] = scorecard_scorer(demo_scorecard())([lead], [], {}, now=NOW).decisions
    assert isinstance(decision.recommendation, Recommendation)
    store = SQLiteAdapter(":memory:")
    store.upsert(Entity.LEAD, [lead])
    run(job(policies=(), calendar=None), store, cursors=store, history=store)
    assert store.current_scores()["L-1"].recommendation == decision.recommendation.value
