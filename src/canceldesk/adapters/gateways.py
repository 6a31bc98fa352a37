"""SMS / e-mail gateways behind one Protocol.

The simulators behave like a real gateway with a client-supplied message id: a send is
idempotent by key (the outbox row), recorded in the simulators' own table `sim_calls` in their
own transaction, and can fail, be slow, time out or lose its reply (CANCELDESK_SIM_FAILURE_RATE,
CANCELDESK_SIM_LATENCY_MS). The outbox row itself is what /dev/outbox shows once it is sent.
"""
from __future__ import annotations

import logging
from typing import Protocol

from canceldesk.domain.identifiers import mask_msisdn

from .downstream import _SimulatedSystem

log = logging.getLogger("canceldesk.sms")


class MessageGateway(Protocol):
    def send(self, to: str, text: str, key: str) -> str:
        """Deliver one message; the same key never produces a second message. Raises
        TransientError (retry later) or PermanentError (undeliverable)."""
        ...

    # Optional: `send_many(messages: list[tuple[to, text, key]]) -> list[reference | TransientError |
    # PermanentError]` — one call for a batch, each message's outcome in order (the deliverer uses it
    # when a gateway has it, and otherwise sends the messages one by one over its senders).


SmsGateway = MessageGateway  # the name the rest of the code knows


class SimulatedSmsGateway(_SimulatedSystem):
    system = "sms"

    def send(self, to: str, text: str, key: str) -> str:
        # Never log the text: it may carry a one-time code.
        ref = self._call(key, "send", to[:64])
        log.debug("sms %s to %s", key, mask_msisdn(to) if to.isdigit() else "***")
        return ref

    def send_many(self, messages: list[tuple[str, str, str]]) -> list:
        """A batch of (to, text, key) in one call (a bulk SMS API); each message's reference or error."""
        return self._call_many([(key, "send", to[:64]) for to, _text, key in messages])


class SimulatedEmailGateway(_SimulatedSystem):
    system = "email"

    def send(self, to: str, text: str, key: str) -> str:
        return self._call(key, "send", to[:64])

    def send_many(self, messages: list[tuple[str, str, str]]) -> list:
        return self._call_many([(key, "send", to[:64]) for to, _text, key in messages])
