"""Reject codes, their dispositions, and rejecting a lead.

Scope: "they're not right" is not a reason. Sales rejects a lead only with a code from a
:class:`ReasonCatalog`; each code carries a disposition — *recycle* to nurture (with a default
re-engage delay) or *disqualify* — and rejecting moves the lead through the lifecycle to the
lifecycle's ``recycled`` or ``disqualified`` stage, recording the code and note in its history.

:data:`STANDARD_REASONS` is the standard taxonomy. A team adds its own codes with
:meth:`ReasonCatalog.extend`:

>>> from datetime import timedelta
>>> ours = STANDARD_REASONS.extend(
...     RejectCode(code="reseller", label="Reseller, not an end customer",
...                disposition=Disposition.DISQUALIFY),
... )
>>> ours["reseller"].disposition, "student" in ours
(<Disposition.DISQUALIFY: 'disqualify'>, True)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import attrs

from leadflow import _validate as v
from leadflow.errors import ConfigError, UnknownRejectCodeError, ValidationError
from leadflow.lifecycle import WATERFALL, Lifecycle, transition
from leadflow.model import Lead

__all__ = [
    "STANDARD_REASONS",
    "Disposition",
    "ReasonCatalog",
    "RejectCode",
    "Rejection",
    "reject",
]


class Disposition(enum.StrEnum):
    """What happens to a lead rejected with a code."""

    RECYCLE = "recycle"
    DISQUALIFY = "disqualify"


def _disposition(value: Any) -> Any:
    return v.coerce_enum(Disposition, value)


def _codes(value: Iterable[RejectCode]) -> tuple[RejectCode, ...]:
    return tuple(value)


def _positive_delay(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, timedelta) or value <= timedelta():
        raise ValidationError(attribute.name, value, "must be a positive timedelta or None")


@attrs.frozen(kw_only=True)
class RejectCode:
    """One reason sales may give for rejecting a lead.

    ``reengage_after`` is how long a recycled lead rests in nurture before marketing may hand it
    over again; it must be ``None`` for codes that disqualify. ``note_required`` makes a free-text
    note mandatory (the catch-all ``other`` code needs one). ``sla_failure`` marks a code that
    records sales' miss rather than a judgement about the lead (``not_followed_up``: nobody
    touched it before the SLA cadence ran out); reports count those apart.
    """

    code: str = attrs.field(validator=v.identifier)
    label: str = attrs.field(validator=v.non_empty)
    disposition: Disposition = attrs.field(
        converter=_disposition, validator=v.member_of(Disposition)
    )
    reengage_after: timedelta | None = attrs.field(default=None, validator=_positive_delay)
    description: str = ""
    note_required: bool = False
    sla_failure: bool = False

    def __attrs_post_init__(self) -> None:
        if self.disposition is Disposition.DISQUALIFY and self.reengage_after is not None:
            raise ValidationError(
                "reengage_after",
                self.reengage_after,
                f"is set on {self.code!r}, which disqualifies; only recycled leads re-engage",
            )


def _unique_codes(
    _inst: object, _attribute: attrs.Attribute[Any], value: tuple[RejectCode, ...]
) -> None:
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, RejectCode):
            raise ValidationError("codes", item, "is not a RejectCode")
        if item.code in seen:
            raise ConfigError("codes", f"code {item.code!r} is defined twice")
        seen.add(item.code)


@attrs.frozen(kw_only=True)
class ReasonCatalog:
    """An ordered set of :class:`RejectCode` looked up by code."""

    codes: tuple[RejectCode, ...] = attrs.field(converter=_codes, validator=_unique_codes)

    def __contains__(self, code: object) -> bool:
        return any(c.code == code for c in self.codes)

    def __getitem__(self, code: str) -> RejectCode:
        for item in self.codes:
            if item.code == code:
                return item
        raise UnknownRejectCodeError(code, [c.code for c in self.codes])

    def __iter__(self) -> Iterator[RejectCode]:
        return iter(self.codes)

    def __len__(self) -> int:
        return len(self.codes)

    def extend(self, *codes: RejectCode) -> ReasonCatalog:
        """A new catalog with *codes* added (a code already present is an error)."""
        return ReasonCatalog(codes=(*self.codes, *codes))

    def replace(self, *codes: RejectCode) -> ReasonCatalog:
        """A new catalog in which *codes* replace the entries with the same code."""
        by_code = {c.code: c for c in codes}
        for code in by_code:
            self[code]  # raises UnknownRejectCodeError for a code that is not present
        return ReasonCatalog(codes=tuple(by_code.get(c.code, c) for c in self.codes))

    @classmethod
    def from_dicts(cls, rows: Iterable[dict[str, Any]]) -> ReasonCatalog:
        """Build a catalog from plain data, e.g. ``[[codes]]`` tables of a TOML file.

        ``reengage_after_days`` gives the delay in days.
        """
        codes = []
        for index, row in enumerate(rows):
            data = dict(row)
            days = data.pop("reengage_after_days", None)
            if days is not None:
                data["reengage_after"] = timedelta(days=days)
            try:
                codes.append(RejectCode(**data))
            except TypeError as exc:
                raise ConfigError(f"codes[{index}]", str(exc)) from None
        return cls(codes=codes)


_R, _D = Disposition.RECYCLE, Disposition.DISQUALIFY

#: The standard taxonomy of reject codes.
STANDARD_REASONS = ReasonCatalog(
    codes=(
        RejectCode(code="student", label="Student or academic", disposition=_D),
        RejectCode(
            code="wrong_function",
            label="Wrong function / department",
            disposition=_R,
            reengage_after=timedelta(days=90),
        ),
        RejectCode(
            code="too_junior",
            label="Too junior to buy or influence",
            disposition=_R,
            reengage_after=timedelta(days=180),
        ),
        RejectCode(
            code="existing_customer",
            label="Already a customer (route to account team)",
            disposition=_D,
        ),
        RejectCode(code="competitor", label="Works for a competitor", disposition=_D),
        RejectCode(
            code="no_budget",
            label="No budget this cycle",
            disposition=_R,
            reengage_after=timedelta(days=180),
        ),
        RejectCode(
            code="not_ready_to_buy",
            label="Not ready to buy / bad timing",
            disposition=_R,
            reengage_after=timedelta(days=90),
        ),
        RejectCode(
            code="no_need",
            label="No need for the product",
            disposition=_R,
            reengage_after=timedelta(days=365),
        ),
        RejectCode(code="outside_target_market", label="Outside the target market", disposition=_D),
        RejectCode(
            code="bad_contact_data", label="Bad or unreachable contact data", disposition=_D
        ),
        RejectCode(code="duplicate", label="Duplicate of another lead", disposition=_D),
        RejectCode(code="spam_or_test", label="Spam or test entry", disposition=_D),
        RejectCode(
            code="no_response",
            label="No response after the SLA's attempts",
            disposition=_R,
            reengage_after=timedelta(days=60),
        ),
        RejectCode(
            code="not_followed_up",
            label="Never followed up before the SLA cadence ran out (an SLA failure)",
            disposition=_R,
            reengage_after=timedelta(days=30),
            description="Nobody touched the lead: sales' miss, not a verdict on the lead.",
            sla_failure=True,
        ),
        RejectCode(
            code="other",
            label="Other (explain in the note)",
            disposition=_R,
            reengage_after=timedelta(days=90),
            note_required=True,
        ),
    )
)


@attrs.frozen(kw_only=True)
class Rejection:
    """The record of one rejection: what marketing's feedback reports are built from."""

    lead_id: str
    code: str
    disposition: Disposition
    at: datetime = attrs.field(validator=v.aware)
    by: str
    note: str | None = None
    from_stage: str
    reengage_at: datetime | None = attrs.field(default=None, validator=v.optional_aware)


