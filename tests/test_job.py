"""The job: incremental, restartable, idempotent; writes for one lead travel together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.demo import demo_calendar, demo_policies, demo_scorecard, generate
from leadflow.job import Job, _batches, run, scorecard_scorer
from leadflow.model import Activity
from leadflow.ports import Entity, ScoreWrite, SLAWrite, Write

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
