"""What sales decided and what became of a lead, read from HubSpot: the mapping tables, as data.

Scope: pure functions and frozen rule tables that turn HubSpot property values and property
histories (``propertiesWithHistory``) into leadflow's :class:`~leadflow.reasons.Rejection`,
:class:`~leadflow.outcomes.Outcome`, stage history (:class:`~leadflow.model.StageChange`) and
marketing :class:`~leadflow.model.Activity` values. No I/O: the HubSpot adapter fetches, these
functions map, and everything they cannot map is returned as a problem for that record — a value
missing from a table is reported, never guessed.

* :func:`stage_history_from_properties` — a lead's stage history from the ``lifecyclestage`` and
  ``hs_lead_status`` property histories, each move with its instant and author, through the
  stage map; :func:`stage_history` reads the ``hs_v2_date_entered_*`` dates instead (the fallback
  for a contact no history comes back for).
* :class:`RejectionRules` — a contact whose ``hs_lead_status`` holds one of ``statuses``
  (default ``UNQUALIFIED``) was rejected; the reason property's value goes through ``reasons``
  (HubSpot value → leadflow reject code); ``at``/``by`` come from the status property's history.
* :class:`OutcomeRules` — a deal's ``hs_is_closed_won`` / ``hs_is_closed`` / ``amount`` /
  ``closedate`` / ``closed_lost_reason`` → an outcome kind; ``loss_reasons`` maps the loss reason
  text to ``competitor``, ``no_decision``... (anything else is ``lost`` with its text).
* :class:`ActivityRules` — marketing engagement from contact property histories: each value of
  ``recent_conversion_event_name`` is a conversion (a form submission) and each new
  ``hs_email_last_open_date`` / ``_click_date`` / ``_reply_date`` an e-mail engagement, mapped to
  activity kinds.

>>> rules = RejectionRules()
>>> rules.code_for("NO_BUDGET"), rules.code_for("no_budget"), rules.code_for("Reseller")
('no_budget', 'no_budget', None)
>>> OutcomeRules().kind_for("Went with a competitor")
<OutcomeKind.COMPETITOR: 'competitor'>
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from dateutil.parser import isoparse

from leadflow.errors import ConfigError, ValidationError
from leadflow.model import Activity, StageChange
from leadflow.outcomes import Outcome, OutcomeKind
from leadflow.reasons import STANDARD_REASONS, ReasonCatalog, Rejection

__all__ = [
    "DEAL_PROPERTIES",
    "DEFAULT_CONVERSION_KINDS",
    "DEFAULT_EMAIL_KINDS",
    "DEFAULT_LOSS_REASONS",
    "ActivityRules",
    "HistoryEntry",
    "OutcomeRules",
    "RejectionRules",
    "activities_from",
    "history_of",
    "outcome_from",
    "entered_from_history",
    "rejection_from",
    "stage_history",
    "stage_history_from_properties",
]


#: Epoch milliseconds as HubSpot writes them.
_EPOCH_MS = re.compile(r"-?[0-9]{1,16}")


def _instant(value: Any) -> datetime:
    """An aware UTC datetime from HubSpot's ISO text or epoch-millisecond text."""
    if isinstance(value, datetime):
        stamp = value
    else:
        text = str(value).strip()
        if _EPOCH_MS.fullmatch(text):  # ASCII digits: isdigit() takes "٣" and "²"
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        try:
            stamp = isoparse(text)
        except (ValueError, OverflowError):
            raise ValidationError("timestamp", value, "is not an ISO-8601 instant") from None
    if stamp.tzinfo is None:
        raise ValidationError("timestamp", value, "has no UTC offset")
    return stamp.astimezone(UTC)


@attrs.frozen(kw_only=True)
class HistoryEntry:
    """One value a property held, from ``propertiesWithHistory``: since when, set by whom."""

    value: str
    at: datetime
    user_id: str | None = None
    source: str | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> HistoryEntry:
        """An entry from HubSpot's JSON (``value``, ``timestamp``, ``updatedByUserId``...)."""
        user = data.get("updatedByUserId")
        return cls(
            value=str(data.get("value") or ""),
            at=_instant(data.get("timestamp")),
            user_id=str(user) if user not in (None, "") else None,
            source=str(data.get("sourceId") or data.get("sourceType") or "") or None,
        )

    @property
    def who(self) -> str:
        """Who made the change: the HubSpot user id, else the source (an app, an import)."""
        if self.user_id:
            return self.user_id
        return self.source or "hubspot"


