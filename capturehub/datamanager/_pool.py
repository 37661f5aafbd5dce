"""A thread pool for bulk transfers that stops promptly on Ctrl-C.

``with ThreadPoolExecutor()`` waits, on leaving the block, for every task already submitted:
after Ctrl-C a bulk upload would go on sending the whole queue. Here an exception (including
KeyboardInterrupt) cancels the tasks not yet started; the transfers already running finish,
as a thread cannot be interrupted mid-request.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager


@contextmanager
def transfer_pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
