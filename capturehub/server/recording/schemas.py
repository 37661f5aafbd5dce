"""What a recording is made of and what the ways in (HTTP, WebSocket, MQTT, devices) get
back: the spec a client starts one with, a batch's acknowledgement, a recording's status."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from capturehub.server.formats import timestamp

# Columns the CSV reader keeps as sample index and time, never as channels.
RESERVED_CHANNELS = frozenset({"sequence", "timestamp"})
# Characters a CSV header cell would need quoting for; refused, so that the canonical CSV's
# header is the names joined by commas.
_HEADER_UNSAFE = frozenset(',"\r\n')
MAX_CHANNELS = 256
MAX_CHANNEL_NAME = 255
MAX_SAMPLE_RATE = 10_000_000.0  # 10 MHz: above any sensor or audio rate; a WAV header's field
MAX_IDLE_TIMEOUT = 30 * 24 * 3600.0
MAX_METADATA = 100


class ChannelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The column's name in the capture (its CSV header).")
    units: str = Field("", max_length=64, description="Free text, e.g. m/s^2; kept, not used.")


class RecordingSpec(BaseModel):
    """How a recording starts: its capture's name, its channels in column order, its rate."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The capture's name, unique in the project.")
    channels: list[ChannelSpec] = Field(
        description="The columns of every row, in order (an audio recording's are stored "
        "as the WAV's channel_0 … channel_N-1)."
    )
    sample_rate: float = Field(description="Samples (rows) per second, for all channels.")
    kind: Literal["sensor", "audio"] = Field(
        "sensor",
        description="sensor: stored as CSV of float64 values; audio: stored as 16-bit PCM "
        "WAV, values must be integers from -32768 to 32767.",
    )
    metadata: dict[str, str] = Field(
        default_factory=dict, description="Capture metadata (key: value) set at the start."
    )
    idle_timeout_seconds: float | None = Field(
        None,
        description="Stopped by the server after this many seconds without a batch; "
        "default: the server's CAPTUREHUB_RECORDING_IDLE_TIMEOUT_SECONDS.",
    )

    @field_validator("channels")
    @classmethod
    def _check_channels(cls, channels: list[ChannelSpec]) -> list[ChannelSpec]:
        if not channels:
            raise ValueError("a recording needs at least one channel")
        if len(channels) > MAX_CHANNELS:
            raise ValueError(f"at most {MAX_CHANNELS} channels")
        seen: set[str] = set()
        for channel in channels:
            name = channel.name
            if not name.strip() or name != name.strip():
                raise ValueError(f"channel name {name!r} is blank or has surrounding spaces")
            if len(name) > MAX_CHANNEL_NAME:
                raise ValueError(f"channel name {name[:40]!r}… is over {MAX_CHANNEL_NAME} chars")
            if any(char in _HEADER_UNSAFE or ord(char) < 32 for char in name):
                raise ValueError(
                    f"channel name {name!r} holds a comma, quote, line break or control character"
                )
            if name.lower() in RESERVED_CHANNELS:
                raise ValueError(f"channel name {name!r} is reserved (sample index or time)")
            if _is_number(name):
                raise ValueError(
                    f"channel name {name!r} is a number; a CSV header of numbers reads as data"
                )
            if name.lower() in seen:
                raise ValueError(f"channel name {name!r} is given twice")
            seen.add(name.lower())
        return channels

    @field_validator("sample_rate")
    @classmethod
    def _check_rate(cls, rate: float) -> float:
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError("sample_rate must be a positive number of samples per second")
        if rate > MAX_SAMPLE_RATE:
            raise ValueError(f"sample_rate must be at most {MAX_SAMPLE_RATE:g} samples per second")
        return rate

    @field_validator("idle_timeout_seconds")
    @classmethod
    def _check_timeout(cls, seconds: float | None) -> float | None:
        if seconds is not None and (
            not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_IDLE_TIMEOUT
        ):
            raise ValueError(
                f"idle_timeout_seconds must be a positive number of seconds, at most "
                f"{MAX_IDLE_TIMEOUT:g} (30 days)"
            )
        return seconds

    @field_validator("metadata")
    @classmethod
    def _check_metadata(cls, metadata: dict[str, str]) -> dict[str, str]:
        if len(metadata) > MAX_METADATA:
            raise ValueError(f"at most {MAX_METADATA} metadata keys")
        return metadata


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class BatchAck:
    """A batch is stored (committed): ``samples`` rows are stored in all, ``last_seq`` is the
    highest sequence number stored. ``duplicate``: this seq was stored before and is not
    stored again. ``first_sample``: the index of the batch's first row in the capture."""

    seq: int
    duplicate: bool
    samples: int
    last_seq: int
    first_sample: int
    rows: int

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "duplicate": self.duplicate,
            "samples": self.samples,
            "last_seq": self.last_seq,
            "first_sample": self.first_sample,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class RecordingStatus:
    uuid: str
    name: str
    kind: str
    # "recording", "stopping" (its original being stored) or "stopped".
    state: str
    channels: list[dict[str, str]]
    sample_rate: float
    samples: int
    batches: int
    last_seq: int | None
    bad_batches: int
    gaps: int
    last_problem: str | None
    idle_timeout_seconds: float
    started_at: datetime
    last_batch_at: datetime | None
    stopped_at: datetime | None
    stopped_by: str | None
    # The capture's task_state in our own words: RECORDING, then SENT … SUCCESS/FAILURE.
    task_state: str

    def to_json(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "channels": self.channels,
            "sample_rate": self.sample_rate,
            "samples": self.samples,
            "batches": self.batches,
            "last_seq": self.last_seq,
            "bad_batches": self.bad_batches,
            "gaps": self.gaps,
            "last_problem": self.last_problem,
            "idle_timeout_seconds": self.idle_timeout_seconds,
            "started_at": timestamp(self.started_at),
            "last_batch_at": timestamp(self.last_batch_at),
            "stopped_at": timestamp(self.stopped_at),
            "stopped_by": self.stopped_by,
            "task_state": self.task_state,
        }
