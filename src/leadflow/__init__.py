"""leadflow: a shared, testable definition of a good lead, SLAs for following leads up, and the
feedback loop that tells marketing what became of the leads it handed over.

The public API is what ``__all__`` lists here and in the submodules. Importing leadflow imports
the pure-domain core only: no adapter, no CRM client, no test tool.

>>> import leadflow
>>> from datetime import datetime, timezone
>>> at = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
>>> lead = leadflow.Lead(id="L-1", email="ada@example.com", created_at=at)
>>> lead = leadflow.transition(lead, leadflow.Stage.MQL, at=at, by="scoring")
>>> lead, rejection = leadflow.reject(lead, "student", at=at, by="u-sam")
>>> lead.stage, rejection.disposition
('disqualified', <Disposition.DISQUALIFY: 'disqualify'>)

The rules come as data: ``load_scorecard`` and ``score_many`` score leads, ``load_policies``
and ``evaluate_many`` judge their SLAs (the rest of each is in :mod:`leadflow.rules`).
"""

from leadflow._version import __version__
from leadflow.business_time import BusinessCalendar, CalendarResolver
from leadflow.errors import (
    IllegalTransitionError,
    LeadflowError,
    ValidationError,
)
from leadflow.lifecycle import WATERFALL, Lifecycle, Stage, replay, time_in_stage, transition
from leadflow.model import (
    STANDARD_ACTIVITY_KINDS,
    Account,
    Activity,
    Lead,
    StageChange,
    Touch,
    TouchKind,
    TouchOutcome,
)
from leadflow.outcomes import Outcome, OutcomeKind
from leadflow.reasons import (
    STANDARD_REASONS,
    Disposition,
    ReasonCatalog,
    RejectCode,
    Rejection,
    reject,
)
from leadflow.rules.scorecard import Scorecard, load_scorecard
from leadflow.rules.scoring import score_many
from leadflow.rules.sla import SLAPolicy, adherence, evaluate_many, load_policies

__all__ = [
    "STANDARD_ACTIVITY_KINDS",
    "STANDARD_REASONS",
    "WATERFALL",
    "Account",
    "Activity",
    "BusinessCalendar",
    "CalendarResolver",
    "Disposition",
    "IllegalTransitionError",
    "Lead",
    "LeadflowError",
    "Lifecycle",
    "Outcome",
    "OutcomeKind",
    "ReasonCatalog",
    "RejectCode",
    "Rejection",
    "SLAPolicy",
    "Scorecard",
    "Stage",
    "StageChange",
    "Touch",
    "TouchKind",
    "TouchOutcome",
    "ValidationError",
    "__version__",
    "adherence",
    "evaluate_many",
    "load_policies",
    "load_scorecard",
    "reject",
    "replay",
    "score_many",
    "time_in_stage",
    "transition",
]
