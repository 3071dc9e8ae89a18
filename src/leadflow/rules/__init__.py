"""Rules as data: scorecards (the shared definition of a good lead) and SLA policies.

Each rule module holds the rules' data classes, their loading from TOML and plain dicts, and their
pure evaluation functions; nothing here reads a clock or does I/O beyond reading a file it is given.
"""

from leadflow.rules.sla import (
    ADHERENCE_DIMENSIONS,
    DEFAULT_STOP_STAGES,
    ActionKind,
    ActionState,
    Escalation,
    EscalationDecision,
    EscalationTarget,
    Evaluation,
    FinalAction,
    FinalDecision,
    NextAction,
    Performer,
    SLAPolicy,
    Step,
    StepResult,
    StepState,
    StepStatus,
    Trigger,
    TriggerKind,
    adherence,
    evaluate,
    evaluate_many,
    load_policies,
    loads_policies,
    policies_from_dict,
    select_policy,
)

__all__: list[str] = []
__all__ += [
    "ADHERENCE_DIMENSIONS",
    "DEFAULT_STOP_STAGES",
    "ActionKind",
    "ActionState",
    "Escalation",
    "EscalationDecision",
    "EscalationTarget",
    "Evaluation",
    "FinalAction",
    "FinalDecision",
    "NextAction",
    "Performer",
    "SLAPolicy",
    "Step",
    "StepResult",
    "StepState",
    "StepStatus",
    "Trigger",
    "TriggerKind",
    "adherence",
    "evaluate",
    "evaluate_many",
    "load_policies",
    "loads_policies",
    "policies_from_dict",
    "select_policy",
]
