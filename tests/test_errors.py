"""One concept, one error: a missing extra is an OptionalDependencyError, adapters or not."""

from __future__ import annotations

import pickle

import pytest

from leadflow.errors import (
    AdapterError,
    LeadflowError,
    MissingExtraError,
    OptionalDependencyError,
)


def test_missing_extra_is_the_adapter_flavour_of_optional_dependency() -> None:
    err = MissingExtraError("hubby", "hubspot", "hubspot")
    assert isinstance(err, OptionalDependencyError)
    assert isinstance(err, AdapterError)
    assert isinstance(err, ImportError)
    assert (err.adapter, err.feature, err.extra, err.missing) == (
        "hubby",
        "the 'hubby' adapter",
        "hubspot",
        "hubspot",
    )
    assert 'pip install "leadflow[hubspot]"' in str(err)
    assert "'hubby'" in str(err)


def test_both_messages_read_alike() -> None:
    core = OptionalDependencyError("country holidays", "holidays", "holidays")
    adapter = MissingExtraError("sf", "salesforce", "simple_salesforce")
    assert not isinstance(core, AdapterError)
    assert isinstance(core, LeadflowError)
    for err in (core, adapter):
        assert str(err).startswith(f"{err.feature} needs the {err.missing!r} package")
        assert str(err).endswith(f'pip install "leadflow[{err.extra}]"')


def test_they_pickle_with_their_attributes() -> None:
    for err in (
        OptionalDependencyError("leadflow.etl", "etl", "pyarrow"),
        MissingExtraError("sf", "salesforce", "simple_salesforce"),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert str(back) == str(err)
        assert (back.feature, back.extra, back.missing) == (err.feature, err.extra, err.missing)


def test_lookups_by_name_raise_a_leadflow_lookup_error() -> None:
    from datetime import UTC, datetime

    from leadflow.business_time import BusinessCalendar
    from leadflow.errors import NotFoundError
    from leadflow.model import Lead
    from leadflow.rules.scorecard import load_scorecard
    from leadflow.rules.sla import SLAPolicy, evaluate

    policy = SLAPolicy.from_dict(
        {"name": "p", "trigger": "handoff", "steps": [{"name": "first_touch", "within_hours": 4}]}
    )
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    lead = Lead(id="L-1", created_at=at, owner_id="u-1", handed_off_at=at)
    result = evaluate(
        lead, [], now=at, policies=[policy], calendar=BusinessCalendar.weekdays("UTC")
    )
    assert result is not None
    with pytest.raises(NotFoundError, match="no step named 'frist_touch'; known: first_touch"):
        result.step("frist_touch")
    with pytest.raises(LookupError) as info:
        load_scorecard("examples/scorecard.toml").rule("no_such_rule")
    assert isinstance(info.value, NotFoundError)
    assert (info.value.what, info.value.name) == ("rule", "no_such_rule")
    assert "quote_request" in info.value.known
    back = pickle.loads(pickle.dumps(info.value))
    assert (type(back), str(back)) == (NotFoundError, str(info.value))
