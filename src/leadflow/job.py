"""The leadflow job: read → score → recommend stages → evaluate SLAs → write back.

Scope: the orchestration ``leadflow run`` performs against any adapter. Rules decide (a
scorer, :func:`leadflow.rules.sla.evaluate`); this module turns their decisions into write
operations and hands them to the adapter in batches; the adapter carries them out and reports
one result per write. Time is an argument (``now``); nothing here reads a clock or opens a file.

Incremental, restartable, idempotent:

* each entity is read from the cursor the job saved last time, in a :class:`CursorStore`
  (the embedded store keeps them), and cursors are saved only after the writes went out —
  a job that dies is simply run again;
* the leads judged are those that changed, those with new activities or touches, and those
  whose SLA clock is still open (time alone moves an SLA from pending to breached); their full
  activity and touch history comes from a :class:`History` (the embedded store, which mirrors
  what the job reads from a CRM);
* rejections and outcomes made in the system of record (when its capabilities say it reads them)
  are read the same way, from their own cursors, and handed to the mirror with everything else;
* every decision becomes a write whose re-application is ``unchanged``, so a second run with
  nothing new writes nothing new; a lead whose write failed stays due (kept beside the cursors)
  and is judged again on every run until its writes are applied.

>>> from leadflow.adapters.sqlite import SQLiteAdapter
>>> from leadflow.demo import demo_calendar, demo_policies, demo_scorecard, generate
>>> from leadflow.ports import Entity
>>> data = generate(leads=50, seed=1)
>>> store = SQLiteAdapter(":memory:")
>>> for entity, items in [(Entity.ACCOUNT, data.accounts), (Entity.LEAD, data.leads),
...                       (Entity.ACTIVITY, data.activities), (Entity.TOUCH, data.touches)]:
...     _ = store.upsert(entity, items)
>>> nightly = Job(name="nightly", now=data.now, scorer=scorecard_scorer(demo_scorecard()),
...               policies=demo_policies(), calendar=demo_calendar())
>>> first = run(nightly, store, cursors=store, history=store)
>>> first.read["leads"], first.writes["score"]
(50, {'applied': 50})
>>> run(nightly, store, cursors=store, history=store).applied
0
>>> store.close()
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from leadflow._validate import check_aware
from leadflow.errors import ConfigError, IllegalTransitionError, LeadflowError, ValidationError
from leadflow.lifecycle import WATERFALL, Lifecycle
from leadflow.model import Account, Activity, Lead, StageChange, Touch, apply_change, by_lead
from leadflow.ports import (
    Adapter,
    Cursor,
    Entity,
    OutcomeWrite,
    RejectionWrite,
    ScoreWrite,
    SLAWrite,
    StageWrite,
    Write,
    WriteResult,
    WriteStatus,
    read_pages,
    readable,
)
from leadflow.reasons import STANDARD_REASONS, Disposition, ReasonCatalog, reject

if TYPE_CHECKING:  # the rules are imported when a scorer is built, not with the job
    from leadflow.rules.scorecard import Scorecard
    from leadflow.rules.scoring import Recommendation
    from leadflow.rules.sla import SLAClock

__all__ = [
    "Contacts",
    "CursorStore",
    "History",
    "Job",
    "RunReport",
    "ScoreDecision",
    "Scorer",
    "Scoring",
    "Skipped",
    "check_final_actions",
    "run",
    "scorecard_scorer",
]


class CursorStore(Protocol):
    """Where a job keeps its cursors between runs (the embedded store implements it)."""

    def load_cursor(self, job: str, entity: Entity | str) -> Cursor | None:
        """The cursor *job* saved for *entity*, or ``None`` before its first run."""
        ...

    def save_cursor(self, job: str, cursor: Cursor) -> None:
        """Remember *cursor* (for its entity) as where *job* resumes next time."""
        ...


class History(Protocol):
    """The full records of given leads: what rules need beyond what changed since last run."""

    def leads_by_id(self, ids: Iterable[str]) -> dict[str, Lead]:
        """The leads with these ids that exist, by id (with their stage history)."""
        ...

    def accounts_by_id(self, ids: Iterable[str]) -> dict[str, Account]:
        """The accounts with these ids that exist, by id."""
        ...

    def leads_at_accounts(self, account_ids: Iterable[str]) -> list[Lead]:
        """Every lead at these accounts (the buying committee the roll-up judges)."""
        ...

    def activities_for(self, lead_ids: Iterable[str]) -> list[Activity]:
        """Every activity of these leads."""
        ...

    def touches_for(self, lead_ids: Iterable[str]) -> list[Touch]:
        """Every touch on these leads."""
        ...

    def open_sla_leads(self) -> list[str]:
        """Ids of leads whose SLA clock is still running (time alone may breach them)."""
        ...


@attrs.frozen(kw_only=True)
class ScoreDecision:
    """A scorer's verdict on one lead: the score, its one-line explanation, the recommendation,
    and the stage change the scorer made (``None`` to leave the stage).

    ``change`` is the one transition of the lead: the scorer makes it (with
    :func:`~leadflow.lifecycle.transition`, by its own ``by``, at the run's ``now``) and the job
    writes it as it is — it does not move the lead a second time. ``sales_winnable`` says whether
    the account roll-up found the lead's account winnable; ``problem`` why a recommended move was
    not made (reported in :attr:`RunReport.skipped`).
    """

    lead_id: str
    score: float
    summary: str = ""
    recommendation: Recommendation | None = None
    change: StageChange | None = None
    sales_winnable: bool = False
    problem: str | None = None

    @property
    def stage(self) -> str | None:
        """The stage the lead moves to, or ``None`` when it stays."""
        return self.change.to_stage if self.change is not None else None


@attrs.frozen(kw_only=True)
class Skipped:
    """Something the job could not do for one record, and why (reported, never dropped).

    ``step`` is ``"read <entity>"`` (a record the adapter could not map onto the core model, from
    :attr:`leadflow.ports.Page.errors`), ``"stage"`` (a recommended stage move),
    ``"account_rollup"`` (an account whose roll-up failed; ``record_id`` is the account's) or
    ``"sla_final_action"`` (the recycle or disqualify an SLA policy's cadence ended in).
    """

    record_id: str
    step: str
    error: str


def _decisions(value: Iterable[ScoreDecision]) -> tuple[ScoreDecision, ...]:
    return tuple(value)


def _skipped(value: Iterable[Skipped]) -> tuple[Skipped, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Scoring:
    """What a :class:`Scorer` returns for a batch: one decision per lead, and what it could not
    do beyond single leads (an account whose roll-up failed), for :attr:`RunReport.skipped`."""

    decisions: tuple[ScoreDecision, ...] = attrs.field(converter=_decisions)
    skipped: tuple[Skipped, ...] = attrs.field(default=(), converter=_skipped)


#: Contacts per account: ``account id -> [(lead, its activities), ...]`` for every person at it.
Contacts = Mapping[str, Sequence[tuple[Lead, Sequence[Activity]]]]


class Scorer(Protocol):
    """Scores a batch of leads at ``now``; :func:`scorecard_scorer` builds one from a scorecard.

    ``accounts`` are the leads' accounts by id. ``contacts`` (:data:`Contacts`) is every person
    at those accounts when the job rolls accounts up (``Job.account_rollup``), else ``None``.
    """

    def __call__(
        self,
        leads: Sequence[Lead],
        activities: Sequence[Activity],
        accounts: Mapping[str, Account],
        *,
        now: datetime,
        contacts: Contacts | None = None,
    ) -> Scoring:
        """One :class:`ScoreDecision` per lead of *leads*, and what could not be done."""
        ...


def scorecard_scorer(
    card: Scorecard,
    *,
    lifecycle: Lifecycle = WATERFALL,
    by: str = "scoring",
    reasons: ReasonCatalog = STANDARD_REASONS,
) -> Scorer:
    """A :class:`Scorer` for a :class:`leadflow.rules.scorecard.Scorecard`: scores with
    :func:`leadflow.rules.scoring.score_many`, rolls each account's *contacts* up with
    :func:`leadflow.rules.scoring.score_account`, and moves leads with
    :func:`leadflow.rules.scoring.apply_recommendation` (never demoting, never skipping sales'
    acceptance), recording *by* as who moved them. A lead at a *sales-winnable* account is
    recommended ``sales_winnable`` (unless it is SQL-ready) and handed to sales like an MQL, even
    below the MQL threshold. An account whose roll-up fails (a contact filed under another
    account, say) is reported as skipped, and its leads are scored without it. A recycled lead
    rests in nurture for its reject code's re-engage delay (in *reasons*): it is scored but
    not moved."""
    from leadflow.rules.scoring import (
        AccountScore,
        apply_recommendation,
        recommend,
        score_account,
        score_many,
    )

    def score(
        leads: Sequence[Lead],
        activities: Sequence[Activity],
        accounts: Mapping[str, Account],
        *,
        now: datetime,
        contacts: Contacts | None = None,
    ) -> Scoring:
        theirs = by_lead(activities)
        pairs = ((lead, theirs.get(lead.id, [])) for lead in leads)
        lookup = {lead.id: lead for lead in leads}
        rollups: dict[str, AccountScore] = {}
        skipped: list[Skipped] = []
        for account_id, people in (contacts or {}).items():
            account = accounts.get(account_id)
            if account is not None and people:
                try:
                    rollups[account_id] = score_account(card, account, people, as_of=now)
                except LeadflowError as exc:
                    skipped.append(
                        Skipped(record_id=account_id, step="account_rollup", error=str(exc))
                    )
        decisions = []
        for result in score_many(card, pairs, as_of=now, accounts=accounts):
            lead = lookup[result.lead_id]
            rollup = rollups.get(lead.account_id) if lead.account_id is not None else None
            problem: str | None = None
            try:
                moved = (
                    lead
                    if _rests_in_nurture(lead, now=now, lifecycle=lifecycle, reasons=reasons)
                    else apply_recommendation(
                        lead, result, at=now, by=by, lifecycle=lifecycle, account_score=rollup
                    )
                )
            except LeadflowError as exc:
                moved = lead  # e.g. a history dated after now: score it, leave the stage
                problem = f"recommended stage not applied: {exc}"
            decisions.append(
                ScoreDecision(
                    lead_id=lead.id,
                    score=round(result.total, 2),
                    summary=result.explain()[:500],
                    recommendation=recommend(result, rollup),
                    change=moved.history[-1] if moved.stage != lead.stage else None,
                    problem=problem,
                    sales_winnable=rollup is not None and rollup.sales_winnable,
                )
            )
        return Scoring(decisions=decisions, skipped=skipped)

    return score


@attrs.frozen(kw_only=True)
class Job:
    """What one run does: its name (the cursors' key), its rules, and its instant ``now``.

    ``policies`` are :class:`leadflow.rules.sla.SLAPolicy` values and ``calendar`` a
    business calendar or a chooser per lead; with no policies the SLA step is skipped, and with
    no ``scorer`` the scoring step is.

    With ``account_rollup`` (the default) the scorer also gets every person at the judged
    leads' accounts (``contacts=``, from ``History.leads_at_accounts``), so an account's
    roll-up sees its whole buying committee, not only the leads that changed since last run.

    ``handoff_stage`` is the stage whose entry by scoring hands a lead to sales: the job stamps
    ``handed_off_at = now`` on that stage write (:attr:`leadflow.ports.StageWrite.handed_off_at`)
    and on the lead its SLA policies judge in the same run, so a ``handoff`` trigger starts
    there. ``None`` stamps nothing.

    ``by`` names the job in the changes it makes itself (an SLA final action is by
    ``"<by>-sla"``); a stage change scoring recommends is the scorer's, by the scorer's name.
    """

    name: str
    now: datetime = attrs.field(validator=lambda _i, _a, v: check_aware("now", v))
    scorer: Scorer | None = None
    policies: tuple[Any, ...] = attrs.field(default=(), converter=tuple)
    calendar: Any = None
    lifecycle: Lifecycle = WATERFALL
    reasons: ReasonCatalog = STANDARD_REASONS
    batch_size: int = 500
    dry_run: bool = False
    by: str = "leadflow"
    handoff_stage: str | None = "mql"
    account_rollup: bool = True

    def __attrs_post_init__(self) -> None:
        if self.policies and self.calendar is None:
            raise ValidationError(
                "calendar", None, "is required when SLA policies are given (business time)"
            )
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int):
            raise ValidationError("batch_size", self.batch_size, "must be a whole number >= 1")
        if self.batch_size < 1:
            raise ValidationError("batch_size", self.batch_size, "must be a whole number >= 1")
        check_final_actions(self.policies, self.reasons)


def check_final_actions(policies: Sequence[Any], reasons: ReasonCatalog = STANDARD_REASONS) -> None:
    """Refuse SLA *policies* whose final action cannot be carried out with *reasons*.

    The reject code decides what rejecting does, so a final action must name a code of the
    catalog whose disposition is the action's (``recycle`` or ``disqualify``). Raises
    :class:`~leadflow.errors.ConfigError` naming ``policies[i].final.reason`` or ``.action``.
    """
    for index, policy in enumerate(policies):
        final = getattr(policy, "final", None)
        if final is None:
            continue
        path = f"policies[{index}].final"
        checks = [("reason", final.reason, final.action, "action")]
        untouched = getattr(final, "untouched_reason", None)
        if untouched is not None:  # a lead nobody touched goes back to nurture
            checks.append(("untouched_reason", untouched, Disposition.RECYCLE, "untouched_reason"))
        for key, reason, action, blame in checks:
            if reason not in reasons:
                known = ", ".join(c.code for c in reasons)
                raise ConfigError(
                    f"{path}.{key}", f"unknown reject code {reason!r}; known: {known}"
                )
            code = reasons[reason]
            if code.disposition is not action:
                raise ConfigError(
                    f"{path}.{blame}",
                    f"{action.value!r} contradicts reject code {code.code!r}, whose "
                    f"disposition is {code.disposition.value!r}; the code decides what "
                    "rejecting does, so pick one whose disposition matches",
                )


@attrs.frozen(kw_only=True)
class RunReport:
    """What a run did, in numbers, plus every write that did not succeed.

    ``sla`` counts the judged leads by overall SLA state as they stand after the run (a lead
    whose final action the run carried out is counted in its state after it), plus
    ``final_actions``: the same counts ``leadflow sla`` prints for the same instant.
    """

    job: str
    now: datetime
    read: Mapping[str, int]
    judged: int
    scores: Mapping[str, int]
    recommendations: Mapping[str, int]
    sla: Mapping[str, int]
    writes: Mapping[str, Mapping[str, int]]
    problems: tuple[WriteResult, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    dry_run: bool = False
    recorded: Mapping[str, int] = attrs.field(factory=dict)

    @property
    def applied(self) -> int:
        """How many writes changed something."""
        return sum(by.get(WriteStatus.APPLIED.value, 0) for by in self.writes.values())

    @property
    def ok(self) -> bool:
        """Whether every write was applied or already in place and every decision carried out."""
        return not self.problems and not self.skipped

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "job": self.job,
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "read": dict(self.read),
            "judged": self.judged,
            "scores": dict(self.scores),
            "recommendations": dict(self.recommendations),
            "sla": dict(self.sla),
            "writes": {k: dict(v) for k, v in self.writes.items()},
            "applied": self.applied,
            "recorded": dict(self.recorded),
            "problems": [
                {
                    "lead_id": r.write.lead_id,
                    "kind": r.write.kind.value,
                    "status": r.status.value,
                    "error": r.error,
                }
                for r in self.problems
            ],
            "skipped": [attrs.asdict(s) for s in self.skipped],
        }


@attrs.define
class _Changes:
    """What an incremental read found."""

    read: Counter[str] = attrs.Factory(Counter)
    cursors: dict[Entity, Cursor] = attrs.Factory(dict)
    versions: dict[str, str] = attrs.Factory(dict)
    touched: set[str] = attrs.Factory(set)
    errors: list[Skipped] = attrs.Factory(list)


def _read_changes(
    job: Job,
    adapter: Adapter,
    cursors: CursorStore,
    mirror: Callable[[Entity, Sequence[Any]], object] | None,
    tick: Callable[[str, int], None],
) -> _Changes:
    found = _Changes()
    for entity in _ORDER:
        if not readable(adapter, entity):
            continue
        for page in read_pages(adapter, entity, cursors.load_cursor(job.name, entity)):
            items = [v.item for v in page.items]
            if mirror is not None and items:
                mirror(entity, items)
            for versioned in page.items:
                if entity is Entity.LEAD:
                    found.versions[versioned.item.id] = versioned.version
                    found.touched.add(versioned.item.id)
                elif entity in (Entity.ACTIVITY, Entity.TOUCH):
                    found.touched.add(versioned.item.lead_id)
                # Rejections and outcomes made in the CRM are mirrored for the reports; the
                # rejected lead's new stage arrives with the lead itself.
            found.errors.extend(
                Skipped(record_id=e.record_id, step=f"read {e.entity.value}", error=e.error)
                for e in page.errors
            )
            if items:
                found.read[_PLURAL[entity]] += len(items)
            found.cursors[entity] = page.cursor
            tick(f"reading {_PLURAL[entity]}", found.read[_PLURAL[entity]])
    return found


#: The order entities are read in (leads after accounts, facts about leads after the leads).
_ORDER = (
    Entity.ACCOUNT,
    Entity.LEAD,
    Entity.ACTIVITY,
    Entity.TOUCH,
    Entity.REJECTION,
    Entity.OUTCOME,
)

_PLURAL = {
    Entity.ACCOUNT: "accounts",
    Entity.LEAD: "leads",
    Entity.ACTIVITY: "activities",
    Entity.TOUCH: "touches",
    Entity.REJECTION: "rejections",
    Entity.OUTCOME: "outcomes",
}


def _contacts(history: History, leads: Sequence[Lead], activities: Sequence[Activity]) -> Contacts:
    """Everyone at the accounts of *leads*, with their activities (the judged leads as judged)."""
    account_ids = {lead.account_id for lead in leads if lead.account_id is not None}
    if not account_ids:
        return {}
    known = {lead.id: lead for lead in leads}
    people = [known.get(p.id, p) for p in history.leads_at_accounts(account_ids)]
    missing = [p.id for p in people if p.id not in known]
    theirs = by_lead([*activities, *history.activities_for(missing)])
    out: dict[str, list[tuple[Lead, Sequence[Activity]]]] = {}
    for person in people:
        if person.account_id is not None:
            out.setdefault(person.account_id, []).append((person, theirs.get(person.id, [])))
    return out


@attrs.frozen(kw_only=True)
class _Scored:
    """What scoring decided, as writes: the score writes and the stage writes of the moves made;
    the moved leads by id (the SLA step judges them as moved); how many moved to each stage;
    the sales-winnable accounts; what could not be done."""

    writes: tuple[Write, ...] = ()
    moved: Mapping[str, Lead] = attrs.field(factory=dict)
    moves: Mapping[str, int] = attrs.field(factory=dict)
    winnable: frozenset[str] = frozenset()
    skipped: tuple[Skipped, ...] = ()


def _score_writes(
    job: Job,
    history: History,
    leads: Sequence[Lead],
    activities: Sequence[Activity],
    accounts: Mapping[str, Account],
    *,
    versions: Mapping[str, str],
) -> _Scored:
    """Score writes, and the stage writes of the moves the scorer made (each the scorer's one
    transition, written as made; the job only checks it against its lifecycle)."""
    if job.scorer is None or not leads:
        return _Scored()
    writes: list[Write] = []
    moved: dict[str, Lead] = {}
    moves: Counter[str] = Counter()
    winnable: set[str] = set()
    by_id = {lead.id: lead for lead in leads}
    contacts = _contacts(history, leads, activities) if job.account_rollup else None
    scoring = job.scorer(leads, activities, accounts, now=job.now, contacts=contacts)
    skipped: list[Skipped] = list(scoring.skipped)
    for decision in scoring.decisions:
        lead = by_id[decision.lead_id]
        if decision.problem is not None:
            skipped.append(Skipped(record_id=lead.id, step="stage", error=decision.problem))
        if decision.sales_winnable and lead.account_id is not None:
            winnable.add(lead.account_id)
        version = versions.get(lead.id)
        writes.append(
            ScoreWrite(
                lead_id=lead.id,
                score=decision.score,
                summary=decision.summary,
                recommendation=(
                    None if decision.recommendation is None else decision.recommendation.value
                ),
                expected_version=version,
            )
        )
        change = decision.change
        if change is None or _resting(job, lead):
            continue
        handoff = job.now if change.to_stage == job.handoff_stage else None
        try:
            if not job.lifecycle.allows(change.from_stage, change.to_stage):
                raise IllegalTransitionError(
                    change.from_stage, change.to_stage, job.lifecycle.targets(change.from_stage)
                )
            after = apply_change(lead, change, handed_off_at=handoff)
        except LeadflowError as exc:  # e.g. a stage the job's lifecycle does not know
            skipped.append(Skipped(record_id=lead.id, step="stage", error=str(exc)))
            continue
        moved[lead.id] = after
        moves[change.to_stage] += 1
        writes.append(
            StageWrite(
                lead_id=lead.id, change=change, expected_version=version, handed_off_at=handoff
            )
        )
    return _Scored(
        writes=tuple(writes),
        moved=moved,
        moves=dict(moves),
        winnable=frozenset(winnable),
        skipped=tuple(skipped),
    )


@attrs.frozen(kw_only=True)
class _Judged:
    """What the SLA step decided, as writes: clock writes and the final actions that fell due;
    the number of leads in each state (and of final actions); what could not be done."""

    writes: tuple[Write, ...] = ()
    states: Mapping[str, int] = attrs.field(factory=dict)
    skipped: tuple[Skipped, ...] = ()


def _resting(job: Job, lead: Lead) -> bool:
    return _rests_in_nurture(lead, now=job.now, lifecycle=job.lifecycle, reasons=job.reasons)


def _rests_in_nurture(
    lead: Lead, *, now: datetime, lifecycle: Lifecycle, reasons: ReasonCatalog
) -> bool:
    """Whether *lead* rests in nurture: recycled with a reject code whose re-engage delay has
    not passed at *now*. Scoring must not hand it straight back to sales — above all not a lead
    the SLA's final action recycled in an earlier run (or this one), which would otherwise go
    back to ``mql`` with a new clock on every re-run."""
    if lead.stage != lifecycle.recycled or not lead.history:
        return False
    last = lead.history[-1]
    if last.reason is None or last.reason not in reasons:
        return False
    delay = reasons[last.reason].reengage_after
    return delay is not None and now.astimezone(UTC) < (last.at + delay).astimezone(UTC)


def _sla_writes(
    job: Job,
    leads: Sequence[Lead],
    touches: Sequence[Touch],
    activities: Sequence[Activity],
    versions: Mapping[str, str],
) -> _Judged:
    """SLA clock writes, the final actions (recycle / disqualify) that fell due, and the final
    actions that could not be carried out (their lead's clock is still written)."""
    writes: list[Write] = []
    states: Counter[str] = Counter()
    skipped: list[Skipped] = []
    if not job.policies or not leads:
        return _Judged()
    from leadflow.rules.sla import ActionState, evaluate, evaluate_many

    by_id = {lead.id: lead for lead in leads}
    mine = by_lead(touches)
    for evaluation in evaluate_many(
        [(lead, mine.get(lead.id, [])) for lead in leads],
        as_of=job.now,
        policies=job.policies,
        calendar=job.calendar,
        activities=activities,
    ):
        version = versions.get(evaluation.lead_id)
        final = evaluation.final
        if final is None or final.state is not ActionState.DUE:
            states[evaluation.state] += 1
            writes.append(_clock_write(evaluation.clock, version))
            continue
        lead = by_id[evaluation.lead_id]
        # Carried out now, so the lead rests in nurture from now (its reject code's re-engage
        # delay): dated back to when the cadence ran out, a long-overdue lead would have
        # "rested" already and the next run would hand it straight back with a new clock.
        last = lead.history[-1].at if lead.history else job.now
        try:
            after, rejection = reject(
                lead,
                final.reason,
                at=max(job.now, last, key=lambda at: at.astimezone(UTC)),
                by=f"{job.by}-sla",
                catalog=job.reasons,
                lifecycle=job.lifecycle,
            )
        except LeadflowError as exc:  # e.g. the lifecycle does not allow it from here
            skipped.append(
                Skipped(
                    record_id=lead.id,
                    step="sla_final_action",
                    error=f"{final.action.value} with {final.reason!r}: {exc}",
                )
            )
            states[evaluation.state] += 1
            writes.append(_clock_write(evaluation.clock, version))
            continue
        states["final_actions"] += 1
        writes.append(
            RejectionWrite(rejection=rejection, change=after.history[-1], expected_version=version)
        )
        # The clock to write is the one after the action (the lead has left the cadence), so
        # the next run, judging the moved lead, finds it already in place.
        settled = evaluate(
            after,
            mine.get(lead.id, []),
            as_of=job.now,
            policies=job.policies,
            calendar=job.calendar,
            activities=[a for a in activities if a.lead_id == lead.id],
        )
        # Counted as the lead stands after the action, as `leadflow sla` judges it at the same
        # instant: the two report the same number of leads in each state.
        states[(settled or evaluation).state] += 1
        if settled is not None:
            writes.append(_clock_write(settled.clock, version))
    return _Judged(writes=tuple(writes), states=dict(states), skipped=tuple(skipped))


def _clock_write(clock: SLAClock, version: str | None) -> SLAWrite:
    """The write that carries an SLA clock decision back to the system of record."""
    return SLAWrite(
        lead_id=clock.lead_id,
        due_at=clock.due_at,
        state=clock.state.value,
        expected_version=version,
    )


def _batches(writes: Sequence[Write], size: int) -> Iterator[list[Write]]:
    """*writes* in batches of about *size*, keeping each lead's writes together and in order.

    Adapters judge ``expected_version`` against the version a lead had when its batch began, so
    a lead's score, stage and SLA writes must travel in one batch or the later ones would
    conflict with the earlier.
    """
    groups: dict[str, list[Write]] = {}
    for write in writes:
        groups.setdefault(write.lead_id, []).append(write)
    batch: list[Write] = []
    for group in groups.values():
        if batch and len(batch) + len(group) > size:
            yield batch
            batch = []
        batch.extend(group)
    if batch:
        yield batch


def run(
    job: Job,
    adapter: Adapter,
    *,
    cursors: CursorStore,
    history: History,
    mirror: Callable[[Entity, Sequence[Any]], object] | None = None,
    record: Callable[[Sequence[Write]], Sequence[WriteResult]] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> RunReport:
    """Run *job* against *adapter* and report what happened.

    *mirror*, when given, receives every record read (``mirror(entity, items)``) before rules
    run — how records read from a CRM reach the embedded store that serves as *history*.
    *record*, when given, receives the writes the adapter applied or already held (without
    their expected versions) — how the store keeps the score, stage and SLA history a CRM does not, and knows
    which SLA clocks are still open. When the adapter *is* the store, pass neither. *progress*
    is called with a phase name and a count as work proceeds.
    """
    tick = progress or (lambda _phase, _n: None)
    found = _read_changes(job, adapter, cursors, mirror, tick)
    found.touched.update(_still_due(job, cursors))
    if job.policies:
        found.touched.update(history.open_sla_leads())
    ids = sorted(found.touched)
    by_id = history.leads_by_id(ids)
    leads = [by_id[i] for i in ids if i in by_id]
    activities = history.activities_for(ids)
    touches = history.touches_for(ids)
    accounts = history.accounts_by_id({lead.account_id for lead in leads if lead.account_id})
    tick("judging leads", len(leads))

    scored = _score_writes(job, history, leads, activities, accounts, versions=found.versions)
    current = [scored.moved.get(lead.id, lead) for lead in leads]
    judged = _sla_writes(job, current, touches, activities, found.versions)
    writes = [*scored.writes, *judged.writes]

    results: list[WriteResult] = []
    recorded: Counter[str] = Counter()
    if not job.dry_run:
        for batch in _batches(writes, job.batch_size):
            done = adapter.write(batch)
            results.extend(done)
            tick("writing", len(results))
            if record is not None:
                # An unchanged write describes what the adapter already holds (a clock an
                # earlier run started, say): the state store must know it as well as a new one.
                held = [_unversioned(r.write) for r in done if r.status in _HELD]
                if held:
                    recorded.update(r.status.value for r in record(held))
        for cursor in found.cursors.values():
            cursors.save_cursor(job.name, cursor)
        failed = sorted({r.write.lead_id for r in results if r.status is WriteStatus.FAILED})
        cursors.save_cursor(_due_job(job), Cursor(entity=Entity.LEAD, token=json.dumps(failed)))
    by_kind: dict[str, Counter[str]] = {w.kind.value: Counter() for w in writes}
    for result in results:
        by_kind[result.write.kind.value][result.status.value] += 1
    if job.dry_run:
        for write in writes:
            by_kind[write.kind.value]["planned"] += 1
    score_writes = sum(1 for w in writes if isinstance(w, ScoreWrite))
    return RunReport(
        job=job.name,
        now=job.now,
        read=dict(found.read),
        judged=len(leads),
        scores=(
            {"scored": score_writes, "sales_winnable_accounts": len(scored.winnable)}
            if job.scorer is not None
            else {}
        ),
        recommendations=dict(scored.moves),
        sla=dict(judged.states),
        writes={k: dict(v) for k, v in sorted(by_kind.items())},
        problems=tuple(r for r in results if not r.ok),
        skipped=(*found.errors, *scored.skipped, *judged.skipped),
        dry_run=job.dry_run,
        recorded=dict(recorded),
    )


_HELD = frozenset({WriteStatus.APPLIED, WriteStatus.UNCHANGED})


def _due_job(job: Job) -> str:
    """Where the ids of leads whose writes failed are kept, beside the job's cursors."""
    return f"{job.name}#due"


def _still_due(job: Job, cursors: CursorStore) -> set[str]:
    """Leads whose writes failed last run: judged again until their writes are applied, even
    when nothing about them changed (the cursors moved past them)."""
    saved = cursors.load_cursor(_due_job(job), Entity.LEAD)
    if saved is None or not saved.token:
        return set()
    try:
        ids = json.loads(saved.token)
    except ValueError:
        return set()
    return {i for i in ids if isinstance(i, str)} if isinstance(ids, list) else set()


def _unversioned(write: Write) -> Write:
    if isinstance(write, OutcomeWrite):
        return write
    return attrs.evolve(write, expected_version=None)
