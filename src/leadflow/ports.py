"""The port every system of record implements: the :class:`Adapter` protocol and its data.

Scope: what leadflow asks of a CRM or store, stated as a :class:`typing.Protocol` (adapter authors
need not inherit anything) and the plain values that cross it. No I/O happens here.

Reading is incremental: each ``read_*`` method yields :class:`Page` objects; a page carries the
records it read (each :class:`Versioned` with the stamp it had) and the :class:`Cursor` to resume
*after* it. A job saves the cursor after processing a page, so a restart resumes where it stopped.

What sales decided and what became of leads are read the same way: an adapter that declares
:attr:`Entity.REJECTION` or :attr:`Entity.OUTCOME` in its :class:`Capabilities` has
``read_rejections`` / ``read_outcomes`` (:class:`RejectionReader`, :class:`OutcomeReader`): the
rejections made in the system of record, with who and when, and the outcomes of the
opportunities or deals the leads became. A lead's stage history and hand-off time travel on the
lead itself (:attr:`~leadflow.model.Lead.history`, :attr:`~leadflow.model.Lead.handed_off_at`).

Writing is by batch: :meth:`Adapter.write` takes a sequence of write operations (the "actions"
leadflow's rules decided on) and returns exactly one :class:`WriteResult` per operation, in order:
``applied``, ``unchanged`` (the record already held those values — so re-applying a batch is
harmless), ``conflict`` (the record changed in the system of record since it was read, as told by
``expected_version``; nothing was overwritten) or ``failed`` (with the system's error). Nothing is
dropped silently.

Three rules make batches safe to retry (``leadflow.adapters.testing`` checks them): a write the
record already reflects is ``unchanged`` whatever its ``expected_version`` says; the
``expected_version`` is compared with the version the record had when the batch began, so
several writes to one lead in one batch do not conflict with each other; and a write that
fails, fails alone.

>>> caps = Capabilities(reads=frozenset(Entity), writes=frozenset(WriteKind), max_batch=200)
>>> caps.can_write(WriteKind.SCORE), caps.max_batch
(True, 200)
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import attrs

from leadflow import _validate as v
from leadflow.errors import ValidationError
from leadflow.model import Account, Activity, Lead, StageChange, Touch
from leadflow.outcomes import Outcome
from leadflow.reasons import Rejection

__all__ = [
    "AccountReader",
    "ActivityReader",
    "Adapter",
    "Capabilities",
    "Cursor",
    "Entity",
    "LeadReader",
    "OutcomeReader",
    "OutcomeWrite",
    "Page",
    "READERS",
    "ReadsOutcomes",
    "ReadsRejections",
    "RecordError",
    "RejectionReader",
    "RejectionWrite",
    "SLAWrite",
    "ScoreWrite",
    "StageWrite",
    "TouchReader",
    "Versioned",
    "Write",
    "WriteKind",
    "WriteResult",
    "WriteStatus",
    "missing_members",
    "read_all",
    "read_pages",
    "readable",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Entity(enum.StrEnum):
    """What an adapter can read.

    ``rejection`` is a :class:`~leadflow.reasons.Rejection` made in the system of record (a
    rep's verdict with its reason, who and when); ``outcome`` an
    :class:`~leadflow.outcomes.Outcome` (what became of the lead: won, lost, lost to a
    competitor...).
    """

    LEAD = "lead"
    ACCOUNT = "account"
    ACTIVITY = "activity"
    TOUCH = "touch"
    REJECTION = "rejection"
    OUTCOME = "outcome"


class WriteKind(enum.StrEnum):
    """What an adapter can write back."""

    SCORE = "score"
    STAGE = "stage"
    REJECTION = "rejection"
    OUTCOME = "outcome"
    SLA = "sla"


def _entity(value: Any) -> Any:
    return v.coerce_enum(Entity, value)


def _status(value: Any) -> Any:
    return v.coerce_enum(WriteStatus, value)


@attrs.frozen(kw_only=True)
class Cursor:
    """Where an incremental read stopped, for one entity; opaque to everyone but its adapter.

    ``token`` is the adapter's own encoding (a modified stamp and id, a row id, a search
    ``after`` value); ``None`` means "from the beginning". Cursors serialise to JSON so a job can
    store them anywhere.

    >>> c = Cursor(entity=Entity.LEAD, token="2026-03-01T00:00:00Z|00Q000000000001")
    >>> Cursor.from_json(c.to_json()) == c
    True
    """

    entity: Entity = attrs.field(converter=_entity, validator=v.member_of(Entity))
    token: str | None = None

    def to_json(self) -> str:
        """A JSON text :meth:`from_json` reads back."""
        return json.dumps({"entity": self.entity.value, "token": self.token}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Cursor:
        """Read a cursor written by :meth:`to_json`."""
        try:
            data = json.loads(text)
            return cls(entity=data["entity"], token=data["token"])
        except (ValueError, KeyError, TypeError):
            raise ValidationError(
                "cursor", text, "is not a cursor written by Cursor.to_json"
            ) from None


@attrs.frozen(kw_only=True)
class Versioned(Generic[T]):
    """A record as read, with the version (modified stamp, counter) it had when read."""

    item: T
    version: str


@attrs.frozen(kw_only=True)
class RecordError:
    """A record the adapter read but could not map onto the core model, and why.

    Adapters put these on the :class:`Page` that passed the record, so a job can report them
    (``leadflow run`` lists them) rather than losing them in a log; the cursor still moves past
    the record, which is read again when it next changes in the system of record.
    """

    entity: Entity
    record_id: str
    error: str


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of an incremental read, the records on it that could not be read
    (``errors``), and the cursor that resumes after it."""

    items: tuple[Versioned[T], ...]
    cursor: Cursor
    errors: tuple[RecordError, ...] = ()