def history_of(entries: Sequence[Mapping[str, Any]] | None) -> list[HistoryEntry]:
    """A property's history, oldest first (HubSpot answers newest first)."""
    parsed = [HistoryEntry.parse(e) for e in entries or ()]
    return sorted(parsed, key=lambda e: e.at)


def _value_at(history: Sequence[HistoryEntry], at: datetime) -> str | None:
    """The value the property held just before *at*."""
    before = [e for e in history if e.at < at]
    return before[-1].value if before else None


# -- rejections -------------------------------------------------------------------------------


def _default_reasons(catalog: ReasonCatalog) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for code in catalog:
        pairs += [(code.code, code.code), (code.code.upper(), code.code)]
    return tuple(pairs)


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, Mapping):
        return tuple((str(k), str(v)) for k, v in value.items())
    return tuple((str(k), str(v)) for k, v in value)


@attrs.frozen(kw_only=True)
class RejectionRules:
    """How a rejection made in HubSpot reads (see the module docstring).

    ``reasons`` maps the reason property's values to leadflow reject codes; by default each
    standard code maps from itself and its upper-case form (make the reason property a dropdown
    whose internal values are the codes). ``note_property``, when set, holds the rep's note.
    """

    status_property: str = "hs_lead_status"
    statuses: tuple[str, ...] = ("UNQUALIFIED",)
    #: Lifecycle stages in which a rejected status is not sales turning a lead down: an
    #: ``opportunity:UNQUALIFIED`` contact lost a deal (an outcome, read from the deal).
    skip_lifecycles: tuple[str, ...] = ("opportunity", "customer", "evangelist")
    reason_property: str = "leadflow_reject_reason"
    note_property: str | None = None
    reasons: tuple[tuple[str, str], ...] = attrs.field(
        factory=lambda: _default_reasons(STANDARD_REASONS), converter=_pairs
    )

    def code_for(self, value: str) -> str | None:
        """The reject code *value* maps to, or ``None`` when the table does not say."""
        for raw, code in self.reasons:
            if raw == value:
                return code
        return None

    def check(self, catalog: ReasonCatalog, path: str = "rejections") -> None:
        """Refuse a table naming a code *catalog* does not define."""
        for raw, code in self.reasons:
            if code not in catalog:
                raise ConfigError(
                    f"{path}.reasons.{raw}",
                    f"maps to {code!r}, which is not a reject code; known: "
                    + ", ".join(c.code for c in catalog),
                )

    @classmethod
    def from_config(cls, data: Mapping[str, Any], *, path: str = "rejections") -> RejectionRules:
        """Rules from a ``rejections`` table; unknown keys are refused with their path.
        ``reasons`` entries are added to (and override) the default table."""
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"must be a table, got {data!r}")
        known = {
            "status_property",
            "statuses",
            "skip_lifecycles",
            "reason_property",
            "note_property",
            "reasons",
        }
        for key in data:
            if key not in known:
                raise ConfigError(f"{path}.{key}", f"unknown key; expected one of {sorted(known)}")
        base = cls()
        statuses = data.get("statuses", base.statuses)
        skip = data.get("skip_lifecycles", base.skip_lifecycles)
        for key, values in (("statuses", statuses), ("skip_lifecycles", skip)):
            if isinstance(values, str) or not all(isinstance(x, str) and x for x in values):
                raise ConfigError(f"{path}.{key}", f"must be a list of values, got {values!r}")
        reasons = data.get("reasons", {})
        if not isinstance(reasons, Mapping):
            raise ConfigError(f"{path}.reasons", f"must be a table, got {reasons!r}")
        merged = dict(base.reasons)
        merged.update({str(k): str(v) for k, v in reasons.items()})
        return cls(
            status_property=str(data.get("status_property", base.status_property)),
            statuses=tuple(statuses),
            skip_lifecycles=tuple(skip),
            reason_property=str(data.get("reason_property", base.reason_property)),
            note_property=data.get("note_property", base.note_property) or None,
            reasons=tuple(merged.items()),
        )


