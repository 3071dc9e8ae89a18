"""The HubSpot adapter: leadflow's core mapped onto HubSpot CRM v3 through hubspot-api-client.

Scope: contacts are leads, companies (through contact→company associations) are accounts, and
the engagement objects (calls, emails, meetings, tasks) are the :class:`~leadflow.model.Touch`\\ es
SLAs are judged on. Scores, rejections, stages and SLA clocks are written back to contact
properties. Install with ``pip install "leadflow[hubspot]"``; registered as ``hubspot`` in the
``leadflow.adapters`` entry-point group. HubSpot CRM v3 is the spec followed
(https://developers.hubspot.com/docs-beta/crm/search, the batch and v4 associations endpoints).

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
read twice, and a record modified mid-read simply reappears later with its new stamp.

**Writes** are batch updates of at most 100 contacts. Before writing, the adapter batch-reads the
contacts' current values and stamps: a write whose ``expected_version`` no longer matches is a
``conflict`` (nothing is overwritten), one whose values already hold is ``unchanged`` (so a second
run writes nothing twice), and per-record failures in HubSpot's 207 answers become ``failed``
results naming the error. HubSpot refuses to move ``lifecyclestage`` backwards (it silently keeps
the later stage), so a move to an earlier stage — a recycle to nurture — is written as two
updates, the first clearing the property, and reported as one result.

**Faults**: 429 (HubSpot's ten-secondly and daily limits) waits what ``Retry-After`` says, 5xx and
dropped connections are retried with bounded back-off (:mod:`leadflow.adapters.sync`), 401 is an
:class:`~leadflow.errors.AuthenticationError`. The access token never appears in a repr, a log
line or an error message.

>>> adapter = HubSpotAdapter.from_config({"access_token": "pat-na1-0000", "host": "http://127.0.0.1:9"})
>>> adapter
HubSpotAdapter(host='http://127.0.0.1:9')
>>> adapter.fields.crm_field("writeback", "score")
'leadflow_score'
>>> adapter.close()
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

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
from leadflow.model import Account, Lead, Touch, TouchKind, TouchOutcome
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

__all__ = [
    "DEFAULT_FIELDS",
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
                "annual_revenue": {"crm": "annualrevenue", "converter": "float"},
                "employees": {"crm": "numemployees", "converter": "int"},
                "country": {"crm": "country", "converter": "str"},
                "source": {"crm": "hs_analytics_source", "converter": "str"},
                "owner_id": {"crm": "hubspot_owner_id", "converter": "str"},
                "created_at": {"crm": "createdate", "converter": "datetime"},
            },
            "account": {
                "name": {"crm": "name", "converter": "str"},
                "domain": {"crm": "domain", "converter": "str"},
                "industry": {"crm": "industry", "converter": "str"},
                "annual_revenue": {"crm": "annualrevenue", "converter": "float"},
                "employees": {"crm": "numberofemployees", "converter": "int"},
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

_READS: frozenset[Entity] = frozenset((Entity.LEAD, Entity.ACCOUNT, Entity.TOUCH))
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
    }
)


def _ms(value: Any) -> int:
    """Epoch milliseconds of a HubSpot instant (ISO text, epoch-ms text or a datetime)."""
    if isinstance(value, datetime):
        stamp = value
    else:
        text = str(value).strip()
        if text.lstrip("-").isdigit():
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
        if key.id != "*" and not key.id.isdigit():
            raise ValidationError("cursor.token", token, "is not a HubSpot keyset position")
        return cls(_ms(key.stamp), None if key.id == "*" else int(key.id))


class HubSpotAdapter:
    """leadflow's :class:`~leadflow.ports.Adapter` for HubSpot (see the module docstring).

    *client* is a ``hubspot.HubSpot`` (built by :meth:`from_config`); its API objects are built
    once and cached, because each attribute access in hubspot-api-client builds a new client and
    connection pool. Every call passes ``timeout`` as ``_request_timeout`` and goes through
    *retry*; ``sleep`` is injectable so tests do not wait.

    No contact property holds the hand-off time, so a
    :attr:`~leadflow.ports.StageWrite.handed_off_at` is not written (``capabilities.handoff_time``
    is false): the stage change is, and the job's record in the embedded store keeps the hand-off.
    """

    name = "hubspot"
    capabilities = Capabilities(
        reads=_READS,
        writes=_WRITES,
        max_batch=MAX_BATCH,
        conflict_detection=True,
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
        secrets: Iterable[Secret] = (),
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE:
            raise ValidationError("page_size", page_size, f"must be between 1 and {MAX_PAGE}")
        self._host = host
        self.fields = fields
        self.touches = dict(touches)
        self.lifecycle_order = tuple(lifecycle_order)
        self._retry = retry if retry is not None else RetryPolicy()
        self._timeout = timeout
        self._page_size = page_size
        self._associations = associations
        self._secrets = tuple(secrets)
        self._sleep = sleep
        self._client = client
        self._apis: dict[str, Any] = {}
        for entity in ("lead", "account", "writeback"):
            if not fields.rules(entity):
                raise ConfigError(f"fields.{entity}", "has no mapped properties")

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
        read their contact).
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
        host = str(data.get("host", "https://api.hubapi.com")).rstrip("/")
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
        return GIVE_UP

    def _call(self, describe: str, fn: Callable[[], T]) -> T:
        try:
            return retry_call(
                fn,
                policy=self._retry,
                classify=self._classify,
                sleep=self._sleep,
                describe=f"HubSpot {describe}",
            )
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

    # -- reads ----------------------------------------------------------------------------------

    def read_leads(self, cursor: Cursor | None = None) -> Iterator[Page[Lead]]:
        """Contacts changed after *cursor*, oldest change first, as leads (see module doc)."""
        properties = [
            *self.fields.crm_fields("lead"),
            *self.fields.crm_fields("writeback"),
            "lifecyclestage",
            "hs_lead_status",
            "lastmodifieddate",
        ]
        position = self._start(cursor, Entity.LEAD)
        for records, after in self._keyset("contacts", "lastmodifieddate", properties, position):
            companies = (
                self._associated("contacts", "companies", [r.id for r in records])
                if self._associations
                else {}
            )
            items, errors = [], []
            for record in records:
                lead = self._lead(record, companies.get(str(record.id)))
                if isinstance(lead, RecordError):
                    errors.append(lead)
                else:
                    items.append(Versioned(item=lead, version=self._version(record)))
            yield Page(
                items=tuple(items),
                cursor=Cursor(entity=Entity.LEAD, token=after.encode()),
                errors=tuple(errors),
            )

    def read_accounts(self, cursor: Cursor | None = None) -> Iterator[Page[Account]]:
        """Companies changed after *cursor*, as accounts."""
        properties = [*self.fields.crm_fields("account"), "hs_lastmodifieddate"]
        position = self._start(cursor, Entity.ACCOUNT)
        for records, after in self._keyset(
            "companies", "hs_lastmodifieddate", properties, position
        ):
            items, errors = [], []
            for record in records:
                account = self._account(record)
                if isinstance(account, RecordError):
                    errors.append(account)
                else:
                    items.append(
                        Versioned(
                            item=account, version=self._version(record, "hs_lastmodifieddate")
                        )
                    )
            yield Page(
                items=tuple(items),
                cursor=Cursor(entity=Entity.ACCOUNT, token=after.encode()),
                errors=tuple(errors),
            )

    def read_activities(self, cursor: Cursor | None = None) -> Iterator[Page[Any]]:
        """Not supported: HubSpot's marketing events are not mapped (see ``capabilities``)."""
        raise AdapterError(
            "reading marketing activities is not supported; capabilities.reads lists "
            + ", ".join(sorted(e.value for e in self.capabilities.reads)),
            adapter=self.name,
        )

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
            raw = positions[object_type]
            position = _Position.decode(raw) if raw else None
            for records, after in self._keyset(
                object_type,
                "hs_lastmodifieddate",
                [*rule.properties(), "hs_lastmodifieddate"],
                position,
            ):
                contacts = self._associated(object_type, "contacts", [r.id for r in records])
                items, errors = [], []
                for record in records:
                    touch = self._touch(object_type, rule, record, contacts.get(str(record.id)))
                    if isinstance(touch, RecordError):
                        errors.append(touch)
                    elif touch is not None:
                        items.append(
                            Versioned(
                                item=touch, version=self._version(record, "hs_lastmodifieddate")
                            )
                        )
                positions[object_type] = after.encode()
                token = json.dumps(positions, sort_keys=True)
                yield Page(
                    items=tuple(items),
                    cursor=Cursor(entity=Entity.TOUCH, token=token),
                    errors=tuple(errors),
                )

    def _start(self, cursor: Cursor | None, entity: Entity) -> _Position | None:
        if cursor is None or cursor.token is None:
            return None
        if cursor.entity is not entity:
            raise ValidationError("cursor.entity", cursor.entity.value, f"is not {entity.value!r}")
        return _Position.decode(cursor.token)

    def _keyset(
        self,
        object_type: str,
        stamp: str,
        properties: list[str],
        position: _Position | None,
    ) -> Iterator[tuple[list[Any], _Position]]:
        """Pages of records after *position* in ``(stamp, id)`` order, each with the position
        after it. Every page is one fresh search; see the module docstring for why."""
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
                results = self._search(object_type, filters, "hs_object_id", properties, size)
                if len(results) < size:
                    after = _Position(position.stamp, None)
                else:
                    after = _Position(position.stamp, int(results[-1].id))
                if results:
                    yield results, after
                position = after
                continue
            filters = (
                [Filter(property_name=stamp, operator="GT", value=str(position.stamp))]
                if position is not None
                else [Filter(property_name=stamp, operator="HAS_PROPERTY")]
            )
            results = self._search(object_type, filters, stamp, properties, size)
            if not results:
                return
            stamps = [_ms(r.properties[stamp]) for r in results]
            if len(results) < size:
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
        self, object_type: str, filters: list[Any], sort: str, properties: list[str], limit: int
    ) -> list[Any]:
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=filters)],
            sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
            properties=properties,
            limit=limit,
        )
        api = self._api("search")
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
        return [_Record.of(r) for r in answer.get("results") or []]

    def _associated(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, str]:
        """The primary associated record of each id (``typeId`` 1 when labelled, else the first)."""
        if not ids:
            return {}
        found: dict[str, str] = {}
        api = self._api("associations")
        for chunk in chunked(ids, _MAX_ASSOC_BATCH):
            request = BatchInputPublicFetchAssociationsBatchRequest(
                inputs=[PublicFetchAssociationsBatchRequest(id=str(i)) for i in chunk]
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
                targets = list(row.get("to") or [])
                if not targets:
                    continue
                primary = next(
                    (
                        t
                        for t in targets
                        if any(a.get("typeId") == 1 for a in t.get("associationTypes") or [])
                    ),
                    targets[0],
                )
                found[str(row["from"]["id"])] = str(primary["toObjectId"])
        return found

    def _version(self, record: Any, stamp: str = "lastmodifieddate") -> str:
        raw = (record.properties or {}).get(stamp)
        if raw:
            return _iso(_ms(raw))
        return _iso(_ms(record.updated_at))

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

    def _lead(self, record: Any, company_id: str | None) -> Lead | RecordError:
        props = record.properties or {}
        try:
            core = self.fields.from_crm("lead", props)
            extra = self.fields.from_crm("writeback", props)
            properties = {
                k: (_iso(_ms(v)) if isinstance(v, datetime) else v)
                for k, v in extra.items()
                if v is not None
            }
            for raw in ("lifecyclestage", "hs_lead_status"):
                if props.get(raw):
                    properties[f"hubspot_{raw}"] = props[raw]
            if isinstance(core.get("created_at"), datetime):
                core["created_at"] = _utc(core["created_at"])
            elif core.get("created_at") is None:
                core["created_at"] = _instant(record.created_at)
            return Lead(
                id=str(record.id),
                stage=self._stage(props),
                account_id=company_id,
                properties=properties,
                **core,
            )
        except ValidationError as exc:
            return _skipped(Entity.LEAD, "contact", record.id, exc)

    def _account(self, record: Any) -> Account | RecordError:
        props = record.properties or {}
        try:
            core = self.fields.from_crm("account", props)
            if isinstance(core.get("created_at"), datetime):
                core["created_at"] = _utc(core["created_at"])
            if not core.get("name"):
                core["name"] = core.get("domain") or f"HubSpot company {record.id}"
            return Account(id=str(record.id), **core)
        except ValidationError as exc:
            return _skipped(Entity.ACCOUNT, "company", record.id, exc)

    def _touch(
        self, object_type: str, rule: TouchRule, record: Any, contact_id: str | None
    ) -> Touch | RecordError | None:
        props = record.properties or {}
        if contact_id is None:
            _log.info("%s %s is associated with no contact; not a touch", object_type, record.id)
            return None
        try:
            raw_at = props.get("hs_timestamp")
            at = (
                datetime.fromtimestamp(_ms(raw_at) / 1000, tz=UTC)
                if raw_at
                else _instant(record.created_at)
            )
            return Touch(
                id=f"{object_type}/{record.id}",
                lead_id=contact_id,
                kind=rule.kind,
                at=at,
                by=props.get("hubspot_owner_id") or "unassigned",
                outcome=rule.outcome(props),
                subject=props.get(rule.subject),
            )
        except (ValidationError, ValueError) as exc:
            return _skipped(Entity.TOUCH, object_type, record.id, exc)

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
        elif isinstance(write, RejectionWrite):
            values = {
                "reject_code": write.rejection.code,
                "reject_note": write.rejection.note or "",
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
        if not write.lead_id.isdigit():
            raise ValidationError(
                "lead_id", write.lead_id, "is not a HubSpot contact id (a number)"
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
        records = (_Record.of(r) for r in answer.get("results") or [])
        return {r.id: r for r in records}

    def _batch_update(
        self, updates: Mapping[str, Mapping[str, str]], describe: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Send one batch update; the new version of each contact written, and the error of
        each that failed."""
        request = BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=i, properties=dict(p)) for i, p in updates.items()
            ]
        )
        api = self._api("batch")
        try:
            answer = self._call(
                f"batch {describe} contacts",
                lambda: _decoded(
                    api.update(
                        "contacts",
                        batch_input_simple_public_object_batch_input=request,
                        _request_timeout=self._timeout,
                        _preload_content=False,
                    )
                ),
            )
        except AuthenticationError:
            raise
        except LeadflowError as exc:
            return {}, {i: str(exc) for i in updates}
        records = (_Record.of(r) for r in answer.get("results") or [])
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
        raise AdapterError(
            f"HubSpot answered HTTP {response.status} with a body that is not JSON",
            adapter="hubspot",
        ) from None
    finally:
        response.release_conn()
    if not isinstance(data, dict):
        raise AdapterError(
            f"HubSpot answered an unexpected JSON body: {data!r:.80}", adapter="hubspot"
        )
    return data


def _instant(value: str | None) -> datetime:
    """A HubSpot ISO-8601 instant as an aware UTC datetime."""
    if not value:
        raise ValidationError("createdAt", value, "is missing")
    return datetime.fromtimestamp(_ms(value) / 1000, tz=UTC)


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
