"""Personal data at rest: AES-GCM with a key id (for rotation), keyed hashes for look-ups,
HMAC signatures for receipt codes and the audit chain. Keys are derived from
CANCELDESK_SECRET_KEY via HKDF, one key per purpose.

Rotation: the current secret encrypts, signs and digests; every old secret (by key id) still
decrypts, verifies signatures and matches digests, until `canceldesk keys rotate` has
re-encrypted the rows and re-computed the digests under the current key.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"canceldesk", info=purpose).derive(secret.encode())


def key_id_of(secret: str) -> str:
    return hashlib.sha256(b"kid:" + secret.encode()).hexdigest()[:8]


class _Keys:
    """Every key derived from one secret."""

    def __init__(self, secret: str):
        self.kid = key_id_of(secret)
        self.aead = AESGCM(_derive(secret, b"pii-aes-gcm"))
        self.digest = _derive(secret, b"pii-lookup-hmac")
        self.sign = _derive(secret, b"receipt-signature")
        self.otp = _derive(secret, b"otp-hmac")
        self.audit = _derive(secret, b"audit-chain-hmac")
        self.pepper = _derive(secret, b"service-password-pepper")
        # HMAC-SHA256 states keyed once: a MAC copies one and adds the message (half the CPU of a one-shot
        # hmac.digest, which sets the key up again each time) — receipt codes and audit rows, per request
        self._keyed = {"sign": hmac.new(self.sign, digestmod=hashlib.sha256),
                       "audit": hmac.new(self.audit, digestmod=hashlib.sha256)}

    def mac(self, which: str, message: bytes) -> bytes:
        h = self._keyed[which].copy()
        h.update(message)
        return h.digest()


class KeyRing:
    """The current key encrypts; older keys (by key id) still decrypt until data is re-encrypted."""

    def __init__(self, secret: str, old_secrets: list[str] | None = None):
        self._current = _Keys(secret)
        self.current_kid = self._current.kid
        self._keys: dict[str, _Keys] = {self.current_kid: self._current}
        for s in old_secrets or []:
            k = _Keys(s)
            self._keys.setdefault(k.kid, k)

    @classmethod
    def from_settings(cls, settings) -> "KeyRing":
        return cls(settings.secret_key, settings.old_secrets)

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    # encryption --------------------------------------------------------------------------------
    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        ct = self._current.aead.encrypt(nonce, plaintext.encode(), self.current_kid.encode())
        return f"v1:{self.current_kid}:{base64.urlsafe_b64encode(nonce + ct).decode()}"

    def decrypt(self, token: str) -> str:
        try:
            version, kid, body = token.split(":", 2)
        except ValueError:
            raise ValueError("not an encrypted value") from None
        if version != "v1" or kid not in self._keys:
            raise ValueError(f"no key for key id {kid!r}: add the old secret to CANCELDESK_OLD_SECRET_KEYS")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            return self._keys[kid].aead.decrypt(raw[:12], raw[12:], kid.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError):
            # The key id is bound as associated data: a swapped id or an edited byte fails here.
            raise ValueError(f"encrypted value under key id {kid!r} does not authenticate (altered?)") from None

    def key_id_of_token(self, token: str) -> str | None:
        parts = token.split(":", 2)
        return parts[1] if len(parts) == 3 else None

    def needs_rotation(self, token: str) -> bool:
        return not token.startswith(f"v1:{self.current_kid}:")

    # look-up digests ---------------------------------------------------------------------------
    def digest(self, value: str) -> str:
        """Keyed hash for equality look-ups (ID numbers) without storing them in clear."""
        return hmac.new(self._current.digest, value.encode(), hashlib.sha256).hexdigest()

    def digests(self, value: str) -> list[str]:
        """The digest under every key (current first): look-ups keep working mid-rotation."""
        return [hmac.new(k.digest, value.encode(), hashlib.sha256).hexdigest() for k in self._keys.values()]

    def matches_digest(self, stored: str | None, value: str) -> bool:
        if not stored:
            return False
        return any(self.same(stored, d) for d in self.digests(value))

    # signatures ----------------------------------------------------------------------------------
    def sign(self, message: str, length: int = 10) -> str:
        return self._sign_with(self._current, message, length)

    @staticmethod
    def _sign_with(keys: _Keys, message: str, length: int) -> str:
        mac = keys.mac("sign", message.encode())
        if length <= 48:  # base32 encodes 5 bytes as 8 characters: encode only the blocks shown
            mac = mac[:5 * -(-length // 8)]
        return base64.b32encode(mac).decode().rstrip("=")[:length]

    def verify_signature(self, message: str, signature: str, length: int = 10) -> bool:
        """True if any configured key signed `message` as `signature` (constant-time compare)."""
        ok = False
        for k in self._keys.values():
            ok |= self.same(self._sign_with(k, message, length), signature)
        return ok

    # one-time codes --------------------------------------------------------------------------------
    def otp_hash(self, msisdn: str, code: str) -> str:
        return hmac.new(self._current.otp, f"{msisdn}:{code}".encode(), hashlib.sha256).hexdigest()

    # audit chain -----------------------------------------------------------------------------------
    def audit_mac(self, payload: bytes, kid: str | None = None) -> str | None:
        """HMAC of an audit row under key `kid` (default: current); None if that key is not configured."""
        keys = self._keys.get(kid or self.current_kid)
        return None if keys is None else keys.mac("audit", payload).hex()

    # service passwords (service_layer/service_passwords.py) ------------------------------------
    def service_pepper(self, kid: str | None = None) -> tuple[str, bytes] | None:
        """(key id, HMAC key) a service password is keyed with before it is hashed: the current key's,
        or key `kid`'s (None if that key is not configured). Never stored in the database."""
        keys = self._keys.get(kid or self.current_kid)
        return None if keys is None else (keys.kid, keys.pepper)

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
