"""Reject codes: a rejection needs a code, moves the lead, and is recorded."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from leadflow.errors import (
    ConfigError,
    IllegalTransitionError,
    UnknownRejectCodeError,
    ValidationError,
)
from leadflow.model import Lead
from leadflow.reasons import STANDARD_REASONS, Disposition, ReasonCatalog, RejectCode, reject


def mql(t0: datetime) -> Lead:
    return Lead(id="L-1", created_at=t0, stage="mql")


def test_standard_taxonomy_is_broad_and_valid() -> None:
    codes = [c.code for c in STANDARD_REASONS]
    assert len(codes) >= 12
    for needed in [
        "student",
        "wrong_function",
        "too_junior",
        "existing_customer",
        "competitor",
        "no_budget",
        "not_ready_to_buy",
        "no_need",
        "outside_target_market",
        "bad_contact_data",
        "duplicate",
        "spam_or_test",
        "other",
    ]:
        assert needed in codes
    for code in STANDARD_REASONS:
        assert (code.reengage_after is not None) == (code.disposition is Disposition.RECYCLE)


def test_recycle_moves_to_nurture_with_reengage_date(t0: datetime) -> None:
    lead, rejection = reject(mql(t0), "no_budget", at=t0, by="u-sam", note="  next FY  ")
    assert lead.stage == "recycled"
    assert lead.history[-1].reason == "no_budget"
    assert lead.history[-1].note == "next FY"
    assert rejection.reengage_at == t0 + timedelta(days=180)
    assert (rejection.from_stage, rejection.disposition) == ("mql", Disposition.RECYCLE)


def test_disqualify_moves_out(t0: datetime) -> None:
    lead, rejection = reject(mql(t0), "spam_or_test", at=t0, by="u-sam")
    assert lead.stage == "disqualified"
    assert rejection.reengage_at is None


@pytest.mark.parametrize("code", ["", "   ", None])
def test_rejection_without_code_is_refused(t0: datetime, code: object) -> None:
    lead = mql(t0)
    with pytest.raises(ValidationError) as info:
        reject(lead, code, at=t0, by="u-sam")  # type: ignore[arg-type]
    assert info.value.field == "code"
    assert lead.stage == "mql"


def test_unknown_code_lists_known(t0: datetime) -> None:
    with pytest.raises(UnknownRejectCodeError) as info:
        reject(mql(t0), "rubbish", at=t0, by="u-sam")
    assert info.value.code == "rubbish" and "student" in info.value.known


def test_other_needs_a_note(t0: datetime) -> None:
    with pytest.raises(ValidationError, match="note"):
        reject(mql(t0), "other", at=t0, by="u-sam")
    lead, _ = reject(
        mql(t0), "other", at=t0, by="u-sam", note="Partner-sourced, routed to channel team"
    )
    assert lead.stage == "recycled"


def test_rejecting_needs_who(t0: datetime) -> None:
    with pytest.raises(ValidationError, match="by"):
        reject(mql(t0), "student", at=t0, by=" ")


def test_cannot_reject_an_opportunity(t0: datetime) -> None:
    with pytest.raises(IllegalTransitionError):
        reject(Lead(id="L-1", created_at=t0, stage="opportunity"), "no_budget", at=t0, by="u")


def test_team_codes(t0: datetime) -> None:
    ours = STANDARD_REASONS.extend(
        RejectCode(code="reseller", label="Reseller", disposition="disqualify")
    )
    lead, rejection = reject(mql(t0), "reseller", at=t0, by="u", catalog=ours)
    assert (lead.stage, rejection.code) == ("disqualified", "reseller")
    with pytest.raises(ConfigError, match="defined twice"):
        ours.extend(
            RejectCode(
                code="reseller",
                label="Again",
                disposition="recycle",
                reengage_after=timedelta(days=1),
            )
        )
    faster = STANDARD_REASONS.replace(
        RejectCode(
            code="no_budget",
            label="No budget",
            disposition="recycle",
            reengage_after=timedelta(days=30),
        )
    )
    assert faster["no_budget"].reengage_after == timedelta(days=30)
    with pytest.raises(UnknownRejectCodeError):
        STANDARD_REASONS.replace(RejectCode(code="nope", label="x", disposition="disqualify"))


def test_catalog_from_dicts() -> None:
    catalog = ReasonCatalog.from_dicts(
        [
            {
                "code": "intern",
                "label": "Intern",
                "disposition": "recycle",
                "reengage_after_days": 365,
            }
        ]
    )
    assert catalog["intern"].reengage_after == timedelta(days=365)
    with pytest.raises(ConfigError, match=r"codes\[0\]"):
        ReasonCatalog.from_dicts(
            [{"code": "intern", "label": "Intern", "disposition": "recycle", "colour": "red"}]
        )


def test_code_validation() -> None:
    with pytest.raises(ValidationError) as info:
        RejectCode(code="Bad Code", label="x", disposition="recycle")
    assert info.value.field == "code"
    with pytest.raises(ValidationError) as info:
        RejectCode(code="x", label="x", disposition="archive")
    assert (info.value.field, info.value.value) == ("disposition", "archive")
    with pytest.raises(ValidationError, match="reengage_after"):
        RejectCode(code="x", label="x", disposition="disqualify", reengage_after=timedelta(days=1))