def rejection_from(
    contact_id: str,
    props: Mapping[str, Any],
    history: Mapping[str, Sequence[HistoryEntry]],
    *,
    rules: RejectionRules,
    catalog: ReasonCatalog,
    stage_of: Callable[[str | None, str | None], str | None],
    own: Sequence[HistoryEntry] = (),
) -> Rejection | str | None:
    """The rejection a contact records, a problem (text) when it cannot be read as one, or
    ``None`` when it is not rejected.

    ``at``/``by`` are when and by whom the status property last became a rejected value;
    ``from_stage`` is the stage (``stage_of(lifecyclestage, hs_lead_status)``) just before.
    *own* is the history of leadflow's reject-code property: a rejection whose status change
    came with leadflow's code (the same write) is leadflow's own and reads with that code,
    whatever reason an earlier rep verdict left (so a report over HubSpot counts the rejections
    leadflow's SLA rules made, as one over Salesforce does; the job's state store recognises
    its own record of them). One made later (a rep's) is read by its reason, and without a
    reason is a problem, though an old code stays.
    """
    status = props.get(rules.status_property)
    entries = list(history.get(rules.status_property) or ())
    lifecycles = history.get("lifecyclestage") or ()
    mine = _own_rejection(own, entries, rules)
    if mine is not None:  # leadflow's own: its code, not a reason left by an earlier rep verdict
        if mine.value not in catalog:
            return f"leadflow's reject code {mine.value!r} is not a reject code"
        # leadflow's write moved the lifecycle stage and status too: the ones before it
        before = mine.at - _SAME_WRITE
        lifecycle, status_before = _stage_left(lifecycles, mine), _value_at(entries, before)
        from_stage = stage_of(lifecycle, status_before) or stage_of(lifecycle, None)
        return _rejection(
            contact_id, catalog, mine.value, mine, from_stage=from_stage, note=None
        ) or (
            f"the stage before leadflow's rejection ({lifecycle}:{status_before}) maps to no stage"
        )
    if status not in rules.statuses or props.get("lifecyclestage") in rules.skip_lifecycles:
        return None
    reason = str(props.get(rules.reason_property) or "").strip()
    if not reason:
        return (
            f"rejected in HubSpot ({rules.status_property}={status}) without a reason: "
            f"{rules.reason_property} is empty"
        )
    code = rules.code_for(reason)
    if code is None:
        return (
            f"{rules.reason_property} value {reason!r} is not mapped to a reject code; add it "
            "to the rejections.reasons table"
        )
    became = _became(entries, rules)
    if became is None:
        return f"{rules.status_property} history does not say when it became {status!r}"
    # The lifecycle stage at the rep's status change (one set in the same request counts).
    lifecycle = _value_at(lifecycles, became.at + _EPSILON)
    status_before = _value_at(entries, became.at)
    from_stage = stage_of(lifecycle, status_before) or stage_of(lifecycle, None)
    note = None
    if rules.note_property:
        note = str(props.get(rules.note_property) or "").strip() or None
    return _rejection(contact_id, catalog, code, became, from_stage=from_stage, note=note) or (
        f"the stage before the rejection ({lifecycle}:{status_before}) maps to no stage"
    )


def _stage_left(lifecycles: Sequence[HistoryEntry], mine: HistoryEntry) -> str | None:
    """The lifecycle stage before leadflow's write *mine*. A backwards move (a recycle) clears
    the stage first, in a request of its own that may land seconds before the one setting the
    code (a retry, a busy portal): that clear, by the same writer, is not the stage left."""
    before = [e for e in lifecycles if e.at < mine.at - _SAME_WRITE]
    while before and not before[-1].value and before[-1].who == mine.who:
        before.pop()
    return before[-1].value if before else None


def _own_rejection(
    own: Sequence[HistoryEntry], entries: Sequence[HistoryEntry], rules: RejectionRules
) -> HistoryEntry | None:
    """leadflow's latest write of its reject code, if it is the contact's latest rejection:
    no rep's rejection (the status becoming a rejected value by another write) came after it."""
    mine = next((e for e in reversed(own) if e.value), None)
    if mine is None:
        return None
    became = _became(entries, rules)
    if became is not None and became.at - mine.at > _SAME_WRITE:
        return None  # a rep rejected the lead after leadflow's old verdict
    return mine


