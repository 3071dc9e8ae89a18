"""The HubSpot adapter: leadflow's core mapped onto HubSpot CRM v3 through hubspot-api-client.

Scope: contacts are leads, companies (through contact→company associations) are accounts, and
the engagement objects (calls, emails, meetings, tasks) are the :class:`~leadflow.model.Touch`\\ es
SLAs are judged on. What sales decided and what became of the lead are read too: rejections from
``hs_lead_status`` and a reason property, stage history and hand-off from the property histories
of ``lifecyclestage`` and ``hs_lead_status`` (``propertiesWithHistory`` on the batch read; the
``hs_v2_date_entered_*`` dates only for a contact no history comes back for), outcomes from the
deals associated with a contact, and marketing
engagement (conversions, marketing e-mail) as activities — the mapping tables live in
:mod:`leadflow.adapters.hubspot_feedback`. Scores, rejections, stages and SLA clocks are written
back to contact properties. Install with ``pip install "leadflow[hubspot]"``; registered as ``hubspot`` in the
``leadflow.adapters`` entry-point group. HubSpot CRM v3 is the spec followed
(https://developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm, the batch and v4
associations endpoints).

**Mapping is data.** :data:`DEFAULT_FIELDS` (a :class:`~leadflow.adapters.mapping.FieldMap`) says
which HubSpot property holds each core field, with ``lead``, ``account`` and ``writeback``
(leadflow's own custom properties, whose names are configurable) tables, and its stage map says
which ``lifecyclestage[:hs_lead_status]`` pair records each stage. Override any of it from
configuration with ``fields``/``stages`` tables (see :meth:`HubSpotAdapter.from_config`).

**Reads** go through the CRM search API, filtered and sorted on the modified stamp
(``lastmodifieddate`` for contacts, ``hs_lastmodifieddate`` for the others). Search answers at most
10,000 results per query and sorts on one property only, so the adapter never pages with
``after``: every page is a fresh keyset query that starts strictly after the last
``(stamp, id)`` position it returned. A page holds back its trailing records that share the
last stamp (they are read again from the start of that stamp); when a whole page shares one
stamp the adapter switches to that stamp alone, ordered by ``hs_object_id``, until it is
exhausted. No query ever goes near the cap, records sharing a stamp are neither skipped nor
read twice, and a record modified mid-read simply reappears later with its new stamp. Only the
answer's ``paging.next`` ends a read (a server may cap pages below the limit asked for), and
every read looks ``recheck_window`` seconds behind its cursor for records the lagging search
index returned late, skipping those the cursor remembers at the same version.

**Writes** are batch updates of at most 100 contacts. Before writing, the adapter batch-reads the
contacts' current values and stamps: a write whose ``expected_version`` no longer matches is a
``conflict`` (nothing is overwritten), one whose values already hold is ``unchanged`` (so a second
run writes nothing twice), and per-record failures in HubSpot's 207 answers become ``failed``
results naming the error. HubSpot refuses to move ``lifecyclestage`` backwards (it silently keeps
the later stage), so a move to an earlier stage — a recycle to nurture — is written as two
updates, the first clearing the property, and reported as one result. A batch HubSpot refuses as a
whole (one 400 for an invalid value) is bisected so the bad contact fails alone, and a batch
whose answer was lost is re-judged against the contacts' current values before anything is sent
again: nothing is written twice.

**Faults**: 429 (HubSpot's ten-secondly and daily limits) waits what ``Retry-After`` says, 5xx and
dropped connections are retried with bounded back-off (:mod:`leadflow.adapters.sync`), 401 is an
:class:`~leadflow.errors.AuthenticationError`. The access token never appears in a repr, a log
line or an error message — it is scrubbed from the client's exceptions (bodies and headers
included) before they are logged or wrapped, even when HubSpot echoes it. Links the service hands
back must stay on the configured host; record ids are ASCII digits (full match).

>>> adapter = HubSpotAdapter.from_config({"access_token": "pat-na1-0000", "host": "http://127.0.0.1:9"})
>>> adapter
HubSpotAdapter(host='http://127.0.0.1:9')
>>> adapter.fields.crm_field("writeback", "score")
'leadflow_score'
>>> adapter.close()
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import attrs
import urllib3
from dateutil.parser import isoparse
from hubspot import HubSpot  # type: ignore[import-untyped]
from hubspot.crm.associations.v4 import (  # type: ignore[import-untyped]
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.associations.v4.exceptions import (  # type: ignore[import-untyped]
    ApiException as AssociationsApiException,
)
from hubspot.crm.objects import (  # type: ignore[import-untyped]
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
)
from hubspot.crm.objects.exceptions import (  # type: ignore[import-untyped]
    ApiException as ObjectsApiException,
)

from leadflow._validate import utc as _utc
from leadflow.adapters.hubspot_feedback import (
    ActivityRules,
    HistoryEntry,
    OutcomeRules,
    RejectionRules,
    activities_from,
    entered_from_history,
    history_of,
    outcome_from,
    rejection_from,
    stage_history,
    stage_history_from_properties,
)
from leadflow.adapters.mapping import FieldMap, override_from_settings
from leadflow.adapters.sync import (
    GIVE_UP,
    RETRY,
    Decision,
    KeysetToken,
    RetryPolicy,
    Secret,
    chunked,
    get_logger,
    parse_retry_after,
    redact,
    retry_after,
    retry_call,
    retry_policy,
)
from leadflow.errors import (
    AdapterError,
    AuthenticationError,
    ConfigError,
    LeadflowError,
    RateLimitedError,
    TransientAdapterError,
    ValidationError,
)
from leadflow.model import Account, Activity, Lead, OwnerChange, Touch, TouchKind, TouchOutcome
from leadflow.outcomes import Outcome
from leadflow.ports import (
    Capabilities,
    Cursor,
    Entity,
    OutcomeWrite,
    Page,
    RecordError,
    RejectionWrite,
    ScoreWrite,
    SLAWrite,
    StageWrite,
    Versioned,
    Write,
    WriteKind,
    WriteResult,
    WriteStatus,
)
from leadflow.reasons import STANDARD_REASONS, Disposition, ReasonCatalog, Rejection

__all__ = [
    "DEFAULT_FIELDS",
    "DEFAULT_RECHECK_MAX_SEEN",
    "DEFAULT_RECHECK_WINDOW",
    "DEFAULT_SEARCH_RATE",
    "DEFAULT_TOUCHES",
    "HUBSPOT_LIFECYCLE_ORDER",
    "HubSpotAdapter",
    "TouchRule",
]

T = TypeVar("T")

_log = get_logger("hubspot")

#: HubSpot's batch endpoints take at most 100 inputs; search pages hold at most 200 results.
MAX_BATCH = 100
MAX_PAGE = 200
#: v4 association batch reads take up to 1,000 ids.
_MAX_ASSOC_BATCH = 1000

#: HubSpot's default lifecycle stages in the only direction it lets a record move.
HUBSPOT_LIFECYCLE_ORDER: tuple[str, ...] = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)

#: The default mapping. ``writeback`` holds leadflow's custom contact properties (create them in
#: HubSpot first; docs/hubspot.md lists their types). Stages map to ``lifecyclestage`` or
#: ``lifecyclestage:hs_lead_status``; aliases say how other HubSpot values read.
DEFAULT_FIELDS = FieldMap.from_dict(
    {
        "fields": {
            "lead": {
                "email": {"crm": "email", "converter": "str"},
                "first_name": {"crm": "firstname", "converter": "str"},
                "last_name": {"crm": "lastname", "converter": "str"},
                "title": {"crm": "jobtitle", "converter": "str"},
                "company": {"crm": "company", "converter": "str"},
                "industry": {"crm": "industry", "converter": "str"},
                # Contact "annualrevenue" is free text and "numemployees" a dropdown of bands
                # ("25-50", "1000+"): read by what they hold, not as plain numbers.
                "annual_revenue": {"crm": "annualrevenue", "converter": "amount"},
                "employees": {"crm": "numemployees", "converter": "count"},
                "country": {"crm": "country", "converter": "str"},
                "source": {"crm": "hs_analytics_source", "converter": "str"},
                "owner_id": {"crm": "hubspot_owner_id", "converter": "str"},
                "created_at": {"crm": "createdate", "converter": "datetime"},
            },
            "account": {
                "name": {"crm": "name", "converter": "str"},
                "domain": {"crm": "domain", "converter": "str"},
                "industry": {"crm": "industry", "converter": "str"},
                "annual_revenue": {"crm": "annualrevenue", "converter": "amount"},
                "employees": {"crm": "numberofemployees", "converter": "count"},
                "country": {"crm": "country", "converter": "str"},
                "owner_id": {"crm": "hubspot_owner_id", "converter": "str"},
                "created_at": {"crm": "createdate", "converter": "datetime"},
            },
            "writeback": {
                "score": {"crm": "leadflow_score", "converter": "float"},
                "score_summary": {"crm": "leadflow_score_summary", "converter": "str"},
                "reject_code": {"crm": "leadflow_reject_code", "converter": "str"},
                "reject_note": {"crm": "leadflow_reject_note", "converter": "str"},
                "sla_due": {"crm": "leadflow_sla_due", "converter": "datetime"},
                "sla_state": {"crm": "leadflow_sla_state", "converter": "str"},
                # The stage leadflow last moved the contact to and when ("sal|<ISO instant>"),
                # and the hand-off leadflow made: HubSpot dates a lifecycle change when the
                # write lands, leadflow when it decided (see docs/hubspot.md, stage history).
                "stage_change": {"crm": "leadflow_stage_change", "converter": "str"},
                "handoff_at": {"crm": "leadflow_handoff_at", "converter": "datetime"},
            },
        },
        "stages": {
            "inquiry": "lead:NEW",
            "mql": "marketingqualifiedlead:NEW",
            "sal": "marketingqualifiedlead:OPEN",
            "sql": "salesqualifiedlead:IN_PROGRESS",
            "opportunity": "opportunity:OPEN_DEAL",
            "won": "customer",
            "lost": "opportunity:UNQUALIFIED",
            "recycled": "lead:BAD_TIMING",
            "disqualified": "other:UNQUALIFIED",
            "aliases": {
                "": "inquiry",
                "subscriber": "inquiry",
                "lead": "inquiry",
                "marketingqualifiedlead": "mql",
                "marketingqualifiedlead:IN_PROGRESS": "sal",
                "marketingqualifiedlead:ATTEMPTED_TO_CONTACT": "sal",
                "marketingqualifiedlead:CONNECTED": "sal",
                "salesqualifiedlead": "sql",
                "opportunity": "opportunity",
                "evangelist": "won",
                "other": "disqualified",
                # Turned down by a rep before any deal (with no reason read, or none given).
                "subscriber:UNQUALIFIED": "disqualified",
                "lead:UNQUALIFIED": "disqualified",
                "marketingqualifiedlead:UNQUALIFIED": "disqualified",
                "salesqualifiedlead:UNQUALIFIED": "disqualified",
            },
        },
    }
)


@attrs.frozen(kw_only=True)
class TouchRule:
    """How one engagement object type reads as a :class:`~leadflow.model.Touch`.

    ``outcomes`` is checked in order: the first ``(property, {value: outcome})`` whose property
    holds a mapped value decides; otherwise the outcome is ``default``.
    """

    kind: TouchKind
    subject: str
    outcomes: tuple[tuple[str, tuple[tuple[str, TouchOutcome], ...]], ...] = ()
    default: TouchOutcome = TouchOutcome.ATTEMPTED

    def properties(self) -> list[str]:
        """The HubSpot properties a read needs."""
        return ["hs_timestamp", "hubspot_owner_id", self.subject, *(p for p, _ in self.outcomes)]

    def outcome(self, props: Mapping[str, Any]) -> TouchOutcome:
        """The outcome recorded by *props*."""
        for name, table in self.outcomes:
            value = props.get(name)
            for raw, outcome in table:
                if value == raw:
                    return outcome
        return self.default


_O = TouchOutcome
#: Engagement object types read as touches. Call dispositions are HubSpot's default outcome ids.
DEFAULT_TOUCHES: Mapping[str, TouchRule] = {
    "calls": TouchRule(
        kind=TouchKind.CALL,
        subject="hs_call_title",
        outcomes=(
            (
                "hs_call_disposition",
                (
                    ("f240bbac-87c9-4f6e-bf70-924b57d47db7", _O.CONNECTED),
                    ("73a0d17f-1163-4015-bdd5-ec830791da20", _O.NO_ANSWER),
                    ("b2cf5968-551e-4856-9783-52b3da59a7d0", _O.LEFT_VOICEMAIL),
                    ("a4c4c377-d246-4b32-a13b-75a56a4cd0ff", _O.LEFT_VOICEMAIL),
                    ("9d9162e7-6cf3-4944-bf63-4dff82258764", _O.ATTEMPTED),
                    ("17b47fee-58de-441e-a44c-c6300d46f273", _O.ATTEMPTED),
                ),
            ),
            ("hs_call_status", (("NO_ANSWER", _O.NO_ANSWER), ("BUSY", _O.ATTEMPTED))),
        ),
    ),
    "emails": TouchRule(
        kind=TouchKind.EMAIL,
        subject="hs_email_subject",
        outcomes=(
            ("hs_email_status", (("BOUNCED", _O.BOUNCED),)),
            (
                "hs_email_direction",
                (("INCOMING_EMAIL", _O.REPLIED), ("EMAIL", _O.SENT), ("FORWARDED_EMAIL", _O.SENT)),
            ),
        ),
        default=_O.SENT,
    ),
    "meetings": TouchRule(
        kind=TouchKind.MEETING,
        subject="hs_meeting_title",
        outcomes=(
            (
                "hs_meeting_outcome",
                (
                    ("SCHEDULED", _O.MEETING_BOOKED),
                    ("RESCHEDULED", _O.MEETING_BOOKED),
                    ("COMPLETED", _O.COMPLETED),
                ),
            ),
        ),
        default=_O.ATTEMPTED,
    ),
    "tasks": TouchRule(
        kind=TouchKind.TASK,
        subject="hs_task_subject",
        outcomes=(("hs_task_status", (("COMPLETED", _O.COMPLETED),)),),
    ),
}

_READS: frozenset[Entity] = frozenset(Entity)
_WRITES: frozenset[WriteKind] = frozenset(
    (WriteKind.SCORE, WriteKind.STAGE, WriteKind.REJECTION, WriteKind.SLA)
)
_API_ERRORS: tuple[type[BaseException], ...] = (ObjectsApiException, AssociationsApiException)
_CONFIG_KEYS = frozenset(
    {
        "access_token",
        "access_token_env",
        "host",
        "timeout",
        "page_size",
        "retry",
        "fields",
        "stages",
        "lifecycle_order",
        "associations",
        "owner_history",
        "recheck_window",
        "recheck_max_seen",
        "search_rate",
        "rejections",
        "outcomes",
        "activities",
        "handoff_stage",
    }
)
#: Batch reads asking for property histories take at most 50 inputs.
_MAX_HISTORY_BATCH = 50

#: HubSpot record ids: ASCII digits only (``str.isdigit`` would also take "²" or "٣").
_ID = re.compile(r"[0-9]{1,30}")
#: How far behind its cursor a read looks again for records the search index had not yet
#: returned (seconds), and how many already-read records a cursor remembers to skip them.
DEFAULT_RECHECK_WINDOW = 300.0
#: Searches a second the adapter allows itself: HubSpot limits the search endpoints to five
#: requests per second per account (https://developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm).
DEFAULT_SEARCH_RATE = 5.0
DEFAULT_RECHECK_MAX_SEEN = 50_000

#: Epoch milliseconds as HubSpot writes them.
_EPOCH_MS = re.compile(r"-?[0-9]{1,16}")


def _is_id(value: Any) -> bool:
    """Whether *value* is a HubSpot record id (ASCII digits, full match)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def _ms(value: Any) -> int:
    """Epoch milliseconds of a HubSpot instant (ISO text, epoch-ms text or a datetime)."""
    if isinstance(value, datetime):
        stamp = value
    else:
        text = str(value).strip()
        if _EPOCH_MS.fullmatch(text):  # ASCII digits: isdigit() takes "٣" and "²"
            return int(text)
        stamp = isoparse(text)
    if stamp.tzinfo is None:
        raise ValidationError("stamp", value, "has no UTC offset")
    return round(stamp.timestamp() * 1000)


