"""Unit tests for the domain values: validation names the field and the value."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from leadflow.errors import LeadflowError, ValidationError
from leadflow.model import (
    Account,
    Activity,
    FrozenMap,
    Lead,
    StageChange,
    Touch,
    TouchKind,
    TouchOutcome,
)


def test_email_is_normalised(t0: datetime) -> None:
    lead = Lead(id="L-1", email="  Mailto:Ada.Lovelace@Example.COM ", created_at=t0)
    assert lead.email == "ada.lovelace@example.com"
    assert lead.email_domain == "example.com"


@pytest.mark.parametrize(
    "bad", ["ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@-x.com"]
)
def test_malformed_email_names_field_and_value(t0: datetime, bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        Lead(id="L-1", email=bad, created_at=t0)
    assert info.value.field == "email"
    assert info.value.value == bad.strip().lower()
    assert "email" in str(info.value) and repr(bad.strip().lower()) in str(info.value)


def test_blank_email_is_missing(t0: datetime) -> None:
    assert Lead(id="L-1", email="   ", created_at=t0).email is None


@pytest.mark.parametrize(
    ("cls", "kwargs", "field"),
    [
        (Lead, {"id": "L-1"}, "created_at"),
        (Lead, {"id": "L-1", "created_at": datetime(2026, 1, 1, tzinfo=UTC)}, "handed_off_at"),
        (Account, {"id": "A-1", "name": "Acme"}, "created_at"),
        (Activity, {"id": "E-1", "lead_id": "L-1", "kind": "web_visit"}, "occurred_at"),
        (Touch, {"id": "T-1", "lead_id": "L-1", "kind": "call", "by": "u-1"}, "at"),
        (StageChange, {"from_stage": "inquiry", "to_stage": "mql"}, "at"),
    ],
)
def test_naive_datetimes_are_refused_naming_the_field(
    cls: type, kwargs: dict[str, object], field: str
) -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(ValidationError) as info:
        cls(**{**kwargs, field: naive})
    assert info.value.field == field
    assert info.value.value == naive
    assert "naive" in str(info.value)


def test_offsets_other_than_utc_are_fine(t0: datetime) -> None:
    tz = timezone(timedelta(hours=-5))
    lead = Lead(id="L-1", created_at=t0.astimezone(tz))
    assert lead.created_at == t0


def test_validation_errors_are_leadflow_and_value_errors(t0: datetime) -> None:
    with pytest.raises(LeadflowError):
        Lead(id="", created_at=t0)
    with pytest.raises(ValueError, match="id: '' must be a non-empty string"):
        Lead(id="", created_at=t0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("annual_revenue", -1.0),
        ("employees", -3),
        ("annual_revenue", float("nan")),
        ("employees", 2.5),
    ],
)
def test_numbers_are_checked(t0: datetime, field: str, value: float) -> None:
    with pytest.raises(ValidationError) as info:
        Lead(id="L-1", created_at=t0, **{field: value})
    assert info.value.field == field


def test_values_are_frozen_and_evolve_validates(t0: datetime) -> None:
    lead = Lead(id="L-1", created_at=t0, title="VP Sales")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        lead.title = "Intern"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="email"):
        attrs.evolve(lead, email="nope")
    assert attrs.evolve(lead, title="CTO").title == "CTO"
    assert lead.title == "VP Sales"


def test_properties_are_immutable_hashable_and_picklable(t0: datetime) -> None:
    lead = Lead(id="L-1", created_at=t0, properties={"persona": "buyer", "seats": 40})
    assert isinstance(lead.properties, FrozenMap)
    with pytest.raises(TypeError):
        lead.properties["seats"] = 41  # type: ignore[index]
    assert hash(lead) == hash(
        Lead(id="L-1", created_at=t0, properties={"seats": 40, "persona": "buyer"})
    )
    assert pickle.loads(pickle.dumps(lead)) == lead


def test_properties_refuse_non_scalars(t0: datetime) -> None:
    with pytest.raises(ValidationError) as info:
        Lead(id="L-1", created_at=t0, properties={"tags": ["a", "b"]})
    assert info.value.field == "properties['tags']"


def test_account_domain_is_normalised() -> None:
    assert (
        Account(id="A-1", name="Acme", domain=" https://www.Acme.COM/about ").domain == "acme.com"
    )


def test_touch_kind_and_outcome(t0: datetime) -> None:
    touch = Touch(id="T-1", lead_id="L-1", kind="call", at=t0, by="u-1", outcome="connected")
    assert touch.kind is TouchKind.CALL
    assert touch.outcome is TouchOutcome.CONNECTED and touch.outcome.is_connect
    assert not TouchOutcome.NO_ANSWER.is_connect
    with pytest.raises(ValidationError) as info:
        Touch(id="T-1", lead_id="L-1", kind="call", at=t0, by="u-1", outcome="maybe")
    assert (info.value.field, info.value.value) == ("outcome", "maybe")


def test_activity_kind_must_be_snake_case(t0: datetime) -> None:
    with pytest.raises(ValidationError) as info:
        Activity(id="E-1", lead_id="L-1", kind="Quote Request", occurred_at=t0)
    assert (info.value.field, info.value.value) == ("kind", "Quote Request")


def test_stage_must_match_history(t0: datetime) -> None:
    change = StageChange(from_stage="inquiry", to_stage="mql", at=t0)
    with pytest.raises(ValidationError) as info:
        Lead(id="L-1", created_at=t0, stage="sal", history=(change,))
    assert info.value.field == "stage"


def test_history_must_be_time_ordered_and_chained(t0: datetime) -> None:
    a = StageChange(from_stage="inquiry", to_stage="mql", at=t0)
    b = StageChange(from_stage="mql", to_stage="sal", at=t0 - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="earlier"):
        Lead(id="L-1", created_at=t0, stage="sal", history=(a, b))
    c = StageChange(from_stage="sql", to_stage="opportunity", at=t0)
    with pytest.raises(ValidationError, match="does not follow on"):
        Lead(id="L-1", created_at=t0, stage="opportunity", history=(a, c))


def test_history_order_is_one_error_wherever_it_is_found(t0: datetime) -> None:
    """A Lead built with an out-of-order history, transition() and replay() raise the same
    HistoryOrderError (a ValidationError of the field 'history'), with the same message."""
    from leadflow.errors import HistoryOrderError
    from leadflow.lifecycle import replay, transition

    early = t0 - timedelta(hours=1)
    a = StageChange(from_stage="inquiry", to_stage="mql", at=t0)
    b = StageChange(from_stage="mql", to_stage="sal", at=early)
    lead = Lead(id="L-1", created_at=early, stage="mql", history=(a,))
    errors = []
    for attempt in (
        lambda: Lead(id="L-1", created_at=early, stage="sal", history=(a, b)),
        lambda: transition(lead, "sal", at=early),
        lambda: replay([a, b]),
    ):
        with pytest.raises(HistoryOrderError) as info:
            attempt()
        errors.append(info.value)
    assert {str(e) for e in errors} == {
        f"history: stage change at {early.isoformat()} is earlier than the last recorded change "
        f"at {t0.isoformat()}; history is append-only and time-ordered"
    }
    assert all(isinstance(e, ValidationError) and e.field == "history" for e in errors)
    assert pickle.loads(pickle.dumps(errors[0])).at == early


def test_the_store_refuses_an_out_of_order_change_with_the_same_error(t0: datetime) -> None:
    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.errors import HistoryOrderError
    from leadflow.ports import Entity, StageWrite, WriteStatus

    early = t0 - timedelta(hours=1)
    a = StageChange(from_stage="inquiry", to_stage="mql", at=t0)
    late = StageChange(from_stage="mql", to_stage="sal", at=early)
    with SQLiteAdapter(":memory:") as store:
        store.upsert(Entity.LEAD, [Lead(id="L-1", created_at=early)])
        assert [r.status for r in store.write([StageWrite(lead_id="L-1", change=a)])] == [
            WriteStatus.APPLIED
        ]
        [result] = store.write([StageWrite(lead_id="L-1", change=late)])
    assert result.status is WriteStatus.FAILED
    assert result.error == str(HistoryOrderError(early, t0))


class TestFromRecord:
    def test_parses_strings(self) -> None:
        lead = Lead.from_record(
            {
                "id": "L-1",
                "created_at": "2026-01-05T09:00:00Z",
                "handed_off_at": "",
                "employees": "1200",
                "annual_revenue": "5e8",
                "properties.region": "emea",
            }
        )
        assert lead.employees == 1200
        assert lead.annual_revenue == 5e8
        assert lead.handed_off_at is None
        assert lead.created_at == datetime(2026, 1, 5, 9, tzinfo=UTC)
        assert dict(lead.properties) == {"region": "emea"}

    def test_naive_timestamp_string_is_refused(self) -> None:
        with pytest.raises(ValidationError) as info:
            Lead.from_record({"id": "L-1", "created_at": "2026-01-05T09:00:00"})
        assert info.value.field == "created_at"

    def test_bad_number_names_field(self) -> None:
        with pytest.raises(ValidationError) as info:
            Lead.from_record(
                {"id": "L-1", "created_at": "2026-01-05T09:00:00Z", "employees": "lots"}
            )
        assert (info.value.field, info.value.value) == ("employees", "lots")

    def test_missing_required_field(self) -> None:
        with pytest.raises(ValidationError) as info:
            Touch.from_record({"id": "T-1", "lead_id": "L-1", "kind": "call", "by": "u"})
        assert info.value.field == "at"

    def test_unknown_field_on_class_without_properties(self) -> None:
        with pytest.raises(ValidationError) as info:
            Touch.from_record(
                {
                    "id": "T-1",
                    "lead_id": "L-1",
                    "kind": "call",
                    "by": "u",
                    "at": "2026-01-05T09:00:00Z",
                    "mood": "good",
                }
            )
        assert info.value.field == "mood"
