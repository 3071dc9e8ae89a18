"""The embedded store read like any adapter for rejections and outcomes, and mirroring them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.errors import ValidationError
from leadflow.lifecycle import transition
from leadflow.model import Lead
from leadflow.outcomes import Outcome
from leadflow.ports import Cursor, Entity, OutcomeWrite, RejectionWrite
from leadflow.reasons import reject

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _rejected(store: SQLiteAdapter, n: int) -> list[RejectionWrite]:
    leads = [Lead(id=f"L-{i}", created_at=T0, stage="mql") for i in range(n)]
    store.upsert(Entity.LEAD, leads)
    writes = []
    for i, lead in enumerate(leads):
        moved, rejection = reject(lead, "no_budget", at=T0 + timedelta(hours=i), by="u-sam")
        writes.append(RejectionWrite(rejection=rejection, change=moved.history[-1]))
    assert all(r.ok for r in store.write(writes))
    return writes


def test_rejections_and_outcomes_are_read_incrementally_by_page() -> None:
    store = SQLiteAdapter(":memory:", page_size=2)
    writes = _rejected(store, 5)
    pages = list(store.read_rejections())
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert [v.item for p in pages for v in p.items] == [w.rejection for w in writes]
    assert list(store.read_rejections(pages[-1].cursor)) == []
    rest = [v.item.lead_id for p in store.read_rejections(pages[0].cursor) for v in p.items]
    assert rest == ["L-2", "L-3", "L-4"]
    won = Outcome(lead_id="L-0", kind="won", at=T0, amount=Decimal(9), currency="EUR")
    assert store.write([OutcomeWrite(outcome=won)])[0].ok
    [page] = store.read_outcomes()
    assert [v.item for v in page.items] == [won] == store.outcomes()
    assert list(store.read_outcomes(page.cursor)) == []
    with pytest.raises(ValidationError, match="cursor"):
        list(store.read_outcomes(Cursor(entity=Entity.LEAD, token="1")))


def test_mirrored_rejections_are_recorded_once_and_outcomes_replace_their_opportunitys() -> None:
    crm = SQLiteAdapter(":memory:")
    made = [w.rejection for w in _rejected(crm, 3)]
    state = SQLiteAdapter(":memory:")
    with pytest.raises(ValidationError, match="'L-0' is not a stored lead"):
        state.mirror(Entity.REJECTION, made)
    state.mirror(Entity.LEAD, [v.item for p in crm.read_leads() for v in p.items])
    state.mirror(Entity.REJECTION, made)
    state.mirror(Entity.REJECTION, made[:2])
    assert state.rejections() == made
    open_ = Outcome(lead_id="L-1", kind="evaluating", at=T0, opportunity_id="006A")
    won = Outcome(
        lead_id="L-1", kind="won", at=T0, amount=Decimal(100), currency="USD", opportunity_id="006A"
    )
    bigger = attrs.evolve(won, amount=Decimal(150))
    loose = Outcome(lead_id="L-2", kind="competitor", at=T0, competitor="Globex")
    state.mirror(Entity.OUTCOME, [open_, won, loose])
    state.mirror(Entity.OUTCOME, [bigger, loose])
    assert sorted(state.outcomes(), key=lambda o: o.kind) == [loose, open_, bigger]
    with pytest.raises(ValidationError, match="is not a Outcome"):
        state.mirror(Entity.OUTCOME, made)


def test_a_rejection_the_job_wrote_is_not_recorded_again_when_read_back_from_the_crm() -> None:
    # The job rejects at the instant its rule decided; the CRM saved it a little later, by the
    # integration user, and reports it so. The state store keeps one; a rejection made again
    # after the lead was taken up again is a new one.
    state = SQLiteAdapter(":memory:")
    lead = Lead(id="00Q000000000001AAA", created_at=T0, stage="mql")
    state.mirror(Entity.LEAD, [lead])
    decided = T0 + timedelta(days=3)
    moved, rejection = reject(lead, "no_response", at=decided, by="leadflow-sla")
    assert state.write([RejectionWrite(rejection=rejection, change=moved.history[-1])])[0].ok
    saved = decided + timedelta(seconds=41)
    # the lead as read back: its history says the CRM saved the change at `saved`
    crm_lead = attrs.evolve(moved, history=(attrs.evolve(moved.history[-1], at=saved),))
    state.mirror(Entity.LEAD, [crm_lead])
    read_back = attrs.evolve(rejection, at=saved, by="005000000000001AAA")
    state.mirror(Entity.REJECTION, [read_back])
    assert [r.at for r in state.rejections()] == [decided]
    # taken up again, then rejected again with the same code: a second rejection
    again = transition(crm_lead, "mql", at=saved + timedelta(days=70), by="u-ana")
    later, second = reject(again, "no_response", at=saved + timedelta(days=80), by="u-ana")
    state.mirror(Entity.LEAD, [later])
    state.mirror(Entity.REJECTION, [read_back, second])
    assert [r.at for r in state.rejections()] == [decided, second.at]


def test_an_expects_to_buy_outcome_keeps_its_date(tmp_path: Path) -> None:
    """The closed loop's "expects to buy by <date>" survives the store (migration 5)."""
    from leadflow.ports import Entity, OutcomeWrite, WriteStatus

    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    expects = Outcome(lead_id="L-1", kind="expects_to_buy", at=at,
                      expected_by=datetime(2027, 1, 31, tzinfo=UTC))  # fmt: skip
    with SQLiteAdapter(tmp_path / "s.sqlite") as store:
        store.upsert(Entity.LEAD, [Lead(id="L-1", created_at=at)])
        (first,) = store.write([OutcomeWrite(outcome=expects)])
        (again,) = store.write([OutcomeWrite(outcome=expects)])
        assert (first.status, again.status) == (WriteStatus.APPLIED, WriteStatus.UNCHANGED)
        assert store.outcomes() == [expects]
