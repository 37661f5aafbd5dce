"""Live recordings: stream samples into a new capture while they are measured.

::

    recording = client.project.recordings.start(
        "walk-07.csv", ["AccX", "AccY", "AccZ"], sample_rate=100
    )
    recording.append([[0.1, 9.8, 0.2], [0.1, 9.7, 0.3]])   # answered once stored
    recording.status()["samples"]                            # 2
    recording.stop()                                         # then processed like an upload

A batch is acknowledged only once the server stored it. :meth:`Recording.append` numbers the
batches itself and sends a batch again, with the same number, when the server is busy (429 or
503, honouring Retry-After) or could not be reached (a restart): the server stores a number
once, so nothing is lost or doubled (docs/recording.md).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from capturehub._transport import Connection, json_body
from capturehub._transport.errors import error_for_response
from capturehub.exceptions import ServerError, ServerUnreachableError

if TYPE_CHECKING:
    from capturehub.datamanager.capture import Capture
    from capturehub.datamanager.project import Project
    from capturehub.datamanager.recording_stream import RecordingStream

# How long append() keeps sending a batch to a busy or unreachable server before it raises.
DEFAULT_RETRY_SECONDS = 120.0
_BUSY = frozenset({429, 502, 503, 504})
_MAX_WAIT = 10.0

Channel = str | tuple[str, str] | Mapping[str, str]


def _channel(channel: Channel) -> dict[str, str]:
    if isinstance(channel, str):
        return {"name": channel, "units": ""}
    if isinstance(channel, tuple):
        name, units = channel
        return {"name": name, "units": units}
    return {"name": str(channel["name"]), "units": str(channel.get("units", ""))}


class Recordings:
    """A project's live recordings: ``start()`` one, ``list()`` those in progress, ``get()``
    one by its capture's uuid (to resume it after a restart of this program)."""

    def __init__(self, connection: Connection, project: Project) -> None:
        self._connection = connection
        self._project = project

    @property
    def _base(self) -> str:
        return f"project/{self._project.uuid}/recordings/"

    def start(
        self,
        name: str,
        channels: Sequence[Channel],
        sample_rate: float,
        kind: str = "sensor",
        metadata: Mapping[str, str] | None = None,
        idle_timeout_seconds: float | None = None,
    ) -> Recording:
        """Start a recording: a new capture named ``name`` (listed at once) whose rows have
        one value per channel. ``channels`` are names, ``(name, units)`` pairs or
        ``{"name", "units"}`` dicts; ``kind`` is ``"sensor"`` (stored as CSV) or ``"audio"``
        (16-bit WAV: integer values from -32768 to 32767). Raises CaptureExistsError (a
        ConflictError) when the name is taken, ValidationError for a refused spec."""
        from capturehub.exceptions import CaptureExistsError

        body: dict[str, Any] = {
            "name": name,
            "channels": [_channel(channel) for channel in channels],
            "sample_rate": sample_rate,
            "kind": kind,
            "metadata": dict(metadata or {}),
        }
        if idle_timeout_seconds is not None:
            body["idle_timeout_seconds"] = idle_timeout_seconds
        response = self._connection.request(
            "POST", self._base, json=body, errors={409: CaptureExistsError}
        )
        return Recording(self._connection, self._project, json_body(response))

    def list(self, all: bool = False) -> list[dict[str, Any]]:
        """The statuses of the recordings not stopped yet (``all=True``: stopped ones too),
        oldest first."""
        body = self._connection.get_json(self._base, params={"all": "true"} if all else None)
        if not isinstance(body, list):
            raise ServerError(f"unexpected answer from {self._base}: {body!r:.200}")
        return body

    def get(self, uuid: str) -> Recording:
        """The recording of capture ``uuid``; appending goes on after its last stored batch."""
        status = self._connection.get_json(f"{self._base}{uuid}/")
        return Recording(self._connection, self._project, status)


