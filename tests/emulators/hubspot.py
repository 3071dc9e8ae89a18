"""A loopback HubSpot CRM v3 emulator: the real hubspot-api-client talks HTTP to it in tests.

Scope: the slice of HubSpot's public API the leadflow adapter uses, with HubSpot's shapes, limits
and failure modes, served on 127.0.0.1 (port 0, a background thread). Nothing in the client is
patched; the emulator is a server, and tests inspect and steer it through this object.

Served, after the public API reference (shapes checked against the hubspot-api-client 12 models,
whose required fields must be present or deserialisation fails):

* ``POST /crm/v3/objects/{type}/search`` — filterGroups (OR of ANDed filters: EQ, NEQ, GT, GTE,
  LT, LTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY), one sort, ``after`` paging, and
  the limits of HubSpot's search guide
  (https://developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm, "Limits"):
  ``limit`` at most 200 ("The maximum number of supported objects per page is 200"); at most 5
  filterGroups of up to 6 filters, 18 in total (the current guide; a 2024 changelog said 10 and
  25 — https://developers.hubspot.com/changelog/breaking-change-expanded-filtering-capabilities-and-error-messaging-in-hubspots-search-api
  — the stricter figures are kept); at most 10,000 results per query ("Attempting to
  page beyond 10,000 will result in a 400 error"); and, with :attr:`search_rate_limit` set, five
  requests per second ("rate limited to five requests per second per account"). Search takes no
  ``propertiesWithHistory`` (the client's ``PublicObjectSearchRequest`` has no such field).
* ``POST /crm/v3/objects/{type}/batch/{read,create,update}`` — 100 inputs at most, 50 when a read
  asks for ``propertiesWithHistory`` (the service's message, quoted by integrators:
  https://github.com/PipedreamHQ/pipedream/pull/8462); each history entry is ``value``,
  ``timestamp``, ``sourceType``, ``sourceId`` and, for a user's change, ``updatedByUserId``,
  newest first (hubspot-api-client's ``ValueWithTimestamp``); per-record failures answer 207
  Multi-Status with ``errors`` beside ``results``
  (https://developers.hubspot.com/changelog/simplifying-batch-update-response-codes-for-crm-v3-apis).
* ``POST /crm/v4/associations/{from}/{to}/batch/read`` — associations (contact→company,
  engagement→contact), at most 1,000 ids
  (https://developers.hubspot.com/changelog/bug-fix-batch-read-limit-for-hubspot-associations-api).
* Errors in HubSpot's JSON shape: ``{"status": "error", "message", "correlationId", "category",
  "errors", "context", "links"}``; 429 bodies carry ``errorType: RATE_LIMIT`` and ``policyName``
  (``TEN_SECONDLY_ROLLING`` or ``DAILY``) with a ``Retry-After`` header
  (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines;
  https://community.hubspot.com/t5/APIs-Integrations/Hubspot-User-experience/m-p/511719). A
  search refused by its per-second limit has no ``Retry-After`` (integrators' observation); its
  ``policyName`` is not documented and the emulator says ``SECONDLY``.
* ``lifecyclestage`` only moves forward: setting an earlier stage is silently ignored unless the
  value was cleared first (https://integrate.hubspot.com/t/update-lifecycle-stage-using-api/1333).
* ``lastmodifieddate``/``hs_lastmodifieddate`` and ``updatedAt`` are bumped on every write.

Fault switches (:meth:`HubSpotEmulator.fail_next`): 429 per-second or daily with Retry-After,
502/503, a dropped connection (before or after the request took effect), a 502 after it took
effect, a whole-request 400, a 200 whose body is not JSON, a slow answer, a 401 for an expired
token; :meth:`reject` makes one record's writes fail validation. Documented HubSpot behaviours
the adapter must survive, as switches:

* :meth:`set_index_lag` — the search index trails writes ("It may take a few moments for newly
  created or updated CRM objects to appear in search results", the search guide's Limits); a
  lagging record is invisible to search,
  not to batch reads, until :meth:`advance` moves the clock past it;
* :attr:`page_cap` — search answers fewer results than ``limit`` asked for, with ``paging.next``
  (the documented page maximum has been 100 and 200);
* :attr:`whole_batch_errors` — one invalid property value refuses the whole batch update with a
  400 that does not name the record (not in HubSpot's documentation, which promises a 207;
  reported by integrators: https://github.com/hubspot-net/HubSpot.NET/issues/25);
* :attr:`search_rate_limit` — search refuses more than that many requests a second (counted on
  :attr:`rate_clock`) with a 429;
* :attr:`foreign_links` — ``paging.next.link`` points off the host; :attr:`echo_token` — error
  messages echo the Authorization header.

:attr:`HubSpotEmulator.calls` counts every request served; :attr:`writes` and
:attr:`duplicate_writes` count updates applied per record and those that re-sent values the
record already held.
"""

from __future__ import annotations

import collections
import functools
import itertools
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LIFECYCLE_ORDER", "SEARCH_CAP", "HubSpotEmulator"]

SEARCH_CAP = 10_000
MAX_SEARCH_LIMIT = 200
MAX_BATCH = 100
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
#: Search requests per second per account (:attr:`HubSpotEmulator.search_rate_limit`).
SEARCH_RATE_LIMIT = 5

#: HubSpot's default lifecycle stages, in the only order it lets them move.
LIFECYCLE_ORDER = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
LEAD_STATUSES = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)

