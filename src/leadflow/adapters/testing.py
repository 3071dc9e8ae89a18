"""The adapter contract suite: pytest tests every adapter must pass, for adapter authors to reuse.

Scope: the behaviour :class:`leadflow.ports.Adapter` promises, checked against a real instance —
round trips of every entity, incremental reads, cursors that survive a restart, one result per
write, conflict detection through ``expected_version``, and idempotent re-application. Importing
this module imports pytest; nothing in leadflow's core imports it.

Use it by subclassing :class:`AdapterContract` in a test module (the subclass's name starts with
``Test`` so pytest collects it; this class's does not, so it is never collected by itself) and
overriding three fixtures:

``adapter``
    a fresh, empty adapter instance (close it when the test is done).
``reopen``
    a callable returning a *new* adapter instance over the same storage, as after a restart.
``seed``
    a callable ``seed(entity, items) -> stored items`` that puts records into the system under
    test *behind the adapter's back* (straight into the store, or through the CRM emulator's
    API). It returns the items as stored: a system that assigns its own ids returns the items
    with those ids and leaves every other field as given. Seeding an item whose id exists
    updates it, and the update must change the record's version (it is how the suite makes a
    "concurrent change in the CRM").

::

    import pytest
    from leadflow.adapters.testing import AdapterContract

    class TestMyAdapter(AdapterContract):
        @pytest.fixture
        def adapter(self, tmp_path):
            adapter = MyAdapter(path=tmp_path / "data")
            yield adapter
            adapter.close()

        @pytest.fixture
        def reopen(self, tmp_path):
            return lambda: MyAdapter(path=tmp_path / "data")

        @pytest.fixture
        def seed(self, adapter):
            return adapter.put   # (entity, items) -> items as stored

What the suite holds an adapter to, beyond "one result per write, in order":

* **Unchanged wins.** A write whose values the record already holds is ``unchanged`` — whatever
  its ``expected_version`` says — and leaves the record's version alone. That is what makes
  re-applying a batch harmless.
* **Conflicts are judged against the batch's start.** ``expected_version`` is compared with the
  version the record had when the batch began, so several writes to one lead in one batch (a
  score, a stage, an SLA clock) do not conflict with each other; a change made in the system
  since the read does, and nothing is overwritten.
* **A bad write fails alone.** An unknown lead or a refused value gives that write a ``failed``
  result with the system's error; the others in the batch still apply.

Fields a system does not store are listed in :attr:`AdapterContract.unsupported_fields` and left
out of round-trip comparisons. Tests that need a capability the adapter does not declare are
skipped with the reason shown (``pytest -rs``), never passed silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import attrs
import pytest

from leadflow.lifecycle import transition
from leadflow.model import Account, Activity, Lead, Touch
from leadflow.outcomes import Outcome
from leadflow.ports import (
    READERS,
    Adapter,
    Capabilities,
    Cursor,
    Entity,
    OutcomeWrite,
    Page,
    RejectionWrite,
    ScoreWrite,
    SLAWrite,
    StageWrite,
    Versioned,
    Write,
    WriteKind,
    WriteResult,
    WriteStatus,
    readable,
)
from leadflow.reasons import reject

__all__ = [
    "AdapterContract",
    "Seeder",
    "read_all",
    "sample_accounts",
    "sample_activities",
    "sample_leads",
    "sample_touches",
]

#: The instant sample data starts at (tests never read the clock).
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

_OWNERS = ("u-ana", "u-ben", "u-cho")
_SOURCES = ("webinar", "paid_search", "organic", "event", "referral")


class Seeder(Protocol):
    """Puts records into the system under test; returns them as stored (with the system's ids)."""

    def __call__(self, entity: Entity, items: Sequence[Any]) -> Sequence[Any]: ...


def sample_accounts(count: int, *, prefix: str = "A") -> list[Account]:
    """*count* distinct, fully populated accounts (deterministic)."""
    return [
        Account(
            id=f"{prefix}-{i:04d}",
            name=f"Example {prefix}{i} Ltd",
            domain=f"example{prefix.lower()}{i}.com",
            industry=("software", "manufacturing", "finance")[i % 3],
            annual_revenue=float(1_000_000 * (i + 1)),
            employees=50 * (i + 1),
            country=("DE", "US", "GB")[i % 3],
            owner_id=_OWNERS[i % 3],
            created_at=T0 - timedelta(days=30 - i),
        )
        for i in range(count)
    ]


def sample_leads(count: int, *, prefix: str = "L", accounts: Sequence[Account] = ()) -> list[Lead]:
    """*count* distinct leads in stage ``inquiry``, spread over *accounts* when given."""
    return [
        Lead(
            id=f"{prefix}-{i:04d}",
            created_at=T0 + timedelta(minutes=7 * i),
            email=f"person{i}@{prefix.lower()}.example.com",
            first_name=f"First{i}",
            last_name=f"Last{i}",
            title=("VP Engineering", "CTO", "Developer", "Head of IT")[i % 4],
            company=f"Company {i % 5}",
            industry=("software", "finance")[i % 2],
            annual_revenue=float(500_000 * (i + 1)),
            employees=10 * (i + 1),
            country=("DE", "US", "GB")[i % 3],
            source=_SOURCES[i % len(_SOURCES)],
            campaign=f"cmp-{i % 3}",
            owner_id=_OWNERS[i % 3],
            account_id=accounts[i % len(accounts)].id if accounts else None,
        )
        for i in range(count)
    ]


def sample_activities(leads: Sequence[Lead], *, per_lead: int = 2) -> list[Activity]:
    """*per_lead* activities for each of *leads*."""
    kinds = ("web_visit", "content_download", "webinar_attended", "demo_request")
    return [
        Activity(
            id=f"ACT-{lead.id}-{j}",
            lead_id=lead.id,
            kind=kinds[(i + j) % len(kinds)],
            occurred_at=lead.created_at + timedelta(hours=j + 1),
            account_id=lead.account_id,
            channel="web",
            campaign=lead.campaign,
        )
        for i, lead in enumerate(leads)
        for j in range(per_lead)
    ]


def sample_touches(leads: Sequence[Lead], *, per_lead: int = 1) -> list[Touch]:
    """*per_lead* sales touches for each of *leads*."""
    return [
        Touch(
            id=f"T-{lead.id}-{j}",
            lead_id=lead.id,
            kind=("call", "email")[(i + j) % 2],
            at=lead.created_at + timedelta(hours=4 + j),
            by=lead.owner_id or "u-ana",
            outcome=("no_answer", "sent", "connected")[(i + j) % 3],
            subject=f"Follow-up {j}",
        )
        for i, lead in enumerate(leads)
        for j in range(per_lead)
    ]


_READERS = READERS
#: The entities that are records with an ``id`` the seeder can store (rejections and outcomes
#: are facts about leads, read through their own readers).
_RECORDS = (Entity.LEAD, Entity.ACCOUNT, Entity.ACTIVITY, Entity.TOUCH)


def read_all(adapter: Adapter, entity: Entity, cursor: Cursor | None = None) -> list[Page[Any]]:
    """Every page of *entity* after *cursor*."""
    reader: Callable[[Cursor | None], Iterator[Page[Any]]] = getattr(adapter, _READERS[entity])
    return list(reader(cursor))


def _items(pages: Sequence[Page[Any]]) -> list[Versioned[Any]]:
    return [v for page in pages for v in page.items]


def _last_cursor(pages: Sequence[Page[Any]], default: Cursor | None = None) -> Cursor | None:
    return pages[-1].cursor if pages else default


class AdapterContract:
    """The contract every :class:`~leadflow.ports.Adapter` passes; subclass it as ``TestX``.

    Override the ``adapter``, ``reopen`` and ``seed`` fixtures (see the module docstring).
    """

    #: Fields the system does not store, per entity: left out of round-trip comparisons.
    unsupported_fields: ClassVar[dict[Entity, frozenset[str]]] = {}
    #: How many leads the tests that span several pages seed.
    many: ClassVar[int] = 25

    # -- fixtures the subclass provides ------------------------------------------------------

    @pytest.fixture
    def adapter(self) -> Adapter:
        """A fresh, empty adapter. Override it."""
        raise NotImplementedError("override the 'adapter' fixture in your contract test class")

    @pytest.fixture
    def reopen(self) -> Callable[[], Adapter]:
        """A new adapter instance over the same storage as ``adapter``. Override it."""
        raise NotImplementedError("override the 'reopen' fixture in your contract test class")

    @pytest.fixture
    def seed(self) -> Seeder:
        """Puts records into the system behind the adapter's back. Override it."""
        raise NotImplementedError("override the 'seed' fixture in your contract test class")

    # -- helpers ---------------------------------------------------------------------------

    def _require_read(self, adapter: Adapter, entity: Entity) -> None:
        if not adapter.capabilities.can_read(entity):
            pytest.skip(f"{adapter.name} does not read {entity.value} (capabilities.reads)")
        if entity not in _RECORDS and not readable(adapter, entity):
            pytest.skip(f"{adapter.name} has no {READERS[entity]}() (written before it existed)")

    def _require_write(self, adapter: Adapter, kind: WriteKind) -> None:
        if not adapter.capabilities.can_write(kind):
            pytest.skip(f"{adapter.name} does not write {kind.value} (capabilities.writes)")

    def _comparable(self, entity: Entity, item: Any) -> dict[str, Any]:
        skip = self.unsupported_fields.get(entity, frozenset()) | {"id"}
        return {k: v for k, v in attrs.asdict(item, recurse=False).items() if k not in skip}

    def _seed_graph(self, seed: Seeder, entity: Entity, count: int, prefix: str) -> list[Any]:
        """Seed *count* records of *entity* (and the accounts and leads they hang off)."""
        if entity is Entity.ACCOUNT:
            return list(seed(Entity.ACCOUNT, sample_accounts(count, prefix=prefix)))
        accounts = list(seed(Entity.ACCOUNT, sample_accounts(max(1, count // 3), prefix=prefix)))
        leads = list(seed(Entity.LEAD, sample_leads(count, prefix=prefix, accounts=accounts)))
        if entity is Entity.LEAD:
            return leads
        if entity is Entity.ACTIVITY:
            return list(seed(Entity.ACTIVITY, sample_activities(leads, per_lead=1)))
        return list(seed(Entity.TOUCH, sample_touches(leads, per_lead=1)))

    def _read_leads(self, adapter: Adapter) -> dict[str, Versioned[Lead]]:
        return {v.item.id: v for v in _items(read_all(adapter, Entity.LEAD))}

    # -- the contract ----------------------------------------------------------------------

    def test_implements_the_port(self, adapter: Adapter) -> None:
        assert isinstance(adapter, Adapter)
        assert isinstance(adapter.name, str)
        assert adapter.name
        assert isinstance(adapter.capabilities, Capabilities)
        assert adapter.capabilities.max_batch >= 1
        assert adapter.capabilities.reads, "an adapter reads at least one entity"

    @pytest.mark.parametrize("entity", list(Entity))
    def test_empty_system_reads_nothing(self, adapter: Adapter, entity: Entity) -> None:
        self._require_read(adapter, entity)
        assert _items(read_all(adapter, entity)) == []

    @pytest.mark.parametrize("entity", _RECORDS)
    def test_round_trip(self, adapter: Adapter, seed: Seeder, entity: Entity) -> None:
        self._require_read(adapter, entity)
        stored = self._seed_graph(seed, entity, 6, "RT")
        read = _items(read_all(adapter, entity))
        by_id = {v.item.id: v for v in read}
        assert sorted(by_id) == sorted(item.id for item in stored)
        assert len(read) == len(by_id), "each record is read once"
        for item in stored:
            got = by_id[item.id]
            assert isinstance(got.item, type(item))
            assert isinstance(got.version, str)
            assert got.version
            assert self._comparable(entity, item) == self._comparable(entity, got.item)

    @pytest.mark.parametrize("entity", _RECORDS)
    def test_incremental_read_returns_only_new_records(
        self, adapter: Adapter, seed: Seeder, entity: Entity
    ) -> None:
        self._require_read(adapter, entity)
        first = self._seed_graph(seed, entity, 4, "INA")
        pages = read_all(adapter, entity)
        assert {v.item.id for v in _items(pages)} == {i.id for i in first}
        cursor = _last_cursor(pages)
        assert cursor is not None
        assert cursor.entity is entity
        assert _items(read_all(adapter, entity, cursor)) == [], "nothing new, nothing read"
        second = self._seed_graph(seed, entity, 3, "INB")
        new = _items(read_all(adapter, entity, cursor))
        expected = {i.id for i in second}
        if entity is Entity.ACTIVITY or entity is Entity.TOUCH:
            assert {v.item.id for v in new} == expected
        else:
            assert expected <= {v.item.id for v in new}
            assert not {v.item.id for v in new} & {i.id for i in first}

    def test_every_page_cursor_resumes_after_its_page(self, adapter: Adapter, seed: Seeder) -> None:
        self._require_read(adapter, Entity.LEAD)
        stored = self._seed_graph(seed, Entity.LEAD, self.many, "PG")
        pages = read_all(adapter, Entity.LEAD)
        ids = [v.item.id for v in _items(pages)]
        assert sorted(ids) == sorted(i.id for i in stored)
        seen = 0
        for page in pages:
            seen += len(page.items)
            rest = [v.item.id for v in _items(read_all(adapter, Entity.LEAD, page.cursor))]
            assert rest == ids[seen:]

    def test_changed_record_is_read_again_with_a_new_version(
        self, adapter: Adapter, seed: Seeder
    ) -> None:
        self._require_read(adapter, Entity.LEAD)
        leads = self._seed_graph(seed, Entity.LEAD, 3, "CH")
        pages = read_all(adapter, Entity.LEAD)
        before = {v.item.id: v.version for v in _items(pages)}
        changed = attrs.evolve(leads[0], title="Chief Everything Officer")
        seed(Entity.LEAD, [changed])
        again = _items(read_all(adapter, Entity.LEAD, _last_cursor(pages)))
        assert [leads[0].id] == [v.item.id for v in again]
        assert again[0].item.title == "Chief Everything Officer"
        assert again[0].version != before[leads[0].id]

    @pytest.mark.parametrize("entity", _RECORDS)
    def test_cursor_survives_a_restart(
        self,
        adapter: Adapter,
        reopen: Callable[[], Adapter],
        seed: Seeder,
        entity: Entity,
    ) -> None:
        self._require_read(adapter, entity)
        first = self._seed_graph(seed, entity, 3, "RSA")
        saved = _last_cursor(read_all(adapter, entity))
        assert saved is not None
        text = saved.to_json()
        second = self._seed_graph(seed, entity, 2, "RSB")
        adapter.close()
        restarted = reopen()
        try:
            new = _items(read_all(restarted, entity, Cursor.from_json(text)))
        finally:
            restarted.close()
        ids = {v.item.id for v in new}
        assert {i.id for i in second} <= ids
        assert not ids & {i.id for i in first}

    def test_close_twice_is_harmless(self, adapter: Adapter) -> None:
        adapter.close()
        adapter.close()

    # -- writes ----------------------------------------------------------------------------

    def _batch(self, adapter: Adapter, leads: Sequence[Versioned[Lead]]) -> list[Write]:
        """One write of every kind the adapter declares, over *leads* (at least 4)."""
        caps = adapter.capabilities
        at = T0 + timedelta(days=1)
        writes: list[Write] = []
        a, b, c, d = leads[:4]
        if caps.can_write(WriteKind.SCORE):
            writes.append(
                ScoreWrite(
                    lead_id=a.item.id,
                    score=72.5,
                    summary="fit 40: VP title; intent 32.5: demo request",
                    recommendation="mql",
                    expected_version=a.version,
                )
            )
        if caps.can_write(WriteKind.STAGE):
            moved = transition(b.item, "mql", at=at, by="scoring")
            writes.append(
                StageWrite(lead_id=b.item.id, change=moved.history[-1], expected_version=b.version)
            )
        if caps.can_write(WriteKind.REJECTION):
            moved, rejection = reject(c.item, "not_ready_to_buy", at=at, by="u-ana", note="Q3")
            writes.append(
                RejectionWrite(
                    rejection=rejection, change=moved.history[-1], expected_version=c.version
                )
            )
        if caps.can_write(WriteKind.OUTCOME):
            writes.append(
                OutcomeWrite(
                    outcome=Outcome(
                        lead_id=d.item.id,
                        kind="won",
                        at=at,
                        amount=Decimal("48000"),
                        currency="EUR",
                    )
                )
            )
        if caps.can_write(WriteKind.SLA):
            writes.append(
                SLAWrite(
                    lead_id=d.item.id,
                    due_at=at + timedelta(hours=4),
                    state="pending",
                    expected_version=d.version,
                )
            )
        return writes

    def _written_leads(self, adapter: Adapter, seed: Seeder) -> list[Versioned[Lead]]:
        if not adapter.capabilities.writes:
            pytest.skip(f"{adapter.name} declares no writes (capabilities.writes)")
        self._require_read(adapter, Entity.LEAD)
        stored = self._seed_graph(seed, Entity.LEAD, 4, "WR")
        read = self._read_leads(adapter)
        return [read[lead.id] for lead in stored]

    def _check_results(self, writes: Sequence[Write], results: Sequence[WriteResult]) -> None:
        assert len(results) == len(writes), "one result per write"
        for write, result in zip(writes, results, strict=True):
            assert result.write == write, "results come back in the order of the writes"
            if result.status in (WriteStatus.FAILED, WriteStatus.CONFLICT):
                assert result.error, f"a {result.status.value} result says why"

    def test_batch_applies_every_write_kind(self, adapter: Adapter, seed: Seeder) -> None:
        leads = self._written_leads(adapter, seed)
        writes = self._batch(adapter, leads)
        results = adapter.write(writes)
        self._check_results(writes, results)
        assert [WriteStatus.APPLIED] * len(writes) == [r.status for r in results], [
            r.error for r in results
        ]

    def test_stage_changes_are_visible_on_read(self, adapter: Adapter, seed: Seeder) -> None:
        self._require_write(adapter, WriteKind.STAGE)
        self._require_write(adapter, WriteKind.REJECTION)
        leads = self._written_leads(adapter, seed)
        writes = [
            w for w in self._batch(adapter, leads) if isinstance(w, StageWrite | RejectionWrite)
        ]
        assert all(r.ok for r in adapter.write(writes))
        read = self._read_leads(adapter)
        assert read[leads[1].item.id].item.stage == "mql"
        assert read[leads[2].item.id].item.stage == "recycled"
        assert read[leads[0].item.id].item.stage == "inquiry"

    def test_reapplying_a_batch_changes_nothing(self, adapter: Adapter, seed: Seeder) -> None:
        leads = self._written_leads(adapter, seed)
        writes = self._batch(adapter, leads)
        first = adapter.write(writes)
        assert all(r.status is WriteStatus.APPLIED for r in first), [r.error for r in first]
        before = self._read_leads(adapter)
        second = adapter.write(writes)
        self._check_results(writes, second)
        assert [WriteStatus.UNCHANGED] * len(writes) == [r.status for r in second], [
            r.error for r in second
        ]
        after = self._read_leads(adapter)
        assert {k: v.version for k, v in before.items()} == {
            k: v.version for k, v in after.items()
        }, "an unchanged write leaves the record's version alone"

    def test_write_to_a_missing_lead_fails_alone(self, adapter: Adapter, seed: Seeder) -> None:
        leads = self._written_leads(adapter, seed)
        good = self._batch(adapter, leads)
        caps = adapter.capabilities
        missing: Write
        if caps.can_write(WriteKind.SCORE):
            missing = ScoreWrite(lead_id="NO-SUCH-LEAD", score=1.0)
        elif caps.can_write(WriteKind.SLA):
            missing = SLAWrite(lead_id="NO-SUCH-LEAD", due_at=T0, state="pending")
        elif caps.can_write(WriteKind.OUTCOME):
            missing = OutcomeWrite(
                outcome=Outcome(lead_id="NO-SUCH-LEAD", kind="evaluating", at=T0)
            )
        else:
            pytest.skip(f"{adapter.name} writes no score, SLA or outcome (capabilities.writes)")
        writes = [good[0], missing, *good[1:]]
        results = adapter.write(writes)
        self._check_results(writes, results)
        assert results[1].status is WriteStatus.FAILED
        assert "NO-SUCH-LEAD" in (results[1].error or "")
        assert all(r.status is WriteStatus.APPLIED for i, r in enumerate(results) if i != 1)

    def test_batch_larger_than_max_batch(self, adapter: Adapter, seed: Seeder) -> None:
        self._require_write(adapter, WriteKind.SCORE)
        self._require_read(adapter, Entity.LEAD)
        size = adapter.capabilities.max_batch + 1
        if size > 10_001:
            pytest.skip(f"{adapter.name}: max_batch {size - 1} is too large to exceed cheaply")
        stored = list(seed(Entity.LEAD, sample_leads(size, prefix="MB")))
        writes: list[Write] = [
            ScoreWrite(lead_id=lead.id, score=float(i % 100)) for i, lead in enumerate(stored)
        ]
        results = adapter.write(writes)
        self._check_results(writes, results)
        assert all(r.status is WriteStatus.APPLIED for r in results)

    def test_conflict_is_reported_not_overwritten(self, adapter: Adapter, seed: Seeder) -> None:
        if not adapter.capabilities.conflict_detection:
            pytest.skip(f"{adapter.name} does not detect conflicts (capabilities)")
        self._require_write(adapter, WriteKind.STAGE)
        leads = self._written_leads(adapter, seed)
        target = leads[0]
        seed(Entity.LEAD, [attrs.evolve(target.item, title="Changed in the CRM")])
        moved = transition(target.item, "mql", at=T0 + timedelta(days=1), by="scoring")
        write = StageWrite(
            lead_id=target.item.id, change=moved.history[-1], expected_version=target.version
        )
        [result] = adapter.write([write])
        assert result.status is WriteStatus.CONFLICT
        assert result.error
        now = self._read_leads(adapter)[target.item.id].item
        assert now.stage == "inquiry", "a conflicting write changes nothing"
        assert now.title == "Changed in the CRM", "the CRM's change is kept"

    def test_write_without_expected_version_is_applied(
        self, adapter: Adapter, seed: Seeder
    ) -> None:
        self._require_write(adapter, WriteKind.SCORE)
        leads = self._written_leads(adapter, seed)
        seed(Entity.LEAD, [attrs.evolve(leads[0].item, title="Changed in the CRM")])
        [result] = adapter.write([ScoreWrite(lead_id=leads[0].item.id, score=10.0)])
        assert result.status is WriteStatus.APPLIED

    def test_writes_for_one_lead_in_one_batch_do_not_conflict_with_each_other(
        self, adapter: Adapter, seed: Seeder
    ) -> None:
        self._require_write(adapter, WriteKind.SCORE)
        self._require_write(adapter, WriteKind.STAGE)
        self._require_write(adapter, WriteKind.SLA)
        leads = self._written_leads(adapter, seed)
        lead = leads[0]
        at = T0 + timedelta(days=1)
        moved = transition(lead.item, "mql", at=at, by="scoring")
        writes: list[Write] = [
            ScoreWrite(lead_id=lead.item.id, score=80.0, expected_version=lead.version),
            StageWrite(
                lead_id=lead.item.id, change=moved.history[-1], expected_version=lead.version
            ),
            SLAWrite(
                lead_id=lead.item.id,
                due_at=at + timedelta(hours=4),
                state="pending",
                expected_version=lead.version,
            ),
        ]
        results = adapter.write(writes)
        assert [r.status for r in results] == [WriteStatus.APPLIED] * 3, [r.error for r in results]
