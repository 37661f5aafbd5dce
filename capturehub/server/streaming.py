"""A streamed answer whose chunks come from a blocking iterator that reads the database.

Starlette runs such an iterator one ``next()`` at a time, each in whichever request thread is
free. An iterator that holds a database session (a long list read as rows arrive) then keeps
its pooled connection *between* those calls, while holding no thread: under a burst, every
connection could be held by such suspended iterators while every request thread waited for a
connection, and nothing moved until the pool timed out. Here the iterator runs from its first
chunk to its last in one request thread, so whoever holds a connection also holds a thread,
and the pool (request threads + workers + a few) always has a connection for a thread.

A client that stops reading would then keep that thread: after ``READER_STALL_SECONDS``
without taking a chunk, the iterator is closed (its session with it) and the connection
dropped.

The status line is sent with the first chunk, not before: an iterator that fails before its
first chunk (no free database connection, the database down) raises here, before anything was
sent, so the usual error handlers still answer it (503 with Retry-After, not a 200 cut short).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import anyio
from anyio.abc import ObjectSendStream
from starlette.responses import StreamingResponse
from starlette.types import Send

log = logging.getLogger("capturehub.server")

READER_STALL_SECONDS = 60.0


class _ReaderStalled(Exception):
    pass


class _FailedBeforeFirst:
    """What the reader thread hands over instead of a first chunk when the iterator failed."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class ThreadStreamingResponse(StreamingResponse):
    """``StreamingResponse`` for a blocking iterator that holds a database session."""

    def __init__(self, chunks: Iterator[bytes], *, media_type: str) -> None:
        super().__init__(chunks, media_type=media_type)
        self._chunks = chunks

    async def stream_response(self, send: Send) -> None:
        to_client, from_reader = anyio.create_memory_object_stream[bytes | _FailedBeforeFirst](1)
        stalled = False
        started = False
        failure: Exception | None = None
        async with anyio.create_task_group() as group:

            async def produce() -> None:
                nonlocal stalled
                try:
                    await anyio.to_thread.run_sync(self._produce, to_client)
                except _ReaderStalled:
                    stalled = True
                    group.cancel_scope.cancel()

            group.start_soon(produce)
            async with from_reader:
                async for item in from_reader:
                    if isinstance(item, _FailedBeforeFirst):
                        failure = item.error
                        break
                    if not started:
                        await self._start(send)
                        started = True
                    await send({"type": "http.response.body", "body": item, "more_body": True})
        if failure is not None:
            raise failure  # nothing sent yet: the error handlers answer it
        if stalled:
            log.warning("a client stopped reading a streamed answer; its connection is closed")
            return  # unfinished: the server closes the connection
        if not started:
            await self._start(send)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _start(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )

    def _produce(self, to_client: ObjectSendStream[bytes | _FailedBeforeFirst]) -> None:
        """In a request thread: every chunk, handed over one at a time."""
        handed_over = False
        try:
            for chunk in self._chunks:
                anyio.from_thread.run(_hand_over, to_client, chunk)
                handed_over = True
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the client went away: nothing more to send
        except Exception as error:
            if handed_over:
                raise  # mid-answer: all that is left is to drop the connection
            anyio.from_thread.run(_hand_over, to_client, _FailedBeforeFirst(error))
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()  # a generator's session is closed in this thread, now
            anyio.from_thread.run(to_client.aclose)


async def _hand_over(
    to_client: ObjectSendStream[bytes | _FailedBeforeFirst], chunk: bytes | _FailedBeforeFirst
) -> None:
    try:
        with anyio.fail_after(READER_STALL_SECONDS):
            await to_client.send(chunk)
    except TimeoutError:
        raise _ReaderStalled from None
