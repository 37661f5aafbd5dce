"""SensiML's Simple Streaming protocol: the configuration JSON and the int16 sample stream.

Pure functions and small stateful decoders, no I/O and no server imports, so that every way a
Simple Streaming device reaches capturehub (a TCP or serial device read by ``capturehub
record``, packets relayed over MQTT) decodes the bytes the same way.

Version 1 is raw int16 little-endian rows, ``samples_per_packet`` rows per chunk, with no
framing at all: the stream has to be read from its first byte. Version 2 frames each chunk::

    0xFF | u16 LE length | 0x00 reserved | u8 channel | u32 LE sequence | payload | u8 XOR

``length`` counts reserved + channel + sequence + payload (payload + 6), so a whole packet is
``length + 4`` bytes (sync, two length bytes, checksum). The checksum is the XOR of every byte
that ``length`` counts. The reference vector, one row ``[1, -2, 3]`` on channel 0, sequence 1::

    ff | 0c 00 | 00 | 00 | 01 00 00 00 | 01 00 fe ff 03 00 | 02

length 0x0c = 12 = 6 payload bytes + 6; checksum 0x00 ^ 0x00 ^ 0x01 ^ (0x01 ^ 0xfe ^ 0xff ^ 0x03)
= 0x01 ^ 0x03 = 0x02 (the zero bytes change nothing). A packet failing its checksum whose
frame holds (a sync byte follows it, or its sequence number is the expected one) is dropped
whole and counted; otherwise the decoder takes the 0xFF for garbage and looks for the next
one, so garbage between packets costs only the bytes it takes, and a packet lost in it shows
as a gap in the sequence numbers.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SYNC = 0xFF
HEADER_SIZE = 9  # sync, length (2), reserved, channel, sequence (4)
# length = reserved + channel + sequence + payload: 6 bytes besides the payload.
LENGTH_OVERHEAD = 6
SAMPLE_SIZE = 2  # int16 little-endian
INT16_MIN, INT16_MAX = -32768, 32767
# A v2 payload is at most 65535 - 6 bytes (length is a u16).
MAX_PAYLOAD = 0xFFFF - LENGTH_OVERHEAD

Row = list[int]


class ConfigurationError(ValueError):
    """The device's configuration JSON cannot be used (says what is wrong in it)."""


@dataclass(frozen=True)
class StreamConfig:
    """What a Simple Streaming device announces: its columns in stream order, its rate."""

    sample_rate: float
    columns: tuple[str, ...]
    version: int = 1
    samples_per_packet: int = 1

    @property
    def chunk_size(self) -> int:
        """Bytes of one packet's payload (a whole v1 chunk)."""
        return self.samples_per_packet * len(self.columns) * SAMPLE_SIZE

    def to_json(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sample_rate,
            "version": self.version,
            "samples_per_packet": self.samples_per_packet,
            "column_location": {name: index for index, name in enumerate(self.columns)},
        }


def parse_config(raw: str | bytes | Mapping[str, Any]) -> StreamConfig:
    """The :class:`StreamConfig` of a configuration JSON, or a ConfigurationError naming the
    field at fault."""
    if isinstance(raw, str | bytes):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"the configuration is not JSON ({exc})") from exc
    else:
        data = raw
    if not isinstance(data, Mapping):
        raise ConfigurationError("the configuration JSON is not an object")
    rate = data.get("sample_rate")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
        raise ConfigurationError(f"sample_rate must be a positive number, not {rate!r}")
    version = data.get("version", 1)
    if version not in (1, 2) or isinstance(version, bool):
        raise ConfigurationError(f"version must be 1 or 2, not {version!r}")
    per_packet = data.get("samples_per_packet", 1)
    if isinstance(per_packet, bool) or not isinstance(per_packet, int) or per_packet < 1:
        raise ConfigurationError(
            f"samples_per_packet must be a positive integer, not {per_packet!r}"
        )
    locations = data.get("column_location")
    if not isinstance(locations, Mapping) or not locations:
        raise ConfigurationError("column_location must map each column name to its index")
    indices = sorted(locations.values(), key=lambda v: (not isinstance(v, int), v))
    if any(isinstance(i, bool) or not isinstance(i, int) for i in indices) or indices != list(
        range(len(indices))
    ):
        raise ConfigurationError(
            f"column_location's indices must be 0..{len(locations) - 1}, each once, "
            f"not {sorted(map(repr, locations.values()))}"
        )
    columns = tuple(str(name) for name, _ in sorted(locations.items(), key=lambda kv: kv[1]))
    config = StreamConfig(
        sample_rate=float(rate) if not float(rate).is_integer() else int(rate),
        columns=columns,
        version=int(version),
        samples_per_packet=per_packet,
    )
    if config.version == 2 and config.chunk_size > MAX_PAYLOAD:
        raise ConfigurationError("samples_per_packet x columns is too large for a v2 packet")
    return config


