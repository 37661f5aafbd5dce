"""What devices publish, turned into numbered batches of rows: the JSON batch, SenML (RFC
8428) and Simple Streaming v2 packets. Pure functions, no broker and no database, so each
payload kind is checked on its own and the subscriber only routes.

A payload that cannot be read raises :class:`BadPayload` with a message a device's author can
act on; the subscriber counts it on the recording and reports it on the status topic.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from capturehub.recording import simple_streaming
from capturehub.server.recording.schemas import RecordingSpec

JSON = "json"
SENML = "senml"
SIMPLE_STREAMING = "simple-streaming"
KINDS = (JSON, SENML, SIMPLE_STREAMING)

# MQTT v5 content types that name a payload kind (the topic suffix does it for devices that
# set none).
CONTENT_TYPES = {
    "application/json": JSON,
    "application/senml+json": SENML,
    "application/octet-stream": SIMPLE_STREAMING,
    "application/vnd.sensiml.simple-streaming": SIMPLE_STREAMING,
}

MAX_SEQ = 2**63 - 1


class BadPayload(ValueError):
    """A payload that cannot be stored; the message says what is wrong with it."""


@dataclass(frozen=True)
class Batch:
    """Rows of samples in the recording's channel order, and the sequence number that makes
    storing them again harmless."""

    seq: int
    rows: list[list[float]]


def payload_kind(*, topic_suffix: str | None, content_type: str | None) -> str:
    """The kind named by the topic suffix (``.../samples/senml``), else by the MQTT v5
    content type, else the JSON batch."""
    if topic_suffix:
        if topic_suffix not in KINDS:
            raise BadPayload(
                f"unknown payload kind {topic_suffix!r} in the topic; use one of "
                + ", ".join(KINDS)
            )
        return topic_suffix
    if content_type:
        kind = CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())
        if kind is None:
            raise BadPayload(
                f"unknown content type {content_type!r}; use one of " + ", ".join(CONTENT_TYPES)
            )
        return kind
    return JSON


def decode(
    kind: str, payload: bytes, *, channels: Sequence[str], seq: int | None = None
) -> list[Batch]:
    """The batches of one MQTT message. ``seq`` is the message's ``seq`` user property, which
    SenML needs (it has no sequence number of its own)."""
    if kind == SENML:
        return [decode_senml(payload, channels=channels, seq=seq)]
    if kind == SIMPLE_STREAMING:
        return decode_simple_streaming(payload, columns=len(channels))
    return [decode_json_batch(payload, columns=len(channels))]


def recording_spec(payload: bytes, *, default_name: str, device: str) -> RecordingSpec:
    """The spec of a start message: capturehub's own (``{"channels": [...], "sample_rate":
    ..., "name"?, "kind"?, "metadata"?, "idle_timeout_seconds"?}``, a channel given as a name
    or as ``{"name", "units"}``) or a Simple Streaming device's configuration JSON
    (``{"sample_rate", "column_location", ...}``), as SensiML firmware prints it. The
    capture's name defaults to ``<device>-<id>.csv`` (``.wav`` for audio); its metadata
    gets ``device``."""
    document = _json(payload)
    if not isinstance(document, Mapping):
        raise BadPayload('a start message must be a JSON object {"channels": [...], ...}')
    fields = dict(document)
    if "column_location" in fields:
        try:
            config = simple_streaming.parse_config(fields)
        except simple_streaming.ConfigurationError as exc:
            raise BadPayload(str(exc)) from exc
        fields = {"channels": list(config.columns), "sample_rate": config.sample_rate}
    channels = fields.get("channels")
    if isinstance(channels, list):
        fields["channels"] = [
            {"name": channel} if isinstance(channel, str) else channel for channel in channels
        ]
    suffix = ".wav" if fields.get("kind") == "audio" else ".csv"
    fields.setdefault("name", default_name + suffix)
    metadata = fields.get("metadata")
    if metadata is None or isinstance(metadata, Mapping):
        fields["metadata"] = {"device": device, **(metadata or {})}
    try:
        return RecordingSpec.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'start'}: {error['msg']}"
            for error in exc.errors()
        )
        raise BadPayload(f"the start message cannot be used: {problems}") from None


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload(f"the payload is not JSON ({exc})") from exc


def _number(value: Any, where: str) -> float:
    # bool is an int to Python, but true is no sample value.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadPayload(f"{where} is {value!r}, not a number")
    number = float(value)
    if not math.isfinite(number):
        raise BadPayload(f"{where} is not a finite number")
    return number


def _seq(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQ:
        raise BadPayload(f"{where} must be a whole number from 0, got {value!r}")
    return value


def decode_json_batch(payload: bytes, *, columns: int) -> Batch:
    """``{"seq": 7, "t0": ..., "interval_ms": ..., "values": [[x, y, z], ...]}``: one row per
    sample, one value per channel. ``t0`` and ``interval_ms`` are optional and informative
    (the recording's rate was given at its start)."""
    document = _json(payload)
    if not isinstance(document, Mapping):
        raise BadPayload('the batch must be a JSON object {"seq": ..., "values": [[...]]}')
    if "seq" not in document:
        raise BadPayload('the batch has no "seq" (its sequence number)')
    seq = _seq(document["seq"], '"seq"')
    values = document.get("values")
    if not isinstance(values, list) or not values:
        raise BadPayload('"values" must be a non-empty list of rows')
    rows: list[list[float]] = []
    for index, row in enumerate(values):
        if not isinstance(row, list) or len(row) != columns:
            raise BadPayload(
                f'row {index} of "values" must be a list of {columns} values '
                f"(one per channel), got {json.dumps(row)[:80]}"
            )
        rows.append([_number(value, f"values[{index}]") for value in row])
    return Batch(seq=seq, rows=rows)


def decode_senml(payload: bytes, *, channels: Sequence[str], seq: int | None) -> Batch:
    """A SenML pack (JSON): each record's name (base name + name) is a channel, records of
    the same time (base time + time) form one row, rows in the order their times first
    appear. Every row must give every channel exactly once. Base values (``bv``) are added
    as RFC 8428 says; string, boolean and data values are refused."""
    if seq is None:
        raise BadPayload(
            "a SenML message needs its sequence number in the MQTT user property 'seq'"
        )
    pack = _json(payload)
    if not isinstance(pack, list) or not pack:
        raise BadPayload("a SenML pack must be a non-empty JSON array of records")
    where = {name: index for index, name in enumerate(channels)}
    base_name, base_time, base_value = "", 0.0, 0.0
    rows: dict[float, list[float | None]] = {}
    for number, record in enumerate(pack):
        if not isinstance(record, Mapping):
            raise BadPayload(f"SenML record {number} is not an object")
        if "bn" in record:
            if not isinstance(record["bn"], str):
                raise BadPayload(f"SenML record {number}: bn must be a string")
            base_name = record["bn"]
        if "bt" in record:
            base_time = _number(record["bt"], f"SenML record {number}'s bt")
        if "bv" in record:
            base_value = _number(record["bv"], f"SenML record {number}'s bv")
        for field in ("vs", "vb", "vd"):
            if field in record:
                raise BadPayload(f"SenML record {number} has {field}: only numbers (v) record")
        if "v" not in record:
            if "n" in record:
                raise BadPayload(f"SenML record {number} has a name but no value (v)")
            continue  # a record of base fields only
        name = base_name + str(record.get("n", ""))
        column = where.get(name)
        if column is None:
            raise BadPayload(
                f"SenML record {number} names {name!r}, not one of the recording's channels "
                f"({', '.join(channels)})"
            )
        time = base_time + (
            _number(record["t"], f"SenML record {number}'s t") if "t" in record else 0.0
        )
        row = rows.setdefault(time, [None] * len(channels))
        if row[column] is not None:
            raise BadPayload(f"SenML record {number}: {name!r} twice at time {time}")
        row[column] = base_value + _number(record["v"], f"SenML record {number}'s v")
    complete: list[list[float]] = []
    for time, row in rows.items():
        missing = [channels[index] for index, value in enumerate(row) if value is None]
        if missing:
            raise BadPayload(f"the SenML row at time {time} lacks {', '.join(missing)}")
        complete.append([value for value in row if value is not None])
    if not complete:
        raise BadPayload("the SenML pack holds no values")
    return Batch(seq=seq, rows=complete)


def decode_simple_streaming(payload: bytes, *, columns: int) -> list[Batch]:
    """Simple Streaming version 2 packets, one or more back to back; each packet is a batch
    numbered by its own sequence number. The message is refused whole when one packet fails
    its checksum or its frame: a device resends the message, not a packet."""
    header = simple_streaming.HEADER_SIZE
    row_size = columns * simple_streaming.SAMPLE_SIZE
    batches: list[Batch] = []
    position = 0
    while position < len(payload):
        number = len(batches)
        if len(payload) - position < header + 1 or payload[position] != simple_streaming.SYNC:
            raise BadPayload(
                f"packet {number} does not start with a Simple Streaming v2 header "
                "(0xFF, length, 0x00, channel, sequence)"
            )
        (length,) = struct.unpack_from("<H", payload, position + 1)
        size = length - simple_streaming.LENGTH_OVERHEAD
        end = position + 3 + length + 1
        if size <= 0 or size % row_size or end > len(payload) or payload[position + 3] != 0:
            raise BadPayload(
                f"packet {number} has length {length}: not 6 + whole rows of {columns} int16 "
                "values within the message"
            )
        body = payload[position + 3 : end - 1]
        if simple_streaming.checksum(body) != payload[end - 1]:
            raise BadPayload(f"packet {number} fails its checksum")
        sequence = int.from_bytes(body[2:6], "little")
        rows = simple_streaming.unpack_rows(body[6:], columns)
        batches.append(Batch(seq=sequence, rows=[[float(v) for v in row] for row in rows]))
        position = end
    if not batches:
        raise BadPayload("the message holds no Simple Streaming packet")
    return batches