def _iso(ms: int) -> str:
    """HubSpot's own instant format: ISO-8601 UTC with milliseconds and ``Z``."""
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _skipped(entity: Entity, object_type: str, record_id: Any, exc: Exception) -> RecordError:
    """Log a record the model refused and return it as the page's :class:`RecordError`."""
    _log.warning("skipping HubSpot %s %s: %s", object_type, record_id, exc)
    return RecordError(entity=entity, record_id=str(record_id), error=str(exc))


@attrs.frozen
class _Position:
    """A keyset position: everything before ``stamp`` was read, and at ``stamp`` every id up to
    ``last_id`` (all of them when ``last_id`` is ``None``)."""

    stamp: int
    last_id: int | None

    def encode(self) -> str:
        ident = "*" if self.last_id is None else str(self.last_id)
        return KeysetToken(
            stamp=datetime.fromtimestamp(self.stamp / 1000, tz=UTC), id=ident
        ).encode()

    @classmethod
    def decode(cls, token: str) -> _Position:
        key = KeysetToken.decode(token)
        if key.id != "*" and not _is_id(key.id):
            raise ValidationError("cursor.token", token, "is not a HubSpot keyset position")
        return cls(_ms(key.stamp), None if key.id == "*" else int(key.id))

    def key(self) -> tuple[int, float]:
        """Sort key: ``(stamp, last id)``, a whole stamp sorting after any id in it."""
        return (self.stamp, float("inf") if self.last_id is None else float(self.last_id))


@attrs.frozen
class _ReadState:
    """What a read cursor holds: the keyset position, and the records already read in the
    trailing re-check window (id → version in epoch ms), so a re-read skips them.

    Encoded as JSON: ``{"at": <keyset token>, "seen": {<stamp ms>: "<ids>"}}`` where the ids
    of one stamp are sorted and delta-encoded (``"101,1,1,7"``), so a bulk change of thousands
    of records stays a few kilobytes. A plain keyset token (leadflow 0.1) still reads.
    """

    position: _Position | None
    seen: Mapping[str, int]

    def encode(self) -> str:
        by_stamp: dict[int, list[int]] = {}
        for ident, ms in self.seen.items():
            by_stamp.setdefault(ms, []).append(int(ident))
        packed = {}
        for ms in sorted(by_stamp):
            ids = sorted(by_stamp[ms])
            packed[str(ms)] = ",".join(
                str(i - prev) for i, prev in zip(ids, [0, *ids[:-1]], strict=True)
            )
        at = self.position.encode() if self.position is not None else None
        return json.dumps({"at": at, "seen": packed}, separators=(",", ":"))

    @classmethod
    def decode(cls, token: str | None) -> _ReadState:
        if not token:
            return cls(None, {})
        if not token.startswith("{"):
            return cls(_Position.decode(token), {})
        try:
            data = json.loads(token)
            at = data["at"]
            seen: dict[str, int] = {}
            for ms, packed in dict(data["seen"]).items():
                ident = 0
                deltas = str(packed).split(",") if packed else []
                # ASCII digits only, as ids are: int() would also take "١٢٣", "1_0", " -1"
                if not all(_ID.fullmatch(x) for x in [str(ms), *deltas]):
                    raise ValueError(packed)
                for delta in deltas:
                    ident += int(delta)
                    seen[str(ident)] = int(ms)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValidationError("cursor.token", token, "is not a HubSpot read cursor") from None
        return cls(_Position.decode(at) if at else None, seen)