def reject(
    lead: Lead,
    code: str,
    *,
    at: datetime,
    by: str,
    note: str | None = None,
    catalog: ReasonCatalog = STANDARD_REASONS,
    lifecycle: Lifecycle = WATERFALL,
) -> tuple[Lead, Rejection]:
    """Reject *lead* with *code*: move it to nurture or out, and return it with the record.

    The lead moves to the lifecycle's ``recycled`` stage for a code that recycles and to its
    ``disqualified`` stage for one that disqualifies; the history entry carries the code as its
    ``reason`` and the note. Nothing changes when a check fails.

    >>> from datetime import datetime, timezone
    >>> from leadflow.model import Lead
    >>> at = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    >>> lead = Lead(id="L-1", created_at=at, stage="mql")
    >>> lead, rejection = reject(lead, "not_ready_to_buy", at=at, by="u-sam")
    >>> lead.stage, rejection.reengage_at.date().isoformat()
    ('recycled', '2026-05-31')
    >>> reject(lead, "", at=at, by="u-sam")
    Traceback (most recent call last):
    ...
    leadflow.errors.ValidationError: code: '' is required: a rejection needs a reason code
    """
    if not isinstance(code, str) or not code.strip():
        raise ValidationError("code", code, "is required: a rejection needs a reason code")
    reason = catalog[code.strip()]
    note = note.strip() if isinstance(note, str) and note.strip() else None
    if reason.note_required and note is None:
        raise ValidationError("note", note, f"is required for reject code {reason.code!r}")
    if not isinstance(by, str) or not by.strip():
        raise ValidationError("by", by, "is required: say who rejected the lead")
    target = (
        lifecycle.recycled if reason.disposition is Disposition.RECYCLE else lifecycle.disqualified
    )
    if target is None:
        raise ConfigError(
            reason.disposition.value,
            f"the lifecycle has no stage for {reason.disposition.value!r} rejections",
        )
    moved = transition(
        lead, target, at=at, by=by, reason=reason.code, note=note, lifecycle=lifecycle
    )
    reengage_at = at + reason.reengage_after if reason.reengage_after is not None else None
    record = Rejection(
        lead_id=lead.id,
        code=reason.code,
        disposition=reason.disposition,
        at=at,
        by=by,
        note=note,
        from_stage=lead.stage,
        reengage_at=reengage_at,
    )
    return moved, record