def _rejection(
    contact_id: str,
    catalog: ReasonCatalog,
    code: str,
    made: HistoryEntry,
    *,
    from_stage: str | None,
    note: str | None,
) -> Rejection | None:
    """The rejection *made* records (``None`` when the stage before it is unknown)."""
    if from_stage is None:
        return None
    reason_code = catalog[code]
    return Rejection(
        lead_id=contact_id,
        code=code,
        disposition=reason_code.disposition,
        at=made.at,
        by=made.who,
        note=note,
        from_stage=from_stage,
        reengage_at=(
            made.at + reason_code.reengage_after if reason_code.reengage_after is not None else None
        ),
    )


# A status and lifecycle set in one request share a stamp: "just before" the status change
# includes a lifecycle change at the same instant.
_EPSILON = datetime.resolution * 1000
# Properties set by one write: HubSpot stamps them alike; a second allows for a server that
# stamps each property as it stores it.
_SAME_WRITE = timedelta(seconds=1)


def _became(entries: Sequence[HistoryEntry], rules: RejectionRules) -> HistoryEntry | None:
    """The history entry (oldest first) that last made the status a rejected value."""
    became = None
    for earlier, entry in zip([None, *entries[:-1]], entries, strict=True):
        if entry.value in rules.statuses and (
            earlier is None or earlier.value not in rules.statuses
        ):
            became = entry
    return became


# -- stage history ----------------------------------------------------------------------------


def stage_history(
    entered: Mapping[str, Any],
    *,
    current: str,
    stage_of: Callable[[str], str | None],
    written: tuple[str, datetime] | None = None,
) -> tuple[StageChange, ...]:
    """A lead's stage history from ``hs_v2_date_entered_<lifecycle stage>`` values.

    *entered* maps lifecycle stage → the instant the contact last entered it; stages are
    ordered by that instant and mapped to leadflow stages (consecutive ones mapping to the same
    stage collapse). When the current stage refines the last lifecycle stage (``sal`` is
    ``marketingqualifiedlead:OPEN``), a last change to it is dated with that lifecycle entry:
    ``hs_lead_status`` has no date-entered property.

    *written* is the change into the current stage as leadflow wrote it (stage, instant): the
    change is dated with leadflow's instant, and the lifecycle entries the write itself caused
    (dated at or after it, or entering the current stage) give way to it.

    >>> at = lambda day: datetime(2026, 3, day, tzinfo=UTC)
    >>> stage_of = {"lead": "inquiry", "marketingqualifiedlead": "mql"}.get
    >>> [(c.to_stage, c.at.day) for c in stage_history(
    ...     {"lead": at(1), "marketingqualifiedlead": at(3)}, current="sal", stage_of=stage_of)]
    [('mql', 3), ('sal', 3)]
    >>> [(c.to_stage, c.at.day) for c in stage_history(
    ...     {"lead": at(9), "marketingqualifiedlead": at(3)}, current="recycled",
    ...     stage_of=stage_of, written=("recycled", at(7)))]
    [('recycled', 7)]
    """
    dated: list[tuple[datetime, str]] = []
    for lifecycle, raw in entered.items():
        if raw in (None, ""):
            continue
        stage = stage_of(lifecycle)
        if stage is not None:
            dated.append((_instant(raw), stage))
    dated.sort()
    path: list[tuple[datetime, str]] = []
    for at, stage in dated:
        if not path or path[-1][1] != stage:
            path.append((at, stage))
    if written is not None and written[0] == current:
        kept = list(path)
        while kept and (kept[-1][1] == current or kept[-1][0] >= written[1]):
            kept.pop()
        if not kept or kept[-1][0] <= written[1]:
            path = [*kept, (written[1], current)]
    changes = [
        StageChange(from_stage=a[1], to_stage=b[1], at=b[0], by=None)
        for a, b in itertools.pairwise(path)
    ]
    if path and path[-1][1] != current:
        changes.append(StageChange(from_stage=path[-1][1], to_stage=current, at=path[-1][0]))
    return tuple(changes)