class HubSpotAdapter:
    """leadflow's :class:`~leadflow.ports.Adapter` for HubSpot (see the module docstring).

    *client* is a ``hubspot.HubSpot`` (built by :meth:`from_config`); its API objects are built
    once and cached, because each attribute access in hubspot-api-client builds a new client and
    connection pool. Every call passes ``timeout`` as ``_request_timeout`` and goes through
    *retry*; ``sleep`` is injectable so tests do not wait.

    A :attr:`~leadflow.ports.StageWrite.handed_off_at` is written to ``leadflow_handoff_at``
    and read back as the lead's hand-off (``capabilities.handoff_time``), unless the lifecycle
    history shows a later hand-off made in HubSpot.
    """

    name = "hubspot"
    capabilities = Capabilities(
        reads=_READS,
        writes=_WRITES,
        max_batch=MAX_BATCH,
        conflict_detection=True,
        handoff_time=True,
    )

    def __init__(
        self,
        client: Any,
        *,
        host: str = "https://api.hubapi.com",
        fields: FieldMap = DEFAULT_FIELDS,
        touches: Mapping[str, TouchRule] = DEFAULT_TOUCHES,
        lifecycle_order: Sequence[str] = HUBSPOT_LIFECYCLE_ORDER,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        page_size: int = MAX_PAGE,
        associations: bool = True,
        owner_history: bool = True,
        recheck_window: float = DEFAULT_RECHECK_WINDOW,
        recheck_max_seen: int = DEFAULT_RECHECK_MAX_SEEN,
        search_rate: float = DEFAULT_SEARCH_RATE,
        rejections: RejectionRules | None = None,
        outcomes: OutcomeRules | None = None,
        activities: ActivityRules | None = None,
        reasons: ReasonCatalog = STANDARD_REASONS,
        handoff_stage: str | None = "mql",
        secrets: Iterable[Secret] = (),
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE:
            raise ValidationError("page_size", page_size, f"must be between 1 and {MAX_PAGE}")
        if not 0 <= recheck_window <= 86_400:
            raise ValidationError(
                "recheck_window", recheck_window, "must be between 0 and 86400 seconds"
            )
        if recheck_max_seen < 0:
            raise ValidationError("recheck_max_seen", recheck_max_seen, "must be >= 0")
        if not 0 <= search_rate <= 100:
            raise ValidationError("search_rate", search_rate, "must be between 0 and 100 a second")
        self._search_gap = 1.0 / search_rate if search_rate else 0.0
        self._last_search: float | None = None
        self._host = _check_host(host)
        self._window_ms = round(recheck_window * 1000)
        self._max_seen = recheck_max_seen
        self._clock = clock
        self.fields = fields
        self.touches = dict(touches)
        self.lifecycle_order = tuple(lifecycle_order)
        self._retry = retry if retry is not None else RetryPolicy()
        self._timeout = timeout
        self._page_size = page_size
        self._associations = associations
        self._owner_history = owner_history
        self._secrets = tuple(secrets)
        self._sleep = sleep
        self._client = client
        self._apis: dict[str, Any] = {}
        for entity in ("lead", "account", "writeback"):
            if not fields.rules(entity):
                raise ConfigError(f"fields.{entity}", "has no mapped properties")
        self.rejections = rejections if rejections is not None else RejectionRules()
        self.rejections.check(reasons)
        self.outcomes = outcomes if outcomes is not None else OutcomeRules()
        self.activities = activities if activities is not None else ActivityRules()
        self.reasons = reasons
        self._handoff_lifecycle: str | None = None
        if handoff_stage is not None:
            try:
                self._handoff_lifecycle = self._stage_values(handoff_stage)[0] or None
            except (ConfigError, ValidationError):
                # A stage map without that stage: no lifecycle date marks the hand-off.
                self._handoff_lifecycle = None

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None, /, **more: Any) -> HubSpotAdapter:
        """Build the adapter and its real client from plain configuration.

        Keys: ``access_token`` (a private-app token) or ``access_token_env`` (the environment
        variable holding it, so a config file need not); ``host`` (default
        ``https://api.hubapi.com``); ``timeout`` seconds; ``page_size`` (≤ 200); ``retry``
        (``max_attempts``, ``max_elapsed``, ``base_delay``, ``max_delay``); ``fields`` and
        ``stages`` tables overriding :data:`DEFAULT_FIELDS`; ``lifecycle_order`` (your portal's
        stage order); ``associations`` (read each lead's company, default true; touches always
        read their contacts); ``owner_history`` (read each lead's ``hubspot_owner_id`` history,
        so SLA credit follows the owner at the time; default true — it rides on the history
        read a lead read makes anyway, one call per 50 leads, for the stage history);
        ``recheck_window`` (seconds a read looks back behind its cursor
        for records HubSpot's search index returned late, default 300) and
        ``recheck_max_seen`` (how many records read in that window a cursor remembers so they
        are not read twice, default 50,000; past it some are read again, never lost);
        ``search_rate`` (searches a second the adapter allows itself, default 5 — HubSpot's
        limit per account; 0 for no pacing);
        ``rejections``, ``outcomes`` and ``activities`` tables (see
        :mod:`leadflow.adapters.hubspot_feedback`); ``handoff_stage`` (the leadflow stage whose
        lifecycle stage's entry (from its history, else ``hs_v2_date_entered_*``) is a lead's
        hand-off, default ``mql``; ``""`` for none).
        """
        data = {**(config or {}), **more}
        unknown = sorted(set(data) - _CONFIG_KEYS)
        if unknown:
            raise ConfigError(unknown[0], f"unknown key; expected one of {sorted(_CONFIG_KEYS)}")
        token = data.get("access_token")
        if token is None and data.get("access_token_env"):
            token = os.environ.get(str(data["access_token_env"]))
            if not token:
                raise ConfigError(
                    "access_token_env",
                    f"environment variable {data['access_token_env']!r} is empty",
                )
        if isinstance(token, Secret):
            token = token.reveal()
        if not isinstance(token, str) or not token.strip():
            raise ConfigError("access_token", "a HubSpot private-app access token is required")
        host = _check_host(str(data.get("host", "https://api.hubapi.com")))
        fields = override_from_settings(DEFAULT_FIELDS, data)
        retry = retry_policy(data.get("retry"))
        # retry=False: urllib3 must not retry on its own (POSTs would be retried blindly or not
        # at all); leadflow's retry_call decides, honouring Retry-After.
        client = HubSpot(access_token=token, host=host, retry=False)
        return cls(
            client,
            host=host,
            fields=fields,
            lifecycle_order=_names(data.get("lifecycle_order", HUBSPOT_LIFECYCLE_ORDER)),
            retry=retry,
            timeout=_number("timeout", data.get("timeout", 30.0), 0.001, 3600.0),
            page_size=int(_number("page_size", data.get("page_size", MAX_PAGE), 1, MAX_PAGE)),
            associations=_flag("associations", data.get("associations", True)),
            owner_history=_flag("owner_history", data.get("owner_history", True)),
            recheck_window=_number(
                "recheck_window",
                data.get("recheck_window", DEFAULT_RECHECK_WINDOW),
                0,
                86_400,
            ),
            recheck_max_seen=int(
                _number(
                    "recheck_max_seen",
                    data.get("recheck_max_seen", DEFAULT_RECHECK_MAX_SEEN),
                    0,
                    10_000_000,
                )
            ),
            search_rate=_number(
                "search_rate", data.get("search_rate", DEFAULT_SEARCH_RATE), 0, 100
            ),
            rejections=RejectionRules.from_config(data.get("rejections", {})),
            outcomes=OutcomeRules.from_config(data.get("outcomes", {})),
            activities=ActivityRules.from_config(data.get("activities", {})),
            handoff_stage=_stage_name(data.get("handoff_stage", "mql")),
            secrets=(Secret(token),),
        )

    def __repr__(self) -> str:
        return f"HubSpotAdapter(host={self._host!r})"

    def close(self) -> None:
        """Release the connection pools. Calling it twice is harmless."""
        for api in self._apis.values():
            api.api_client.rest_client.pool_manager.clear()
        self._apis.clear()

    def _api(self, name: str) -> Any:
        api = self._apis.get(name)
        if api is None:
            crm = self._client.crm
            api = {
                "search": lambda: crm.objects.search_api,
                "batch": lambda: crm.objects.batch_api,
                "associations": lambda: crm.associations.v4.batch_api,
            }[name]()
            self._apis[name] = api
        return api

    # -- calls, retries and errors ----------------------------------------------------------------

    def _classify(self, exc: BaseException) -> Decision:
        if isinstance(exc, _API_ERRORS):
            status = getattr(exc, "status", None) or 0
            if status == 429:
                if _body(exc).get("policyName") == "DAILY":
                    return GIVE_UP  # the daily allowance is spent: retrying only adds load
                wait = parse_retry_after(_header(exc, "Retry-After"))
                return retry_after(wait) if wait is not None else RETRY
            if status in (500, 502, 503, 504):
                wait = parse_retry_after(_header(exc, "Retry-After"))
                return retry_after(wait) if wait is not None else RETRY
            return GIVE_UP
        if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError):
            return RETRY
        if isinstance(exc, _BadBody):
            return RETRY  # a proxy's error page, a truncated body: ask again
        return GIVE_UP

    def _call(self, describe: str, fn: Callable[[], T]) -> T:
        def attempt() -> T:
            try:
                return fn()
            except Exception as exc:
                self._scrub(exc)  # before retry_call logs it
                raise

        try:
            return retry_call(
                attempt,
                policy=self._retry,
                classify=self._classify,
                sleep=self._sleep,
                clock=self._clock,
                describe=f"HubSpot {describe}",
            )
        except _BadBody as exc:
            raise AdapterError(
                f"{describe}: {str(exc).removeprefix('hubspot: ')} (after retries)",
                adapter=self.name,
            ) from None
        except _API_ERRORS as exc:
            raise self._error(describe, exc) from None
        except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
            detail = self._clean(f"{type(exc).__name__}: {exc}")
            raise TransientAdapterError(
                f"{describe}: no answer from HubSpot after retries ({detail})", adapter=self.name
            ) from None

    def _error(self, describe: str, exc: BaseException) -> LeadflowError:
        status = getattr(exc, "status", None) or 0
        body = _body(exc)
        category = body.get("category") or ""
        message = self._clean(str(body.get("message") or getattr(exc, "reason", "") or ""))
        if status == 401:
            return AuthenticationError(
                f"{describe}: HubSpot refused the access token ({category or 'HTTP 401'}: "
                f"{message}); create or rotate the private-app token and update the configuration",
                adapter=self.name,
            )
        if status == 429:
            policy = body.get("policyName") or "rate limit"
            return RateLimitedError(
                f"{describe}: HubSpot's {policy} limit is still exceeded after retries: {message}",
                adapter=self.name,
                retry_after=parse_retry_after(_header(exc, "Retry-After")),
            )
        if status >= 500:
            return TransientAdapterError(
                f"{describe}: HubSpot answered HTTP {status} after retries: {message}",
                adapter=self.name,
            )
        return AdapterError(
            f"{describe}: HubSpot answered HTTP {status} {category}: {message}", adapter=self.name
        )

    def _clean(self, text: str) -> str:
        cleaned: str = redact(text, secrets=self._secrets)
        return cleaned

    def _scrub(self, exc: BaseException) -> None:
        """Mask the credentials in *exc* in place: HubSpot's error bodies, the headers the
        client keeps on an ``ApiException`` and any message may echo the token, and the
        exception is logged on retry and may be printed by a caller."""
        for name in ("body", "reason"):
            value = getattr(exc, name, None)
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            if isinstance(value, str):
                setattr(exc, name, self._clean(value))
        headers = getattr(exc, "headers", None)
        if headers is not None and hasattr(headers, "items"):
            with contextlib.suppress(AttributeError):
                exc.headers = {  # type: ignore[attr-defined]
                    str(k): self._clean(str(v)) for k, v in headers.items()
                }
        exc.args = tuple(self._clean(a) if isinstance(a, str) else a for a in exc.args)
        notes = getattr(exc, "__notes__", None)
        if notes:
            exc.__notes__ = [self._clean(n) for n in notes]

    # -- reads ----------------------------------------------------------------------------------

    def read_leads(self, cursor: Cursor | None = None) -> Iterator[Page[Lead]]:
        """Contacts changed after *cursor*, oldest change first, as leads (see module doc)."""
        properties = [
            *self.fields.crm_fields("lead"),
            *self.fields.crm_fields("writeback"),
            "lifecyclestage",
            "hs_lead_status",
            "lastmodifieddate",
            *(f"hs_v2_date_entered_{stage}" for stage in self.lifecycle_order),
            self.rejections.reason_property,
            self.rejections.status_property,
        ]
        token = self._start(cursor, Entity.LEAD)
        for records, after in self._recheck("contacts", "lastmodifieddate", properties, token):
            companies = (
                self._associated("contacts", "companies", [r.id for r in records])
                if self._associations
                else {}
            )
            histories = self._histories("contacts", [r.id for r in records], self._lead_history)
            verdicts = self._verdicts(records, histories)
            owners = self._owners(records, histories)
            items, errors = [], []
            for record in records:
                for lead in self._lead(
                    record,
                    companies.get(str(record.id)),
                    verdicts.get(record.id),
                    histories.get(str(record.id), {}),
                ):
                    if isinstance(lead, RecordError):
                        errors.append(lead)
                    else:
                        owned = _with_owners(lead, owners.get(str(record.id), ()))
                        items.append(Versioned(item=owned, version=self._version(record)))
            yield Page(
                items=tuple(items),
                cursor=Cursor(entity=Entity.LEAD, token=after),
                errors=tuple(errors),
            )

    def read_accounts(self, cursor: Cursor | None = None) -> Iterator[Page[Account]]:
        """Companies changed after *cursor*, as accounts."""
        properties = [*self.fields.crm_fields("account"), "hs_lastmodifieddate"]
        token = self._start(cursor, Entity.ACCOUNT)
        for records, after in self._recheck("companies", "hs_lastmodifieddate", properties, token):
            items, errors = [], []
            for record in records:
                for account in self._account(record):
                    if isinstance(account, RecordError):
                        errors.append(account)
                    else:
                        version = self._version(record, "hs_lastmodifieddate")
                        items.append(Versioned(item=account, version=version))
            yield Page(
                items=tuple(items),
                cursor=Cursor(entity=Entity.ACCOUNT, token=after),
                errors=tuple(errors),
            )

    def read_activities(self, cursor: Cursor | None = None) -> Iterator[Page[Activity]]:
        """Marketing engagement on contacts changed after *cursor*: conversions (form
        submissions) and marketing e-mail opens, clicks and replies, from the contacts'
        property histories, mapped to activity kinds by :attr:`activities`.

        Every activity a changed contact's history holds is read again (ids are stable, so a
        mirror keeps each once); only contacts holding any of the properties cost a history read.
        """
        rules = self.activities
        watched = rules.properties()
        token = self._start(cursor, Entity.ACTIVITY)
        for records, after in self._recheck(
            "contacts", "lastmodifieddate", [*watched, "lastmodifieddate"], token
        ):
            engaged = [r.id for r in records if any((r.properties or {}).get(p) for p in watched)]
            histories = self._histories("contacts", engaged, watched)
            items: list[Versioned[Activity]] = []
            errors: list[RecordError] = []
            for record in records:
                if record.id not in histories:
                    continue
                try:
                    found = activities_from(record.id, histories[record.id], rules=rules)
                except ValidationError as exc:
                    errors.append(_skipped(Entity.ACTIVITY, "contact", record.id, exc))
                    continue
                version = self._version(record)
                items.extend(Versioned(item=a, version=version) for a in found)
            yield Page(
                items=tuple(items),
                cursor=Cursor(entity=Entity.ACTIVITY, token=after),
                errors=tuple(errors),
            )

    def read_rejections(self, cursor: Cursor | None = None) -> Iterator[Page[Rejection]]:
        """Rejections made in HubSpot, on contacts changed after *cursor*.

        A contact whose status property holds a rejected value (:attr:`rejections`) with a
        mapped reason is a rejection dated and signed by the status property's history; an
        empty or unmapped reason is a :class:`~leadflow.ports.RecordError` on the page. A
        contact leadflow itself rejected (the status changed in the same write as its
        reject-code property) reads with leadflow's code, signed by whoever HubSpot says made
        that write (the app), so a report over HubSpot counts every rejection; the job's state
        store recognises its own record of it and keeps it once.
        """
        rules = self.rejections
        own = self.fields.crm_field("writeback", "reject_code")
        wanted = [rules.status_property, rules.reason_property, own, "lifecyclestage"]
        if rules.note_property:
            wanted.append(rules.note_property)
        # Contacts in a rejected status (a rep's verdict), or carrying leadflow's reject code
        # (leadflow's own: its recycles leave a status that is not a rejected one).
        any_of = [
            [
                Filter(
                    property_name=rules.status_property, operator="IN", values=list(rules.statuses)
                )
            ],
            [Filter(property_name=own, operator="HAS_PROPERTY")],
        ]
        token = self._start(cursor, Entity.REJECTION)
        for records, after in self._recheck(
            "contacts", "lastmodifieddate", [*wanted, "lastmodifieddate"], token, any_of
        ):
            mine = list(records)
            # leadflow's own code property's history too: a reasonless rejection that came
            # with it is leadflow's own, one made after it (an old code stays) a rep's.
            histories = self._histories(
                "contacts", [r.id for r in mine], [rules.status_property, "lifecyclestage", own]
            )
            items: list[Versioned[Rejection]] = []
            errors: list[RecordError] = []
            for record in mine:
                try:
                    found = rejection_from(
                        record.id,
                        record.properties or {},
                        histories.get(record.id, {}),
                        rules=rules,
                        catalog=self.reasons,
                        stage_of=self._stage_or_none,
                        own=histories.get(record.id, {}).get(own, ()),
                    )
                except (ValidationError, KeyError) as exc:
                    found = str(exc)
                if isinstance(found, Rejection):
                    items.append(Versioned(item=found, version=self._version(record)))
                elif found is not None:
                    _log.warning("HubSpot contact %s: %s", record.id, found)
                    errors.append(
                        RecordError(entity=Entity.REJECTION, record_id=record.id, error=found)
                    )
            yield Page(
                items=tuple(items),
                cursor=Cursor(entity=Entity.REJECTION, token=after),
                errors=tuple(errors),
            )

    def read_outcomes(self, cursor: Cursor | None = None) -> Iterator[Page[Outcome]]:
        """What became of leads: the deals changed after *cursor*, each an outcome for every
        contact associated with it (:attr:`outcomes` maps the deal's fields to a kind).

        A deal read again after it changed comes again with its new state; a deal with no
        contact is nobody's outcome and is skipped.
        """
        token = self._start(cursor, Entity.OUTCOME)
        for records, after in self._recheck(
            "deals",
            "hs_lastmodifieddate",
            [*self.outcomes.properties(), "hs_lastmodifieddate"],
            token,
        ):
            contacts = self._associated_all("deals", "contacts", [r.id for r in records])
            items: list[Versioned[Outcome]] = []
            errors: list[RecordError] = []
            for record in records:
                version = self._version(record, "hs_lastmodifieddate")
                for contact_id in contacts.get(record.id, []):
                    try:
                        found = outcome_from(
                            record.id, contact_id, record.properties or {}, rules=self.outcomes
                        )
                    except ValidationError as exc:
                        found = str(exc)
                    if isinstance(found, Outcome):
                        items.append(Versioned(item=found, version=version))
                    elif found is not None:
                        _log.warning("HubSpot deal %s: %s", record.id, found)
                        errors.append(
                            RecordError(entity=Entity.OUTCOME, record_id=record.id, error=found)
                        )
                        break
            yield Page(
                items=tuple(items),
                cursor=Cursor(entity=Entity.OUTCOME, token=after),
                errors=tuple(errors),
            )

    @property
    def _lead_history(self) -> list[str]:
        """The contact properties whose history a lead read asks for (one batch read per 50
        contacts): the stage pair, the rejection status and, with ``owner_history``, the owner."""
        names = ["lifecyclestage", "hs_lead_status", self.rejections.status_property]
        names.append(self.fields.crm_field("writeback", "reject_code"))  # leadflow's own verdicts
        if self._owner_history:
            names.append("hubspot_owner_id")
        return list(dict.fromkeys(names))

    def _owners(
        self, records: Sequence[Any], histories: Mapping[str, Mapping[str, list[HistoryEntry]]]
    ) -> dict[str, list[HistoryEntry]]:
        """The ``hubspot_owner_id`` history of the *records* that have an owner."""
        if not self._owner_history:
            return {}
        owned = [str(r.id) for r in records if (r.properties or {}).get("hubspot_owner_id")]
        return {i: list(histories.get(i, {}).get("hubspot_owner_id", [])) for i in owned}

    def _histories(
        self, object_type: str, ids: Sequence[str], names: Sequence[str]
    ) -> dict[str, dict[str, list[HistoryEntry]]]:
        """Each record's history of *names* (``propertiesWithHistory``, 50 records a call)."""
        found: dict[str, dict[str, list[HistoryEntry]]] = {}
        api = self._api("batch")
        for chunk in chunked(list(ids), _MAX_HISTORY_BATCH):
            request = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=i) for i in chunk],
                properties=["hs_object_id"],
                properties_with_history=list(names),
            )

            def fetch(request: Any = request) -> dict[str, Any]:
                return _decoded(
                    api.read(
                        object_type,
                        batch_read_input_simple_public_object_id=request,
                        _request_timeout=self._timeout,
                        _preload_content=False,
                    )
                )

            answer = self._call(f"read {object_type} property history", fetch)
            for row in answer.get("results") or []:
                record_id = str(row.get("id"))
                if not _is_id(record_id):
                    continue
                raw = row.get("propertiesWithHistory") or {}
                try:
                    found[record_id] = {name: history_of(raw.get(name)) for name in names}
                except ValidationError as exc:
                    _log.warning(
                        "HubSpot %s %s: unreadable history: %s", object_type, record_id, exc
                    )
                    found[record_id] = {}
        return found

    def read_touches(self, cursor: Cursor | None = None) -> Iterator[Page[Touch]]:
        """Calls, e-mails, meetings and tasks associated with a contact, changed after *cursor*.

        The cursor holds one position per engagement type; types are read one after another.
        Engagements associated with no contact are not touches on a lead and are skipped.
        """
        positions: dict[str, str | None] = dict.fromkeys(self.touches)
        if cursor is not None and cursor.token:
            if cursor.entity is not Entity.TOUCH:
                raise ValidationError("cursor.entity", cursor.entity.value, "is not 'touch'")
            try:
                saved = json.loads(cursor.token)
                if not isinstance(saved, dict):
                    raise TypeError
            except (ValueError, TypeError):
                raise ValidationError(
                    "cursor.token", cursor.token, "is not a touch cursor"
                ) from None
            positions.update({k: v for k, v in saved.items() if k in positions})
        for object_type, rule in self.touches.items():
            for records, after in self._recheck(
                object_type,
                "hs_lastmodifieddate",
                [*rule.properties(), "hs_lastmodifieddate"],
                positions[object_type],
            ):
                contacts = self._associated_all(object_type, "contacts", [r.id for r in records])
                items, errors = [], []
                for record in records:
                    version = self._version(record, "hs_lastmodifieddate")
                    for touch in self._touches(
                        object_type, rule, record, contacts.get(str(record.id), [])
                    ):
                        if isinstance(touch, RecordError):
                            errors.append(touch)
                        else:
                            items.append(Versioned(item=touch, version=version))
                positions[object_type] = after
                token = json.dumps(positions, sort_keys=True)
                yield Page(
                    items=tuple(items),
                    cursor=Cursor(entity=Entity.TOUCH, token=token),
                    errors=tuple(errors),
                )

    def _start(self, cursor: Cursor | None, entity: Entity) -> str | None:
        if cursor is None or cursor.token is None:
            return None
        if cursor.entity is not entity:
            raise ValidationError("cursor.entity", cursor.entity.value, f"is not {entity.value!r}")
        _ReadState.decode(cursor.token)  # refuse a malformed token before any call
        return cursor.token

    def _recheck(
        self,
        object_type: str,
        stamp: str,
        properties: list[str],
        token: str | None,
        any_of: Sequence[Sequence[Any]] = ((),),
    ) -> Iterator[tuple[list[Any], str]]:
        """Pages of records changed after the cursor *token*, each with the token after it.

        HubSpot's search index trails writes by seconds, so a record changed just before a
        read may be missing from it while later ones are there. Each read therefore starts
        ``recheck_window`` before its cursor's stamp and skips the records the cursor
        remembers having read at the same version: a record the index returned late is read
        on the next run, nothing already read comes back. Pages whose records were all read
        before are not yielded.
        """
        state = _ReadState.decode(token)
        begin = state.position
        if begin is not None and self._window_ms:
            begin = _Position(begin.stamp - self._window_ms, None)
        seen = dict(state.seen)
        best = state.position
        for records, after in self._keyset(object_type, stamp, properties, begin, any_of):
            fresh = []
            for record in records:
                version = _ms(record.properties.get(stamp) or record.updated_at)
                if seen.get(record.id) == version:
                    continue
                seen[record.id] = version
                fresh.append(record)
            if best is None or after.key() > best.key():
                best = after
            if not fresh:
                continue
            yield fresh, _ReadState(best, self._trim(seen, best.stamp)).encode()

    def _trim(self, seen: dict[str, int], stamp: int) -> dict[str, int]:
        """The remembered records still inside the re-check window behind *stamp*, at most
        ``recheck_max_seen`` of them (the newest; any dropped is read again, never lost)."""
        floor = stamp - self._window_ms
        kept = {i: ms for i, ms in seen.items() if ms > floor}
        if len(kept) > self._max_seen:
            newest = sorted(kept.items(), key=lambda item: (item[1], int(item[0])))
            kept = dict(newest[len(newest) - self._max_seen :]) if self._max_seen else {}
        seen.clear()
        seen.update(kept)
        return kept

    def _keyset(
        self,
        object_type: str,
        stamp: str,
        properties: list[str],
        position: _Position | None,
        any_of: Sequence[Sequence[Any]] = ((),),
    ) -> Iterator[tuple[list[Any], _Position]]:
        """Pages of records after *position* in ``(stamp, id)`` order (and matching one of the
        filter sets *any_of*: HubSpot's filter groups, ORed), each with the position after it.
        Every page is one fresh search; see the module docstring for why."""
        size = self._page_size
        properties = list(dict.fromkeys([*properties, "hs_object_id", stamp]))
        while True:
            if position is not None and position.last_id is not None:
                # Inside one stamp: that stamp alone, in id order.
                filters = [
                    Filter(property_name=stamp, operator="EQ", value=str(position.stamp)),
                    Filter(
                        property_name="hs_object_id", operator="GT", value=str(position.last_id)
                    ),
                ]
                results, more = self._search(
                    object_type,
                    filters,
                    any_of,
                    sort="hs_object_id",
                    properties=properties,
                    limit=size,
                )
                if not more or not results:
                    after = _Position(position.stamp, None)
                else:
                    after = _Position(position.stamp, int(results[-1].id))
                if results:
                    yield results, after
                position = after
                continue
            filters = [
                Filter(property_name=stamp, operator="GT", value=str(position.stamp))
                if position is not None
                else Filter(property_name=stamp, operator="HAS_PROPERTY"),
            ]
            results, more = self._search(
                object_type, filters, any_of, sort=stamp, properties=properties, limit=size
            )
            if not results:
                return
            stamps = [_ms(r.properties.get(stamp) or r.updated_at) for r in results]
            if not more:
                # Only the service's paging says a read is complete: a page shorter than the
                # limit asked for is not the end when the server caps pages lower.
                yield results, _Position(stamps[-1], None)
                return
            top = stamps[-1]
            keep = [r for r, s in zip(results, stamps, strict=True) if s < top]
            if not keep:
                # A full page sharing one stamp: walk that stamp in id order.
                position = _Position(top, 0)
                continue
            done = max(s for s in stamps if s < top)
            position = _Position(done, None)
            yield keep, position

    def _search(
        self,
        object_type: str,
        filters: list[Any],
        any_of: Sequence[Sequence[Any]],
        *,
        sort: str,
        properties: list[str],
        limit: int,
    ) -> tuple[list[Any], bool]:
        """One search page (*filters* and one of the sets *any_of*) and whether the service
        says more follow (``paging.next``)."""
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=[*filters, *extra]) for extra in any_of],
            sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
            properties=properties,
            limit=limit,
        )
        api = self._api("search")
        self._pace()
        answer = self._call(
            f"search {object_type}",
            lambda: _decoded(
                api.do_search(
                    object_type,
                    public_object_search_request=request,
                    _request_timeout=self._timeout,
                    _preload_content=False,
                )
            ),
        )
        nxt = (answer.get("paging") or {}).get("next") or {}
        if nxt.get("link"):
            self._check_link(str(nxt["link"]))
        return [self._record(r) for r in answer.get("results") or []], bool(nxt)

    def _pace(self) -> None:
        """Wait, if need be, so searches go out at most ``search_rate`` a second: HubSpot
        refuses more with a 429 that carries no ``Retry-After``."""
        if not self._search_gap:
            return
        if self._last_search is not None:
            wait = self._last_search + self._search_gap - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last_search = self._clock()

    def _record(self, data: Mapping[str, Any]) -> _Record:
        record = _Record.of(data)
        if not _is_id(record.id):
            raise AdapterError(
                f"HubSpot answered a record id that is not a HubSpot id: {self._clean(record.id)!r:.40}",
                adapter=self.name,
            )
        return record

    def _check_link(self, link: str) -> None:
        """Refuse a URL the service handed back unless it stays on the configured host and
        path (a relative link does)."""
        parts = urlsplit(link)
        if {".", ".."} & set(unquote(parts.path).split("/")):
            # A dot segment climbs out of the path prefix checked below once resolved
            # ("/crm/v3/../../elsewhere" starts with "/crm/v3/").
            raise self._foreign(link)
        if not parts.scheme and not parts.netloc:
            if parts.path.startswith("/") and not parts.path.startswith(_path(self._host)):
                raise self._foreign(link)
            return
        base = urlsplit(self._host)
        same = (parts.scheme.lower(), parts.netloc.lower()) == (
            base.scheme.lower(),
            base.netloc.lower(),
        )
        if not same or not parts.path.startswith(_path(self._host)):
            raise self._foreign(link)

    def _foreign(self, link: str) -> AdapterError:
        return AdapterError(
            f"HubSpot handed back a link off the configured host {self._host!r}: "
            f"{self._clean(link)!r:.200}; refusing to use it (check the host setting, or "
            "whatever sits between leadflow and HubSpot)",
            adapter=self.name,
        )

    def _associated(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, str]:
        """The primary associated record of each id (``typeId`` 1 when labelled, else the first)."""
        return {k: v[0] for k, v in self._associated_all(from_type, to_type, ids).items() if v}

    def _associated_all(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, list[str]]:
        """Every record associated with each id, the primary one (``typeId`` 1) first.

        Targets whose id is not a HubSpot id are left out (and logged)."""
        if not ids:
            return {}
        found: dict[str, list[str]] = {}
        api = self._api("associations")
        pending: list[tuple[str, str | None]] = [(str(i), None) for i in ids]
        while pending:
            more: list[tuple[str, str | None]] = []
            for chunk in chunked(pending, _MAX_ASSOC_BATCH):
                request = BatchInputPublicFetchAssociationsBatchRequest(
                    inputs=[PublicFetchAssociationsBatchRequest(id=i, after=a) for i, a in chunk]
                )

                def fetch(request: Any = request) -> dict[str, Any]:
                    return _decoded(
                        api.get_page(
                            from_type,
                            to_type,
                            batch_input_public_fetch_associations_batch_request=request,
                            _request_timeout=self._timeout,
                            _preload_content=False,
                        )
                    )

                answer = self._call(f"read {from_type}→{to_type} associations", fetch)
                for row in answer.get("results") or []:
                    from_id = str((row.get("from") or {}).get("id"))
                    ordered = found.setdefault(from_id, [])
                    targets = list(row.get("to") or [])
                    primary = [
                        t
                        for t in targets
                        if any(a.get("typeId") == 1 for a in t.get("associationTypes") or [])
                    ]
                    for target in [*primary, *targets]:
                        target_id = str(target.get("toObjectId"))
                        if not _is_id(target_id):
                            _log.warning(
                                "HubSpot associated %s %s with a %s id that is not a HubSpot "
                                "id: %r",
                                from_type,
                                from_id,
                                to_type,
                                self._clean(target_id)[:40],
                            )
                            continue
                        if target_id not in ordered:
                            ordered.append(target_id)
                    # HubSpot pages each object's associations; the rest follow from `after`.
                    nxt = (row.get("paging") or {}).get("next") or {}
                    if nxt.get("link"):
                        self._check_link(str(nxt["link"]))
                    if nxt.get("after"):
                        more.append((from_id, str(nxt["after"])))
            pending = more
        for key in [k for k, v in found.items() if not v]:
            del found[key]
        return found

    def _version(self, record: Any, stamp: str = "lastmodifieddate") -> str:
        raw = (record.properties or {}).get(stamp)
        if raw:
            return _iso(_ms(raw))
        return _iso(_ms(record.updated_at))

    def _handoff(
        self,
        entered: Mapping[str, Any],
        written: Any,
        lifecycle: Sequence[HistoryEntry] = (),
    ) -> datetime | None:
        """The lead's hand-off: the one leadflow wrote, unless HubSpot records the hand-off
        lifecycle stage entered again after it (a hand-off made in HubSpot).

        "Again" is an entry more than a day after leadflow's instant (the date-entered stamps
        cannot tell leadflow's own write landing from a later hand-off) or, with the
        ``lifecyclestage`` history (oldest first), an entry after the lifecycle stage moved to
        another one since leadflow's instant (a clear alone is the first half of any backwards
        move, leadflow's own included)."""
        raw = entered.get(self._handoff_lifecycle) if self._handoff_lifecycle else None
        crm = _instant(raw) if raw else None
        mine: datetime | None = None
        if isinstance(written, str) and written:
            mine = datetime.fromtimestamp(_ms(written) / 1000, tz=UTC)
        elif isinstance(written, datetime):
            mine = _utc(written)
        if mine is None:
            return crm
        left, again = False, None
        for entry in lifecycle:
            if entry.at <= mine:
                continue
            if entry.value and entry.value != self._handoff_lifecycle:
                left = True
            elif entry.value and left:
                again = entry.at
        if again is not None:
            return again
        if crm is None or _ms(crm) <= _ms(mine) + _HANDOFF_SLACK:
            return mine
        return crm

    def _stage_or_none(self, lifecycle: str | None, status: str | None = None) -> str | None:
        """The leadflow stage a ``lifecyclestage`` (and ``hs_lead_status``) holds, or ``None``."""
        if not lifecycle:
            return None
        try:
            return self._stage({"lifecyclestage": lifecycle, "hs_lead_status": status})
        except ValidationError:
            return None

    def _stage(self, props: Mapping[str, Any]) -> str:
        lifecycle = props.get("lifecyclestage") or ""
        status = props.get("hs_lead_status") or ""
        stages = self.fields.stages
        for key in (f"{lifecycle}:{status}" if status else None, lifecycle):
            if key is None:
                continue
            try:
                return stages.from_crm(key)
            except ValidationError:
                continue
        raise ValidationError(
            "lifecyclestage", f"{lifecycle}:{status}" if status else lifecycle, "maps to no stage"
        )

    def _mapped(
        self, entity: str, props: Mapping[str, Any], record_id: str
    ) -> tuple[dict[str, Any], dict[str, str], list[RecordError]]:
        """Core fields of *entity* from *props*, field by field: a value the field map cannot
        convert is left unset and reported for that field (its raw text kept as
        ``hubspot_<property>``), and the rest of the record is still read."""
        try:
            return self.fields.from_crm(entity, props), {}, []
        except ValidationError:
            pass
        core: dict[str, Any] = {}
        raw: dict[str, str] = {}
        problems: list[RecordError] = []
        for rule in self.fields.rules(entity):
            if rule.crm not in props:
                continue
            try:
                core.update(self.fields.from_crm(entity, {rule.crm: props[rule.crm]}))
            except ValidationError as exc:
                raw[f"hubspot_{rule.crm}"] = str(props[rule.crm])
                problems.append(self._field_problem(entity, record_id, rule.core, exc))
        return core, raw, problems

    def _field_problem(
        self, entity: str, record_id: str, field: str, exc: ValidationError
    ) -> RecordError:
        kind = Entity.ACCOUNT if entity == "account" else Entity.LEAD
        error = (
            f"field {field}: {exc}; left unset, the rest of the "
            f"{'company' if kind is Entity.ACCOUNT else 'contact'} was read"
        )
        _log.warning("HubSpot %s %s: %s", kind.value, record_id, error)
        return RecordError(entity=kind, record_id=record_id, error=error)

    def _build(
        self,
        entity: str,
        record_id: str,
        make: Callable[..., T],
        core: dict[str, Any],
        *,
        optional: frozenset[str],
        problems: list[RecordError],
    ) -> T:
        """``make(**core)``, dropping (and reporting) an optional field the model refuses."""
        while True:
            try:
                return make(**core)
            except ValidationError as exc:
                field = exc.field.split(".")[-1]
                if field not in optional or field not in core:
                    raise
                del core[field]
                problems.append(self._field_problem(entity, record_id, field, exc))

    #: Fields a lead or account is still read without when their value is refused.
    _OPTIONAL = frozenset(
        {
            "first_name",
            "last_name",
            "title",
            "company",
            "industry",
            "annual_revenue",
            "employees",
            "country",
            "source",
            "campaign",
            "owner_id",
            "domain",
        }
    )

    def _verdicts(
        self, records: Sequence[Any], histories: Mapping[str, Mapping[str, list[HistoryEntry]]]
    ) -> dict[str, Rejection]:
        """The rejections reps made in HubSpot on *records* (from their status and lifecycle
        histories): a rejected contact's stage is the one its reason's disposition leads to,
        entered when and by whom the status history says."""
        rules = self.rejections
        rejected = [
            r
            for r in records
            if (r.properties or {}).get(rules.status_property) in rules.statuses
            and (r.properties or {}).get("lifecyclestage") not in rules.skip_lifecycles
            and (r.properties or {}).get(rules.reason_property)
        ]
        found: dict[str, Rejection] = {}
        for record in rejected:
            try:
                verdict = rejection_from(
                    record.id,
                    record.properties or {},
                    histories.get(record.id, {}),
                    rules=rules,
                    catalog=self.reasons,
                    stage_of=self._stage_or_none,
                    own=histories.get(record.id, {}).get(
                        self.fields.crm_field("writeback", "reject_code"), ()
                    ),
                )
            except (ValidationError, KeyError):
                continue  # read_rejections reports it
            if isinstance(verdict, Rejection):
                found[record.id] = verdict
        return found

    def _lead(
        self,
        record: Any,
        company_id: str | None,
        verdict: Rejection | None = None,
        history: Mapping[str, Sequence[HistoryEntry]] | None = None,
    ) -> list[Lead | RecordError]:
        """The lead a contact holds, with a :class:`RecordError` for each field left unset;
        a contact without a usable e-mail, stage or creation time is one error.

        *history* holds the contact's property histories (``lifecyclestage``,
        ``hs_lead_status``): its stage history is read from them, or — when HubSpot answered
        no lifecycle history for it — from the ``hs_v2_date_entered_*`` dates."""
        props = record.properties or {}
        record_id = str(record.id)
        try:
            core, raw, problems = self._mapped("lead", props, record_id)
            extra, raw_extra, extra_problems = self._mapped("writeback", props, record_id)
            problems += extra_problems
            properties: dict[str, Any] = {
                k: (_iso(_ms(v)) if isinstance(v, datetime) else v)
                for k, v in extra.items()
                if v is not None
            }
            properties.update(raw)
            properties.update(raw_extra)
            for name in ("lifecyclestage", "hs_lead_status"):
                if props.get(name):
                    properties[f"hubspot_{name}"] = props[name]
            if isinstance(core.get("created_at"), datetime):
                core["created_at"] = _utc(core["created_at"])
            elif core.get("created_at") is None:
                core["created_at"] = _instant(record.created_at)
            stage = self._stage(props)
            lifecycle = list((history or {}).get("lifecyclestage") or ())
            entered: Mapping[str, Any] = (
                entered_from_history(lifecycle)
                if lifecycle
                else {
                    name: props.get(f"hs_v2_date_entered_{name}") for name in self.lifecycle_order
                }
            )
            mark = _read_mark(properties.pop("stage_change", None))
            written = mark if mark is not None and mark[0] == stage else None
            if written is not None and any(
                e.at > written[1] and e.value and e.value != self._stage_values(stage)[0]
                for e in lifecycle
            ):
                # The lifecycle stage moved elsewhere after leadflow's change (a rep took the
                # lead back and brought it here again): the history says when, not the mark.
                written = None
            signed: str | None = None
            if verdict is not None and written is None:
                # A rep rejected the lead in HubSpot: it is where the reason sends it, since
                # the status history says.
                stage = "recycled" if verdict.disposition is Disposition.RECYCLE else "disqualified"
                written, signed = (stage, verdict.at), verdict.by
            if lifecycle:
                changes = stage_history_from_properties(
                    lifecycle,
                    list((history or {}).get("hs_lead_status") or ()),
                    current=stage,
                    stage_of=self._stage_or_none,
                    written=written,
                    written_by=signed,
                )
            else:  # no history answered for this contact: the date-entered stamps
                changes = stage_history(
                    entered, current=stage, stage_of=self._stage_or_none, written=written
                )
            if verdict is not None and changes and changes[-1].to_stage == stage:
                changes = (
                    *changes[:-1],
                    attrs.evolve(changes[-1], by=verdict.by, reason=verdict.code),
                )
            handoff = self._handoff(entered, properties.pop("handoff_at", None), lifecycle)
            lead = self._build(
                "lead",
                record_id,
                Lead,
                {
                    "id": record_id,
                    "stage": stage,
                    "history": changes,
                    "handed_off_at": handoff,
                    "account_id": company_id,
                    "properties": properties,
                    **core,
                },
                optional=self._OPTIONAL,
                problems=problems,
            )
            return [lead, *problems]
        except ValidationError as exc:
            return [_skipped(Entity.LEAD, "contact", record.id, exc)]

    def _account(self, record: Any) -> list[Account | RecordError]:
        props = record.properties or {}
        record_id = str(record.id)
        try:
            core, raw, problems = self._mapped("account", props, record_id)
            if isinstance(core.get("created_at"), datetime):
                core["created_at"] = _utc(core["created_at"])
            if not core.get("name"):
                core["name"] = core.get("domain") or f"HubSpot company {record.id}"
            account = self._build(
                "account",
                record_id,
                Account,
                {"id": record_id, **core, **({"properties": raw} if raw else {})},
                optional=self._OPTIONAL,
                problems=problems,
            )
            return [account, *problems]
        except ValidationError as exc:
            return [_skipped(Entity.ACCOUNT, "company", record.id, exc)]

    def _touches(
        self, object_type: str, rule: TouchRule, record: Any, contact_ids: Sequence[str]
    ) -> list[Touch | RecordError]:
        """One touch per contact the engagement is associated with (a meeting with three
        people is a touch on each of them), id ``<type>/<engagement id>/<contact id>``."""
        props = record.properties or {}
        if not contact_ids:
            _log.info("%s %s is associated with no contact; not a touch", object_type, record.id)
            return []
        try:
            raw_at = props.get("hs_timestamp")
            at = (
                datetime.fromtimestamp(_ms(raw_at) / 1000, tz=UTC)
                if raw_at
                else _instant(record.created_at)
            )
            return [
                Touch(
                    id=f"{object_type}/{record.id}/{contact_id}",
                    lead_id=contact_id,
                    kind=rule.kind,
                    at=at,
                    by=props.get("hubspot_owner_id") or "unassigned",
                    outcome=rule.outcome(props),
                    subject=props.get(rule.subject),
                )
                for contact_id in contact_ids
            ]
        except (ValidationError, ValueError) as exc:
            return [_skipped(Entity.TOUCH, object_type, record.id, exc)]

    # -- writes ---------------------------------------------------------------------------------

    def write(self, writes: Sequence[Write]) -> list[WriteResult]:
        """Apply *writes*; one result per write, in order (see the module docstring)."""
        results: list[WriteResult | None] = [None] * len(writes)
        planned: list[tuple[int, Write, dict[str, str], str | None]] = []
        for index, write in enumerate(writes):
            try:
                props, stage = self._plan(write)
            except LeadflowError as exc:
                results[index] = WriteResult(write=write, status=WriteStatus.FAILED, error=str(exc))
                continue
            planned.append((index, write, props, stage))
        by_lead: dict[str, list[tuple[int, Write, dict[str, str], str | None]]] = {}
        for item in planned:
            by_lead.setdefault(item[1].lead_id, []).append(item)
        for lead_ids in chunked(list(by_lead), MAX_BATCH):
            for index, result in self._write_chunk({i: by_lead[i] for i in lead_ids}):
                results[index] = result
        return [r for r in results if r is not None]

    def _plan(self, write: Write) -> tuple[dict[str, str], str | None]:
        """The contact properties a write sets (as HubSpot strings) and the stage it moves to."""
        values: dict[str, Any] = {}
        stage: str | None = None
        if isinstance(write, ScoreWrite):
            values = {"score": write.score, "score_summary": write.summary}
        elif isinstance(write, StageWrite):
            stage = write.change.to_stage
            values = {"stage_change": _stage_mark(stage, write.change.at)}
            if write.handed_off_at is not None:
                values["handoff_at"] = write.handed_off_at
        elif isinstance(write, RejectionWrite):
            values = {
                "reject_code": write.rejection.code,
                "reject_note": write.rejection.note or "",
                "stage_change": _stage_mark(write.change.to_stage, write.change.at),
            }
            stage = write.change.to_stage
        elif isinstance(write, SLAWrite):
            values = {"sla_due": write.due_at, "sla_state": write.state}
        elif isinstance(write, OutcomeWrite):
            raise AdapterError(
                "writing outcomes is not supported; record them as HubSpot deals "
                "(capabilities.writes lists what this adapter writes)",
                adapter=self.name,
            )
        if not _is_id(write.lead_id):
            raise ValidationError(
                "lead_id", write.lead_id, "is not a HubSpot contact id (ASCII digits only)"
            )
        mapped = self.fields.to_crm("writeback", values)
        props = {k: _to_text(v) for k, v in mapped.items()}
        if stage is not None:
            self._stage_values(stage)  # an unmapped stage fails before anything is sent
        return props, stage

    def _stage_values(self, stage: str) -> tuple[str, str | None]:
        lifecycle, _, status = self.fields.stages.to_crm(stage).partition(":")
        return lifecycle, status or None

    def _write_chunk(
        self, group: Mapping[str, list[tuple[int, Write, dict[str, str], str | None]]]
    ) -> Iterator[tuple[int, WriteResult]]:
        needed = {"lifecyclestage", "hs_lead_status", "lastmodifieddate"}
        for items in group.values():
            for _, _, props, _ in items:
                needed.update(props)
        try:
            current = self._batch_read(list(group), sorted(needed))
        except LeadflowError as exc:
            if isinstance(exc, AuthenticationError):
                raise
            for items in group.values():
                for index, write, _, _ in items:
                    yield index, WriteResult(write=write, status=WriteStatus.FAILED, error=str(exc))
            return
        updates: dict[str, dict[str, str]] = {}
        clears: list[str] = []
        owners: dict[str, list[tuple[int, Write]]] = {}
        for lead_id, items in group.items():
            record = current.get(lead_id)
            if record is None:
                for index, write, _, _ in items:
                    yield (
                        index,
                        WriteResult(
                            write=write,
                            status=WriteStatus.FAILED,
                            error=f"HubSpot contact {lead_id} does not exist",
                        ),
                    )
                continue
            decided, merged, accepted = self._decide(lead_id, items, record)
            yield from decided
            if not accepted:
                continue
            if "lifecyclestage" in merged and self._backwards(
                (record.properties or {}).get("lifecyclestage"), merged["lifecyclestage"]
            ):
                clears.append(lead_id)
            updates[lead_id] = merged
            owners[lead_id] = accepted
        failed: dict[str, str] = {}
        if clears:
            # HubSpot keeps the later lifecycle stage when asked for an earlier one; clearing it
            # first is the documented way back. The two updates are reported as one result.
            _, errors = self._batch_update({i: {"lifecyclestage": ""} for i in clears}, "clear")
            failed.update(errors)
        remaining = {i: p for i, p in updates.items() if i not in failed}
        written, errors = self._batch_update(remaining, "update") if remaining else ({}, {})
        failed.update(errors)
        for lead_id, accepted in owners.items():
            for index, write in accepted:
                if lead_id in written:
                    yield (
                        index,
                        WriteResult(
                            write=write, status=WriteStatus.APPLIED, version=written[lead_id]
                        ),
                    )
                else:
                    yield (
                        index,
                        WriteResult(
                            write=write,
                            status=WriteStatus.FAILED,
                            error=failed.get(lead_id, f"HubSpot did not confirm contact {lead_id}"),
                        ),
                    )

    def _decide(
        self, lead_id: str, items: list[tuple[int, Write, dict[str, str], str | None]], record: Any
    ) -> tuple[list[tuple[int, WriteResult]], dict[str, str], list[tuple[int, Write]]]:
        """Conflicts and no-ops among one contact's writes, and the properties left to send."""
        props_now = record.properties or {}
        stamp = self._version(record)
        decided: list[tuple[int, WriteResult]] = []
        merged: dict[str, str] = {}
        accepted: list[tuple[int, Write]] = []
        for index, write, props, stage in items:
            wanted = dict(props)
            if stage is not None:
                lifecycle, status = self._stage_values(stage)
                wanted["lifecyclestage"] = lifecycle
                if status is not None:
                    wanted["hs_lead_status"] = status
            delta = {k: v for k, v in wanted.items() if not _same(props_now.get(k), v)}
            if not delta:
                # Unchanged wins over a stale expected_version: the values already hold.
                decided.append(
                    (index, WriteResult(write=write, status=WriteStatus.UNCHANGED, version=stamp))
                )
                continue
            expected = write.expected_version
            if expected is not None and not _same_version(expected, stamp):
                error = (
                    f"contact {lead_id} changed since it was read "
                    f"(read at {expected}, now {stamp}); nothing was written"
                )
                decided.append(
                    (index, WriteResult(write=write, status=WriteStatus.CONFLICT, error=error))
                )
                continue
            merged.update(delta)
            accepted.append((index, write))
        return decided, merged, accepted

    def _backwards(self, current: str | None, new: str) -> bool:
        order = self.lifecycle_order
        if not current or not new or current not in order or new not in order:
            return False
        return order.index(new) < order.index(current)

    def _batch_read(self, ids: list[str], properties: list[str]) -> dict[str, Any]:
        request = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids], properties=properties
        )
        api = self._api("batch")
        answer = self._call(
            "batch read contacts",
            lambda: _decoded(
                api.read(
                    "contacts",
                    batch_read_input_simple_public_object_id=request,
                    _request_timeout=self._timeout,
                    _preload_content=False,
                )
            ),
        )
        records = (self._record(r) for r in answer.get("results") or [])
        return {r.id: r for r in records}

    def _batch_update(
        self, updates: Mapping[str, Mapping[str, str]], describe: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Apply *updates* (contact id → properties); the new version of each contact written,
        and the error of each that failed.

        Never sends a write twice. A batch update is not idempotent as far as HubSpot's audit
        trail, workflows and rate limits are concerned, so when an answer is lost — the
        connection dropped, a timeout, a 5xx from a gateway, a body that is not JSON — the
        contacts are read back first and only those whose values do not hold yet are sent
        again. A 429 applied nothing and is re-sent after ``Retry-After``. A 400 for the whole
        batch (HubSpot's answer when one input holds an invalid value) is bisected until the
        offending contact fails alone and the others are applied.
        """
        written: dict[str, str] = {}
        failed: dict[str, str] = {}
        pending = {i: dict(p) for i, p in updates.items()}
        started = self._clock()
        attempt = 0
        while pending:
            attempt += 1
            try:
                answer = self._send_update(pending)
            except AuthenticationError:
                raise
            except _WholeBatchRefused as refused:
                if len(pending) == 1:
                    failed.update(dict.fromkeys(pending, refused.message))
                    return written, failed
                ids = list(pending)
                for half in (ids[: len(ids) // 2], ids[len(ids) // 2 :]):
                    done, errors = self._batch_update({i: pending[i] for i in half}, describe)
                    written.update(done)
                    failed.update(errors)
                return written, failed
            except _Ambiguous as lost:
                decision = self._classify(lost.cause)
                wait = (
                    decision.after if decision.after is not None else self._retry.backoff(attempt)
                )
                over = self._clock() - started + wait > self._retry.max_elapsed
                if not decision.retry or attempt >= self._retry.max_attempts or over:
                    error = self._failure(f"batch {describe} contacts", lost.cause)
                    failed.update(dict.fromkeys(pending, error))
                    return written, failed
                _log.info(
                    "HubSpot batch %s contacts: %s; retry %d in %.2fs",
                    describe,
                    self._failure("", lost.cause).lstrip(": "),
                    attempt,
                    wait,
                )
                self._sleep(wait)
                if lost.applied_maybe:
                    # Re-judge against the contacts' current state before sending again.
                    try:
                        held = self._holding(pending)
                    except AuthenticationError:
                        raise
                    except LeadflowError as exc:
                        failed.update(dict.fromkeys(pending, str(exc)))
                        return written, failed
                    for lead_id, version in held.items():
                        written[lead_id] = version
                        del pending[lead_id]
                continue
            except LeadflowError as exc:
                failed.update(dict.fromkeys(pending, str(exc)))
                return written, failed
            done, errors = self._outcome(answer, pending)
            written.update(done)
            failed.update(errors)
            return written, failed
        return written, failed

    def _send_update(self, updates: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
        """One batch update call, not retried; failures come back as the private exceptions
        :meth:`_batch_update` decides on."""
        request = BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=i, properties=dict(p)) for i, p in updates.items()
            ]
        )
        api = self._api("batch")
        try:
            return _decoded(
                api.update(
                    "contacts",
                    batch_input_simple_public_object_batch_input=request,
                    _request_timeout=self._timeout,
                    _preload_content=False,
                )
            )
        except _BadBody as exc:
            raise _Ambiguous(exc, applied_maybe=True) from None
        except _API_ERRORS as exc:
            self._scrub(exc)
            status = getattr(exc, "status", None) or 0
            if status == 400 and _body(exc).get("category") == "VALIDATION_ERROR":
                raise _WholeBatchRefused(str(self._error("batch update contacts", exc))) from None
            if status == 429:
                raise _Ambiguous(exc, applied_maybe=False) from None
            if status >= 500:
                raise _Ambiguous(exc, applied_maybe=True) from None
            raise self._error("batch update contacts", exc) from None
        except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
            self._scrub(exc)
            raise _Ambiguous(exc, applied_maybe=True) from None

    def _holding(self, updates: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
        """The contacts among *updates* that already hold every value sent, with their
        versions (a lost answer whose update was applied)."""
        names = sorted({k for p in updates.values() for k in p} | {"lastmodifieddate"})
        current = self._batch_read(list(updates), names)
        held: dict[str, str] = {}
        for lead_id, props in updates.items():
            record = current.get(lead_id)
            if record is None:
                continue
            now = record.properties or {}
            if all(_same(now.get(k), v) for k, v in props.items()):
                held[lead_id] = self._version(record)
        return held

    def _outcome(
        self, answer: Mapping[str, Any], updates: Mapping[str, Mapping[str, str]]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Versions written and per-record errors of one batch update answer."""
        records = (self._record(r) for r in answer.get("results") or [])
        written = {r.id: self._version(r) for r in records}
        failed: dict[str, str] = {}
        loose: list[str] = []
        # 207 Multi-Status: the answer carries "errors" beside "results"; nothing is raised.
        for error in answer.get("errors") or []:
            text = self._clean(f"{error.get('category')}: {error.get('message')}")
            ids = (error.get("context") or {}).get("ids") or []
            for i in ids:
                failed[str(i)] = text
            if not ids:
                loose.append(text)
        for i in updates:
            if i not in written and i not in failed:
                failed[i] = "; ".join(loose) or f"HubSpot did not confirm contact {i}"
        return written, failed

    def _failure(self, describe: str, exc: BaseException) -> str:
        """The error text of a call that failed for good (scrubbed)."""
        if isinstance(exc, _API_ERRORS):
            return str(self._error(describe, exc))
        if isinstance(exc, _BadBody):
            return f"{describe}: {exc}"
        return f"{describe}: no answer from HubSpot after retries ({self._clean(f'{type(exc).__name__}: {exc}')})"


class _WholeBatchRefused(Exception):
    """HubSpot refused a batch as a whole (one 400 for every input)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Ambiguous(Exception):
    """A batch update whose answer was lost or refused for now; ``applied_maybe`` says whether
    HubSpot may have applied it (drop, timeout, 5xx) or surely did not (429)."""

    def __init__(self, cause: BaseException, *, applied_maybe: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.applied_maybe = applied_maybe


class _BadBody(AdapterError):
    """A 2xx answer whose body is not the JSON object HubSpot sends."""


def _stage_mark(stage: str, at: datetime) -> str:
    """``"<stage>|<ISO instant, ms, Z>"``: the stage change leadflow wrote."""
    return f"{stage}|{_iso(_ms(at))}"


def _read_mark(value: Any) -> tuple[str, datetime] | None:
    """The stage and instant of a :func:`_stage_mark` value (``None`` when unreadable)."""
    stage, sep, at = str(value or "").partition("|")
    if not sep or not stage:
        return None
    try:
        return stage, datetime.fromtimestamp(_ms(at) / 1000, tz=UTC)
    except (ValueError, OverflowError, ValidationError):
        return None


#: A hand-off HubSpot dates within this of the one leadflow wrote is that hand-off (the write
#: landing); a later one was made again in HubSpot.
_HANDOFF_SLACK = 86_400_000


def _to_text(value: Any) -> str:
    """A property value as HubSpot takes it: a string; ``None`` clears the property."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _same(current: Any, wanted: str) -> bool:
    """Whether HubSpot's *current* value already equals *wanted* (numbers and instants by value)."""
    if current in (None, ""):
        return wanted == ""
    if current == wanted:
        return True
    try:
        return float(current) == float(wanted)
    except (TypeError, ValueError):
        pass
    try:
        return _ms(current) == _ms(wanted)
    except (ValueError, OverflowError, ValidationError):
        return False


@attrs.frozen
class _Record:
    """One CRM object as HubSpot answered it (JSON decoded by the adapter, see :func:`_decoded`)."""

    id: str
    properties: dict[str, Any]
    created_at: str | None
    updated_at: str | None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> _Record:
        return cls(
            str(data["id"]),
            dict(data.get("properties") or {}),
            data.get("createdAt"),
            data.get("updatedAt"),
        )


def _decoded(response: Any) -> dict[str, Any]:
    """The JSON body of a raw urllib3 response (``_preload_content=False``).

    The client's generated models cost more than the HTTP round trip (each one builds a
    Configuration; each timestamp goes through ``dateutil.parser.parse``, which also answers
    ``tzlocal()`` for "Z" on some hosts), so the adapter decodes the JSON itself. Reading happens
    inside the retried call, so a connection dropped mid-body is retried too. Error statuses
    still raise the client's ``ApiException`` before this runs.
    """
    try:
        data = json.loads(response.data)
    except ValueError:
        raise _BadBody(
            f"HubSpot answered HTTP {response.status} with a body that is not JSON",
            adapter="hubspot",
        ) from None
    finally:
        response.release_conn()
    if not isinstance(data, dict):
        raise _BadBody(
            f"HubSpot answered HTTP {response.status} with a JSON body that is not an object",
            adapter="hubspot",
        )
    return data


def _instant(value: str | None) -> datetime:
    """A HubSpot ISO-8601 instant as an aware UTC datetime."""
    if not value:
        raise ValidationError("createdAt", value, "is missing")
    return datetime.fromtimestamp(_ms(value) / 1000, tz=UTC)


def _stage_name(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError("handoff_stage", f"must be a stage name, got {value!r}")
    return value


def _check_host(host: str) -> str:
    """The ``host`` setting as a base URL: http(s), a host name, no credentials, query or
    fragment (so every URL built from it, and every link checked against it, is plain)."""
    try:
        parts = urlsplit(host.strip())
        port_ok = parts.port is None or 0 < parts.port < 65536
    except (AttributeError, ValueError):
        raise ConfigError("host", f"is not a URL: {host!r}") from None
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or not port_ok
        or parts.username is not None
        or parts.password is not None
        or parts.query
        or parts.fragment
    ):
        raise ConfigError(
            "host",
            f"must be an http(s) base URL such as 'https://api.hubapi.com' (no credentials, "
            f"query or fragment), got {_shown(host)!r}",
        )
    return host.strip().rstrip("/")


def _shown(url: str) -> str:
    """*url* with any ``user:password@`` masked, for an error message."""
    head, sep, rest = url.partition("://")
    if not sep:
        return url if "@" not in url else "***@" + url.rsplit("@", 1)[1]
    netloc, slash, tail = rest.partition("/")
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return f"{head}{sep}{netloc}{slash}{tail}"


def _path(host: str) -> str:
    """The path prefix every URL under *host* starts with."""
    return urlsplit(host).path.rstrip("/") + "/"


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(
            "lifecycle_order", f"must be a list of lifecycle stage names, got {value!r}"
        )
    if not all(isinstance(v, str) and v for v in value):
        raise ConfigError("lifecycle_order", f"must hold non-empty stage names, got {value!r}")
    return tuple(value)


def _number(key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(key, f"must be a number between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, got {value!r}")
    return value


def _same_version(expected: str, current: str) -> bool:
    """Whether a write's ``expected_version`` names the contact's current stamp."""
    try:
        return _ms(expected) == _ms(current)
    except (ValueError, OverflowError, ValidationError):
        return False  # not a stamp this adapter issued: treat it as stale, never overwrite


def _body(exc: BaseException) -> dict[str, Any]:
    raw = getattr(exc, "body", None)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _header(exc: BaseException, name: str) -> str | None:
    headers = getattr(exc, "headers", None)
    if not headers:
        return None
    value = headers.get(name)
    return str(value) if value is not None else None


def _with_owners(lead: Lead, history: Sequence[HistoryEntry]) -> Lead:
    """*lead* with its owner history from ``hubspot_owner_id``'s property history (oldest first;
    an empty value is "no owner", e.g. back in a queue). A history that does not end with the
    lead's current owner is not trusted and the lead is returned as it is."""
    changes = [
        OwnerChange(owner_id=entry.value or None, at=entry.at, by=entry.user_id)
        for entry in history
    ]
    if len(changes) < 2 or changes[-1].owner_id != lead.owner_id:
        return lead  # never reassigned (one owner throughout), or a history not to trust
    return attrs.evolve(lead, owner_history=tuple(changes))
