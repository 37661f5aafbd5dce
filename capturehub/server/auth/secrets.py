"""Password hashing and random secrets.

Passwords use argon2 (slow on purpose). Tokens and API keys are 256-bit random values, so a
fast hash (SHA-256) is enough to store them: nobody can brute-force that much entropy, and a
stolen database still yields no usable secret.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# Each argon2 check takes 64 MiB and a core for a good part of a second. Request threads no
# longer wait on a database lock during one, so a burst of logins could run one per request
# thread (40 by default: ~2.5 GB). More checks at once than cores only share the cores, so a
# login waits here instead, and the memory stays bounded by the core count.
PASSWORD_CHECKS_AT_ONCE = max(2, os.cpu_count() or 2)
_password_checks = threading.BoundedSemaphore(PASSWORD_CHECKS_AT_ONCE)

API_KEY_PREFIX = "chk_"
# A project key, for Edge Impulse's clients: their CLI insists that a key starts with "ei_".
PROJECT_KEY_PREFIX = "ei_"


def hash_password(password: str) -> str:
    with _password_checks:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    with _password_checks:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


# A fixed hash to verify against when the user does not exist, so that the answer takes as
# long for an unknown user as for a wrong password.
DUMMY_PASSWORD_HASH = hash_password("capturehub-timing-equaliser")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_project_key() -> str:
    return PROJECT_KEY_PREFIX + secrets.token_hex(32)


def new_hmac_key() -> str:
    return secrets.token_hex(16)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