def _value_since(history: Sequence[HistoryEntry], at: datetime) -> str | None:
    """The value the property held at *at* (set at or before it)."""
    value = None
    for entry in history:
        if entry.at > at:
            break
        value = entry.value
    return value


def entered_from_history(lifecycle: Sequence[HistoryEntry]) -> dict[str, datetime]:
    """Lifecycle stage → the instant the contact last entered it, from the ``lifecyclestage``
    property history (oldest first): what ``hs_v2_date_entered_<stage>`` holds, read from
    the history itself.

    >>> at = lambda day: datetime(2026, 3, day, tzinfo=UTC)
    >>> entered_from_history([HistoryEntry(value="lead", at=at(1)),
    ...     HistoryEntry(value="marketingqualifiedlead", at=at(3)),
    ...     HistoryEntry(value="", at=at(5)), HistoryEntry(value="lead", at=at(5))])
    ... # doctest: +NORMALIZE_WHITESPACE
    {'lead': datetime.datetime(2026, 3, 5, 0, 0, tzinfo=datetime.timezone.utc),
     'marketingqualifiedlead': datetime.datetime(2026, 3, 3, 0, 0, tzinfo=datetime.timezone.utc)}
    """
    entered: dict[str, datetime] = {}
    previous: str | None = None
    for entry in lifecycle:  # a cleared stage set again is entered again
        if entry.value and entry.value != previous:
            entered[entry.value] = entry.at
        previous = entry.value
    return entered


def stage_history_from_properties(
    lifecycle: Sequence[HistoryEntry],
    status: Sequence[HistoryEntry],
    *,
    current: str,
    stage_of: Callable[[str | None, str | None], str | None],
    written: tuple[str, datetime] | None = None,
    written_by: str | None = None,
) -> tuple[StageChange, ...]:
    """A lead's stage history from the property histories of ``lifecyclestage`` and
    ``hs_lead_status`` (``propertiesWithHistory``, each oldest first).

    At every instant either property changed, the pair they then held is mapped to a leadflow
    stage by *stage_of* (the stage map, as data); a pair that maps to no stage is passed over
    and consecutive pairs mapping to one stage collapse. Each change is dated and signed by
    the history entry that made it (``updatedByUserId``, else the source): a status-only
    move (``sal`` is ``marketingqualifiedlead:OPEN`` after ``:NEW``) keeps its own instant and
    author. An empty lifecycle stage maps to no stage, so the clearing half of a backwards move
    (the API clears the stage before setting an earlier one) is passed over.

    *written* is the change into the current stage as leadflow wrote it (stage, instant), or
    a rep's verdict (a rejection): the changes at or after that instant, or into the current
    stage, give way to one change dated with it and signed *written_by* (default: whoever
    made the change it replaces).

    >>> at = lambda day: datetime(2026, 3, day, tzinfo=UTC)
    >>> lifecycle = [HistoryEntry(value="lead", at=at(1), source="IMPORT"),
    ...     HistoryEntry(value="marketingqualifiedlead", at=at(3), source="workflow-7")]
    >>> status = [HistoryEntry(value="NEW", at=at(1), source="IMPORT"),
    ...     HistoryEntry(value="OPEN", at=at(4), user_id="42")]
    >>> pairs = {("lead", "NEW"): "inquiry", ("marketingqualifiedlead", "NEW"): "mql",
    ...     ("marketingqualifiedlead", "OPEN"): "sal"}
    >>> stage_of = lambda lifecycle, status: pairs.get((lifecycle, status))
    >>> [(c.to_stage, c.at.day, c.by) for c in stage_history_from_properties(
    ...     lifecycle, status, current="sal", stage_of=stage_of)]
    [('mql', 3, 'workflow-7'), ('sal', 4, '42')]
    """
    moments = sorted({e.at for e in (*lifecycle, *status)})
    path: list[tuple[datetime, str, str | None]] = []
    for moment in moments:
        stage = stage_of(
            _value_since(lifecycle, moment) or None, _value_since(status, moment) or None
        )
        if stage is None or (path and path[-1][1] == stage):
            continue
        movers = [e for e in (*lifecycle, *status) if e.at == moment]
        by = next((e.user_id for e in movers if e.user_id), None) or movers[0].who
        path.append((moment, stage, by))
    if written is not None and written[0] == current:
        replaced_by: str | None = None
        while path and (path[-1][1] == current or path[-1][0] >= written[1]):
            replaced_by = path.pop()[2]
        path.append((written[1], current, written_by or replaced_by))
    changes = [
        StageChange(from_stage=a[1], to_stage=b[1], at=b[0], by=b[2])
        for a, b in itertools.pairwise(path)
    ]
    if path and path[-1][1] != current:
        changes.append(
            StageChange(from_stage=path[-1][1], to_stage=current, at=max(moments[-1], path[-1][0]))
        )
    return tuple(changes)


