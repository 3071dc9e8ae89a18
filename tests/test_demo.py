"""The demo generator: reproducible, valid, and shaped like the real fight."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.demo import DEMO_NOW, demo_policies, demo_scorecard, generate
from leadflow.lifecycle import replay


def test_same_seed_same_data_other_seed_other_data() -> None:
    assert generate(leads=300, seed=1) == generate(leads=300, seed=1)
    assert generate(leads=300, seed=1) != generate(leads=300, seed=2)


def test_default_dataset_has_the_promised_texture() -> None:
    data = generate()
    assert len(data.leads) == 3000
    assert len(data.accounts) >= 300
    assert len({lead.source for lead in data.leads}) >= 6
    assert len({lead.owner_id for lead in data.leads}) >= 6
    assert len(data.activities) > len(data.leads)
    assert len(data.touches) > 1000
    codes = Counter(w.rejection.code for w in data.rejections)
    assert {"student", "bad_contact_data", "no_budget"} <= set(codes)
    kinds = Counter(w.outcome.kind.value for w in data.outcomes)
    assert {"won", "lost", "competitor"} <= set(kinds)
    assert demo_scorecard().name == "demo"
    assert demo_policies()[0].name == "handoff_follow_up"


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_every_generated_record_is_consistent(seed: int) -> None:
    data = generate(leads=60, seed=seed)
    ids = {lead.id for lead in data.leads}
    assert len(ids) == len(data.leads)
    for lead in data.leads:
        assert replay(lead.history) == lead.stage
        assert lead.created_at <= DEMO_NOW
    assert all(a.lead_id in ids and a.occurred_at < DEMO_NOW for a in data.activities)
    assert all(t.lead_id in ids and t.at < DEMO_NOW for t in data.touches)
    stages = {lead.id: lead.stage for lead in data.leads}
    for write in data.rejections:
        assert write.change.from_stage == stages[write.lead_id]
