"""Personal data at rest: AES-GCM with a key id (for rotation), keyed hashes for look-ups,
HMAC signatures for receipt codes. Keys are derived from CANCELDESK_SECRET_KEY via HKDF."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"canceldesk", info=purpose).derive(secret.encode())


def key_id_of(secret: str) -> str:
    return hashlib.sha256(b"kid:" + secret.encode()).hexdigest()[:8]


class KeyRing:
    """The current key encrypts; older keys (by key id) still decrypt until data is re-encrypted."""

    def __init__(self, secret: str, old_secrets: list[str] | None = None):
        self.current_kid = key_id_of(secret)
        self._aead: dict[str, AESGCM] = {}
        for s in [secret, *(old_secrets or [])]:
            self._aead[key_id_of(s)] = AESGCM(_derive(s, b"pii-aes-gcm"))
        # Look-up digests and signatures use the current secret only (they are re-computable).
        self._digest_key = _derive(secret, b"pii-lookup-hmac")
        self._sign_key = _derive(secret, b"receipt-signature")
        self._otp_key = _derive(secret, b"otp-hmac")

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead[self.current_kid].encrypt(nonce, plaintext.encode(), self.current_kid.encode())
        return f"v1:{self.current_kid}:{base64.urlsafe_b64encode(nonce + ct).decode()}"

    def decrypt(self, token: str) -> str:
        try:
            version, kid, body = token.split(":", 2)
        except ValueError:
            raise ValueError("not an encrypted value") from None
        if version != "v1" or kid not in self._aead:
            raise ValueError(f"no key for key id {kid!r}: add the old secret to CANCELDESK_OLD_SECRET_KEYS")
        raw = base64.urlsafe_b64decode(body.encode())
        return self._aead[kid].decrypt(raw[:12], raw[12:], kid.encode()).decode()

    def needs_rotation(self, token: str) -> bool:
        return not token.startswith(f"v1:{self.current_kid}:")

    def digest(self, value: str) -> str:
        """Keyed hash for equality look-ups (ID numbers) without storing them in clear."""
        return hmac.new(self._digest_key, value.encode(), hashlib.sha256).hexdigest()

    def sign(self, message: str, length: int = 10) -> str:
        mac = hmac.new(self._sign_key, message.encode(), hashlib.sha256).digest()
        return base64.b32encode(mac).decode().rstrip("=")[:length]

    def otp_hash(self, msisdn: str, code: str) -> str:
        return hmac.new(self._otp_key, f"{msisdn}:{code}".encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def same(a: str, b: str) -> bool:
        return hmac.compare_digest(a.encode(), b.encode())


_ACTIVE: KeyRing | None = None


def configure(keyring: KeyRing) -> None:
    """Called by bootstrap: the ORM's encrypted column type uses the configured key ring."""
    global _ACTIVE
    _ACTIVE = keyring


def active() -> KeyRing:
    if _ACTIVE is None:
        raise RuntimeError("crypto is not configured: call canceldesk.bootstrap.bootstrap(settings) first")
    return _ACTIVE