# -- outcomes ---------------------------------------------------------------------------------

#: Loss reasons (``closed_lost_reason``, compared case-insensitively) that are not plain
#: ``lost``. Anything else is ``lost`` with its text as the reason.
DEFAULT_LOSS_REASONS: tuple[tuple[str, OutcomeKind], ...] = (
    ("competitor", OutcomeKind.COMPETITOR),
    ("lost to competitor", OutcomeKind.COMPETITOR),
    ("lost to a competitor", OutcomeKind.COMPETITOR),
    ("went with a competitor", OutcomeKind.COMPETITOR),
    ("chose a competitor", OutcomeKind.COMPETITOR),
    ("no decision", OutcomeKind.NO_DECISION),
    ("no_decision", OutcomeKind.NO_DECISION),
    ("went dark", OutcomeKind.NO_DECISION),
    ("project cancelled", OutcomeKind.NO_DECISION),
    ("status quo", OutcomeKind.NO_DECISION),
)


def _kinds(value: Any) -> tuple[tuple[str, OutcomeKind], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k).strip().lower(), OutcomeKind(v)) for k, v in items)


@attrs.frozen(kw_only=True)
class OutcomeRules:
    """How a deal reads as an :class:`~leadflow.outcomes.Outcome` (see the module docstring).

    ``currency`` is used when a deal has no ``deal_currency_code`` (single-currency portals);
    ``open_deals`` reads open deals as ``evaluating``. ``competitor_property``, when set, is the
    deal property naming the competitor a ``competitor`` deal was lost to (HubSpot has no
    standard one; create a text or dropdown deal property).
    """

    loss_reasons: tuple[tuple[str, OutcomeKind], ...] = attrs.field(
        default=DEFAULT_LOSS_REASONS, converter=_kinds
    )
    currency: str = "USD"
    open_deals: bool = True
    competitor_property: str | None = None

    def properties(self) -> list[str]:
        """The deal properties an outcome is read from."""
        return [*DEAL_PROPERTIES, *([self.competitor_property] if self.competitor_property else [])]

    def kind_for(self, loss_reason: str) -> OutcomeKind:
        """The kind a closed-lost deal with *loss_reason* is."""
        key = loss_reason.strip().lower()
        for raw, kind in self.loss_reasons:
            if raw == key:
                return kind
        return OutcomeKind.LOST

    @classmethod
    def from_config(cls, data: Mapping[str, Any], *, path: str = "outcomes") -> OutcomeRules:
        """Rules from an ``outcomes`` table (``loss_reasons`` are added to the defaults)."""
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"must be a table, got {data!r}")
        known = {"loss_reasons", "currency", "open_deals", "competitor_property"}
        for key in data:
            if key not in known:
                raise ConfigError(f"{path}.{key}", f"unknown key; expected one of {sorted(known)}")
        extra = data.get("loss_reasons", {})
        if not isinstance(extra, Mapping):
            raise ConfigError(f"{path}.loss_reasons", f"must be a table, got {extra!r}")
        kinds = dict(DEFAULT_LOSS_REASONS)
        for raw, kind in extra.items():
            try:
                kinds[str(raw).strip().lower()] = OutcomeKind(kind)
            except ValueError:
                raise ConfigError(
                    f"{path}.loss_reasons.{raw}",
                    f"{kind!r} is not an outcome kind; one of "
                    + ", ".join(k.value for k in OutcomeKind),
                ) from None
        currency = data.get("currency", "USD")
        if not isinstance(currency, str) or len(currency.strip()) != 3:
            raise ConfigError(f"{path}.currency", f"must be an ISO 4217 code, got {currency!r}")
        open_deals = data.get("open_deals", True)
        if not isinstance(open_deals, bool):
            raise ConfigError(f"{path}.open_deals", f"must be true or false, got {open_deals!r}")
        rival = data.get("competitor_property")
        if rival is not None and (not isinstance(rival, str) or not rival.strip()):
            raise ConfigError(
                f"{path}.competitor_property", f"must be a deal property name, got {rival!r}"
            )
        return cls(
            loss_reasons=tuple(kinds.items()),
            currency=currency.strip().upper(),
            open_deals=open_deals,
            competitor_property=rival.strip() if rival else None,
        )