@attrs.frozen(kw_only=True)
class ScoreWrite:
    """Write a lead's score, the one-line explanation summary and the recommendation."""

    lead_id: str = attrs.field(validator=v.non_empty)
    score: float
    summary: str = ""
    recommendation: str | None = None
    expected_version: str | None = None
    kind: WriteKind = attrs.field(default=WriteKind.SCORE, init=False)


@attrs.frozen(kw_only=True)
class StageWrite:
    """Record a stage change (the lead's new stage and the history entry).

    ``handed_off_at``, when set, is the instant the change hands the lead to sales (scoring
    moving it to ``mql``): the start of its SLA clock, to be stored as ``Lead.handed_off_at``.
    Adapters whose :class:`Capabilities` say ``handoff_time`` store it; others apply the stage
    change and ignore it.
    """

    lead_id: str = attrs.field(validator=v.non_empty)
    change: StageChange
    expected_version: str | None = None
    handed_off_at: datetime | None = attrs.field(default=None, validator=v.optional_aware)
    kind: WriteKind = attrs.field(default=WriteKind.STAGE, init=False)


@attrs.frozen(kw_only=True)
class RejectionWrite:
    """Record a rejection: code, note, disposition; the stage change travels with it."""

    rejection: Rejection
    change: StageChange
    expected_version: str | None = None
    kind: WriteKind = attrs.field(default=WriteKind.REJECTION, init=False)

    @property
    def lead_id(self) -> str:
        """The rejected lead's id."""
        return self.rejection.lead_id


@attrs.frozen(kw_only=True)
class OutcomeWrite:
    """Record what became of a lead (appended; outcomes are never overwritten)."""

    outcome: Outcome
    kind: WriteKind = attrs.field(default=WriteKind.OUTCOME, init=False)

    @property
    def lead_id(self) -> str:
        """The lead the outcome belongs to."""
        return self.outcome.lead_id

    @property
    def expected_version(self) -> None:
        """Outcomes are facts appended to a log; they never conflict."""
        return None


@attrs.frozen(kw_only=True)
class SLAWrite:
    """Write a lead's SLA clock: when the next action is due and the SLA state.

    ``due_at`` is an aware datetime in the zone of the business calendar the lead was judged in
    (``None`` when nothing is due); an adapter that stores instants in UTC converts it, and reads
    it back as the same instant. ``state`` is a :class:`leadflow.rules.sla.StepState` value
    (``pending``, ``at_risk``, ``met``, ``breached``, ``stopped``).
    """

    lead_id: str = attrs.field(validator=v.non_empty)
    due_at: datetime | None = attrs.field(validator=v.optional_aware)
    state: str = attrs.field(validator=v.non_empty)
    expected_version: str | None = None
    kind: WriteKind = attrs.field(default=WriteKind.SLA, init=False)


#: Any write operation an adapter accepts.
Write = ScoreWrite | StageWrite | RejectionWrite | OutcomeWrite | SLAWrite


class WriteStatus(enum.StrEnum):
    """The fate of one write operation."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class WriteResult:
    """What happened to one write: status, the system's error when it failed or conflicted,
    and the record's new version when it was applied."""

    write: Write
    status: WriteStatus = attrs.field(converter=_status, validator=v.member_of(WriteStatus))
    error: str | None = None
    version: str | None = None

    @property
    def ok(self) -> bool:
        """Applied or already in place."""
        return self.status in (WriteStatus.APPLIED, WriteStatus.UNCHANGED)


