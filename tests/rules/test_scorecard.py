"""The scorecard data model: construction, validation with paths, dict and TOML round trips."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.errors import ConfigError, ValidationError
from leadflow.rules.scorecard import (
    ActivityCount,
    AllOf,
    Category,
    Equals,
    FreeMailDomain,
    Not,
    OneOf,
    Range,
    Rule,
    Scorecard,
    Signal,
    Thresholds,
    TitleKeywords,
    condition_from_dict,
    dump_scorecard,
    load_scorecard,
    loads_scorecard,
)

from .strategies import scorecards

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scorecard.toml"


def card_with(rule: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "t", "rules": [rule], **extra}


def fit(when: Any) -> dict[str, Any]:
    return {"id": "r", "category": "fit", "points": 5, "when": when}


def config_error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        Scorecard.from_dict(data)
    return str(info.value)


# -- the example card ------------------------------------------------------------------------


def test_example_card_encodes_the_seed_criteria() -> None:
    card = load_scorecard(EXAMPLE)
    ids = {r.id for r in card.rules}
    assert {"vp_or_above", "target_industry", "revenue_over_500m"} <= ids
    assert {"quote_request", "case_study", "webinar", "demo_request"} <= ids
    assert card.rule("quote_request").signal is Signal.INTENT
    assert card.rule("demo_request").signal is Signal.INTENT
    assert card.rule("case_study").signal is Signal.INTEREST
    assert card.rule("webinar").signal is Signal.INTEREST
    assert card.rule("vp_or_above").category is Category.FIT
    revenue = card.rule("revenue_over_500m").when
    assert isinstance(revenue, Range) or "500000000.0" in repr(revenue)


def test_example_card_round_trips_through_toml_and_dicts() -> None:
    card = load_scorecard(EXAMPLE)
    assert loads_scorecard(dump_scorecard(card)) == card
    assert Scorecard.from_dict(card.to_dict()) == card
    assert tomllib.loads(dump_scorecard(card)) == card.to_dict()


# -- conditions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"field": "country", "equals": "US"}, Equals(field="country", value="US")),
        ({"field": "industry", "in": ["A", "B"]}, OneOf(field="industry", values=("A", "B"))),
        ({"field": "employees", "max": 50}, Range(field="employees", max=50.0)),
        ({"keywords": "VP"}, TitleKeywords(keywords=("VP",))),
        ({"free_mail": True}, FreeMailDomain()),
        (
            {"activity": "pricing_page_visit", "at_least": 2, "within_days": 14},
            ActivityCount(kinds=("pricing_page_visit",), at_least=2, within_days=14.0),
        ),
        (
            {"not": {"all": [{"field": "title", "present": True}]}},
            Not(
                condition=AllOf(
                    conditions=[condition_from_dict({"field": "title", "present": True})]
                )
            ),
        ),
    ],
)
def test_conditions_from_dicts(data: dict[str, Any], expected: Any) -> None:
    assert expected == condition_from_dict(data)
    assert expected == condition_from_dict(expected.to_dict())


def test_unknown_field_names_the_path_and_suggests() -> None:
    data = card_with(fit({"field": "titel", "keywords": ["VP"]}))
    data["rules"] = [
        {"id": f"r{i}", "category": "fit", "points": 1, "when": {"field": "title", "present": True}}
        for i in range(3)
    ] + [{**fit({"field": "titel", "equals": "VP"}), "id": "r3"}]
    assert config_error(data) == "rules[3].when.field: unknown field 'titel'; did you mean 'title'?"


def test_nested_unknown_account_field() -> None:
    when = {
        "any": [{"field": "title", "present": True}, {"not": {"field": "account.revenu", "min": 1}}]
    }
    assert config_error(card_with(fit(when))) == (
        "rules[0].when.any[1].not.field: unknown field 'account.revenu'; "
        "did you mean 'account.annual_revenue'?"
    )


def test_custom_properties_are_fields() -> None:
    card = Scorecard.from_dict(card_with(fit({"field": "properties.persona", "equals": "buyer"})))
    assert card.rules[0].when == Equals(field="properties.persona", value="buyer")


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({"field": "title", "is": "VP"}, "rules[0].when.is: unknown key 'is'"),
        ({"field": "title"}, "rules[0].when: no operator; expected one of equals, in"),
        ({"field": "title", "equals": "VP", "in": ["x"]}, "more than one operator"),
        ({"equals": "VP"}, "rules[0].when.field: is required"),
        ({"field": "title", "min": 3}, "rules[0].when.field: 'title' is not a numeric field"),
        ({"field": "employees", "min": 9, "max": 3}, "min 9.0 is greater than max 3.0"),
        ({"field": "title", "regex": "("}, "rules[0].when.pattern: '(' is not a valid regular"),
        ({"field": "title", "missing": False}, "rules[0].when.missing: must be true"),
        ({"free_mail": False}, "rules[0].when.free_mail: must be true"),
        ({"all": []}, "rules[0].when.all: must be a non-empty list"),
        ({"keywords": []}, "rules[0].when.keywords: () must be a non-empty list"),
        ("title", "rules[0].when: a condition must be a table"),
        ({"field": "title", "equals": [1]}, "rules[0].when.value: [1] must be a string"),
        ({"field": "title", "keywords": ["VP"], "x": 1}, "rules[0].when.x: unknown key 'x'"),
    ],
)
def test_malformed_conditions(when: Any, message: str) -> None:
    assert message in config_error(card_with(fit(when)))


def test_unknown_activity_kind_is_an_error_unless_declared() -> None:
    rule = {
        "id": "r",
        "category": "behaviour",
        "signal": "intent",
        "points": 5,
        "activities": ["quote_requets"],
    }
    assert config_error(card_with(rule)) == (
        "rules[0].activities: unknown activity kind 'quote_requets'; did you mean 'quote_request'?"
    )
    gated = {**rule, "activities": [], "when": {"all": [{"activity": "g2_intent_surge"}]}}
    assert config_error(card_with(gated)) == (
        "rules[0].when.all[0].activity: unknown activity kind 'g2_intent_surge'; "
        "declare it in the card's kinds = [...]"
    )
    card = Scorecard.from_dict(card_with(gated, kinds=["g2_intent_surge"]))
    assert "g2_intent_surge" in card.known_kinds


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"id": "r", "category": "fit", "points": 1}, "rules[0].when: is required"),
        (
            {"id": "Bad Id", "category": "fit", "points": 1, "when": {"free_mail": True}},
            "rules[0].id",
        ),
        (
            {"id": "r", "category": "fitness", "points": 1},
            "rules[0].category: 'fitness' is not one of",
        ),
        (
            {"id": "r", "category": "fit", "points": "10", "when": {"free_mail": True}},
            "rules[0].points: '10' is not a finite number",
        ),
        (
            {
                "id": "r",
                "category": "fit",
                "points": 1,
                "signal": "intent",
                "when": {"free_mail": True},
            },
            "rules[0].signal: is for behaviour rules",
        ),
        (
            {"id": "r", "category": "behaviour", "points": 1, "activities": ["rfp"]},
            "rules[0].signal: is required",
        ),
        (
            {
                "id": "r",
                "category": "behaviour",
                "signal": "hunch",
                "points": 1,
                "activities": ["rfp"],
            },
            "rules[0].signal: 'hunch' is not one of",
        ),
        (
            {
                "id": "r",
                "category": "behaviour",
                "signal": "intent",
                "points": 1,
                "when": {"free_mail": True},
            },
            "a rule on fields alone is category = 'fit'",
        ),
        (
            {
                "id": "r",
                "category": "behaviour",
                "signal": "intent",
                "points": 1,
                "activities": ["rfp"],
                "cap": 0,
            },
            "rules[0].cap: 0.0 must be a finite number > 0",
        ),
        (
            {"id": "r", "category": "fit", "points": 1, "when": {"free_mail": True}, "poins": 2},
            "rules[0].poins: unknown key 'poins'; did you mean 'points'?",
        ),
        (
            {"id": "r", "category": "fit", "when": {"free_mail": True}},
            "rules[0].points: is required",
        ),
    ],
)
def test_malformed_rules(rule: dict[str, Any], message: str) -> None:
    assert message in config_error(card_with(rule))


def test_card_level_errors() -> None:
    rule = fit({"free_mail": True})
    assert config_error({"rules": [rule]}) == "name: is required"
    assert (
        config_error({"name": "t", "rules": []})
        == "rules: must be a non-empty list of [[rules]] tables"
    )
    assert config_error({"name": "t", "rules": [rule, rule]}) == (
        "rules[1].id: 'r' is already the id of rules[0]"
    )
    assert "half_life_days: -1.0 must be a finite number > 0" in config_error(
        card_with(rule, half_life_days=-1)
    )
    assert config_error(card_with(rule, thresholds={"mql": 90, "sql_ready": 10})) == (
        "thresholds.sql_ready: 10.0 is below the mql threshold 90.0"
    )
    assert (
        config_error(card_with(rule, thresholds={"mqll": 1}))
        == "thresholds.mqll: unknown key 'mqll'; did you mean 'mql'?"
    )
    assert "verison: unknown key" in config_error(card_with(rule, verison=2))


def test_invalid_toml_names_the_source(tmp_path: Path) -> None:
    path = tmp_path / "card.toml"
    path.write_text('name = "x\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_scorecard(path)
    assert info.value.path == str(path)
    assert "is not valid TOML" in info.value.problem


def test_python_construction_validates_too() -> None:
    with pytest.raises(ConfigError, match="unknown field 'titel'"):
        Equals(field="titel", value="x")
    with pytest.raises(ValidationError, match="at_least"):
        ActivityCount(kinds=("rfp",), at_least=0)
    with pytest.raises(ConfigError, match="unknown activity kind 'rpf'"):
        Scorecard(
            name="t",
            rules=[
                Rule(id="r", category="behaviour", signal="intent", points=1, activities=["rpf"])
            ],
        )


def test_defaults_and_labels() -> None:
    rule = Rule(
        id="quote_request",
        category="behaviour",
        signal="intent",
        points=40,
        activities=["quote_request"],
    )
    assert rule.label == "quote request"
    assert "label" not in rule.to_dict()
    assert rule.points == 40.0 and isinstance(rule.points, float)
    assert Thresholds().mql == 50.0


def test_toml_strings_are_escaped() -> None:
    card = Scorecard(
        name='quote "q" \\ back\nslash\x7f',
        description="tab\there é 日本",
        rules=[Rule(id="r", category="fit", points=1, when=Equals(field="title", value='"\x00'))],
    )
    assert loads_scorecard(dump_scorecard(card)) == card


@settings(max_examples=80, deadline=None)
@given(scorecards())
def test_dump_then_load_is_the_identity(card: Scorecard) -> None:
    assert loads_scorecard(dump_scorecard(card)) == card
    assert Scorecard.from_dict(card.to_dict()) == card


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["field", "x", "all", "activity"]), st.integers(), max_size=2),
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = _replace(copy[path[0]], path[1:], value)
    return copy


@settings(max_examples=100, deadline=None)
@given(card=scorecards(max_rules=3), data=st.data())
def test_every_malformed_card_gets_a_config_error(card: Scorecard, data: st.DataObject) -> None:
    """Replace any value anywhere in a valid card with junk: it loads, or says where it broke."""
    plain = card.to_dict()
    path = data.draw(st.sampled_from(_paths(plain)))
    broken = _replace(plain, path, data.draw(JUNK))
    assert _outcome(lambda: Scorecard.from_dict(broken)) in {"loaded", "config error"}
    text = dump_scorecard(card)
    bad_toml = text.replace("=", "", 1) if data.draw(st.booleans()) else text + "x = ["
    assert _outcome(lambda: loads_scorecard(bad_toml)) == "config error"


def _outcome(load: Any) -> str:
    try:
        load()
    except ConfigError as exc:
        return "config error" if exc.problem else "config error without a problem"
    return "loaded"