#: Properties whose values are instants (compared as epoch milliseconds in filters).
DATETIME_PROPERTIES = frozenset(
    {
        *(f"hs_v2_date_entered_{stage}" for stage in LIFECYCLE_ORDER),
        "recent_conversion_date",
        "first_conversion_date",
        "hs_email_last_open_date",
        "hs_email_last_click_date",
        "hs_email_last_reply_date",
        "hs_email_last_send_date",
        "closedate",
        "createdate",
        "lastmodifieddate",
        "hs_lastmodifieddate",
        "hs_createdate",
        "hs_timestamp",
        "leadflow_sla_due",
    }
)
NUMBER_PROPERTIES = frozenset(
    {"hs_object_id", "numberofemployees", "leadflow_score", "amount", "num_conversion_events"}
)
#: The stamp each object type's search filters on.
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate"}
ENGAGEMENTS = ("calls", "emails", "meetings", "tasks")
OBJECT_TYPES = ("contacts", "companies", "deals", *ENGAGEMENTS)
#: Properties whose every change is kept (and answered as ``propertiesWithHistory``).
#: HubSpot keeps history for every property; the emulator for the ones tests read.
HISTORY_PROPERTIES = frozenset(
    {
        "lifecyclestage",
        "hs_lead_status",
        "leadflow_reject_reason",
        "leadflow_reject_code",
        "recent_conversion_event_name",
        "hs_email_last_open_date",
        "hs_email_last_click_date",
        "hs_email_last_reply_date",
        "hs_email_last_email_name",
        "hubspot_owner_id",
    }
)
#: Batch reads asking for property history take at most this many inputs.
MAX_HISTORY_BATCH = 50

#: Properties the portal defines per object type (HubSpot refuses unknown ones). Tests add
#: custom ones with :meth:`HubSpotEmulator.define_property`.
_STANDARD_PROPERTIES: dict[str, set[str]] = {
    "contacts": {
        "email",
        "firstname",
        "lastname",
        "jobtitle",
        "company",
        "industry",
        "annualrevenue",
        "numemployees",
        "country",
        "hs_analytics_source",
        "hubspot_owner_id",
        "lifecyclestage",
        "hs_lead_status",
        *(f"hs_v2_date_entered_{stage}" for stage in LIFECYCLE_ORDER),
        "recent_conversion_event_name",
        "recent_conversion_date",
        "first_conversion_event_name",
        "first_conversion_date",
        "num_conversion_events",
        "hs_email_last_open_date",
        "hs_email_last_click_date",
        "hs_email_last_reply_date",
        "hs_email_last_send_date",
        "hs_email_last_email_name",
    },
    "deals": {
        "dealname",
        "amount",
        "closedate",
        "dealstage",
        "pipeline",
        "hs_is_closed",
        "hs_is_closed_won",
        "closed_lost_reason",
        "deal_currency_code",
        "hubspot_owner_id",
    },
    "companies": {
        "name",
        "domain",
        "industry",
        "annualrevenue",
        "numberofemployees",
        "country",
        "hubspot_owner_id",
    },
    "calls": {
        "hs_timestamp",
        "hubspot_owner_id",
        "hs_call_title",
        "hs_call_status",
        "hs_call_disposition",
        "hs_call_body",
    },
    "emails": {
        "hs_timestamp",
        "hubspot_owner_id",
        "hs_email_subject",
        "hs_email_direction",
        "hs_email_status",
    },
    "meetings": {
        "hs_timestamp",
        "hubspot_owner_id",
        "hs_meeting_title",
        "hs_meeting_outcome",
    },
    "tasks": {
        "hs_timestamp",
        "hubspot_owner_id",
        "hs_task_subject",
        "hs_task_status",
        "hs_task_type",
    },
}
_SYSTEM = {"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate", "hs_createdate"}
_DEFAULT_RETURNED = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
}


