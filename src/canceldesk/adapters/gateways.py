"""SMS / e-mail gateways. The demo gateway "sends" by recording: the outbox row itself is the
message the subscriber reads at /dev/outbox, so sending marks it delivered."""
from __future__ import annotations

import logging
from typing import Protocol

from canceldesk.domain.identifiers import mask_msisdn

log = logging.getLogger("canceldesk.sms")


class SmsGateway(Protocol):
    def send(self, to: str, text: str, key: str) -> None: ...


class DemoSmsGateway:
    def __init__(self):
        self.sent = 0

    def send(self, to: str, text: str, key: str) -> None:
        self.sent += 1
        # Never the text: it may carry a one-time code.
        log.debug("sms %s to %s", key, mask_msisdn(to) if to.isdigit() else "***")