def unpack_rows(payload: bytes | bytearray | memoryview, columns: int) -> list[Row]:
    """int16 little-endian values, row after row, ``columns`` to a row."""
    count = len(payload) // SAMPLE_SIZE
    values = struct.unpack(f"<{count}h", payload[: count * SAMPLE_SIZE])
    return [list(values[start : start + columns]) for start in range(0, count, columns)]


def pack_rows(rows: Sequence[Sequence[int]]) -> bytes:
    """The inverse of :func:`unpack_rows` (what a device sends)."""
    flat = [value for row in rows for value in row]
    return struct.pack(f"<{len(flat)}h", *flat)


def checksum(data: bytes | bytearray | memoryview) -> int:
    value = 0
    for byte in bytes(data):
        value ^= byte
    return value


def encode_packet(rows: Sequence[Sequence[int]], *, sequence: int, channel: int = 0) -> bytes:
    """One version 2 packet of ``rows`` (what a device sends; tests and simulators use it)."""
    payload = pack_rows(rows)
    body = struct.pack("<BBI", 0, channel, sequence) + payload
    return struct.pack("<BH", SYNC, len(body)) + body + bytes([checksum(body)])


@dataclass
class DecoderStats:
    """What a decoder has seen: the live view's and the report's numbers."""

    rows: int = 0
    packets: int = 0
    dropped_packets: int = 0  # a whole frame whose checksum failed
    lost_packets: int = 0  # sequence numbers never seen, intact or damaged (v2)
    skipped_bytes: int = 0  # garbage between packets


@dataclass
class V1Decoder:
    """Version 1: the stream is whole rows from its first byte; reads may split a row
    anywhere, so the bytes of an unfinished row wait for the next read."""

    config: StreamConfig
    stats: DecoderStats = field(default_factory=DecoderStats)
    _pending: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Row]:
        self._pending += data
        row_size = len(self.config.columns) * SAMPLE_SIZE
        whole = len(self._pending) - len(self._pending) % row_size
        rows = unpack_rows(self._pending[:whole], len(self.config.columns))
        del self._pending[:whole]
        chunk = self.config.samples_per_packet
        before = self.stats.rows
        self.stats.rows += len(rows)
        self.stats.packets += self.stats.rows // chunk - before // chunk
        return rows


@dataclass
class V2Decoder:
    """Version 2: framed, checksummed packets; corrupt ones are dropped and counted, gaps in
    a channel's sequence (numbers seen neither intact nor damaged) are counted as lost."""

    config: StreamConfig
    stats: DecoderStats = field(default_factory=DecoderStats)
    _pending: bytearray = field(default_factory=bytearray)
    _last_sequence: dict[int, int] = field(default_factory=dict)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Row]:
        buffer = self._pending
        buffer += data
        columns = len(self.config.columns)
        row_size = columns * SAMPLE_SIZE
        rows: list[Row] = []
        position = 0
        while True:
            sync = buffer.find(SYNC, position)
            if sync < 0:
                self.stats.skipped_bytes += len(buffer) - position
                position = len(buffer)
                break
            self.stats.skipped_bytes += sync - position
            position = sync
            if len(buffer) - position < 4:  # sync, length, reserved: enough to judge
                break
            length = buffer[position + 1] | buffer[position + 2] << 8
            payload_size = length - LENGTH_OVERHEAD
            if payload_size <= 0 or payload_size % row_size or buffer[position + 3] != 0:
                # Not a packet header: a 0xFF inside garbage (or a corrupt length).
                self.stats.skipped_bytes += 1
                position += 1
                continue
            end = position + 3 + length + 1
            if len(buffer) < end:
                break
            body = memoryview(buffer)[position + 3 : end - 1]
            channel = body[1]
            sequence = int.from_bytes(body[2:6], "little")
            last = self._last_sequence.get(channel)
            if checksum(body) != buffer[end - 1]:
                body.release()
                # A damaged packet whose frame holds (the next packet starts right after it,
                # or its sequence number is the expected one) is dropped whole and counted;
                # anything else is a 0xFF in garbage or a damaged length: resync from the
                # next byte (a packet lost that way shows as a gap in the sequence).
                if end == len(buffer) or buffer[end] == SYNC or sequence == (last or 0) + 1:
                    self.stats.dropped_packets += 1
                    self.stats.skipped_bytes += end - position
                    self._count_gap(channel, sequence)
                    position = end
                else:
                    self.stats.skipped_bytes += 1
                    position += 1
                continue
            packet_rows = unpack_rows(body[6:], columns)
            body.release()
            self._count_gap(channel, sequence)
            self.stats.packets += 1
            self.stats.rows += len(packet_rows)
            rows.extend(packet_rows)
            position = end
        del buffer[:position]
        return rows

    def _count_gap(self, channel: int, sequence: int) -> None:
        last = self._last_sequence.get(channel, 0)
        if sequence > last + 1:
            self.stats.lost_packets += sequence - last - 1
        self._last_sequence[channel] = sequence


Decoder = V1Decoder | V2Decoder


def decoder_for(config: StreamConfig) -> Decoder:
    return V2Decoder(config) if config.version == 2 else V1Decoder(config)
