"""The embedded store against a model, over random sequences of changes, reads and writes.

Invariants checked after every step: an incremental read from any cursor taken earlier returns
exactly the leads changed since, each once; a write batch applied twice is ``unchanged`` the
second time and leaves versions alone; versions only grow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.model import Lead
from leadflow.ports import Cursor, Entity, ScoreWrite, SLAWrite, WriteStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
IDS = [f"L-{i}" for i in range(6)]


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = SQLiteAdapter(":memory:", page_size=2)
        self.changed_since: list[tuple[Cursor | None, set[str]]] = [(None, set())]
        self.versions: dict[str, int] = {}
        self.titles: dict[str, str] = {}

    def _changed(self, lead_id: str) -> None:
        for _cursor, changed in self.changed_since:
            changed.add(lead_id)

    @rule(lead_id=st.sampled_from(IDS), title=st.sampled_from(["CTO", "VP", "Dev"]))
    def upsert(self, lead_id: str, title: str) -> None:
        self.store.upsert(Entity.LEAD, [Lead(id=lead_id, created_at=T0, title=title)])
        self.titles[lead_id] = title
        self._changed(lead_id)

    @precondition(lambda self: self.titles)
    @rule(data=st.data(), score=st.integers(0, 3), due=st.integers(0, 2))
    def write_twice(self, data: st.DataObject, score: int, due: int) -> None:
        lead_ids = data.draw(st.lists(st.sampled_from(sorted(self.titles)), min_size=1))
        writes = [
            w
            for lead_id in lead_ids
            for w in (
                ScoreWrite(lead_id=lead_id, score=float(score)),
                SLAWrite(lead_id=lead_id, due_at=T0 + timedelta(hours=due), state="pending"),
            )
        ]
        first = self.store.write(writes)
        assert [r.status for r in first] != [WriteStatus.FAILED] * len(writes)
        for result in first:
            if result.status is WriteStatus.APPLIED:
                self._changed(result.write.lead_id)
        before = self._versions()
        second = self.store.write(writes)
        assert {r.status for r in second} == {WriteStatus.UNCHANGED}
        assert self._versions() == before

    @rule()
    def take_cursor(self) -> None:
        pages = list(self.store.read_leads(self.changed_since[-1][0]))
        cursor = pages[-1].cursor if pages else self.changed_since[-1][0]
        self.changed_since.append((cursor, set()))

    def _versions(self) -> dict[str, int]:
        return {v.item.id: int(v.version) for page in self.store.read_leads() for v in page.items}

    @invariant()
    def reads_from_every_cursor_are_exact(self) -> None:
        for cursor, changed in self.changed_since:
            ids = [v.item.id for page in self.store.read_leads(cursor) for v in page.items]
            assert len(ids) == len(set(ids))
            assert set(ids) == changed

    @invariant()
    def versions_only_grow_and_titles_match(self) -> None:
        now = self._versions()
        for lead_id, version in now.items():
            assert version >= self.versions.get(lead_id, 0)
        self.versions = now
        stored = {v.item.id: v.item.title for page in self.store.read_leads() for v in page.items}
        assert stored == self.titles

    def teardown(self) -> None:
        self.store.close()


StoreMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=15, deadline=None)
TestStore = StoreMachine.TestCase
