"""Password checks are bounded: a burst of logins cannot run more argon2 checks (64 MiB
each) at once than the machine has cores."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from capturehub.server.auth import secrets


def test_no_more_password_checks_at_once_than_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    def slow_verify(password_hash: str, password: str) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return password == "right"

    class SlowHasher:
        verify = staticmethod(slow_verify)

    monkeypatch.setattr(secrets, "_hasher", SlowHasher())
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda i: secrets.verify_password("h", "right"), range(40)))
    assert answers == [True] * 40
    assert 1 <= most <= secrets.PASSWORD_CHECKS_AT_ONCE


def test_a_real_check_still_tells_right_from_wrong() -> None:
    stored = secrets.hash_password("correct horse")
    assert secrets.verify_password(stored, "correct horse")
    assert not secrets.verify_password(stored, "wrong")
    assert not secrets.verify_password("not a hash", "wrong")
