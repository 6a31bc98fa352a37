"""An enterprise batch's phases and outcome.

    prechecking → prechecked → submitting → submitted
    (submitting → submitting: a stalled submission resumed)

The phase changes only through BATCHES (an illegal move raises `IllegalTransition`); the outcome
is derived from the batch's requests, never stored (`derive_outcome`).
"""
from __future__ import annotations

from enum import StrEnum

from .lifecycle import Status
from .transitions import Machine


class BatchPhase(StrEnum):
    PRECHECKING = "prechecking"
    PRECHECKED = "prechecked"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"


BP = BatchPhase
BATCH_TRANSITIONS: dict[BatchPhase, frozenset[BatchPhase]] = {
    BP.PRECHECKING: frozenset({BP.PRECHECKED}),
    BP.PRECHECKED: frozenset({BP.SUBMITTING}),
    BP.SUBMITTING: frozenset({BP.SUBMITTING, BP.SUBMITTED}),
    BP.SUBMITTED: frozenset(),
}
BATCHES = Machine("batch", BATCH_TRANSITIONS)
BEFORE_SUBMIT = frozenset({BP.PRECHECKING, BP.PRECHECKED})
RUNNING_PHASES = frozenset({BP.PRECHECKING, BP.SUBMITTING})
# A request in one of these is still on its way; failed ones are with staff (escalated).
MOVING = frozenset({Status.SUBMITTED, Status.CHECKED, Status.AWAITING_CONFIRMATION, Status.IN_REVIEW, Status.EXECUTING})


def derive_outcome(phase: str, total: int, statuses: list[str | None]) -> str | None:
    """completed / partial / failed once every line has settled; running before; None before submit.

    `statuses` has one entry per submitted line: its request's status, or None when the line could
    not even become a request (an error is recorded on the line instead).
    """
    if phase in BEFORE_SUBMIT:
        return None
    if phase == BP.SUBMITTING and len(statuses) < total:
        return "running"
    if any(s in MOVING for s in statuses):
        return "running"
    done = sum(1 for s in statuses if s == Status.COMPLETED)
    if done == total:
        return "completed"
    return "failed" if done == 0 else "partial"
