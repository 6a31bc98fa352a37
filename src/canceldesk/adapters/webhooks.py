"""Outbound webhooks (TMF622 hub callbacks): POST the signed body the outbox holds.

The outbox text is `<signature>\\n<body>` (signed when written, so the secret never travels here).
A 2xx is delivered; anything else raises, and the outbox retries with backoff.
"""
from __future__ import annotations

import logging

import httpx

from .downstream import PermanentError, TransientError

log = logging.getLogger("canceldesk.webhooks")


def split(text: str) -> tuple[str, bytes]:
    sig, _, body = text.partition("\n")
    return sig, body.encode()


class HttpWebhookGateway:
    def __init__(self, timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        self.client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def send(self, to: str, text: str, key: str) -> str:
        sig, body = split(text)
        headers = {"Content-Type": "application/json;charset=utf-8", "X-Canceldesk-Signature": sig,
                   "X-Canceldesk-Delivery": key}
        try:
            r = self.client.post(to, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientError(f"callback unreachable: {type(exc).__name__}") from None
        if 200 <= r.status_code < 300:
            return key
        if r.status_code in (408, 429) or r.status_code >= 500:
            raise TransientError(f"callback answered {r.status_code}")
        raise PermanentError(f"callback answered {r.status_code}")


class RecordingWebhookGateway:
    """For tests and the demo: keeps what would have been posted."""

    def __init__(self):
        self.sent: list[dict] = []
        self.keys: set[str] = set()
        self.fail_next = 0

    def send(self, to: str, text: str, key: str) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise TransientError("callback answered 503")
        if key not in self.keys:
            sig, body = split(text)
            self.keys.add(key)
            self.sent.append({"to": to, "signature": sig, "body": body, "key": key})
        return key
