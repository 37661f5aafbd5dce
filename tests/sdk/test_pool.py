"""Ctrl-C during a bulk transfer stops it: tasks not yet started are dropped, not sent."""

from __future__ import annotations

import threading

import pytest

from capturehub.datamanager._pool import transfer_pool


def test_an_interrupt_cancels_the_transfers_not_yet_started() -> None:
    started: list[int] = []
    release = threading.Event()

    def transfer(index: int) -> None:
        started.append(index)
        release.wait(5)

    with pytest.raises(KeyboardInterrupt), transfer_pool(2) as pool:
        for index in range(20):
            pool.submit(transfer, index)
        # The running transfers finish a moment after the interrupt; the queued must not start.
        threading.Timer(0.2, release.set).start()
        raise KeyboardInterrupt
    assert len(started) <= 2, started


def test_without_an_interrupt_every_transfer_runs() -> None:
    done: list[int] = []
    with transfer_pool(3) as pool:
        for index in range(20):
            pool.submit(done.append, index)
    assert sorted(done) == list(range(20))