def iso_ms(ms: int) -> str:
    """HubSpot's instant format: ISO-8601, milliseconds, ``Z``."""
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def to_ms(value: str | int | datetime) -> int:
    """Epoch milliseconds from an epoch-ms string, an ISO-8601 string or an aware datetime."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, int):
        return value
    return _text_ms(str(value))


@functools.lru_cache(maxsize=65536)
def _text_ms(value: str) -> int:
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1000)


class _HubSpotError(Exception):
    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        return {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
            "errors": [],
            "context": {},
            "links": {},
            **self.extra,
        }


class _Drop(Exception):
    """Close the connection without answering."""


class _RawAnswer(Exception):
    """Answer with this status and these raw bytes (not JSON)."""

    def __init__(self, status: int, data: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.data = data


class HubSpotEmulator:
    """A HubSpot portal on 127.0.0.1; use as a context manager or call :meth:`start`/:meth:`stop`.

    ``clock_start`` is the instant of the first write; each write request advances the clock by
    ``tick`` so stamps are deterministic and strictly increasing between requests (all records
    written by one batch call share one stamp, as in HubSpot).
    """

    def __init__(
        self,
        *,
        token: str = "pat-na1-emulator-secret-token",
        clock_start: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        tick: timedelta = timedelta(milliseconds=1),
    ) -> None:
        self.token = token
        self._now_ms = to_ms(clock_start)
        self._tick_ms = max(1, int(tick.total_seconds() * 1000))
        self._lock = threading.RLock()
        self._objects: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in OBJECT_TYPES}
        self._ids = itertools.count(101)
        self._assoc: dict[tuple[str, str], dict[str, list[str]]] = collections.defaultdict(
            lambda: collections.defaultdict(list)
        )
        self._properties = {t: set(p) | _SYSTEM for t, p in _STANDARD_PROPERTIES.items()}
        self._faults: collections.deque[tuple[str, dict[str, Any], Callable[[str], bool]]] = (
            collections.deque()
        )
        self._rejected: dict[tuple[str, str], str] = {}
        self._expired = False
        #: Search index lag (see :meth:`set_index_lag`): records written while it is set become
        #: searchable only when the clock has passed their stamp plus the lag.
        self._index_lag_ms = 0
        self._visible_at: dict[tuple[str, str], int] = {}
        #: Most results one search page answers, whatever ``limit`` asked (:attr:`page_cap`).
        self.page_cap = MAX_SEARCH_LIMIT
        #: When true, a batch update holding one invalid input is refused as a whole: one 400,
        #: nothing applied (HubSpot's answer for invalid property values), instead of a 207.
        self.whole_batch_errors = False
        #: Most associations one batch-read row answers per object; the rest follow with the
        #: row's ``paging.next.after`` (HubSpot pages associations per object).
        self.assoc_page_cap = 500
        #: When set, ``paging.next.link`` points at this base URL instead of a relative link.
        self.foreign_links: str | None = None
        #: When true, error messages echo the request's ``Authorization`` header.
        self.echo_token = False
        #: When set, search answers at most this many requests in any one second (by
        #: :attr:`rate_clock`) and refuses the rest with a 429 — HubSpot's documented limit is
        #: :data:`SEARCH_RATE_LIMIT` per second per account. Off by default.
        self.search_rate_limit: int | None = None
        #: The clock the search rate limit counts seconds on (injectable, like the adapter's).
        self.rate_clock: Callable[[], float] = time.monotonic
        #: Searches refused by the rate limit.
        self.throttled = 0
        self._searches: collections.deque[float] = collections.deque()
        #: Updates applied per ``(object type, id)``, and those that changed nothing because the
        #: record already held every value sent (a write sent twice).
        self.writes: collections.Counter[tuple[str, str]] = collections.Counter()
        self.duplicate_writes: collections.Counter[tuple[str, str]] = collections.Counter()
        #: Requests served, by ``"METHOD /path-template"``; ``sum(calls.values())`` is the total.
        self.calls: collections.Counter[str] = collections.Counter()
        #: TCP connections accepted (a client that reuses its pool opens few).
        self.connections = 0
        #: Request paths served, in order.
        self.seen_paths: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> HubSpotEmulator:
        """Listen on 127.0.0.1 on a free port, serving from a daemon thread."""
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HubSpotEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to give the client as its host."""
        assert self._server is not None, "start() the emulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def total_calls(self) -> int:
        """Every request served so far, including failed ones."""
        return sum(self.calls.values())

    # -- seeding and inspection (direct, no HTTP) ---------------------------------------------

    def now_ms(self) -> int:
        """The emulator clock, epoch milliseconds."""
        return self._now_ms

    def _advance(self) -> int:
        with self._lock:
            self._now_ms += self._tick_ms
            return self._now_ms

    def define_property(self, object_type: str, *names: str) -> None:
        """Create custom properties (as a portal admin would before using the integration)."""
        with self._lock:
            self._properties[object_type].update(names)

    def seed(
        self,
        object_type: str,
        records: Iterable[Mapping[str, Any]],
        *,
        modified: datetime | int | None = None,
    ) -> list[str]:
        """Insert records directly (no HTTP, not counted); returns their ids in order.

        Values are stored as HubSpot stores them: strings; datetimes may be given as aware
        datetimes. ``modified`` stamps every record with that instant (many records sharing one
        stamp is how a bulk import looks), else each gets the next tick. A ``lastmodifieddate``
        in a record overrides both.
        """
        ids = []
        with self._lock:
            stamp = to_ms(modified) if modified is not None else None
            for record in records:
                props = {k: _as_string(k, v) for k, v in record.items()}
                ms = stamp if stamp is not None else self._advance()
                own = props.pop("lastmodifieddate", None) or props.pop("hs_lastmodifieddate", None)
                if own is not None:
                    ms = to_ms(own)
                ids.append(self._insert(object_type, props, ms))
        return ids

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Associate two records (both directions), directly."""
        with self._lock:
            self._assoc[(from_type, to_type)][from_id].append(to_id)
            self._assoc[(to_type, from_type)][to_id].append(from_id)

    def get(self, object_type: str, object_id: str) -> dict[str, str | None]:
        """A copy of one record's properties."""
        with self._lock:
            return dict(self._objects[object_type][object_id]["properties"])

    def count(self, object_type: str) -> int:
        """How many records of *object_type* exist."""
        return len(self._objects[object_type])

    def touch(
        self,
        object_type: str,
        object_id: str,
        *,
        by_user: int | None = None,
        source: tuple[str, str] | None = None,
        at: datetime | None = None,
        **props: Any,
    ) -> None:
        """Change a record directly, as a HubSpot user would in the UI (bumps its stamp; the
        property history records ``by_user`` as ``updatedByUserId``, and ``at`` — default the
        emulator clock — as the change's timestamp: how a form submission or an e-mail open
        HubSpot recorded earlier shows). ``source`` — ``(sourceType, sourceId)``, e.g.
        ``("AUTOMATION_PLATFORM", "workflow:7")`` — records a change no user made."""
        with self._lock:
            record = self._objects[object_type][object_id]
            ms = self._advance()
            if source is not None:
                origin: tuple[str, str | None, int | None] = (*source, by_user)
            elif by_user:
                origin = ("CRM_UI", f"userId:{by_user}", by_user)
            else:
                origin = ("CRM_UI", None, None)
            for key, value in props.items():
                self._set(record, key, _as_string(key, value), to_ms(at) if at else ms, origin)
            self._stamp(object_type, record, ms)

    def forget_history(self, object_type: str, object_id: str) -> None:
        """Test switch: from now on the record's property histories are answered empty (to
        exercise a reader's fallback when no history comes back for a record)."""
        with self._lock:
            self._objects[object_type][object_id]["history"] = {}
            self._objects[object_type][object_id]["no_history"] = True

    def history(self, object_type: str, object_id: str, name: str) -> list[dict[str, Any]]:
        """One property's history as HubSpot answers it (newest first)."""
        with self._lock:
            return _history_answer(self._objects[object_type][object_id], name)

    # -- fault switches -----------------------------------------------------------------------

    def fail_next(
        self,
        kind: str,
        *,
        times: int = 1,
        retry_after: int = 1,
        delay: float = 1.0,
        when: Callable[[str], bool] = lambda path: True,
    ) -> None:
        """Make the next *times* matching requests fail with *kind*.

        Kinds: ``"429"`` (TEN_SECONDLY_ROLLING), ``"429-daily"`` (DAILY), ``"502"``, ``"503"``,
        ``"drop"`` (the connection is closed without an answer, after the body was read; the
        request has no effect), ``"drop-after"`` (the request takes effect, then the connection
        is closed without an answer), ``"502-after"`` (the request takes effect, then a gateway
        502 is answered), ``"401"`` (the token expired, once), ``"400"`` (a whole-request
        VALIDATION_ERROR), ``"bad-json"`` (200 with a body that is not JSON), ``"slow"`` (the
        answer comes after ``delay`` seconds, past a client timeout). ``when`` filters on the path.
        """
        allowed = {
            "429",
            "429-daily",
            "502",
            "503",
            "drop",
            "drop-after",
            "502-after",
            "401",
            "400",
            "bad-json",
            "slow",
        }
        if kind not in allowed:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(allowed)}")
        with self._lock:
            for _ in range(times):
                self._faults.append((kind, {"retry_after": retry_after, "delay": delay}, when))

    def expire_token(self) -> None:
        """Every request from now on is refused with 401 (EXPIRED_AUTHENTICATION)."""
        self._expired = True

    def reject(self, object_type: str, object_id: str, message: str) -> None:
        """Writes to this record fail with a per-record VALIDATION_ERROR (in a 207)."""
        self._rejected[(object_type, object_id)] = message

    def set_index_lag(self, lag: timedelta) -> None:
        """From now on, a record written becomes visible to search only ``lag`` after its stamp
        (by the emulator clock; see :meth:`advance`). Batch reads are not affected: HubSpot's
        search index trails the records, the records themselves are current.
        ``timedelta(0)`` switches the lag off for later writes."""
        with self._lock:
            self._index_lag_ms = int(lag.total_seconds() * 1000)

    def advance(self, delta: timedelta) -> None:
        """Move the emulator clock forward (the index catches up with lagging writes)."""
        with self._lock:
            self._now_ms += int(delta.total_seconds() * 1000)

    def accept(self, object_type: str, object_id: str) -> None:
        """Undo :meth:`reject`: the record's writes are accepted again (its data was fixed)."""
        self._rejected.pop((object_type, object_id), None)

    def pending_faults(self) -> int:
        """Fault switches not yet triggered."""
        return len(self._faults)

    # -- storage helpers ----------------------------------------------------------------------

    def _insert(self, object_type: str, props: dict[str, str | None], ms: int) -> str:
        object_id = str(next(self._ids))
        created = props.pop("createdate", None) or props.pop("hs_createdate", None)
        created_ms = to_ms(created) if created else ms
        props["hs_object_id"] = object_id
        props["createdate"] = iso_ms(created_ms)
        if object_type != "contacts":
            props["hs_createdate"] = iso_ms(created_ms)
        record: dict[str, Any] = {
            "id": object_id,
            "createdAt": created_ms,
            "properties": props,
            "history": {},
        }
        for name in sorted(HISTORY_PROPERTIES & set(props)):
            if props[name] not in (None, ""):
                record["history"][name] = [(props[name], created_ms, ("IMPORT", None, None))]
        stage = props.get("lifecyclestage")
        if object_type == "contacts" and stage and not props.get(f"hs_v2_date_entered_{stage}"):
            props[f"hs_v2_date_entered_{stage}"] = iso_ms(created_ms)
        self._stamp(object_type, record, ms)
        self._objects[object_type][object_id] = record
        return object_id

    @staticmethod
    def _set(
        record: dict[str, Any],
        name: str,
        value: str | None,
        ms: int,
        source: tuple[str, str | None, int | None],
    ) -> None:
        """Set one property as HubSpot does: its history grows, and a contact's lifecycle
        stage stamps ``hs_v2_date_entered_<stage>``."""
        current = record["properties"]
        before = current.get(name)
        current[name] = value
        if (value or "") == (before or ""):
            return
        if name in HISTORY_PROPERTIES and not record.get("no_history"):
            record.setdefault("history", {}).setdefault(name, []).append((value or "", ms, source))
        if name == "lifecyclestage" and value:
            current[f"hs_v2_date_entered_{value}"] = iso_ms(ms)

    def _stamp(self, object_type: str, record: dict[str, Any], ms: int) -> None:
        if self._index_lag_ms:
            self._visible_at[(object_type, record["id"])] = ms + self._index_lag_ms
        else:
            self._visible_at.pop((object_type, record["id"]), None)
        record["cmp"] = {}  # cached comparable values, stale once properties change
        record["updatedAt"] = ms
        record["properties"]["hs_lastmodifieddate"] = iso_ms(ms)
        if object_type == "contacts":
            record["properties"]["lastmodifieddate"] = iso_ms(ms)

    def _public(self, object_type: str, record: dict[str, Any], names: Iterable[str] | None):
        wanted = list(names) if names else list(_DEFAULT_RETURNED.get(object_type, ()))
        for always in ("hs_object_id", "createdate", MODIFIED_PROPERTY.get(object_type)):
            if always and always not in wanted:
                wanted.append(always)
        if object_type != "contacts" and "hs_lastmodifieddate" not in wanted:
            wanted.append("hs_lastmodifieddate")
        props = record["properties"]
        return {
            "id": record["id"],
            "properties": {name: props.get(name) for name in wanted},
            "createdAt": iso_ms(record["createdAt"]),
            "updatedAt": iso_ms(record["updatedAt"]),
            "archived": False,
        }

    # -- request dispatch ---------------------------------------------------------------------

    def _handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes):
        """Answer one request: (status, headers, json-able body) or raise _Drop."""
        template, params = _route(method, path)
        with self._lock:
            self.calls[f"{method} {template}"] += 1
            self.seen_paths.append(path)
            fault = None
            for index, (kind, options, when) in enumerate(self._faults):
                if when(path):
                    fault = (kind, options)
                    del self._faults[index]
                    break
        try:
            if fault is not None and fault[0] in {"drop-after", "502-after"}:
                self._handle_authorised(template, params, headers, body)
                if fault[0] == "drop-after":
                    raise _Drop
                self._raise_fault("502", fault[1])
            if fault is not None and fault[0] == "slow":
                time.sleep(fault[1]["delay"])
            elif fault is not None and fault[0] == "bad-json":
                self._handle_authorised(template, params, headers, body)
                raise _RawAnswer(200, b"<html><body>upstream proxy error</body></html>")
            elif fault is not None:
                self._raise_fault(*fault)
            return self._handle_authorised(template, params, headers, body)
        except _HubSpotError as err:
            if self.echo_token:
                err.message += f" (request sent Authorization: {headers.get('Authorization')})"
            raise

    def _handle_authorised(
        self, template: str, params: dict[str, str], headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        auth = headers.get("Authorization", "")
        if self._expired:
            raise _HubSpotError(
                401,
                "EXPIRED_AUTHENTICATION",
                "The OAuth token used to make this call expired 2 minute(s) ago.",
            )
        if auth != f"Bearer {self.token}":
            raise _HubSpotError(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        if template == "unknown":
            raise _HubSpotError(404, "OBJECT_NOT_FOUND", "No such endpoint")
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise _HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON") from None
        object_type = params.get("type", "")
        if object_type and object_type not in self._objects:
            raise _HubSpotError(
                400, "VALIDATION_ERROR", f"Unable to infer object type from: {object_type}"
            )
        handler = getattr(self, "_op_" + params["op"])
        return handler(params, payload)

    @staticmethod
    def _raise_fault(kind: str, options: Mapping[str, Any]) -> None:
        retry_after = options["retry_after"]
        if kind == "drop":
            raise _Drop
        if kind == "401":
            raise _HubSpotError(
                401,
                "EXPIRED_AUTHENTICATION",
                "The OAuth token used to make this call expired 2 minute(s) ago.",
            )
        if kind == "400":
            raise _HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON on line 1")
        if kind in {"502", "503"}:
            raise _HubSpotError(
                int(kind),
                "SERVICE_UNAVAILABLE" if kind == "503" else "BAD_GATEWAY",
                "The service is temporarily unavailable; try again.",
            )
        policy = "DAILY" if kind == "429-daily" else "TEN_SECONDLY_ROLLING"
        message = (
            "You have reached your daily limit."
            if policy == "DAILY"
            else "You have reached your ten_secondly_rolling limit."
        )
        raise _HubSpotError(
            429,
            "RATE_LIMITS",
            message,
            headers={"Retry-After": f"{retry_after:g}"},
            extra={"errorType": "RATE_LIMIT", "policyName": policy},
        )

    # -- search -------------------------------------------------------------------------------

    def _throttle_search(self) -> None:
        """Refuse a search past :attr:`search_rate_limit` in the last second (no Retry-After:
        integrators report search 429s carry none)."""
        if not self.search_rate_limit:
            return
        with self._lock:
            now = self.rate_clock()
            while self._searches and now - self._searches[0] >= 1.0:
                self._searches.popleft()
            if len(self._searches) >= self.search_rate_limit:
                self.throttled += 1
                raise _HubSpotError(
                    429,
                    "RATE_LIMITS",
                    "You have reached your secondly limit.",
                    extra={"errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
                )
            self._searches.append(now)

    def _op_search(self, params: Mapping[str, str], payload: Mapping[str, Any]):
        self._throttle_search()
        object_type = params["type"]
        limit = int(payload.get("limit") or 10)
        if limit < 1 or limit > MAX_SEARCH_LIMIT:
            raise _HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"limit must be between 1 and {MAX_SEARCH_LIMIT}; got {limit}",
            )
        after = int(payload.get("after") or 0)
        if after + limit > SEARCH_CAP:
            raise _HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"The search API returns at most {SEARCH_CAP} results per query; "
                f"after={after} with limit={limit} is past that. Narrow the filters instead.",
            )
        groups = payload.get("filterGroups") or []
        sizes = [len(g.get("filters") or []) for g in groups]
        if (
            len(groups) > MAX_FILTER_GROUPS
            or any(n > MAX_FILTERS_PER_GROUP for n in sizes)
            or sum(sizes) > MAX_FILTERS
        ):
            raise _HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"Too many filters: at most {MAX_FILTER_GROUPS} filterGroups with up to "
                f"{MAX_FILTERS_PER_GROUP} filters each, {MAX_FILTERS} in total",
            )
        sorts = payload.get("sorts") or []
        if len(sorts) > 1:
            raise _HubSpotError(400, "VALIDATION_ERROR", "Only one sort is supported per search")
        with self._lock:
            now = self._now_ms
            records = [
                r
                for r in self._objects[object_type].values()
                if self._visible_at.get((object_type, r["id"]), 0) <= now
            ]
        predicates = [[_compile(f) for f in g.get("filters") or []] for g in groups]
        matched = [
            r for r in records if not predicates or any(all(p(r) for p in g) for g in predicates)
        ]
        if sorts:
            sort = sorts[0]
            name = sort if isinstance(sort, str) else sort.get("propertyName")
            descending = (not isinstance(sort, str)) and sort.get("direction") == "DESCENDING"
            if isinstance(name, str) and name.startswith("-"):
                name, descending = name[1:], True
            present = [r for r in matched if r["properties"].get(name) not in (None, "")]
            missing = [r for r in matched if r["properties"].get(name) in (None, "")]
            present.sort(
                key=lambda r: (_cached(r, name), int(r["id"])),
                reverse=descending,
            )
            matched = present + missing
        else:
            matched.sort(key=lambda r: int(r["id"]))
        served = min(limit, self.page_cap)
        window = matched[after : after + served]
        body: dict[str, Any] = {
            "total": len(matched),
            "results": [self._public(object_type, r, payload.get("properties")) for r in window],
        }
        if after + served < len(matched):
            nxt = str(after + served)
            link = f"?after={nxt}"
            if self.foreign_links:
                link = f"{self.foreign_links}/crm/v3/objects/{object_type}/search?after={nxt}"
            body["paging"] = {"next": {"after": nxt, "link": link}}
        return 200, {}, body

    # -- batch --------------------------------------------------------------------------------

    def _check_batch(self, payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        inputs = payload.get("inputs")
        if not isinstance(inputs, list):
            raise _HubSpotError(400, "VALIDATION_ERROR", "inputs is required")
        if len(inputs) > MAX_BATCH:
            raise _HubSpotError(
                400, "VALIDATION_ERROR", f"Batch size limit exceeded: {len(inputs)} > {MAX_BATCH}"
            )
        return inputs

    def _batch_answer(self, started: int, results: list[Any], errors: list[Any]):
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso_ms(started),
            "completedAt": iso_ms(started),
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return 207, {}, body
        return 200, {}, body

    def _op_batch_read(self, params: Mapping[str, str], payload: Mapping[str, Any]):
        object_type = params["type"]
        inputs = self._check_batch(payload)
        with_history = list(payload.get("propertiesWithHistory") or [])
        if with_history and len(inputs) > MAX_HISTORY_BATCH:
            raise _HubSpotError(
                400,
                "VALIDATION_ERROR",
                "The maximum number of inputs supported in a batch request for property "
                f"histories is {MAX_HISTORY_BATCH}. Please reduce the number of items and try "
                "again",
            )
        results, missing = [], []
        with self._lock:
            store = self._objects[object_type]
            for item in inputs:
                record = store.get(str(item.get("id")))
                if record is None:
                    missing.append(str(item.get("id")))
                else:
                    answer = self._public(object_type, record, payload.get("properties"))
                    if with_history:
                        answer["propertiesWithHistory"] = {
                            name: _history_answer(record, name) for name in with_history
                        }
                    results.append(answer)
        errors = []
        if missing:
            errors.append(
                _record_error(
                    "OBJECT_NOT_FOUND",
                    "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
                    missing,
                )
            )
        return self._batch_answer(self._now_ms, results, errors)

    def _validate(self, object_type: str, object_id: str | None, props: Mapping[str, Any]):
        known = self._properties[object_type]
        for name, value in props.items():
            if name not in known or name in _SYSTEM:
                return (
                    "PROPERTY_DOESNT_EXIST" if name not in known else "READ_ONLY_VALUE",
                    f'Property "{name}" does not exist'
                    if name not in known
                    else f'Property "{name}" is read-only',
                )
            if name == "lifecyclestage" and value not in ("", None, *LIFECYCLE_ORDER):
                return (
                    "INVALID_OPTION",
                    f'{value!r} was not one of the allowed options for "lifecyclestage"',
                )
            if name == "hs_lead_status" and value not in ("", None, *LEAD_STATUSES):
                return (
                    "INVALID_OPTION",
                    f'{value!r} was not one of the allowed options for "hs_lead_status"',
                )
        if object_id is not None and (object_type, object_id) in self._rejected:
            return ("INVALID_VALUE", self._rejected[(object_type, object_id)])
        return None

    def _refuse_whole_batch(self, object_type: str, inputs: list[Mapping[str, Any]]) -> None:
        """HubSpot's answer to an invalid property value in a batch: one 400, nothing applied,
        and a message that names the property and value but not the record."""
        for item in inputs:
            object_id = str(item.get("id"))
            props = {k: _as_string(k, v) for k, v in (item.get("properties") or {}).items()}
            problem = self._validate(object_type, object_id, props)
            if problem:
                detail = json.dumps(
                    [{"isValid": False, "message": problem[1], "error": problem[0]}]
                )
                raise _HubSpotError(
                    400, "VALIDATION_ERROR", f"Property values were not valid: {detail}"
                )

    def _op_batch_create(self, params: Mapping[str, str], payload: Mapping[str, Any]):
        object_type = params["type"]
        inputs = self._check_batch(payload)
        results, errors = [], []
        with self._lock:
            ms = self._advance()
            for item in inputs:
                props = {k: _as_string(k, v) for k, v in (item.get("properties") or {}).items()}
                problem = self._validate(object_type, None, props)
                if problem:
                    errors.append(_record_error(problem[0], problem[1], [], status="error"))
                    continue
                object_id = self._insert(object_type, props, ms)
                for assoc in item.get("associations") or []:
                    to = assoc.get("to", {}).get("id")
                    to_type = assoc.get("toObjectType") or "contacts"
                    if to:
                        self.associate(object_type, object_id, to_type, str(to))
                results.append(
                    self._public(object_type, self._objects[object_type][object_id], props)
                )
        return self._batch_answer(ms, results, errors)

    def _op_batch_update(self, params: Mapping[str, str], payload: Mapping[str, Any]):
        object_type = params["type"]
        inputs = self._check_batch(payload)
        results, errors = [], []
        with self._lock:
            if self.whole_batch_errors:
                self._refuse_whole_batch(object_type, inputs)
            ms = self._advance()
            store = self._objects[object_type]
            for item in inputs:
                object_id = str(item.get("id"))
                props = {k: _as_string(k, v) for k, v in (item.get("properties") or {}).items()}
                record = store.get(object_id)
                if record is None:
                    errors.append(
                        _record_error(
                            "OBJECT_NOT_FOUND", f"Object {object_id} not found", [object_id]
                        )
                    )
                    continue
                problem = self._validate(object_type, object_id, props)
                if problem:
                    errors.append(_record_error(problem[0], problem[1], [object_id]))
                    continue
                current = record["properties"]
                if all((current.get(k) or "") == (v or "") for k, v in props.items()):
                    self.duplicate_writes[(object_type, object_id)] += 1
                self.writes[(object_type, object_id)] += 1
                for name, value in props.items():
                    if name == "lifecyclestage" and _is_backwards(current.get(name), value):
                        continue  # HubSpot ignores a backwards move unless cleared first
                    self._set(record, name, value or "", ms, _API_SOURCE)
                self._stamp(object_type, record, ms)
                results.append(self._public(object_type, record, props))
        return self._batch_answer(ms, results, errors)

    def _op_assoc_read(self, params: Mapping[str, str], payload: Mapping[str, Any]):
        inputs = payload.get("inputs")
        if not isinstance(inputs, list):
            raise _HubSpotError(400, "VALIDATION_ERROR", "inputs is required")
        if len(inputs) > 1000:
            raise _HubSpotError(400, "VALIDATION_ERROR", "Batch size limit exceeded")
        results = []
        with self._lock:
            table = self._assoc.get((params["from"], params["to"]), {})
            for item in inputs:
                from_id = str(item.get("id"))
                targets = table.get(from_id) or []
                start = int(item.get("after") or 0)
                page = targets[start : start + self.assoc_page_cap]
                if not page:
                    continue
                row: dict[str, Any] = {
                    "from": {"id": from_id},
                    "to": [
                        {
                            "toObjectId": int(t),
                            "associationTypes": [
                                {
                                    "category": "HUBSPOT_DEFINED",
                                    "typeId": 1,
                                    "label": "Primary" if start + i == 0 else None,
                                }
                            ],
                        }
                        for i, t in enumerate(page)
                    ],
                }
                if start + len(page) < len(targets):
                    after = str(start + len(page))
                    row["paging"] = {
                        "next": {
                            "after": after,
                            "link": f"{self.foreign_links or ''}/crm/v4/objects/"
                            f"{params['from']}/{from_id}/associations/{params['to']}?after={after}",
                        }
                    }
                results.append(row)
        return self._batch_answer(self._now_ms, results, [])


#: How the property history labels a change made through the API by leadflow's private app.
_API_SOURCE: tuple[str, str | None, int | None] = ("INTEGRATION", "private-app:leadflow", None)


def _history_answer(record: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """One property's history as HubSpot answers it: newest first by timestamp (a change
    recorded late, e.g. a form submission dated when it happened, takes its place by time)."""
    entries = []
    kept = list(enumerate(record.get("history", {}).get(name, [])))
    # newest first; of two changes in one instant, the later recorded first
    kept.sort(key=lambda item: (item[1][1], item[0]), reverse=True)
    for _, (value, ms, (source_type, source_id, user)) in kept:
        entry: dict[str, Any] = {"value": value, "timestamp": iso_ms(ms), "sourceType": source_type}
        if source_id is not None:
            entry["sourceId"] = source_id
        if user is not None:
            entry["updatedByUserId"] = user
        entries.append(entry)
    return entries


def _record_error(
    category: str, message: str, ids: list[str], status: str = "error"
) -> dict[str, Any]:
    return {
        "status": status,
        "category": category,
        "message": message,
        "context": {"ids": ids} if ids else {},
        "errors": [],
        "links": {},
    }


def _is_backwards(current: str | None, new: str | None) -> bool:
    if not current or not new or current not in LIFECYCLE_ORDER or new not in LIFECYCLE_ORDER:
        return False
    return LIFECYCLE_ORDER.index(new) < LIFECYCLE_ORDER.index(current)


def _as_string(name: str, value: Any) -> str | None:
    """HubSpot stores every property value as a string; instants as ISO with milliseconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return iso_ms(to_ms(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if name in DATETIME_PROPERTIES and isinstance(value, int | str) and str(value).isdigit():
        return iso_ms(int(value))
    return str(value)


def _compare_value(name: str, raw: Any) -> Any:
    if raw is None:
        return None
    if name in DATETIME_PROPERTIES:
        return to_ms(raw)
    if name in NUMBER_PROPERTIES:
        return float(raw)
    return str(raw)


def _cached(record: dict[str, Any], name: str) -> Any:
    """*record*'s value of *name* as filters compare it, parsed once per version."""
    cache = record["cmp"]
    if name not in cache:
        cache[name] = _compare_value(name, record["properties"].get(name))
    return cache[name]


def _compile(flt: Mapping[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """One search filter as a predicate over stored records (its value parsed once)."""
    name = flt.get("propertyName", "")
    op = flt.get("operator", "EQ")

    def has(record: dict[str, Any]) -> bool:
        return record["properties"].get(name) not in (None, "")

    if op == "HAS_PROPERTY":
        return has
    if op == "NOT_HAS_PROPERTY":
        return lambda r: not has(r)
    if op in {"IN", "NOT_IN"}:
        typed = name in DATETIME_PROPERTIES | NUMBER_PROPERTIES
        values = {
            _compare_value(name, v) if typed else str(v).lower() for v in flt.get("values") or []
        }

        def member(record: dict[str, Any]) -> bool:
            if not has(record):
                return op == "NOT_IN"
            actual = _cached(record, name)
            return ((actual if typed else str(actual).lower()) in values) == (op == "IN")

        return member
    value = _compare_value(name, flt.get("value"))
    high = _compare_value(name, flt.get("highValue")) if op == "BETWEEN" else None
    tests: dict[str, Callable[[Any], bool]] = {
        "EQ": lambda a: a == value,
        "NEQ": lambda a: a != value,
        "GT": lambda a: a > value,
        "GTE": lambda a: a >= value,
        "LT": lambda a: a < value,
        "LTE": lambda a: a <= value,
        "BETWEEN": lambda a: value <= a <= high,
    }
    if op not in tests:
        raise _HubSpotError(400, "VALIDATION_ERROR", f"Unsupported operator {op}")
    check = tests[op]

    def compare(record: dict[str, Any]) -> bool:
        if not has(record):
            return op == "NEQ"
        return check(_cached(record, name))

    return compare


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    parts = path.split("?", 1)[0].strip("/").split("/")
    if method == "POST" and parts[:3] == ["crm", "v3", "objects"]:
        if len(parts) == 5 and parts[4] == "search":
            return "/crm/v3/objects/{type}/search", {"type": parts[3], "op": "search"}
        if len(parts) == 6 and parts[4] == "batch" and parts[5] in {"read", "create", "update"}:
            return f"/crm/v3/objects/{{type}}/batch/{parts[5]}", {
                "type": parts[3],
                "op": f"batch_{parts[5]}",
            }
    if (
        method == "POST"
        and parts[:3] == ["crm", "v4", "associations"]
        and parts[5:] == ["batch", "read"]
    ):
        return "/crm/v4/associations/{from}/{to}/batch/read", {
            "from": parts[3],
            "to": parts[4],
            "op": "assoc_read",
        }
    return "unknown", {}


def _make_handler(emulator: HubSpotEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with emulator._lock:
                emulator.connections += 1
            # Headers and body go out in separate writes; without this, Nagle's algorithm and
            # the client's delayed ACK add ~40 ms to every answer.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read the counters instead

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            raw: bytes | None = None
            try:
                status, headers, payload = emulator._handle(
                    self.command, self.path, dict(self.headers.items()), body
                )
            except _Drop:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            except _RawAnswer as answer:
                status, headers, payload, raw = answer.status, {}, None, answer.data
            except _HubSpotError as err:
                status, headers, payload = err.status, err.headers, err.body()
            data = raw if raw is not None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_POST = _serve
        do_GET = _serve
        do_PATCH = _serve

    return Handler
