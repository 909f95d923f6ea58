"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

_STANDARD = PasswordHasher()
# The test suite hashes hundreds of passwords; the same algorithm, cheaper parameters.
_FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# Verified when the e-mail address is unknown, so a wrong address costs as much as a wrong password.
_DUMMY_HASH = _STANDARD.hash("not a real password")

MIN_PASSWORD_LENGTH = 10


def _hasher() -> PasswordHasher:
    return _FAST if current_app.config.get("PASSWORD_HASH_FAST") else _STANDARD


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher().verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
