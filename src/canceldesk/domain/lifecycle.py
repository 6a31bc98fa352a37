"""A termination request and its lifecycle — one transition table, nothing assigns status directly.

    submitted → checked → awaiting_confirmation → [in_review] → executing → completed
    exits: rejected (blocker / reviewer, with reason), withdrawn (before execution),
           failed (execution could not finish: escalated to a person)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .transitions import IllegalTransition as IllegalTransition  # re-exported: callers catch it from here
from .transitions import Machine


class RequestKind(StrEnum):
    CLOSE_LINE = "close_line"          # 销户 / 销号 / 销卡
    UNSUBSCRIBE = "unsubscribe"        # 业务退订
    CANCEL_RENEWAL = "cancel_renewal"  # 取消自动续费
    WITHDRAW = "withdraw"              # 无理由撤回 (EU)
    RECLAIM = "reclaim"                # 号码找回

    @property
    def targets_subscription(self) -> bool:
        return self in (RequestKind.UNSUBSCRIBE, RequestKind.CANCEL_RENEWAL, RequestKind.WITHDRAW)


class Status(StrEnum):
    SUBMITTED = "submitted"
    CHECKED = "checked"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    IN_REVIEW = "in_review"
    EXECUTING = "executing"
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    FAILED = "failed"


S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.SUBMITTED: frozenset({S.CHECKED, S.REJECTED}),
    S.CHECKED: frozenset({S.AWAITING_CONFIRMATION, S.REJECTED}),
    S.AWAITING_CONFIRMATION: frozenset({S.IN_REVIEW, S.EXECUTING, S.WITHDRAWN, S.REJECTED}),
    S.IN_REVIEW: frozenset({S.EXECUTING, S.REJECTED, S.WITHDRAWN}),
    S.EXECUTING: frozenset({S.COMPLETED, S.FAILED}),
    # A failed request is escalated; staff may retry it (back to executing) or close it as rejected.
    S.FAILED: frozenset({S.EXECUTING, S.REJECTED}),
    S.COMPLETED: frozenset(),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
}
TERMINAL = frozenset({S.COMPLETED, S.REJECTED, S.WITHDRAWN})
# "Open" means it still covers its target: another request on the same target is refused.
OPEN = frozenset(set(Status) - TERMINAL)
# Read from the table, so `can_withdraw` never promises a transition the table refuses.
WITHDRAWABLE = frozenset(s for s, nxt in TRANSITIONS.items() if S.WITHDRAWN in nxt)


REQUESTS = Machine("request", TRANSITIONS)


@dataclass(eq=False)
class TimelineEntry:
    at: datetime
    from_status: str | None
    to_status: str
    actor: str
    channel: str
    reason: str | None = None
    request_id: str = ""
    id: int | None = None

    def as_dict(self) -> dict:
        return {"at": self.at.isoformat(), "from": self.from_status, "to": self.to_status,
                "actor": self.actor, "channel": self.channel, "reason": self.reason}


@dataclass(eq=False)
class Request:
    id: str
    tracking_no: str
    kind: str
    msisdn: str
    customer_id: str
    channel: str
    requested_by: str
    created_at: datetime
    subscription_id: str | None = None
    status: str = S.SUBMITTED
    reason: str | None = None
    open_target: str | None = None
    idempotency_key: str | None = None
    body_hash: str | None = None
    impact: dict = field(default_factory=dict)
    acknowledged_warnings: list = field(default_factory=list)
    reject_codes: list = field(default_factory=list)
    deadline_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime | None = None
    failure: str | None = None
    batch_id: str | None = None
    lang: str | None = None  # the requester's language (None: the pack's)
    timeline: list[TimelineEntry] = field(default_factory=list)

    # the class of its timeline entries (not a field): a store may give a request it writes itself a
    # cheaper twin of both (adapters/request_rows.unsaved_request_class)
    entry_class = TimelineEntry

    @staticmethod
    def target_of(kind: str, msisdn: str, subscription_id: str | None) -> str:
        if RequestKind(kind).targets_subscription:
            return f"sub:{subscription_id}"
        return f"line:{msisdn}"

    def start(self, at: datetime, actor: str, channel: str) -> None:
        """Record the submission as the first timeline entry and claim the target."""
        self.open_target = self.target_of(self.kind, self.msisdn, self.subscription_id)
        self.timeline.append(self.entry_class(at, None, S.SUBMITTED, actor, channel, self.reason))
        self.updated_at = at

    def transition(self, to: Status | str, at: datetime, actor: str, channel: str, reason: str | None = None) -> None:
        to = Status(to)
        current = Status(self.status)
        REQUESTS.check(current, to)
        self.status = to
        self.updated_at = at
        self.timeline.append(self.entry_class(at, current, to, actor, channel, reason))
        if to in TERMINAL:
            self.open_target = None
            if to == S.COMPLETED:
                self.completed_at = at

    @property
    def is_open(self) -> bool:
        return Status(self.status) in OPEN

    @property
    def can_withdraw(self) -> bool:
        return Status(self.status) in WITHDRAWABLE


def mermaid_diagram() -> str:
    """The transition table as a Mermaid state diagram (printed in the README, tested against it)."""
    lines = ["stateDiagram-v2", "    [*] --> submitted"]
    for src in Status:
        for dst in sorted(TRANSITIONS[src]):
            lines.append(f"    {src} --> {dst}")
    for t in sorted(TERMINAL):
        lines.append(f"    {t} --> [*]")
    return "\n".join(lines)


def covering_request(kind: str, subscription_id: str | None, open_on_line, ignore_request: str | None = None) -> str | None:
    """The tracking number of an open request on the line that already covers this one: a closure (or
    reclaim) covers everything on its line and is covered by anything open there; otherwise the same
    subscription."""
    for other in open_on_line:
        if other.id == ignore_request:
            continue
        if (kind in ("close_line", "reclaim") or other.kind in ("close_line", "reclaim")
                or other.subscription_id == subscription_id):
            return other.tracking_no
    return None