#: The deal properties :func:`outcome_from` reads.
DEAL_PROPERTIES = (
    "dealname",
    "amount",
    "closedate",
    "hs_is_closed",
    "hs_is_closed_won",
    "closed_lost_reason",
    "deal_currency_code",
    "hubspot_owner_id",
    "createdate",
)


def _flag(value: Any) -> bool:
    return str(value or "").strip().lower() == "true"


def outcome_from(
    deal_id: str, contact_id: str, props: Mapping[str, Any], *, rules: OutcomeRules
) -> Outcome | str | None:
    """What a deal says became of *contact_id*: an outcome, a problem (text), or ``None`` for
    an open deal when ``open_deals`` is off."""
    closed = _flag(props.get("hs_is_closed"))
    won = _flag(props.get("hs_is_closed_won"))
    if not closed and not won and not rules.open_deals:
        return None
    when = props.get("closedate") if (closed or won) else None
    when = when or props.get("hs_lastmodifieddate") or props.get("createdate")
    if not when:
        return f"deal {deal_id} has no closedate"
    amount: Decimal | None = None
    raw_amount = str(props.get("amount") or "").strip()
    if raw_amount:
        try:
            amount = Decimal(raw_amount)
        except InvalidOperation:
            return f"deal {deal_id} amount {raw_amount!r} is not a number"
    currency = str(props.get("deal_currency_code") or "").strip() or rules.currency
    base: dict[str, Any] = {
        "lead_id": contact_id,
        "at": _instant(when),
        "opportunity_id": deal_id,
        "recorded_by": props.get("hubspot_owner_id") or None,
    }
    if won:
        if amount is None:
            return f"deal {deal_id} is closed won without an amount"
        kind = OutcomeKind.WON
        return Outcome(kind=kind, amount=amount, currency=currency, **base)
    if not closed:
        return Outcome(
            kind=OutcomeKind.EVALUATING,
            amount=amount,
            currency=currency if amount is not None else None,
            **base,
        )
    reason = str(props.get("closed_lost_reason") or "").strip()
    kind = rules.kind_for(reason) if reason else OutcomeKind.LOST
    if kind is OutcomeKind.COMPETITOR:
        # The loss reason only says "a competitor"; which one is the competitor property's.
        rival = props.get(rules.competitor_property) if rules.competitor_property else None
        named = str(rival).strip() if rival else ""
        return Outcome(kind=kind, competitor=named or None, **base)
    return Outcome(
        kind=kind,
        reason=reason or "closed lost in HubSpot; no closed_lost_reason recorded",
        **base,
    )


# -- marketing activity -----------------------------------------------------------------------

#: Conversion event names (``recent_conversion_event_name``, compared case-insensitively, by
#: substring) and the activity kind they are; any other conversion is ``form_submit``.
DEFAULT_CONVERSION_KINDS: tuple[tuple[str, str], ...] = (
    ("demo", "demo_request"),
    ("quote", "quote_request"),
    ("pricing", "quote_request"),
    ("contact us", "contact_request"),
    ("contact sales", "contact_request"),
    ("webinar", "webinar_registration"),
    ("case study", "case_study_download"),
    ("whitepaper", "content_download"),
    ("ebook", "content_download"),
    ("download", "content_download"),
)
#: E-mail engagement properties and the activity kind each new value is.
DEFAULT_EMAIL_KINDS: tuple[tuple[str, str], ...] = (
    ("hs_email_last_open_date", "email_open"),
    ("hs_email_last_click_date", "email_click"),
    ("hs_email_last_reply_date", "email_reply"),
)