class Recording:
    """One recording; ``uuid`` is its capture's."""

    def __init__(self, connection: Connection, project: Project, status: dict[str, Any]) -> None:
        self._connection = connection
        self._project = project
        self._status = dict(status)
        last = status.get("last_seq")
        self._next_seq = 0 if last is None else int(last) + 1
        self.retry_seconds = DEFAULT_RETRY_SECONDS

    @property
    def uuid(self) -> str:
        return str(self._status["uuid"])

    @property
    def name(self) -> str:
        return str(self._status.get("name", ""))

    @property
    def channels(self) -> list[str]:
        return [channel["name"] for channel in self._status.get("channels", [])]

    @property
    def next_seq(self) -> int:
        """The seq ``append()`` gives the next batch when none is given."""
        return self._next_seq

    @property
    def _base(self) -> str:
        return f"project/{self._project.uuid}/recordings/{self.uuid}/"

    def append(self, values: Any, seq: int | None = None) -> dict[str, Any]:
        """Send rows (a list of rows, or a 2-D numpy array) as one batch and answer the
        server's acknowledgement (``seq``, ``duplicate``, ``samples``, ``last_seq``,
        ``first_sample``, ``rows``) once they are stored.

        ``seq`` defaults to one more than the last batch acknowledged. A busy server (429 or
        503) or one that cannot be reached is sent the batch again, with the same seq, for up
        to ``retry_seconds`` (120 s): it stores a seq once, so a batch whose answer was lost
        is not stored twice. A refused batch raises ValidationError with the server's
        message (and counts in the recording's ``bad_batches``); a stopped recording raises
        ConflictError."""
        rows = _rows(values)
        number = self._next_seq if seq is None else seq
        ack = self._send_batch(number, rows)
        self._next_seq = max(self._next_seq, int(ack["seq"]) + 1)
        return ack

    def _send_batch(self, seq: int, rows: list[list[float]]) -> dict[str, Any]:
        deadline = time.monotonic() + self.retry_seconds
        attempt = 0
        while True:
            try:
                response = self._connection.answer(
                    "POST", f"{self._base}batches/", json={"seq": seq, "values": rows}
                )
            except ServerUnreachableError:
                if time.monotonic() >= deadline:
                    raise
                wait = None
            else:
                if not response.is_error:
                    answer: dict[str, Any] = json_body(response)
                    return answer
                if response.status_code not in _BUSY or time.monotonic() >= deadline:
                    raise error_for_response(response)
                wait = response.headers.get("Retry-After")
            time.sleep(_delay(attempt, wait, deadline))
            attempt += 1

    def stream(
        self, *, binary: bool = True, value_size: int = 8, reconnect_seconds: float = 60.0
    ) -> RecordingStream:
        """A WebSocket stream of this recording's batches (a context manager): faster than
        ``append`` for many batches, as it does not wait for each ack before sending the next
        (up to the server's window). Its batches go on after the last stored one."""
        from capturehub.datamanager.recording_stream import RecordingStream

        return RecordingStream(
            self._connection,
            self._project.uuid,
            self.uuid,
            binary=binary,
            value_size=value_size,
            reconnect_seconds=reconnect_seconds,
        )

    def status(self) -> dict[str, Any]:
        """The recording's status from the server: ``state`` ("recording", "stopping",
        "stopped"), ``samples``, ``last_seq``, ``bad_batches``, ``gaps``, ``last_problem``…"""
        self._status = dict(self._connection.get_json(self._base))
        return dict(self._status)

    def stop(self) -> dict[str, Any]:
        """Stop it: the server stores the original and queues processing (the capture's
        ``await_ready()`` then waits for it). Answers the final status."""
        self._status = dict(json_body(self._connection.request("POST", f"{self._base}stop/")))
        return dict(self._status)

    @property
    def capture(self) -> Capture:
        """The recording's capture (``get_data()`` reads what is stored so far)."""
        found = self._project.captures.get_capture_by_uuid(self.uuid)
        if found is None:
            raise ServerError(f"capture {self.uuid} of recording {self.name!r} is gone")
        return found

    def __repr__(self) -> str:
        return f"<Recording {self.name!r} uuid={self.uuid}>"


def _rows(values: Any) -> list[list[float]]:
    """Rows as JSON can carry them; NaN and infinities are refused here (JSON has no way to
    send them)."""
    if hasattr(values, "tolist"):  # numpy arrays, without importing numpy
        values = values.tolist()
    if not isinstance(values, Iterable) or isinstance(values, (str, bytes)):
        raise TypeError("values must be rows: a list of lists of numbers, or a 2-D array")
    rows = [list(row) for row in values]
    for index, row in enumerate(rows):
        for value in row:
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(
                    f"row {index + 1} holds {value}; a recording stores finite numbers only"
                )
    return rows


def _delay(attempt: int, retry_after: str | None, deadline: float) -> float:
    wait = min(0.2 * 2**attempt, _MAX_WAIT)
    if retry_after is not None:
        with contextlib.suppress(ValueError):  # an HTTP date: our own backoff
            wait = min(max(float(retry_after), 0.0), _MAX_WAIT * 3)
    return max(0.0, min(wait, deadline - time.monotonic()))