def _entities(value: Iterable[Entity | str]) -> frozenset[Entity]:
    return frozenset(Entity(v) for v in value)


def _write_kinds(value: Iterable[WriteKind | str]) -> frozenset[WriteKind]:
    return frozenset(WriteKind(v) for v in value)


@attrs.frozen(kw_only=True)
class Capabilities:
    """What an adapter can do, and its limits.

    ``max_batch`` is the most records the system accepts in one call; adapters split larger
    batches themselves, callers may use it to size their work. ``handoff_time`` says whether the
    adapter stores :attr:`StageWrite.handed_off_at` (the hand-off an SLA starts from).
    """

    reads: frozenset[Entity] = attrs.field(converter=_entities)
    writes: frozenset[WriteKind] = attrs.field(converter=_write_kinds)
    max_batch: int = 200
    conflict_detection: bool = True
    transactional_batches: bool = False
    handoff_time: bool = False

    def can_read(self, entity: Entity) -> bool:
        """Whether the adapter reads *entity*."""
        return entity in self.reads

    def can_write(self, kind: WriteKind) -> bool:
        """Whether the adapter writes *kind*."""
        return kind in self.writes

    def to_dict(self) -> dict[str, Any]:
        """Plain data, e.g. for ``leadflow adapters --json``."""
        return {
            "reads": sorted(e.value for e in self.reads),
            "writes": sorted(k.value for k in self.writes),
            "max_batch": self.max_batch,
            "conflict_detection": self.conflict_detection,
            "transactional_batches": self.transactional_batches,
            "handoff_time": self.handoff_time,
        }


#: The method that reads each entity. An adapter has the readers of the entities its
#: :attr:`Capabilities.reads` declares, and needs no others.
READERS: dict[Entity, str] = {
    Entity.LEAD: "read_leads",
    Entity.ACCOUNT: "read_accounts",
    Entity.ACTIVITY: "read_activities",
    Entity.TOUCH: "read_touches",
    Entity.REJECTION: "read_rejections",
    Entity.OUTCOME: "read_outcomes",
}

#: Entities that joined the port after adapters were written declaring
#: ``reads=frozenset(Entity)``: such an adapter without their readers is not read for them
#: (:func:`readable`), rather than refused.
_LATER = frozenset({Entity.REJECTION, Entity.OUTCOME})


@runtime_checkable
class Adapter(Protocol):
    """A system of record leadflow reads from and writes back to.

    Implement it without inheriting; register the class (or a factory taking ``**config``)
    under the ``leadflow.adapters`` entry-point group. ``leadflow.adapters.testing`` holds the
    contract suite that checks an implementation.

    Every adapter has ``name``, ``capabilities``, :meth:`write` and :meth:`close`. What it reads
    is declared, not stubbed: for each entity in ``capabilities.reads`` it has that entity's
    reader (:data:`READERS`; their signatures are :class:`LeadReader`, :class:`AccountReader`,
    :class:`ActivityReader`, :class:`TouchReader`), and a CRM without, say, activities
    declares no :attr:`Entity.ACTIVITY` and has no ``read_activities``. Read through
    :func:`read_pages`, which checks the declaration; :func:`missing_members` names what an
    object lacks.
    """

    name: str
    capabilities: Capabilities

    def write(self, writes: Sequence[Write]) -> list[WriteResult]:
        """Apply *writes*; one result per write, in the same order."""
        ...

    def close(self) -> None:
        """Release connections and files. Calling it twice is harmless."""
        ...


@runtime_checkable
class LeadReader(Protocol):
    """The reader of an adapter declaring :attr:`Entity.LEAD`."""

    def read_leads(self, cursor: Cursor | None = None) -> Iterator[Page[Lead]]:
        """Leads changed after *cursor* (all when ``None``), oldest change first, by page."""
        ...


@runtime_checkable
class AccountReader(Protocol):
    """The reader of an adapter declaring :attr:`Entity.ACCOUNT`."""

    def read_accounts(self, cursor: Cursor | None = None) -> Iterator[Page[Account]]:
        """Accounts changed after *cursor*, by page."""
        ...


@runtime_checkable
class ActivityReader(Protocol):
    """The reader of an adapter declaring :attr:`Entity.ACTIVITY`."""

    def read_activities(self, cursor: Cursor | None = None) -> Iterator[Page[Activity]]:
        """Activities recorded after *cursor*, by page."""
        ...


