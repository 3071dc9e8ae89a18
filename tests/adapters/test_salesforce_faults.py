"""Faults between the Salesforce adapter and Salesforce, injected in the loopback emulator.

429 with Retry-After, 403 REQUEST_LIMIT_EXCEEDED, 503, dropped connections (before and after
the server applied the request), expired sessions, per-record validation errors. The promise
checked: after a run with faults every intended write is applied or reported failed, and a
second run applies nothing twice. Also: tokens and passwords never reach a repr, a log line or
an error message.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.emulators.salesforce import SalesforceEmulator, parse_soql
from tests.emulators.salesforce_seed import EmulatorSeeder, make_adapter, route_login

from leadflow.adapters.salesforce import SalesforceAdapter
from leadflow.adapters.testing import T0, sample_leads
from leadflow.errors import (
    AdapterError,
    AuthenticationError,
    RateLimitedError,
    TransientAdapterError,
)
from leadflow.ports import Entity, ScoreWrite, SLAWrite, Write, WriteStatus


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def emu(ca: trustme.CA, tmp_path: Path) -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(ca=ca, cert_dir=tmp_path, page_size=50) as emulator:
        yield emulator


def _seed(emu: SalesforceEmulator, count: int) -> list[Any]:
    return EmulatorSeeder(emu)(Entity.LEAD, sample_leads(count))


def _score_writes(adapter: SalesforceAdapter, offset: float = 0.0) -> list[Write]:
    read = [v for page in adapter.read_leads() for v in page.items]
    return [
        ScoreWrite(
            lead_id=v.item.id,
            score=float(i % 90) + offset,
            summary=f"fit {i}",
            expected_version=v.version,
        )
        for i, v in enumerate(read)
    ]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# -- retries -----------------------------------------------------------------------------------


def test_429_retry_after_is_honoured(emu: SalesforceEmulator) -> None:
    _seed(emu, 3)
    sleeps = Sleeps()
    adapter = make_adapter(emu, sleep=sleeps)
    emu.inject("429", times=2, match="/query", retry_after=7)
    read = [v for page in adapter.read_leads() for v in page.items]
    assert len(read) == 3
    assert sleeps == [7.0, 7.0]
    assert emu.calls["query"] == 3 + 1, "three tries, then the leads' LeadHistory"


def test_request_limit_exceeded_and_503_are_retried_with_backoff(emu: SalesforceEmulator) -> None:
    _seed(emu, 4)
    sleeps = Sleeps()
    adapter = make_adapter(
        emu, sleep=sleeps, retry={"max_attempts": 5, "base_delay": 0.5, "jitter": 0.0}
    )
    writes = _score_writes(adapter)
    emu.inject("limit", times=1, match="/composite/sobjects")
    emu.inject("503", times=1, match="/composite/sobjects")
    results = adapter.write(writes)
    assert [r.status for r in results] == [WriteStatus.APPLIED] * 4
    assert sleeps == [0.5, 1.0]
    assert emu.calls["collections"] == 3


def test_dropped_connection_mid_read_resumes_the_page_not_the_read(
    emu: SalesforceEmulator,
) -> None:
    _seed(emu, 120)  # 3 query pages of 50
    adapter = make_adapter(emu)
    emu.inject("drop", times=2, match="/query/01g")
    ids = [v.item.id for page in adapter.read_leads() for v in page.items]
    assert len(ids) == 120
    assert len(set(ids)) == 120
    lead_queries = [q for q in emu.queries if " FROM Lead " in q]
    assert (len(lead_queries), emu.calls["query_more"]) == (1, 4)


def test_response_lost_after_the_write_was_applied_is_harmless(emu: SalesforceEmulator) -> None:
    leads = _seed(emu, 5)
    adapter = make_adapter(emu)
    writes = _score_writes(adapter)
    emu.inject("drop_after", times=1, match="/composite/sobjects")
    results = adapter.write(writes)
    assert [r.status for r in results] == [WriteStatus.APPLIED] * 5
    assert emu.calls["collections"] == 1, "applied, answer lost, judged again: not re-sent"
    assert all(emu.writes[lead.id] == 1 for lead in leads), "one server write per record"
    again = adapter.write(writes)
    assert [r.status for r in again] == [WriteStatus.UNCHANGED] * 5
    assert emu.get("Lead", leads[2].id)["Leadflow_Score__c"] == 2.0


def test_rate_limit_outlasting_the_budget_raises_rate_limited_on_reads(
    emu: SalesforceEmulator,
) -> None:
    _seed(emu, 2)
    adapter = make_adapter(emu, retry={"max_attempts": 3, "base_delay": 0.0})
    emu.inject("429", times=10, match="/query", retry_after=2)
    with pytest.raises(RateLimitedError) as info:
        list(adapter.read_leads())
    assert info.value.retry_after == 2.0
    assert "REQUEST_LIMIT_EXCEEDED" in str(info.value)
    assert emu.calls["query"] == 3


def test_bounded_in_time_as_well_as_attempts(emu: SalesforceEmulator) -> None:
    _seed(emu, 1)
    sleeps = Sleeps()
    adapter = make_adapter(
        emu, sleep=sleeps, retry={"max_attempts": 50, "max_elapsed": 10.0, "base_delay": 0.0}
    )
    emu.inject("429", times=50, match="/query", retry_after=30)
    with pytest.raises(RateLimitedError):
        list(adapter.read_leads())
    assert sleeps == [], "a 30 s wait would pass the 10 s budget, so none is started"


def test_a_chunk_that_keeps_failing_is_reported_and_the_rest_applied(
    emu: SalesforceEmulator,
) -> None:
    _seed(emu, 450)  # chunks of 200, 200, 50
    adapter = make_adapter(emu, retry={"max_attempts": 2, "base_delay": 0.0})
    writes = _score_writes(adapter)
    # the second and third collection calls fail; judged again, the second chunk's 200 fail
    # again (the fourth call), the third chunk's 50 go through (the fifth)
    emu.inject("503", times=3, match="/composite/sobjects", after=1)
    results = adapter.write(writes)
    statuses = [r.status for r in results]
    assert statuses[:200] == [WriteStatus.APPLIED] * 200
    assert statuses[200:400] == [WriteStatus.FAILED] * 200
    assert statuses[400:] == [WriteStatus.APPLIED] * 50
    assert "SERVER_UNAVAILABLE" in (results[250].error or "")
    # second run: the failed ones apply now, nothing is applied twice
    again = [r.status for r in adapter.write(writes)]
    assert again[:200] == [WriteStatus.UNCHANGED] * 200
    assert again[200:400] == [WriteStatus.APPLIED] * 200
    assert again[400:] == [WriteStatus.UNCHANGED] * 50


def test_validation_error_on_chosen_records_fails_them_alone(emu: SalesforceEmulator) -> None:
    leads = _seed(emu, 6)
    emu.validation_errors.update({leads[1].id, leads[4].id})
    adapter = make_adapter(emu)
    writes = _score_writes(adapter)
    results = adapter.write(writes)
    failed = [i for i, r in enumerate(results) if r.status is WriteStatus.FAILED]
    assert failed == [1, 4]
    assert all("FIELD_CUSTOM_VALIDATION_EXCEPTION" in (results[i].error or "") for i in failed)
    assert [r.status for i, r in enumerate(results) if i not in failed] == [WriteStatus.APPLIED] * 4


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_run_full_of_faults_loses_nothing_and_a_second_run_applies_nothing_twice(
    emu: SalesforceEmulator, seed: int
) -> None:
    leads = _seed(emu, 430)
    rng = random.Random(seed)
    emu.validation_errors.update(rng.sample([lead.id for lead in leads], 5))
    adapter = make_adapter(emu, retry={"max_attempts": 3, "base_delay": 0.0})
    writes = _score_writes(adapter, offset=0.25)
    writes += [
        SLAWrite(lead_id=w.lead_id, due_at=T0 + timedelta(hours=i), state="pending")
        for i, w in enumerate(writes[::3])
    ]
    for _ in range(6):
        emu.inject(
            rng.choice(["429", "limit", "503", "drop", "drop_after"]),
            times=rng.randint(1, 3),
            match=rng.choice(["/query", "/composite/sobjects"]),
        )
    first = adapter.write(writes)
    assert len(first) == len(writes)
    for write, result in zip(writes, first, strict=True):
        record = emu.get("Lead", write.lead_id)
        if result.status is WriteStatus.APPLIED:
            if isinstance(write, ScoreWrite):
                assert record["Leadflow_Score__c"] == write.score
            else:
                assert record["Leadflow_SLA_State__c"] == "pending"
        else:
            assert result.status is WriteStatus.FAILED
            assert result.error
    emu.faults.clear()
    emu.validation_errors.clear()
    before = {lead.id: emu.get("Lead", lead.id)["SystemModstamp"] for lead in leads}
    second = adapter.write(writes)
    for one, two in zip(first, second, strict=True):
        if one.status is WriteStatus.APPLIED:
            assert two.status is WriteStatus.UNCHANGED
        else:
            # applied now, or already in place when only the answer was lost the first time
            assert two.status in (WriteStatus.APPLIED, WriteStatus.UNCHANGED), two.error
    touched = {w.write.lead_id for w in second if w.status is WriteStatus.APPLIED}
    after = {lead.id: emu.get("Lead", lead.id)["SystemModstamp"] for lead in leads}
    assert {k for k in before if before[k] != after[k]} == touched
    assert max(emu.writes.values()) == 1, "no record was written twice by the server"


@pytest.mark.parametrize("bulk", [False, True], ids=["collections", "bulk"])
@pytest.mark.parametrize("fault", ["drop_after", "429", "503", "500", "drop"])
def test_zero_duplicate_server_writes_under_every_write_fault(
    emu: SalesforceEmulator, fault: str, bulk: bool
) -> None:
    leads = _seed(emu, 12)
    adapter = make_adapter(emu, bulk_threshold=5 if bulk else 10_000)
    writes = _score_writes(adapter, offset=0.5)
    # the call that changes the records: the PATCH, or the job's close (its third request)
    emu.inject(
        fault,
        times=2,
        match="/jobs/ingest" if bulk else "/composite/sobjects",
        after=2 if bulk else 0,
    )
    results = adapter.write(writes)
    assert [r.status for r in results] == [WriteStatus.APPLIED] * 12, [r.error for r in results]
    assert {emu.writes[lead.id] for lead in leads} == {1}, "each record written exactly once"
    assert [r.status for r in adapter.write(writes)] == [WriteStatus.UNCHANGED] * 12
    assert {emu.writes[lead.id] for lead in leads} == {1}


# -- sessions ----------------------------------------------------------------------------------


def test_expired_token_without_credentials_is_a_clear_error(emu: SalesforceEmulator) -> None:
    _seed(emu, 1)
    adapter = make_adapter(emu)
    emu.expire_session()
    with pytest.raises(AuthenticationError) as info:
        list(adapter.read_leads())
    assert "INVALID_SESSION_ID" in str(info.value)
    assert "access token" in str(info.value)


def test_expired_session_logs_in_again_with_credentials(emu: SalesforceEmulator) -> None:
    leads = _seed(emu, 3)
    session = route_login(requests.Session(), emu)
    adapter = SalesforceAdapter.from_config(
        username="integration@example.com",
        password="s3cret-password",
        security_token="TOKEN123",
        session=session,
        ca_bundle=str(emu.ca_path),
        bulk_threshold=2,
        bulk_poll_interval=0.0,
        sleep=lambda _s: None,
    )
    assert len([v for p in adapter.read_leads() for v in p.items]) == 3
    logins = emu.calls["login"]
    emu.expire_session()
    # Bulk API 2.0 calls have no re-login of their own in simple-salesforce: the adapter's does.
    results = adapter.write([ScoreWrite(lead_id=lead.id, score=3.0) for lead in leads])
    assert [r.status for r in results] == [WriteStatus.APPLIED] * 3
    assert emu.calls["login"] > logins


def test_wrong_password_is_an_authentication_error_without_the_password(
    emu: SalesforceEmulator,
) -> None:
    adapter = SalesforceAdapter.from_config(
        username="integration@example.com",
        password="not-the-Pa55word",
        security_token="TOKENXYZ",
        session=route_login(requests.Session(), emu),
        ca_bundle=str(emu.ca_path),
    )
    with pytest.raises(AuthenticationError) as info:
        list(adapter.read_leads())
    assert "INVALID_LOGIN" in str(info.value)
    assert "not-the-Pa55word" not in str(info.value)
    assert "TOKENXYZ" not in str(info.value)


# -- secrets -----------------------------------------------------------------------------------


def test_tokens_never_appear_in_reprs_logs_or_errors(
    emu: SalesforceEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    token = emu.session_id
    leads = _seed(emu, 3)
    caplog.set_level(logging.DEBUG)
    adapter = make_adapter(emu)
    texts = [repr(adapter), str(adapter), repr(adapter.__dict__)]
    emu.inject("503", times=2, match="/query")
    emu.inject("429", times=1, match="/composite/sobjects")
    adapter.write([ScoreWrite(lead_id=lead.id, score=1.0) for lead in leads])
    emu.inject("503", times=10, match="/query")
    with pytest.raises(TransientAdapterError) as transient:
        list(adapter.read_leads())
    emu.faults.clear()
    emu.expire_session()
    with pytest.raises(AuthenticationError) as auth:
        list(adapter.read_leads())
    for exc in (transient.value, auth.value):
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    texts += [record.getMessage() for record in caplog.records]
    assert any("retry" in t for t in texts), "retries were logged"
    assert all(token not in t for t in texts)
    assert all("emulatedsessiontoken" not in t for t in texts)


# -- properties --------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_format_soql_round_trips_any_string_through_the_emulator_parser(value: str) -> None:
    from simple_salesforce.format import format_soql
    from tests.emulators.salesforce import _STANDARD

    query = parse_soql(
        format_soql("SELECT Id FROM Lead WHERE LastName = {} AND Email IN {}", value, [value]),
        _STANDARD,
    )
    assert query.where == (("LastName", "=", value), ("Email", "IN", (value,)))


# -- timeouts, sessions and faults in Bulk API 2.0 ---------------------------------------------


def test_a_slow_answer_times_out_on_the_session_adapter_and_is_retried(
    emu: SalesforceEmulator,
) -> None:
    _seed(emu, 2)
    adapter = make_adapter(emu, timeout=0.3)
    emu.inject("slow", times=1, match="/query", retry_after=2)
    assert len([v for p in adapter.read_leads() for v in p.items]) == 2
    assert emu.calls["query"] == 2 + 1, "a retry, then the leads' LeadHistory"


def test_session_expiring_before_a_bulk_job_logs_in_again(emu: SalesforceEmulator) -> None:
    leads = _seed(emu, 4)
    adapter = SalesforceAdapter.from_config(
        username="integration@example.com",
        password="s3cret-password",
        security_token="TOKEN123",
        session=route_login(requests.Session(), emu),
        ca_bundle=str(emu.ca_path),
        bulk_threshold=2,
        bulk_poll_interval=0.0,
    )
    writes = [ScoreWrite(lead_id=lead.id, score=9.0) for lead in leads]
    emu.inject("expire", times=1, match="/jobs/ingest")
    results = adapter.write(writes)
    assert [r.status for r in results] == [WriteStatus.APPLIED] * 4
    assert emu.calls["login"] == 2, "the first login, and one more after the 401"
    assert emu.calls["bulk2_post"] == 2, "the refused job creation, then the real one"


def test_bulk_job_whose_close_answer_is_lost_is_judged_again_not_run_again(
    emu: SalesforceEmulator,
) -> None:
    leads = _seed(emu, 6)
    adapter = make_adapter(emu, bulk_threshold=2)
    writes = _score_writes(adapter)
    # create (1st), upload (2nd), close (3rd): the close is applied, its answer lost
    emu.inject("drop_after", times=1, match="/jobs/ingest", after=2)
    emu.inject("503", times=1, match="/successfulResults")
    results = adapter.write(writes)
    assert [r.status for r in results] == [WriteStatus.APPLIED] * 6
    assert emu.calls["bulk2_post"] == 1, "the applied job is not run a second time"
    assert all(emu.writes[lead.id] == 1 for lead in leads)
    assert [r.status for r in adapter.write(writes)] == [WriteStatus.UNCHANGED] * 6
    assert emu.get("Lead", leads[5].id)["Leadflow_Score__c"] == 5.0


def test_a_login_url_requests_cannot_use_is_an_adapter_error() -> None:
    """``domain="127.0.0.1:9"`` makes simple-salesforce build an unparsable URL: requests
    raises InvalidURL before any connection, and the adapter translates it (no network)."""
    adapter = SalesforceAdapter.from_config(
        username="u", password="hunter2", security_token="tok3n", domain="127.0.0.1:9"
    )
    with pytest.raises(AdapterError) as info:
        list(adapter.read_leads())
    message = str(info.value)
    assert message.startswith("salesforce: login failed: InvalidURL: "), message
    assert "hunter2" not in message and "tok3n" not in message
    assert info.value.__cause__ is None
    adapter.close()
