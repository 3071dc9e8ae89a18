"""Seeded synthetic leads and events, written to Parquet in batches (bounded memory).

Scope: test and benchmark data only. :func:`generate` writes a *leads* file shaped like
:class:`leadflow.Lead` records and an *events* file shaped like :class:`leadflow.Activity`
records, batch by batch, so a million leads with fifteen million events never sit in memory at
once. The same seed always gives the same files.

>>> import tempfile, pathlib
>>> from datetime import datetime, timezone
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> paths = generate(out, leads=50, seed=7, as_of=datetime(2026, 3, 2, tzinfo=timezone.utc))
>>> import pyarrow.parquet as pq
>>> pq.read_metadata(paths.leads).num_rows
50
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from leadflow._validate import check_aware
from leadflow.errors import ValidationError

__all__ = ["EVENTS_SCHEMA", "LEADS_SCHEMA", "GeneratedFiles", "generate"]

_TS = pa.timestamp("us", tz="UTC")

#: Columns of a generated leads file (a subset of :class:`leadflow.Lead`'s fields).
LEADS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("created_at", _TS),
        ("email", pa.string()),
        ("title", pa.string()),
        ("company", pa.string()),
        ("industry", pa.string()),
        ("annual_revenue", pa.float64()),
        ("employees", pa.int64()),
        ("country", pa.string()),
        ("source", pa.string()),
        ("account_id", pa.string()),
    ]
)

#: Columns of a generated events file (a subset of :class:`leadflow.Activity`'s fields).
EVENTS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("lead_id", pa.string()),
        ("kind", pa.string()),
        ("occurred_at", _TS),
    ]
)

_TITLES = [
    "VP Engineering",
    "Vice President of Sales",
    "Director of IT",
    "Chief Technology Officer",
    "CEO",
    "Head of Marketing",
    "Software Engineer",
    "Marketing Manager",
    "Student",
    "Intern",
    "Analyst",
    None,
]
_INDUSTRIES = [
    "Software",
    "Manufacturing",
    "Financial Services",
    "Healthcare",
    "Retail",
    "Education",
    None,
]
_COUNTRIES = ["US", "GB", "DE", "FR", "NL", "IN", "BR", None]
_SOURCES = ["web", "webinar", "trade_show", "paid_search", "partner", None]
_FREE_MAIL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"]
_KINDS = [
    ("web_visit", 0.30),
    ("email_open", 0.20),
    ("email_click", 0.12),
    ("pricing_page_visit", 0.08),
    ("content_download", 0.07),
    ("case_study_download", 0.05),
    ("webinar_registration", 0.05),
    ("webinar_attended", 0.04),
    ("form_submit", 0.03),
    ("demo_request", 0.02),
    ("quote_request", 0.015),
    ("contact_request", 0.01),
    ("free_trial", 0.01),
    ("rfp", 0.005),
    ("unsubscribe", 0.01),
]
_DAY_US = 86_400 * 1_000_000


@attrs.frozen(kw_only=True)
class GeneratedFiles:
    """Where :func:`generate` wrote, and how many rows."""

    leads: Path
    events: Path
    lead_rows: int
    event_rows: int


def _pick(rng: np.random.Generator, values: list[str | None], n: int) -> pa.Array:
    idx = rng.integers(0, len(values), size=n)
    return pa.array([values[i] for i in idx.tolist()], type=pa.string())


def _leads_batch(
    rng: np.random.Generator, start: int, n: int, accounts: int, as_of_us: int
) -> pa.RecordBatch:
    numbers = np.arange(start, start + n)
    ids = [f"L{i:09d}" for i in numbers.tolist()]
    account_numbers = rng.integers(0, max(accounts, 1), size=n)
    free = rng.random(n) < 0.2
    no_email = rng.random(n) < 0.05
    free_domain = rng.integers(0, len(_FREE_MAIL), size=n)
    emails: list[str | None] = []
    for num, acc, is_free, missing, fd in zip(
        numbers.tolist(),
        account_numbers.tolist(),
        free.tolist(),
        no_email.tolist(),
        free_domain.tolist(),
        strict=True,
    ):
        if missing:
            emails.append(None)
        elif is_free:
            emails.append(f"person{num}@{_FREE_MAIL[fd]}")
        else:
            emails.append(f"person{num}@company{acc}.example.com")
    revenue = np.round(np.exp(rng.normal(18.5, 2.0, size=n)), 2)
    revenue_missing = rng.random(n) < 0.1
    employees = np.exp(rng.normal(5.0, 1.8, size=n)).astype(np.int64)
    employees_missing = rng.random(n) < 0.1
    created = as_of_us - rng.integers(0, 365 * _DAY_US, size=n)
    return pa.record_batch(
        [
            pa.array(ids, type=pa.string()),
            pa.array(created, type=pa.int64()).cast(_TS),
            pa.array(emails, type=pa.string()),
            _pick(rng, _TITLES, n),
            pa.array([f"Company {a}" for a in account_numbers.tolist()], type=pa.string()),
            _pick(rng, _INDUSTRIES, n),
            pa.array(revenue, type=pa.float64(), mask=revenue_missing),
            pa.array(employees, type=pa.int64(), mask=employees_missing),
            _pick(rng, _COUNTRIES, n),
            _pick(rng, _SOURCES, n),
            pa.array([f"A{a:08d}" for a in account_numbers.tolist()], type=pa.string()),
        ],
        schema=LEADS_SCHEMA,
    )


def _events_batch(
    rng: np.random.Generator,
    *,
    lead_start: int,
    n_leads: int,
    event_start: int,
    per_lead: float,
    as_of_us: int,
    future_fraction: float,
) -> pa.RecordBatch:
    counts = rng.poisson(per_lead, size=n_leads)
    total = int(counts.sum())
    lead_numbers = np.repeat(np.arange(lead_start, lead_start + n_leads), counts)
    kinds, weights = zip(*_KINDS, strict=True)
    p = np.asarray(weights) / np.sum(weights)
    kind_idx = rng.choice(len(kinds), size=total, p=p)
    age_us = (rng.exponential(30.0, size=total) * _DAY_US).astype(np.int64)
    future = rng.random(total) < future_fraction
    age_us = np.where(future, -rng.integers(1, 10 * _DAY_US, size=total), age_us)
    order = rng.permutation(total)  # files are rarely sorted: do not hand out sorted events
    lead_numbers = lead_numbers[order]
    kind_idx = kind_idx[order]
    occurred = as_of_us - age_us[order]
    kind_dict = pa.array(list(kinds), type=pa.string())
    return pa.record_batch(
        [
            pa.array(
                [f"E{i:010d}" for i in range(event_start, event_start + total)], type=pa.string()
            ),
            pa.array([f"L{i:09d}" for i in lead_numbers.tolist()], type=pa.string()),
            kind_dict.take(pa.array(kind_idx)),
            pa.array(occurred, type=pa.int64()).cast(_TS),
        ],
        schema=EVENTS_SCHEMA,
    )


def generate(
    directory: str | os.PathLike[str],
    *,
    leads: int,
    seed: int,
    as_of: datetime,
    events_per_lead: float = 15.0,
    batch_size: int = 100_000,
    future_fraction: float = 0.01,
) -> GeneratedFiles:
    """Write ``leads.parquet`` and ``events.parquet`` into *directory* and return their paths.

    Lead ids are ``L000000001``...; each lead gets a Poisson(*events_per_lead*) number of events
    of the standard activity kinds, mostly in the 90 days before *as_of* (a *future_fraction* of
    them after it, which scoring must ignore). Events are shuffled within each batch of leads, so
    the events file is not sorted by lead id. Memory stays proportional to *batch_size*.
    """
    check_aware("as_of", as_of)
    if leads < 0:
        raise ValidationError("leads", leads, "must not be negative")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    leads_path, events_path = out / "leads.parquet", out / "events.parquet"
    rng = np.random.default_rng(seed)
    epoch = datetime(1970, 1, 1, tzinfo=as_of.tzinfo)
    as_of_us = (as_of - epoch) // timedelta(microseconds=1)
    accounts = max(leads // 3, 1)
    event_rows = 0
    with (
        pq.ParquetWriter(leads_path, LEADS_SCHEMA) as leads_writer,
        pq.ParquetWriter(events_path, EVENTS_SCHEMA) as events_writer,
    ):
        for start in range(0, leads, batch_size):
            n = min(batch_size, leads - start)
            leads_writer.write_batch(_leads_batch(rng, start + 1, n, accounts, as_of_us))
            events = _events_batch(
                rng,
                lead_start=start + 1,
                n_leads=n,
                event_start=event_rows,
                per_lead=events_per_lead,
                as_of_us=as_of_us,
                future_fraction=future_fraction,
            )
            event_rows += events.num_rows
            events_writer.write_batch(events)
    return GeneratedFiles(
        leads=leads_path, events=events_path, lead_rows=leads, event_rows=event_rows
    )
