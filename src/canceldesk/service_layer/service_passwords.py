"""Service passwords (服务密码) as the importer stores them, and their check at step-up.

Stored only as ``svc1$<key id>$<argon2id hash of HMAC(pepper, password)>``.

A service password has 6 digits: 10^6 candidates. No hash cost makes that safe once an attacker
holds both the database and the secret key (argon2 defaults: 116 ms a guess, 32 CPU-hours for one
line), and default cost makes an import of 100,000 lines take 3 CPU-hours. So the secret does the
protecting — the password is first keyed with an HMAC whose key (the key ring's `service_pepper`)
is derived from CANCELDESK_SECRET_KEY and is never stored in the database, so a stolen database
alone cannot be brute-forced at all — and argon2id, with light parameters (t=1, m=256 KiB:
≈0.15 ms), stays as defence in depth. Online guessing is stopped by the step-up lock (5 failures).
Hashing runs in background threads (argon2-cffi releases the GIL) from the import's validation
pass on, so it overlaps parsing and writing when a second core is free (`PasswordHashing`).
"""
from __future__ import annotations

import hashlib
import hmac
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from . import auth

SERVICE_HASHER = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1, hash_len=32, salt_len=16,
                                type=Type.ID)
_SVC = "svc1"
CHUNK = 2000  # passwords per hashing batch (the importer's chunk)


def _keyed(pepper: bytes, password: str) -> bytes:
    return hmac.new(pepper, password.encode(), hashlib.sha256).digest()


def hash_service_password(c, password: str) -> str:
    kid, pepper = c.keyring.service_pepper()
    return f"{_SVC}${kid}${SERVICE_HASHER.hash(_keyed(pepper, password))}"


def verify_service_password(c, stored_hash: str | None, password: str) -> bool:
    """The step-up check of a line's service password, for hashes written by the importer
    (``svc1$…``) and for plain argon2 hashes of `auth.hash_password`."""
    if not stored_hash or not isinstance(password, str):
        SERVICE_HASHER.hash("timing-equaliser")  # the same work whether or not the line has a password
        return False
    if not stored_hash.startswith(_SVC + "$"):
        return auth.verify_password(stored_hash, password)
    try:
        _, kid, encoded = stored_hash.split("$", 2)
        found = c.keyring.service_pepper(kid)
        if found is None:  # written under a secret that is no longer configured
            SERVICE_HASHER.hash("timing-equaliser")
            return False
        return SERVICE_HASHER.verify(encoded, _keyed(found[1], password))
    except (ValueError, VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _keep_or_hash(kid: str, pepper: bytes, old: str | None, password: str) -> str:
    """The stored hash when it is current and already matches the password, else a new one."""
    if old and old.startswith(f"{_SVC}${kid}$"):
        encoded = old.split("$", 2)[2]
        try:
            if SERVICE_HASHER.verify(encoded, _keyed(pepper, password)) \
                    and not SERVICE_HASHER.check_needs_rehash(encoded):
                return old
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            pass
    return f"{_SVC}${kid}${SERVICE_HASHER.hash(_keyed(pepper, password))}"


class PasswordHashing:
    """Service-password hashes computed in background threads while the import goes on.

    The validation pass `add`s each valid line's password; every CHUNK of them, the stored hashes
    of those lines are read (`stored_hashes`: a re-import keeps a hash that still matches) and a
    batch is handed to the pool. The write pass `get`s the hash of each line, waiting only for the
    batch holding it; `on_missing` is raised when a line was never added (the input changed).
    Once the input has an error nothing more is hashed, and leaving the `with` drops what is queued.
    """

    def __init__(self, c, stored_hashes: Callable[[list[str]], dict[str, str | None]],
                 on_missing: Callable[[], Exception]):
        self.kid, self.pepper = c.keyring.service_pepper()
        self.stored_hashes, self.on_missing = stored_hashes, on_missing
        self.pending: list[tuple[str, str]] = []
        self.futures: deque = deque()
        self.done: dict[str, str] = {}
        self.pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> "PasswordHashing":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.pending, self.done = [], {}

    def add(self, msisdn: str, password: str) -> None:
        self.pending.append((msisdn, password))
        if len(self.pending) >= CHUNK:
            self.submit()

    def submit(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        stored = self.stored_hashes([m for m, _ in batch])
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, 4)),
                                           thread_name_prefix="import-hash")
        self.futures.append(self.pool.submit(self._hash_batch, batch, stored))

    def _hash_batch(self, batch: list[tuple[str, str]], stored: dict) -> dict[str, str]:
        return {m: _keep_or_hash(self.kid, self.pepper, stored.get(m), pw) for m, pw in batch}

    def get(self, msisdn: str) -> str:
        while msisdn not in self.done:
            if not self.futures:  # the input changed after validation
                raise self.on_missing()
            self.done.update(self.futures.popleft().result())
        return self.done.pop(msisdn)
