"""The shared sync machinery: retries under a budget, batching, keyset tokens, redaction."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.adapters.sync import (
    GIVE_UP,
    RETRY,
    Decision,
    KeysetToken,
    RetryPolicy,
    Secret,
    apply_batch,
    apply_change,
    check_keys,
    chunked,
    get_logger,
    judge_write,
    log,
    paginate,
    parse_retry_after,
    redact,
    retry_after,
    retry_call,
    retry_policy,
    sequence_after,
)
from leadflow.errors import ConfigError, HistoryOrderError, ValidationError
from leadflow.model import Lead, StageChange
from leadflow.ports import (
    Cursor,
    Entity,
    RecordError,
    ScoreWrite,
    SLAWrite,
    Versioned,
    Write,
    WriteStatus,
)


class FakeClock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


class Throttled(Exception):
    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__("429 Too Many Requests")
        self.retry_after = retry_after


def failing(errors: list[Exception], result: str = "done"):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if errors:
            raise errors.pop(0)
        return result

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def classify(exc: BaseException) -> Decision:
    if isinstance(exc, Throttled):
        return retry_after(exc.retry_after) if exc.retry_after is not None else RETRY
    if isinstance(exc, ConnectionError):
        return RETRY
    return GIVE_UP


def test_retries_until_success_with_backoff() -> None:
    clock = FakeClock()
    fn = failing([ConnectionError("reset"), ConnectionError("reset")])
    policy = RetryPolicy(base_delay=1.0, jitter=0.0)
    assert (
        retry_call(fn, policy=policy, classify=classify, sleep=clock.sleep, clock=clock) == "done"
    )
    assert clock.sleeps == [1.0, 2.0]


def test_retry_after_is_honoured_exactly() -> None:
    clock = FakeClock()
    fn = failing([Throttled(retry_after=7)])
    retry_call(fn, policy=RetryPolicy(), classify=classify, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [7.0]


def test_give_up_propagates_at_once() -> None:
    clock = FakeClock()
    fn = failing([PermissionError("expired session")])
    with pytest.raises(PermissionError):
        retry_call(fn, policy=RetryPolicy(), classify=classify, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []
    assert fn.calls["n"] == 1  # type: ignore[attr-defined]


def test_attempts_are_bounded() -> None:
    clock = FakeClock()
    fn = failing([ConnectionError(str(i)) for i in range(10)])
    with pytest.raises(ConnectionError) as info:
        retry_call(
            fn,
            policy=RetryPolicy(max_attempts=3),
            classify=classify,
            sleep=clock.sleep,
            clock=clock,
        )
    assert fn.calls["n"] == 3  # type: ignore[attr-defined]
    assert "gave up after 3 attempts" in "".join(info.value.__notes__)


def test_total_time_is_bounded_even_when_the_server_asks_for_more() -> None:
    clock = FakeClock()
    fn = failing([Throttled(retry_after=20), Throttled(retry_after=20), Throttled(retry_after=20)])
    policy = RetryPolicy(max_attempts=10, max_elapsed=45)
    with pytest.raises(Throttled) as info:
        retry_call(fn, policy=policy, classify=classify, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [20.0, 20.0]
    assert "45s budget" in "".join(info.value.__notes__)


@given(
    seed=st.integers(0, 2**32),
    base=st.floats(0.01, 5),
    cap=st.floats(0.01, 60),
    jitter=st.floats(0, 1),
    retry=st.integers(1, 30),
)
def test_backoff_stays_within_its_bounds(
    seed: int, base: float, cap: float, jitter: float, retry: int
) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=cap, jitter=jitter, rng=random.Random(seed))
    ceiling = min(cap, base * 2.0 ** (retry - 1))
    delay = policy.backoff(retry)
    assert ceiling * (1 - jitter) - 1e-9 <= delay <= ceiling + 1e-9


def test_backoff_jitter_comes_from_the_injected_rng() -> None:
    one = RetryPolicy(rng=random.Random(42))
    two = RetryPolicy(rng=random.Random(42))
    assert [one.backoff(n) for n in range(1, 6)] == [two.backoff(n) for n in range(1, 6)]


def test_policy_validation_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        RetryPolicy(max_attempts=0)
    assert info.value.field == "max_attempts"
    with pytest.raises(ValidationError, match="jitter"):
        RetryPolicy(jitter=1.5)
    with pytest.raises(ValidationError, match="retry_after"):
        retry_after(-1)


def test_parse_retry_after() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Mon, 02 Mar 2026 09:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Mon, 02 Mar 2026 08:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("Mon, 02 Mar 2026 09:01:00 GMT") is None
    assert parse_retry_after("-3") is None


@given(items=st.lists(st.integers()), size=st.integers(1, 20))
def test_chunked_keeps_order_and_respects_size(items: list[int], size: int) -> None:
    chunks = list(chunked(items, size))
    assert [x for chunk in chunks for x in chunk] == items
    assert all(1 <= len(c) <= size for c in chunks)
    assert all(len(c) == size for c in chunks[:-1])


def test_chunked_refuses_a_bad_size() -> None:
    with pytest.raises(ValidationError, match="size"):
        list(chunked([1], 0))


stamps = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
ids = st.text(min_size=1, max_size=12)


@given(stamp=stamps, ident=ids)
def test_keyset_token_round_trips(stamp: datetime, ident: str) -> None:
    token = KeysetToken(stamp=stamp, id=ident)
    assert KeysetToken.decode(token.encode()) == token
    assert token.stamp == stamp


@given(rows=st.lists(st.tuples(stamps, ids), min_size=1, max_size=30), pick=st.integers(0, 29))
def test_keyset_resumes_exactly_after_a_row(rows: list[tuple[datetime, str]], pick: int) -> None:
    ordered = sorted({(s.astimezone(UTC), i) for s, i in rows})
    cut = ordered[pick % len(ordered)]
    token = KeysetToken(stamp=cut[0], id=cut[1])
    after = [row for row in ordered if token.precedes(*row)]
    assert after == ordered[ordered.index(cut) + 1 :]
    assert KeysetToken.last_of(ordered) == KeysetToken(stamp=ordered[-1][0], id=ordered[-1][1])


def test_keyset_token_refuses_garbage() -> None:
    for bad in ("", "no-separator", "not a date|x", "2026-03-01T00:00:00|x"):
        with pytest.raises(ValidationError):
            KeysetToken.decode(bad)
    with pytest.raises(ValidationError, match="naive"):
        KeysetToken(stamp=datetime(2026, 1, 1), id="x")
    assert KeysetToken.last_of([]) is None


def test_secrets_never_show() -> None:
    secret = Secret("tok-123")
    assert "tok-123" not in repr(secret)
    assert "tok-123" not in f"{secret} {[secret]}"
    assert redact({"token": secret, "n": 1}) == {"token": "***", "n": 1}
    assert redact(["Bearer abc.def", ("password=pw",)]) == ["Bearer ***", ("password=***",)]
    assert redact("sid 00D5g000004XyZaEAK!AQ0AQH.abc", secrets=[secret]) == "sid ***"
    assert redact({"residence": "Berlin", "Authorization": "x"}) == {
        "residence": "Berlin",
        "Authorization": "***",
    }


@given(token=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=8, max_size=40))
def test_redact_removes_any_listed_secret(token: str) -> None:
    text = f"POST /login failed: token={token} for {token}"
    assert token not in redact(text, secrets=[token])


@pytest.mark.parametrize("secret", ['pa"ss\\w\u00f6rd&<x>', "p@ss/w+rd=&é", "tok\tn\u2028"])
def test_a_secret_echoed_escaped_is_redacted_too(secret: str) -> None:
    """A service echoing a credential in a JSON body, a URL, XML or a repr escapes it: a
    password with a quote, a backslash, ``&`` or non-ASCII is then not its literal self."""
    import html
    import json
    from urllib.parse import quote, quote_plus

    forms = {
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        html.escape(secret),
        html.escape(secret, quote=False),
    }
    for form in forms:
        shown = redact(f'{{"message": "bad header value {form} sent"}}', secrets=[secret])
        assert form not in shown
        assert "***" in shown


def test_log_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    child = get_logger("unit")
    with caplog.at_level(logging.INFO, logger="leadflow.adapters"):
        log.info("calling with %s", {"access_token": "abc123"})
        child.info("Authorization: Bearer eyJzzz")
    text = caplog.text
    assert "abc123" not in text
    assert "eyJzzz" not in text
    assert "Bearer ***" in text


def test_retry_policy_reads_an_adapter_setting_and_names_a_bad_key() -> None:
    policy = RetryPolicy(max_attempts=2)
    assert (None, policy) == (retry_policy(None), retry_policy(policy))
    assert RetryPolicy(max_attempts=3, base_delay=0.0) == retry_policy(
        {"max_attempts": 3, "base_delay": 0.0}
    )
    with pytest.raises(ConfigError) as caught:
        retry_policy(3)
    assert caught.value.path == "retry"
    with pytest.raises(ConfigError) as caught:
        retry_policy({"attempts": 3}, path="adapters.x.retry")
    assert caught.value.path == "adapters.x.retry.attempts"
    with pytest.raises(ValidationError, match="max_attempts"):
        retry_policy({"max_attempts": 0})


# -- the public kit for adapter authors: batches, stage changes, pages, config keys ------------

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeStore:
    """A store of scores and SLA states per lead, each lead with a revision counter."""

    def __init__(self, *lead_ids: str) -> None:
        self.rev = dict.fromkeys(lead_ids, 1)
        self.values: dict[tuple[str, str], object] = {}

    def key(self, write: Write) -> tuple[str, str]:
        return (write.lead_id, type(write).__name__)

    def value(self, write: Write) -> object:
        if isinstance(write, ScoreWrite):
            return write.score
        assert isinstance(write, SLAWrite)
        if write.state == "boom":
            raise ValidationError("state", write.state, "is refused by the system")
        return write.state

    def version_of(self, lead_id: str) -> str | None:
        return str(self.rev[lead_id]) if lead_id in self.rev else None

    def holds(self, write: Write) -> bool:
        return self.values.get(self.key(write)) == self.value(write)

    def apply(self, write: Write) -> str:
        self.values[self.key(write)] = self.value(write)
        self.rev[write.lead_id] += 1
        return str(self.rev[write.lead_id])

    def write(self, writes: list[Write]) -> list[tuple[WriteStatus, str | None]]:
        results = apply_batch(
            writes, version_of=self.version_of, holds=self.holds, apply=self.apply
        )
        assert [r.write for r in results] == writes
        return [(r.status, r.version or r.error) for r in results]


def test_apply_batch_judges_conflicts_against_the_batch_start() -> None:
    store = FakeStore("L-1")
    writes: list[Write] = [
        ScoreWrite(lead_id="L-1", score=70.0, expected_version="1"),
        SLAWrite(lead_id="L-1", due_at=T0, state="pending", expected_version="1"),
    ]
    assert store.write(writes) == [(WriteStatus.APPLIED, "2"), (WriteStatus.APPLIED, "3")]


def test_apply_batch_unchanged_wins_over_a_stale_expected_version() -> None:
    store = FakeStore("L-1")
    store.write([ScoreWrite(lead_id="L-1", score=70.0)])
    again = ScoreWrite(lead_id="L-1", score=70.0, expected_version="1")
    assert store.write([again]) == [(WriteStatus.UNCHANGED, "2")]
    assert store.rev["L-1"] == 2, "an unchanged write leaves the version alone"


def test_apply_batch_reports_a_conflict_and_writes_nothing() -> None:
    store = FakeStore("L-1")
    store.rev["L-1"] = 5  # changed in the system since it was read at version 1
    [(status, error)] = store.write([ScoreWrite(lead_id="L-1", score=9.0, expected_version="1")])
    assert status is WriteStatus.CONFLICT
    assert "version 5 when the batch began, expected 1" in (error or "")
    assert store.values == {}
    assert store.rev["L-1"] == 5


def test_apply_batch_a_bad_write_fails_alone() -> None:
    store = FakeStore("L-1", "L-2")
    results = store.write(
        [
            ScoreWrite(lead_id="L-1", score=1.0),
            SLAWrite(lead_id="L-2", due_at=T0, state="boom"),
            ScoreWrite(lead_id="NO-SUCH", score=1.0),
            ScoreWrite(lead_id="L-2", score=2.0),
        ]
    )
    assert [s for s, _ in results] == [
        WriteStatus.APPLIED,
        WriteStatus.FAILED,
        WriteStatus.FAILED,
        WriteStatus.APPLIED,
    ]
    assert "is refused by the system" in (results[1][1] or "")
    assert results[2][1] == "no lead 'NO-SUCH'"


def test_apply_batch_lets_unexpected_exceptions_through() -> None:
    def apply(_write: Write) -> str:
        raise KeyError("a bug in the adapter is not a failed write")

    with pytest.raises(KeyError):
        apply_batch(
            [ScoreWrite(lead_id="L-1", score=1.0)],
            version_of=lambda _id: "1",
            holds=lambda _w: False,
            apply=apply,
        )


def test_judge_write_compares_versions_with_the_adapters_equality() -> None:
    write = ScoreWrite(lead_id="L-1", score=1.0, expected_version="2026-03-02T09:00:00Z")
    same = judge_write(
        write,
        holds=False,
        version_at_start="2026-03-02T09:00:00.000+0000",
        same_version=lambda a, b: a[:19] == b[:19],
    )
    assert same is None
    differs = judge_write(write, holds=False, version_at_start="2026-03-02T09:00:00.000+0000")
    assert differs is not None
    assert differs.status is WriteStatus.CONFLICT


def test_apply_change_moves_the_stage_once() -> None:
    lead = Lead(id="L-1", created_at=T0)
    change = StageChange(from_stage="inquiry", to_stage="mql", at=T0, by="scoring")
    moved = apply_change(lead, change, handed_off_at=T0)
    assert (moved.stage, moved.history, moved.handed_off_at) == ("mql", (change,), T0)
    assert apply_change(moved, change, handed_off_at=T0) == moved
    assert apply_change(moved, change) == moved
    assert apply_change(lead, change) != lead


def test_apply_change_refuses_a_change_from_another_stage_or_out_of_order() -> None:
    lead = apply_change(
        Lead(id="L-1", created_at=T0),
        StageChange(from_stage="inquiry", to_stage="mql", at=T0 + timedelta(hours=2)),
    )
    with pytest.raises(ValidationError, match=r"change\.from_stage"):
        apply_change(lead, StageChange(from_stage="inquiry", to_stage="mql", at=T0))
    with pytest.raises(HistoryOrderError):
        apply_change(lead, StageChange(from_stage="mql", to_stage="sal", at=T0))


def test_paginate_puts_record_errors_on_their_page_and_moves_the_cursor() -> None:
    rows: list[tuple[str, Versioned[str] | RecordError]] = [
        (str(i), Versioned(item=f"r{i}", version="1")) for i in range(1, 6)
    ]
    rows[2] = ("3", RecordError(entity=Entity.TOUCH, record_id="r3", error="bad"))
    pages = list(paginate(Entity.TOUCH, rows, page_size=2))
    assert [p.cursor for p in pages] == [Cursor(entity=Entity.TOUCH, token=t) for t in "245"]
    assert [[v.item for v in p.items] for p in pages] == [["r1", "r2"], ["r4"], ["r5"]]
    assert [e.record_id for p in pages for e in p.errors] == ["r3"]
    assert list(paginate(Entity.TOUCH, [], page_size=2)) == []
    with pytest.raises(ValidationError, match="page_size"):
        list(paginate(Entity.TOUCH, rows, page_size=0))


def test_sequence_after() -> None:
    assert sequence_after(None, Entity.LEAD) == 0
    assert sequence_after(Cursor(entity=Entity.LEAD), Entity.LEAD) == 0
    assert sequence_after(Cursor(entity=Entity.LEAD, token="17"), Entity.LEAD) == 17
    with pytest.raises(ValidationError, match=r"cursor\.token"):
        sequence_after(Cursor(entity=Entity.LEAD, token="2026|x"), Entity.LEAD)
    with pytest.raises(ValidationError, match="cursor for account, not lead"):
        sequence_after(Cursor(entity=Entity.ACCOUNT, token="1"), Entity.LEAD)


def test_check_keys_names_the_unknown_key_and_the_closest_known_one() -> None:
    check_keys({}, "x", ["path"])
    with pytest.raises(ConfigError, match=r"^x\.paht: unknown key 'paht'; did you mean 'path'\?$"):
        check_keys({"path": 1, "paht": 2}, "x", ["path", "page_size"])
    with pytest.raises(
        ConfigError, match=r"^zone: unknown key 'zone'; expected one of page_size, path$"
    ):
        check_keys({"zone": 1}, "", ["path", "page_size"])


def test_the_public_kit_has_no_private_twin() -> None:
    import importlib.util

    assert importlib.util.find_spec("leadflow.adapters._sync") is None
