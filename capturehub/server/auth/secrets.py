"""Password hashing and random secrets.

Passwords use argon2 (slow on purpose). Tokens and API keys are 256-bit random values, so a
fast hash (SHA-256) is enough to store them: nobody can brute-force that much entropy, and a
stolen database still yields no usable secret.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

API_KEY_PREFIX = "chk_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
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


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
