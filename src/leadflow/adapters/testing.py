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

Two more fixtures switch on the tests that need them (until overridden, those tests are skipped
with the reason shown):

``config``
    a configuration that builds the adapter through :func:`leadflow.adapters.build` (as
    ``leadflow run`` does from its ``[adapters.<name>]`` table); the suite adds a key the adapter
    cannot know and expects a :class:`~leadflow.errors.ConfigError` naming it.
``seed_unreadable``
    ``seed_unreadable(entity) -> record id`` puts a record the core model refuses (a creation
    date without a zone, say) into the system; the suite expects it back as a
    :class:`~leadflow.ports.RecordError` on its page, the other records read, and the cursor
    past it.

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
* **What is declared is kept.** An adapter declaring ``capabilities.handoff_time`` stores
  :attr:`~leadflow.ports.StageWrite.handed_off_at` and reads it back as ``Lead.handed_off_at``.
  An entity it does not declare needs no reader (and is not read).

:mod:`leadflow.adapters.sync` implements these rules (``apply_batch``) for adapters to reuse.
When a check fails, its message states the rule in words ("an unchanged write must win over a
stale expected_version: ...") and what the adapter did instead.

Fields a system does not store are listed in :attr:`AdapterContract.unsupported_fields` and left
out of round-trip comparisons. Tests that need a capability the adapter does not declare are
skipped with the reason shown (``pytest -rs``), never passed silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import attrs
import pytest

from leadflow.errors import ConfigError
from leadflow.lifecycle import transition
from leadflow.model import Account, Activity, Lead, Touch
from leadflow.outcomes import Outcome
from leadflow.ports import (
    READERS,
    Adapter,
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
    missing_members,
    read_pages,
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


#: The entities that are records with an ``id`` the seeder can store (rejections and outcomes
#: are facts about leads, read through their own readers).
_RECORDS = (Entity.LEAD, Entity.ACCOUNT, Entity.ACTIVITY, Entity.TOUCH)


def read_all(adapter: Adapter, entity: Entity, cursor: Cursor | None = None) -> list[Page[Any]]:
    """Every page of *entity* after *cursor*."""
    return list(read_pages(adapter, entity, cursor))


def _items(pages: Sequence[Page[Any]]) -> list[Versioned[Any]]:
    return [v for page in pages for v in page.items]


def _last_cursor(pages: Sequence[Page[Any]], default: Cursor | None = None) -> Cursor | None:
    return pages[-1].cursor if pages else default


class AdapterContract:
    """The contract every :class:`~leadflow.ports.Adapter` passes; subclass it as ``TestX``.

    Override the ``adapter``, ``reopen`` and ``seed`` fixtures (see the module docstring), and
    ``seed_unreadable`` and ``config`` to run the tests that need them. Every check says in words
    which rule of the port an adapter broke.
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

    @pytest.fixture
    def seed_unreadable(self) -> Callable[[Entity], str]:
        """``seed_unreadable(entity) -> record id``: puts a record of *entity* into the system
        that the core model refuses (a malformed e-mail, a naive or missing date...), as a CRM
        may hold one. Override it to check :class:`~leadflow.ports.RecordError` reporting."""
        pytest.skip(
            "override the 'seed_unreadable' fixture to check that an unreadable record is "
            "reported as a RecordError"
        )

    @pytest.fixture
    def config(self) -> Mapping[str, Any]:
        """A configuration that builds this adapter with :func:`leadflow.adapters.build` (what
        ``leadflow run`` passes from its ``[adapters.<name>]`` table). Override it to check that
        unknown keys are refused."""
        pytest.skip(
            "override the 'config' fixture to check that unknown configuration keys are refused"
        )

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

    def _seed_graph(
        self, adapter: Adapter, seed: Seeder, entity: Entity, count: int, prefix: str
    ) -> list[Any]:
        """Seed *count* records of *entity* (and the accounts and leads they hang off; accounts
        only when the adapter reads them)."""
        with_accounts = adapter.capabilities.can_read(Entity.ACCOUNT)
        if entity is Entity.ACCOUNT:
            return list(seed(Entity.ACCOUNT, sample_accounts(count, prefix=prefix)))
        accounts = (
            list(seed(Entity.ACCOUNT, sample_accounts(max(1, count // 3), prefix=prefix)))
            if with_accounts
            else []
        )
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
        missing = missing_members(adapter)
        assert not missing, (
            f"an adapter has name, capabilities, write, close and the reader of each entity it "
            f"declares; {type(adapter).__name__} lacks {', '.join(missing)}"
        )
        assert isinstance(adapter, Adapter)
        assert adapter.name, "an adapter's name is a non-empty string (its registered name)"
        assert adapter.capabilities.max_batch >= 1, "capabilities.max_batch is at least 1"
        assert adapter.capabilities.reads, "an adapter reads at least one entity"

    @pytest.mark.parametrize("entity", list(Entity))
    def test_empty_system_reads_nothing(self, adapter: Adapter, entity: Entity) -> None:
        self._require_read(adapter, entity)
        assert _items(read_all(adapter, entity)) == [], (
            f"an empty system reads no {entity.value} records"
        )

    @pytest.mark.parametrize("entity", _RECORDS)
    def test_round_trip(self, adapter: Adapter, seed: Seeder, entity: Entity) -> None:
        self._require_read(adapter, entity)
        stored = self._seed_graph(adapter, seed, entity, 6, "RT")
        read = _items(read_all(adapter, entity))
        by_id = {v.item.id: v for v in read}
        assert sorted(by_id) == sorted(item.id for item in stored), (
            f"every {entity.value} seeded is read back, and nothing else"
        )
        assert len(read) == len(by_id), f"each {entity.value} is read once, not on two pages"
        for item in stored:
            got = by_id[item.id]
            assert isinstance(got.item, type(item)), (
                f"a {entity.value} is read as a {type(item).__name__}"
            )
            assert isinstance(got.version, str), "a record's version is a string"
            assert got.version, "a record is read with a non-empty version"
            assert self._comparable(entity, got.item) == self._comparable(entity, item), (
                f"a {entity.value} reads back with the values it was stored with (list the "
                "fields the system does not keep in unsupported_fields)"
            )

    @pytest.mark.parametrize("entity", _RECORDS)
    def test_incremental_read_returns_only_new_records(
        self, adapter: Adapter, seed: Seeder, entity: Entity
    ) -> None:
        self._require_read(adapter, entity)
        first = self._seed_graph(adapter, seed, entity, 4, "INA")
        pages = read_all(adapter, entity)
        assert {v.item.id for v in _items(pages)} == {i.id for i in first}, (
            f"a first read returns every {entity.value}"
        )
        cursor = _last_cursor(pages)
        assert cursor is not None, "a read that returned records ends with a cursor"
        assert cursor.entity is entity, f"a {entity.value} page's cursor is for {entity.value}"
        assert _items(read_all(adapter, entity, cursor)) == [], (
            "reading from the last cursor with nothing new reads nothing"
        )
        second = self._seed_graph(adapter, seed, entity, 3, "INB")
        new = {v.item.id for v in _items(read_all(adapter, entity, cursor))}
        expected = {i.id for i in second}
        if entity is Entity.ACTIVITY or entity is Entity.TOUCH:
            assert new == expected, (
                f"reading from a cursor returns exactly the {entity.value} records added since"
            )
        else:
            assert expected <= new, f"reading from a cursor returns the {entity.value}s added since"
            assert not new & {i.id for i in first}, (
                f"reading from a cursor does not return {entity.value}s read before it "
                "(unless they changed)"
            )

    def test_every_page_cursor_resumes_after_its_page(self, adapter: Adapter, seed: Seeder) -> None:
        self._require_read(adapter, Entity.LEAD)
        stored = self._seed_graph(adapter, seed, Entity.LEAD, self.many, "PG")
        pages = read_all(adapter, Entity.LEAD)
        ids = [v.item.id for v in _items(pages)]
        assert sorted(ids) == sorted(i.id for i in stored), "every lead is read once"
        seen = 0
        for number, page in enumerate(pages, start=1):
            seen += len(page.items)
            rest = [v.item.id for v in _items(read_all(adapter, Entity.LEAD, page.cursor))]
            assert rest == ids[seen:], (
                f"the cursor of page {number} resumes right after that page: neither skipping "
                "nor repeating a record"
            )

    def test_changed_record_is_read_again_with_a_new_version(
        self, adapter: Adapter, seed: Seeder
    ) -> None:
        self._require_read(adapter, Entity.LEAD)
        leads = self._seed_graph(adapter, seed, Entity.LEAD, 3, "CH")
        pages = read_all(adapter, Entity.LEAD)
        before = {v.item.id: v.version for v in _items(pages)}
        changed = attrs.evolve(leads[0], title="Chief Everything Officer")
        seed(Entity.LEAD, [changed])
        again = _items(read_all(adapter, Entity.LEAD, _last_cursor(pages)))
        assert [v.item.id for v in again] == [leads[0].id], (
            "a lead changed in the system is read again from the last cursor, alone"
        )
        assert again[0].item.title == "Chief Everything Officer", "with its new values"
        assert again[0].version != before[leads[0].id], "and a new version"

    @pytest.mark.parametrize("entity", _RECORDS)
    def test_cursor_survives_a_restart(
        self,
        adapter: Adapter,
        reopen: Callable[[], Adapter],
        seed: Seeder,
        entity: Entity,
    ) -> None:
        self._require_read(adapter, entity)
        first = self._seed_graph(adapter, seed, entity, 3, "RSA")
        saved = _last_cursor(read_all(adapter, entity))
        assert saved is not None, "a read that returned records ends with a cursor"
        text = saved.to_json()
        second = self._seed_graph(adapter, seed, entity, 2, "RSB")
        adapter.close()
        restarted = reopen()
        try:
            new = _items(read_all(restarted, entity, Cursor.from_json(text)))
        finally:
            restarted.close()
        ids = {v.item.id for v in new}
        assert {i.id for i in second} <= ids, (
            "a cursor saved as JSON resumes in a new adapter instance (after a restart)"
        )
        assert not ids & {i.id for i in first}, (
            "a cursor resumed after a restart does not read again what was read before it"
        )

    def test_close_twice_is_harmless(self, adapter: Adapter) -> None:
        adapter.close()
        adapter.close()

    def test_unreadable_record_is_a_record_error(
        self, adapter: Adapter, seed: Seeder, seed_unreadable: Callable[[Entity], str]
    ) -> None:
        self._require_read(adapter, Entity.LEAD)
        good = self._seed_graph(adapter, seed, Entity.LEAD, 2, "UR")
        bad = seed_unreadable(Entity.LEAD)
        pages = read_all(adapter, Entity.LEAD)
        assert {v.item.id for v in _items(pages)} == {lead.id for lead in good}, (
            "a record the model refuses does not stop the read: the others are read"
        )
        errors = [e for page in pages for e in page.errors]
        assert [(e.entity, e.record_id) for e in errors] == [(Entity.LEAD, bad)], (
            "a record the model refuses is reported once as a RecordError on its page "
            "(entity and record id), not dropped in a log line"
        )
        assert errors[0].error, "a RecordError says why the record could not be read"
        after = read_all(adapter, Entity.LEAD, _last_cursor(pages))
        assert not [e for page in after for e in page.errors], (
            "the cursor moves past an unreadable record: it is not reported again until it changes"
        )

    def test_unknown_config_key_is_refused(
        self, adapter: Adapter, config: Mapping[str, Any]
    ) -> None:
        from leadflow.adapters import build

        factory = type(adapter)
        rule = (
            "a configuration key the adapter does not know is refused with a ConfigError "
            "naming it (a typo must not be a setting silently ignored)"
        )
        refused: ConfigError | None = None
        try:
            wrong = build(factory, {**config, "no_such_setting": 1}, name=adapter.name)
        except ConfigError as exc:
            refused = exc
        else:
            wrong.close()
            pytest.fail(f"{rule}; {factory.__name__} accepted 'no_such_setting'")
        assert "no_such_setting" in str(refused), f"{rule}; got {refused}"
        built = build(factory, config, name=adapter.name)
        built.close()

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
        stored = self._seed_graph(adapter, seed, Entity.LEAD, 4, "WR")
        read = self._read_leads(adapter)
        return [read[lead.id] for lead in stored]

    def _check_results(self, writes: Sequence[Write], results: Sequence[WriteResult]) -> None:
        assert len(results) == len(writes), (
            f"write() returns exactly one result per write: {len(writes)} writes, "
            f"{len(results)} results"
        )
        for write, result in zip(writes, results, strict=True):
            assert result.write == write, "results come back in the order of the writes"
            if result.status in (WriteStatus.FAILED, WriteStatus.CONFLICT):
                assert result.error, f"a {result.status.value} result says why in its error"

    @staticmethod
    def _statuses(results: Sequence[WriteResult]) -> list[str]:
        return [f"{r.write.kind.value}: {r.status.value} {r.error or ''}".strip() for r in results]

    def test_batch_applies_every_write_kind(self, adapter: Adapter, seed: Seeder) -> None:
        leads = self._written_leads(adapter, seed)
        writes = self._batch(adapter, leads)
        results = adapter.write(writes)
        self._check_results(writes, results)
        assert all(r.status is WriteStatus.APPLIED for r in results), (
            "a batch with one write of every declared kind, each with the version just read, "
            f"is applied in full; got {self._statuses(results)}"
        )

    def test_stage_changes_are_visible_on_read(self, adapter: Adapter, seed: Seeder) -> None:
        self._require_write(adapter, WriteKind.STAGE)
        self._require_write(adapter, WriteKind.REJECTION)
        leads = self._written_leads(adapter, seed)
        writes = [
            w for w in self._batch(adapter, leads) if isinstance(w, StageWrite | RejectionWrite)
        ]
        results = adapter.write(writes)
        assert all(r.ok for r in results), self._statuses(results)
        read = self._read_leads(adapter)
        assert read[leads[1].item.id].item.stage == "mql", (
            "a lead read after a StageWrite to 'mql' is in stage 'mql'"
        )
        assert read[leads[2].item.id].item.stage == "recycled", (
            "a lead read after a RejectionWrite recycling it is in stage 'recycled'"
        )
        assert read[leads[0].item.id].item.stage == "inquiry", (
            "a lead no stage write named keeps its stage"
        )

    def test_handoff_time_is_stored_when_declared(self, adapter: Adapter, seed: Seeder) -> None:
        if not adapter.capabilities.handoff_time:
            pytest.skip(f"{adapter.name} does not store hand-off times (capabilities.handoff_time)")
        self._require_write(adapter, WriteKind.STAGE)
        leads = self._written_leads(adapter, seed)
        target = leads[0]
        at = T0 + timedelta(days=1)
        moved = transition(target.item, "mql", at=at, by="scoring")
        write = StageWrite(
            lead_id=target.item.id,
            change=moved.history[-1],
            expected_version=target.version,
            handed_off_at=at,
        )
        results = adapter.write([write])
        assert [r.status for r in results] == [WriteStatus.APPLIED], self._statuses(results)
        read = self._read_leads(adapter)[target.item.id].item
        assert read.stage == "mql", "the stage change is applied with its hand-off time"
        assert read.handed_off_at == at, (
            "an adapter declaring capabilities.handoff_time stores StageWrite.handed_off_at and "
            f"reads it back as Lead.handed_off_at; read {read.handed_off_at!r}, wrote {at!r}"
        )
        again = adapter.write([write])
        assert [r.status for r in again] == [WriteStatus.UNCHANGED], (
            "a stage change already recorded with its hand-off time is unchanged; got "
            f"{self._statuses(again)}"
        )

    def test_reapplying_a_batch_changes_nothing(self, adapter: Adapter, seed: Seeder) -> None:
        leads = self._written_leads(adapter, seed)
        writes = self._batch(adapter, leads)
        first = adapter.write(writes)
        assert all(r.status is WriteStatus.APPLIED for r in first), self._statuses(first)
        before = self._read_leads(adapter)
        second = adapter.write(writes)
        self._check_results(writes, second)
        assert all(r.status is WriteStatus.UNCHANGED for r in second), (
            "an unchanged write must win over a stale expected_version: re-applying a batch "
            "whose values the records already hold reports every write unchanged, though "
            f"their expected versions are now out of date; got {self._statuses(second)}"
        )
        after = self._read_leads(adapter)
        assert {k: v.version for k, v in after.items()} == {
            k: v.version for k, v in before.items()
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
        assert results[1].status is WriteStatus.FAILED, (
            "a write to a lead that does not exist is failed, not dropped or applied; got "
            f"{results[1].status.value}"
        )
        assert "NO-SUCH-LEAD" in (results[1].error or ""), (
            "a failed write's error names the lead it could not write"
        )
        assert all(r.status is WriteStatus.APPLIED for i, r in enumerate(results) if i != 1), (
            "a bad write fails alone: the other writes of its batch are applied; got "
            f"{self._statuses(results)}"
        )

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
        assert all(r.status is WriteStatus.APPLIED for r in results), (
            f"a batch larger than capabilities.max_batch ({size - 1}) is split by the adapter "
            "and applied in full"
        )

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
        assert result.status is WriteStatus.CONFLICT, (
            "a write whose expected_version is older than the record's version (the record "
            f"changed in the system since it was read) is a conflict; got {result.status.value}"
        )
        assert result.error, "a conflict says why in its error"
        now = self._read_leads(adapter)[target.item.id].item
        assert now.stage == "inquiry", "a conflicting write changes nothing"
        assert now.title == "Changed in the CRM", "the change made in the system is kept"

    def test_write_without_expected_version_is_applied(
        self, adapter: Adapter, seed: Seeder
    ) -> None:
        self._require_write(adapter, WriteKind.SCORE)
        leads = self._written_leads(adapter, seed)
        seed(Entity.LEAD, [attrs.evolve(leads[0].item, title="Changed in the CRM")])
        [result] = adapter.write([ScoreWrite(lead_id=leads[0].item.id, score=10.0)])
        assert result.status is WriteStatus.APPLIED, (
            "a write without an expected_version asks for no version check: it is applied "
            f"even though the record changed; got {result.status.value} {result.error or ''}"
        )

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
        assert [r.status for r in results] == [WriteStatus.APPLIED] * 3, (
            "expected_version is compared with the version the lead had when the batch began: "
            "a score, a stage and an SLA clock written to one lead in one batch, each with the "
            f"version read, are all applied; got {self._statuses(results)}"
        )
