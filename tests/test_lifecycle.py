"""Lifecycle: transitions are validated, return new values and keep an ordered history."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta

import pytest

from leadflow.errors import (
    ConfigError,
    HistoryOrderError,
    IllegalTransitionError,
    UnknownStageError,
)
from leadflow.lifecycle import (
    WATERFALL,
    Lifecycle,
    Stage,
    replay,
    stage_spans,
    time_in_stage,
    transition,
)
from leadflow.model import Lead


def test_transition_returns_new_lead_and_appends(t0: datetime) -> None:
    lead = Lead(id="L-1", created_at=t0)
    moved = transition(
        lead, Stage.MQL, at=t0 + timedelta(hours=1), by="scoring", reason="score>=60"
    )
    assert lead.stage == "inquiry" and lead.history == ()
    assert moved.stage == "mql"
    (change,) = moved.history
    assert (change.from_stage, change.to_stage, change.by, change.reason) == (
        "inquiry",
        "mql",
        "scoring",
        "score>=60",
    )


def test_illegal_transition_names_from_to_and_allowed(t0: datetime) -> None:
    lead = Lead(id="L-1", created_at=t0)
    with pytest.raises(IllegalTransitionError) as info:
        transition(lead, "won", at=t0)
    err = info.value
    assert (err.from_stage, err.to_stage) == ("inquiry", "won")
    assert err.allowed == ("mql", "recycled", "disqualified")
    assert (
        "'inquiry'" in str(err)
        and "'won'" in str(err)
        and "mql, recycled, disqualified" in str(err)
    )


def test_terminal_stage_says_so(t0: datetime) -> None:
    lead = Lead(id="L-1", created_at=t0)
    lead = transition(lead, "disqualified", at=t0)
    with pytest.raises(IllegalTransitionError, match="terminal"):
        transition(lead, "mql", at=t0)


def test_unknown_stage(t0: datetime) -> None:
    with pytest.raises(UnknownStageError) as info:
        transition(Lead(id="L-1", created_at=t0), "hot", at=t0)
    assert info.value.stage == "hot" and "mql" in info.value.known


def test_out_of_order_change_is_refused(t0: datetime) -> None:
    lead = transition(Lead(id="L-1", created_at=t0), "mql", at=t0 + timedelta(days=1))
    with pytest.raises(HistoryOrderError):
        transition(lead, "sal", at=t0)


def test_naive_at_is_refused(t0: datetime) -> None:
    with pytest.raises(ValueError, match=r"at: .* naive"):
        transition(Lead(id="L-1", created_at=t0), "mql", at=datetime(2026, 3, 2, 10))


def test_full_waterfall_and_replay(t0: datetime) -> None:
    lead = Lead(id="L-1", created_at=t0)
    for i, stage in enumerate(["mql", "sal", "sql", "opportunity", "won"], start=1):
        lead = transition(lead, stage, at=t0 + timedelta(days=i))
    assert lead.stage == "won"
    assert replay(lead.history) == "won"
    assert WATERFALL.is_terminal("won")


def test_time_in_stage_and_spans(t0: datetime) -> None:
    lead = Lead(id="L-1", created_at=t0)
    lead = transition(lead, "mql", at=t0 + timedelta(days=1))
    lead = transition(lead, "recycled", at=t0 + timedelta(days=3))
    lead = transition(lead, "mql", at=t0 + timedelta(days=10))
    totals = time_in_stage(lead, now=t0 + timedelta(days=12))
    assert totals == {
        "inquiry": timedelta(days=1),
        "mql": timedelta(days=4),
        "recycled": timedelta(days=7),
    }
    spans = stage_spans(lead)
    assert [s.stage for s in spans] == ["inquiry", "mql", "recycled", "mql"]
    assert spans[-1].end is None


def test_custom_lifecycle_is_checked_when_defined() -> None:
    with pytest.raises(ConfigError, match="cannot be reached"):
        Lifecycle(
            stages=("new", "working", "island"),
            initial="new",
            transitions={"new": ["working"]},
            recycled=None,
            disqualified=None,
        )
    with pytest.raises(ConfigError, match="initial"):
        Lifecycle(stages=("new",), initial="old", transitions={}, recycled=None, disqualified=None)
    with pytest.raises(ConfigError, match="recycled"):
        Lifecycle(stages=("new",), initial="new", transitions={}, disqualified=None)


def test_custom_lifecycle_round_trips_and_pickles() -> None:
    model = Lifecycle.from_dict(WATERFALL.to_dict())
    assert model == WATERFALL
    assert pickle.loads(pickle.dumps(model)) == model
    with pytest.raises(ConfigError, match="unknown key"):
        Lifecycle.from_dict({**WATERFALL.to_dict(), "colour": "red"})


def test_custom_lifecycle_drives_transition(t0: datetime) -> None:
    model = Lifecycle(
        stages=("new", "working", "closed"),
        initial="new",
        transitions={"new": ["working"], "working": ["closed"]},
        recycled=None,
        disqualified=None,
    )
    lead = Lead(id="L-1", created_at=t0, stage="new")
    lead = transition(lead, "working", at=t0, lifecycle=model)
    assert replay(lead.history, lifecycle=model) == "working"
    with pytest.raises(IllegalTransitionError):
        transition(lead, "new", at=t0, lifecycle=model)


def test_errors_pickle(t0: datetime) -> None:
    err = IllegalTransitionError("sal", "won", ("sql",))
    again = pickle.loads(pickle.dumps(err))
    assert (again.from_stage, again.to_stage, again.allowed, str(again)) == (
        err.from_stage,
        err.to_stage,
        err.allowed,
        str(err),
    )