@runtime_checkable
class TouchReader(Protocol):
    """The reader of an adapter declaring :attr:`Entity.TOUCH`."""

    def read_touches(self, cursor: Cursor | None = None) -> Iterator[Page[Touch]]:
        """Touches recorded after *cursor*, by page."""
        ...


@runtime_checkable
class RejectionReader(Protocol):
    """The reader of an adapter declaring :attr:`Entity.REJECTION`."""

    def read_rejections(self, cursor: Cursor | None = None) -> Iterator[Page[Rejection]]:
        """Rejections made (or changed) after *cursor*, oldest first, by page.

        A rejection's ``at`` and ``by`` are when and by whom the lead was turned down in the
        system of record; a record whose reason the adapter's mapping does not know is a
        :class:`RecordError` on the page, never a guessed code.
        """
        ...


@runtime_checkable
class OutcomeReader(Protocol):
    """The reader of an adapter declaring :attr:`Entity.OUTCOME`."""

    def read_outcomes(self, cursor: Cursor | None = None) -> Iterator[Page[Outcome]]:
        """Outcomes recorded (or changed) after *cursor*, oldest first, by page.

        An outcome read again after its opportunity or deal changed comes again, with a new
        version; a store mirroring them keeps one per ``(lead_id, opportunity_id, kind)``.
        """
        ...


#: The first names of :class:`RejectionReader` and :class:`OutcomeReader` (kept: adapters written
#: against them keep working).
ReadsRejections = RejectionReader
ReadsOutcomes = OutcomeReader


def readable(adapter: Adapter, entity: Entity | str) -> bool:
    """Whether *adapter* declares *entity* and has its reader (jobs and reports ask this).

    >>> class Old:  # written when the port had four entities
    ...     name = "old"
    ...     capabilities = Capabilities(reads=frozenset(Entity), writes=())
    ...     def read_leads(self, cursor=None): ...
    >>> readable(Old(), Entity.LEAD), readable(Old(), Entity.REJECTION)
    (True, False)
    """
    entity = Entity(entity)
    return adapter.capabilities.can_read(entity) and callable(
        getattr(adapter, READERS[entity], None)
    )


def read_all(adapter: Adapter, entity: Entity | str) -> list[Any]:
    """Every record of *entity* the adapter holds: :func:`read_pages` from the beginning,
    flattened, for reports over a whole system (a read from the beginning holds each record
    once, as it is now)."""
    entity = Entity(entity)
    return [versioned.item for page in read_pages(adapter, entity) for versioned in page.items]


def missing_members(adapter: object) -> list[str]:
    """The members *adapter* lacks to be an :class:`Adapter`: of ``name``, ``capabilities``
    (a :class:`Capabilities`), ``write`` and ``close``, and the reader of each entity its
    capabilities declare. Empty when nothing is missing.

    >>> class ReadsLeadsOnly:
    ...     name = "crm"
    ...     capabilities = Capabilities(reads={"lead", "touch"}, writes=())
    ...     def read_leads(self, cursor=None): ...
    ...     def write(self, writes): ...
    ...     def close(self): ...
    >>> missing_members(ReadsLeadsOnly())
    ['read_touches']
    """
    missing: list[str] = []
    if not isinstance(getattr(adapter, "name", None), str):
        missing.append("name")
    caps = getattr(adapter, "capabilities", None)
    if not isinstance(caps, Capabilities):
        missing.append("capabilities")
    missing += [m for m in ("write", "close") if not callable(getattr(adapter, m, None))]
    if isinstance(caps, Capabilities):
        missing += [
            reader
            for entity, reader in READERS.items()
            if caps.can_read(entity)
            and entity not in _LATER
            and not callable(getattr(adapter, reader, None))
        ]
    return missing


def read_pages(
    adapter: Adapter, entity: Entity, cursor: Cursor | None = None
) -> Iterator[Page[Any]]:
    """The pages of *entity* after *cursor*, through the adapter's reader for it.

    An adapter that does not declare *entity* in ``capabilities.reads`` is asked nothing: a
    :class:`~leadflow.errors.ValidationError` says so.
    """
    entity = Entity(entity)
    if not adapter.capabilities.can_read(entity):
        raise ValidationError(
            "entity", entity.value, f"is not read by adapter {adapter.name!r} (capabilities.reads)"
        )
    reader: Callable[[Cursor | None], Iterator[Page[Any]]] | None = getattr(
        adapter, READERS[entity], None
    )
    if not callable(reader):
        raise ValidationError(
            "entity",
            entity.value,
            f"is declared by adapter {adapter.name!r} but it has no {READERS[entity]}()",
        )
    return reader(cursor)
