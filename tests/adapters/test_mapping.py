"""Field and stage maps: data, overridable from config, with errors that name the path."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.adapters.mapping import CONVERTERS, FieldMap, StageMap
from leadflow.errors import ConfigError, ValidationError
from leadflow.lifecycle import WATERFALL

SF = FieldMap.from_dict(
    {
        "fields": {
            "lead": {
                "email": "Email",
                "created_at": {"crm": "CreatedDate", "converter": "datetime"},
                "employees": {"crm": "NumberOfEmployees", "converter": "int"},
                "owner_email": "Owner.Email",
            }
        },
        "stages": {"inquiry": "Open", "mql": "Marketing Qualified", "sal": "Accepted"},
    }
)


def test_from_crm_and_back() -> None:
    record = {
        "Email": "ada@example.com",
        "CreatedDate": "2026-03-02T09:00:00.000+0000",
        "NumberOfEmployees": 250,
        "Owner": {"Email": "sam@example.com"},
        "Unmapped": "ignored",
    }
    core = SF.from_crm("lead", record)
    assert core == {
        "email": "ada@example.com",
        "created_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        "employees": 250,
        "owner_email": "sam@example.com",
    }
    assert SF.to_crm("lead", {"created_at": core["created_at"], "employees": None}) == {
        "CreatedDate": "2026-03-02T09:00:00Z",
        "NumberOfEmployees": None,
    }
    assert SF.crm_fields("lead") == ("Email", "CreatedDate", "NumberOfEmployees", "Owner.Email")


def test_override_from_toml_changes_only_what_it_names() -> None:
    config = tomllib.loads(
        """
        [fields.lead]
        email = "Work_Email__c"
        employees = { converter = "float" }
        score = { crm = "Lead_Score__c", converter = "float" }
        owner_email = ""

        [stages]
        mql = "MQL"

        [stages.aliases]
        "Working - Contacted" = "sal"
        """
    )
    ours = SF.override(config)
    assert ours.crm_field("lead", "email") == "Work_Email__c"
    assert ours.crm_field("lead", "employees") == "NumberOfEmployees"
    assert ours.to_crm("lead", {"employees": 3, "score": "71.5"}) == {
        "NumberOfEmployees": 3.0,
        "Lead_Score__c": 71.5,
    }
    assert "Owner.Email" not in ours.crm_fields("lead")
    assert ours.stages.to_crm("mql") == "MQL"
    assert ours.stages.from_crm("Working - Contacted") == "sal"
    assert ours.stages.to_crm("inquiry") == "Open"
    assert SF.crm_field("lead", "email") == "Email", "override returns a new map"
    assert FieldMap.from_dict(ours.to_dict()) == ours


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"fields": {"lead": {"email": "Email; DROP"}}}, "fields.lead.email", "letters, digits"),
        ({"fields": {"lead": {"Email": "Email"}}}, "fields.lead.Email", "snake_case"),
        (
            {"fields": {"lead": {"x": {"crm": "X", "converter": "yaml"}}}},
            "fields.lead.x.converter",
            "unknown converter",
        ),
        ({"fields": {"lead": {"x": {"converter": "int"}}}}, "fields.lead.x.crm", "required"),
        ({"fields": {"lead": {"x": {"crm": "X", "typo": 1}}}}, "fields.lead.x.typo", "unknown key"),
        ({"fields": {"lead": ["Email"]}}, "fields.lead", "table"),
        ({"stages": {"sql": "Open"}}, "stages.sql", "already mapped to 'inquiry'"),
        ({"fieldz": {}}, "fieldz", "unknown key"),
    ],
)
def test_bad_config_names_the_path(config: dict, path: str, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as info:
        SF.override(config)
    assert info.value.path == path
    assert message in info.value.problem


def test_unmapped_stage_and_status_are_errors() -> None:
    with pytest.raises(ConfigError, match=r"stages\.won"):
        SF.stages.to_crm("won")
    with pytest.raises(ValidationError) as info:
        SF.stages.from_crm("Nurture")
    assert info.value.value == "Nurture"
    with pytest.raises(ConfigError, match="not mapped"):
        SF.crm_field("lead", "title")


def test_bad_crm_value_names_entity_field_and_value() -> None:
    with pytest.raises(ValidationError) as info:
        SF.from_crm("lead", {"CreatedDate": "yesterday"})
    assert (info.value.field, info.value.value) == ("lead.CreatedDate", "yesterday")
    with pytest.raises(ValidationError, match="naive"):
        SF.to_crm("lead", {"created_at": datetime(2026, 1, 1)})


def test_default_map_covers_the_core_model() -> None:
    default = FieldMap.default()
    assert "created_at" in default.crm_fields("lead")
    assert "history" not in default.crm_fields("lead")
    assert default.stages.stages == WATERFALL.stages
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert default.from_crm("lead", default.to_crm("lead", {"created_at": at, "employees": 5})) == {
        "created_at": at,
        "employees": 5,
    }


aware = st.datetimes(
    min_value=datetime(1980, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7))]),
)


@given(value=aware)
def test_datetime_converters_round_trip(value: datetime) -> None:
    iso = CONVERTERS["datetime"]
    assert iso.from_crm(iso.to_crm(value)) == value
    ms = CONVERTERS["epoch_ms"]
    assert abs(ms.from_crm(ms.to_crm(value)) - value) < timedelta(milliseconds=1)


@given(
    value=st.one_of(
        st.integers(-(10**12), 10**12),
        st.decimals(allow_nan=False, allow_infinity=False, places=2),
        st.booleans(),
        st.lists(st.text(alphabet="abcxyz_", min_size=1), max_size=4).map(tuple),
        st.dates(),
    )
)
def test_scalar_converters_round_trip(value: object) -> None:
    name = {int: "int", Decimal: "decimal", bool: "bool", tuple: "multi", date: "date"}[type(value)]
    conv = CONVERTERS[name]
    assert conv.from_crm(conv.to_crm(value)) == value


def test_stage_map_round_trips_as_data() -> None:
    stages = StageMap.from_dict({"mql": "MQL", "aliases": {"Hot": "mql"}})
    assert StageMap.from_dict(stages.to_dict()) == stages
    assert stages.from_crm("Hot") == "mql"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("250", 250), ("1,000", 1000), ("25-50", 25), ("5 to 25", 5), ("1000+", 1000), (40, 40)],
)
def test_count_reads_numbers_and_bands(raw: object, expected: int) -> None:
    from leadflow.adapters.mapping import CONVERTERS

    assert expected == CONVERTERS["count"].from_crm(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1200000", 1_200_000.0),
        ("$1,200,000", 1_200_000.0),
        ("1.2M", 1_200_000.0),
        ("€3.5 million", 3_500_000.0),
        ("250k", 250_000.0),
        ("100 USD", 100.0),
    ],
)
def test_amount_reads_free_text_money(raw: str, expected: float) -> None:
    from leadflow.adapters.mapping import CONVERTERS

    assert expected == pytest.approx(CONVERTERS["amount"].from_crm(raw))


@pytest.mark.parametrize(
    ("converter", "raw"),
    [
        ("count", "lots"),
        ("count", "50-25"),
        ("count", "2.5"),
        ("count", True),
        ("amount", "1-5M"),
        ("amount", "about 5m"),
        ("amount", "n/a"),
    ],
)
def test_unclear_counts_and_amounts_are_refused(converter: str, raw: object) -> None:
    from leadflow.adapters.mapping import CONVERTERS
    from leadflow.errors import ValidationError

    with pytest.raises(ValidationError):
        CONVERTERS[converter].from_crm(raw)