@attrs.frozen(kw_only=True)
class ActivityRules:
    """How marketing engagement on a contact reads as activities (see the module docstring)."""

    conversion_property: str = "recent_conversion_event_name"
    conversion_kinds: tuple[tuple[str, str], ...] = attrs.field(
        default=DEFAULT_CONVERSION_KINDS, converter=_pairs
    )
    conversion_default: str = "form_submit"
    email_kinds: tuple[tuple[str, str], ...] = attrs.field(
        default=DEFAULT_EMAIL_KINDS, converter=_pairs
    )

    def properties(self) -> list[str]:
        """The contact properties whose history is read."""
        return [self.conversion_property, *(p for p, _ in self.email_kinds)]

    def conversion_kind(self, name: str) -> str:
        """The activity kind of a conversion named *name*."""
        lowered = name.lower()
        for needle, kind in self.conversion_kinds:
            if needle.lower() in lowered:
                return kind
        return self.conversion_default

    @classmethod
    def from_config(cls, data: Mapping[str, Any], *, path: str = "activities") -> ActivityRules:
        """Rules from an ``activities`` table: ``conversion_property``, ``conversion_kinds``
        (name fragment → kind, consulted before the defaults), ``conversion_default``,
        ``email_kinds`` (property → kind, replacing the defaults)."""
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"must be a table, got {data!r}")
        known = {"conversion_property", "conversion_kinds", "conversion_default", "email_kinds"}
        for key in data:
            if key not in known:
                raise ConfigError(f"{path}.{key}", f"unknown key; expected one of {sorted(known)}")
        base = cls()
        conversions = data.get("conversion_kinds", {})
        emails = data.get("email_kinds", dict(base.email_kinds))
        for key, table in (("conversion_kinds", conversions), ("email_kinds", emails)):
            if not isinstance(table, Mapping) or not all(
                isinstance(v, str) and v.isidentifier() and v == v.lower() for v in table.values()
            ):
                raise ConfigError(
                    f"{path}.{key}", f"must map names to snake_case activity kinds, got {table!r}"
                )
        return cls(
            conversion_property=str(data.get("conversion_property", base.conversion_property)),
            conversion_kinds=(*_pairs(conversions), *base.conversion_kinds),
            conversion_default=str(data.get("conversion_default", base.conversion_default)),
            email_kinds=_pairs(emails),
        )


def activities_from(
    contact_id: str,
    history: Mapping[str, Sequence[HistoryEntry]],
    *,
    rules: ActivityRules,
    account_id: str | None = None,
) -> list[Activity]:
    """The activities a contact's property histories record, oldest first.

    Each value ``recent_conversion_event_name`` took is one conversion at the time it was set
    (HubSpot sets it again on every form submission; a resubmission of the same form is a new
    history entry); each value an ``hs_email_last_*_date`` property took is one engagement at
    that instant. Ids are ``<contact>/<property>/<epoch ms>`` so a re-read is the same activity.
    """
    out: list[Activity] = []
    for entry in history.get(rules.conversion_property) or ():
        if not entry.value:
            continue
        out.append(
            Activity(
                id=f"{contact_id}/{rules.conversion_property}/{_ms(entry.at)}",
                lead_id=contact_id,
                kind=rules.conversion_kind(entry.value),
                occurred_at=entry.at,
                account_id=account_id,
                channel="form",
                content=entry.value,
            )
        )
    for prop, kind in rules.email_kinds:
        for entry in history.get(prop) or ():
            if not entry.value:
                continue
            try:
                when = _instant(entry.value)
            except ValidationError:
                when = entry.at
            out.append(
                Activity(
                    id=f"{contact_id}/{prop}/{_ms(when)}",
                    lead_id=contact_id,
                    kind=kind,
                    occurred_at=when,
                    account_id=account_id,
                    channel="email",
                )
            )
    out.sort(key=lambda a: (a.occurred_at, a.id))
    return out


def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)
