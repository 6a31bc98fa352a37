"""Execution as a saga: each request kind is a fixed list of idempotent steps.

A step is recorded before and after it runs (the step log), so a worker that dies half-way
resumes at the first step not recorded as done, and a step keyed by (request, step) never acts
twice downstream (e.g. a refund is paid once). A transient downstream error is retried after an
exponentially growing, jittered delay (`backoff_seconds`), at most `max_attempts` times; then the
request fails and is escalated to a person.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .lifecycle import RequestKind
from .transitions import Machine


class Step(StrEnum):
    BAR_NETWORK = "bar_network"            # provisioning: bar / deprovision on HLR/HSS/UDM
    STOP_PARTNER = "stop_partner"          # partners stop memberships / VAS at the provider
    STOP_RENEWAL = "stop_renewal"          # partner: no further charge at next renewal
    SETTLE = "settle"                      # write the settlement ledger
    REFUND = "refund"                      # payments: pay the refund, exactly once
    END_SUBSCRIPTIONS = "end_subscriptions"
    FREEZE_NUMBER = "freeze_number"
    RESTORE_NUMBER = "restore_number"      # reclaim: unbar, back to the former owner
    ISSUE_RECEIPT = "issue_receipt"


PLANS: dict[RequestKind, tuple[Step, ...]] = {
    RequestKind.CLOSE_LINE: (Step.BAR_NETWORK, Step.STOP_PARTNER, Step.SETTLE, Step.REFUND,
                             Step.END_SUBSCRIPTIONS, Step.FREEZE_NUMBER, Step.ISSUE_RECEIPT),
    RequestKind.UNSUBSCRIBE: (Step.STOP_PARTNER, Step.SETTLE, Step.REFUND, Step.END_SUBSCRIPTIONS, Step.ISSUE_RECEIPT),
    RequestKind.CANCEL_RENEWAL: (Step.STOP_RENEWAL, Step.END_SUBSCRIPTIONS, Step.ISSUE_RECEIPT),
    RequestKind.WITHDRAW: (Step.STOP_PARTNER, Step.SETTLE, Step.REFUND, Step.END_SUBSCRIPTIONS, Step.ISSUE_RECEIPT),
    RequestKind.RECLAIM: (Step.RESTORE_NUMBER, Step.ISSUE_RECEIPT),
}


class StepStatus(StrEnum):
    STARTED = "started"
    DONE = "done"
    FAILED = "failed"


SS = StepStatus
# A step record is created `started` (a call is about to go out) or straight `done` (a local step).
STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    SS.STARTED: frozenset({SS.STARTED, SS.DONE, SS.FAILED}),  # started again: the next attempt
    SS.FAILED: frozenset({SS.STARTED}),                        # staff retry an escalated request
    SS.DONE: frozenset(),                                      # done is for good: nothing acts twice
}
STEPS = Machine("step", STEP_TRANSITIONS)


@dataclass(eq=False)
class StepRecord:
    request_id: str
    step: str
    status: str
    attempts: int
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    result: dict | None = None
    id: int | None = None

    @classmethod
    def begin(cls, request_id: str, step: str, at: datetime) -> "StepRecord":
        """Recorded before the downstream call goes out: attempt 1, started."""
        return cls(request_id=request_id, step=str(step), status=StepStatus.STARTED, attempts=1, started_at=at)

    @classmethod
    def done_locally(cls, request_id: str, step: str, at: datetime, result: dict | None) -> "StepRecord":
        """A local step: its effects and its done mark in one transaction."""
        return cls(request_id=request_id, step=str(step), status=StepStatus.DONE, attempts=1, started_at=at,
                   finished_at=at, result=result)

    def _move(self, to: StepStatus) -> None:
        STEPS.check(str(self.status), to)
        self.status = to

    def restart(self, at: datetime) -> None:
        """The next attempt: started again, counted."""
        self._move(StepStatus.STARTED)
        self.attempts, self.started_at = self.attempts + 1, at

    def finish(self, at: datetime, result: dict | None) -> None:
        self._move(StepStatus.DONE)
        self.finished_at, self.error, self.result = at, None, result

    def fail(self, error: str) -> None:
        self._move(StepStatus.FAILED)
        self.error = error[:500]

    def reset(self) -> None:
        """Staff retry an escalated request: the step starts over with a fresh attempt budget."""
        self._move(StepStatus.STARTED)
        self.attempts = 0


def plan_for(kind: str) -> tuple[Step, ...]:
    return PLANS[RequestKind(kind)]


def next_step(kind: str, done: set[str]) -> Step | None:
    for step in plan_for(kind):
        if step not in done:
            return step
    return None


def backoff_seconds(attempts: int, base: float = 1.0, cap: float = 600.0, rng: random.Random | None = None) -> float:
    """Delay before attempt `attempts + 1`: base × 2^(attempts−1), capped, with "equal jitter"
    (uniform in [half, full]) so retries of many requests hit by one outage spread out."""
    ceiling = min(cap, base * 2.0 ** max(0, attempts - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)
