"""The Simple Streaming and line decoders on bytes alone: the reference vector, resync after
garbage, damaged packets dropped and counted, chunks split anywhere across reads."""

from __future__ import annotations

import json

import pytest

from capturehub.recording.line_mode import DetectionError, LineDecoder, detect_shape, parse_line
from capturehub.recording.simple_streaming import (
    ConfigurationError,
    StreamConfig,
    V1Decoder,
    V2Decoder,
    encode_packet,
    pack_rows,
    parse_config,
)
from tests.recording.devices.simulated import build_stream, ramp_rows

VECTOR = bytes.fromhex("ff 0c 00 00 00 01 00 00 00 01 00 fe ff 03 00 02")
THREE = StreamConfig(sample_rate=100, columns=("x", "y", "z"), version=2, samples_per_packet=1)


def test_the_reference_vector_encodes_and_decodes() -> None:
    assert encode_packet([[1, -2, 3]], sequence=1, channel=0) == VECTOR
    decoder = V2Decoder(THREE)
    assert decoder.feed(VECTOR) == [[1, -2, 3]]
    assert (decoder.stats.packets, decoder.stats.dropped_packets) == (1, 0)
    assert decoder.stats.skipped_bytes == 0


def test_the_vector_split_at_every_byte_still_decodes() -> None:
    decoder = V2Decoder(THREE)
    rows = []
    for byte in VECTOR * 3:
        rows += decoder.feed(bytes([byte]))
    assert rows == [[1, -2, 3]] * 3


def test_garbage_between_packets_is_skipped_and_counted() -> None:
    first = encode_packet([[1, 2, 3]], sequence=1)
    second = encode_packet([[4, 5, 6]], sequence=2)
    garbage = b"\x00\xff\x07\xff\x00\x00hello\xff"
    decoder = V2Decoder(THREE)
    assert decoder.feed(garbage + first + garbage + second) == [[1, 2, 3], [4, 5, 6]]
    assert decoder.stats.skipped_bytes == 2 * len(garbage)
    assert decoder.stats.dropped_packets == 0 and decoder.stats.lost_packets == 0


def test_a_bad_checksum_drops_the_packet_counts_it_and_keeps_the_next() -> None:
    good = encode_packet([[1, 2, 3]], sequence=1)
    bad = bytearray(encode_packet([[-1, -1, -1]], sequence=2))  # payload full of 0xFF
    bad[-1] ^= 0x01
    after = encode_packet([[7, 8, 9]], sequence=3)
    decoder = V2Decoder(THREE)
    assert decoder.feed(good + bytes(bad) + after) == [[1, 2, 3], [7, 8, 9]]
    assert decoder.stats.dropped_packets == 1
    assert decoder.stats.lost_packets == 0  # sequence 2 arrived, damaged: dropped, not lost
    assert decoder.stats.packets == 2


def test_a_missing_packet_is_counted_as_lost() -> None:
    decoder = V2Decoder(THREE)
    packets = [encode_packet([[n, n, n]], sequence=n) for n in (1, 2, 5)]
    assert decoder.feed(b"".join(packets)) == [[1, 1, 1], [2, 2, 2], [5, 5, 5]]
    assert (decoder.stats.lost_packets, decoder.stats.dropped_packets) == (2, 0)


def test_a_damaged_payload_byte_is_caught_by_the_checksum() -> None:
    packet = bytearray(encode_packet([[100, 200, 300]], sequence=1))
    packet[10] ^= 0x40
    decoder = V2Decoder(THREE)
    assert decoder.feed(bytes(packet) + encode_packet([[1, 1, 1]], sequence=2)) == [[1, 1, 1]]
    assert decoder.stats.dropped_packets == 1


def test_a_stream_with_bad_packets_and_garbage_yields_exactly_the_intact_rows() -> None:
    config = StreamConfig(sample_rate=476, columns=tuple("abcdef"), version=2, samples_per_packet=6)
    stream = build_stream(config, ramp_rows(6000, 6), bad_checksum_every=7, garbage_every=5)
    decoder = V2Decoder(config)
    data = b"".join(stream.chunks)
    rows = []
    for start in range(0, len(data), 1000):  # reads cut packets anywhere
        rows += decoder.feed(data[start : start + 1000])
    assert rows == stream.intact_rows
    assert decoder.stats.dropped_packets == stream.bad_packets == 1000 // 7
    assert decoder.stats.lost_packets == 0


def test_v1_rows_split_across_reads_wait_for_their_last_byte() -> None:
    config = StreamConfig(sample_rate=50, columns=("a", "b"), version=1, samples_per_packet=4)
    rows = ramp_rows(40, 2)
    data = pack_rows(rows)
    decoder = V1Decoder(config)
    out = []
    for size in (1, 3, 5, 7, 11):  # reads that never line up with rows or chunks
        out += decoder.feed(data[:size])
        data = data[size:]
    out += decoder.feed(data)
    assert out == rows
    assert decoder.stats.packets == 10


def test_configuration_is_read_and_checked() -> None:
    config = parse_config(
        json.dumps(
            {
                "sample_rate": 476,
                "version": 2,
                "samples_per_packet": 6,
                "column_location": {"AccelerometerY": 1, "AccelerometerX": 0, "GyroZ": 2},
            }
        )
    )
    assert config.columns == ("AccelerometerX", "AccelerometerY", "GyroZ")
    assert (config.sample_rate, config.version, config.samples_per_packet) == (476, 2, 6)
    assert parse_config('{"sample_rate": 50, "column_location": {"x": 0}}').version == 1
    with pytest.raises(ConfigurationError, match="version must be 1 or 2"):
        parse_config('{"sample_rate": 50, "version": 3, "column_location": {"x": 0}}')
    with pytest.raises(ConfigurationError, match=r"indices must be 0\.\.1"):
        parse_config('{"sample_rate": 50, "column_location": {"x": 0, "y": 2}}')
    with pytest.raises(ConfigurationError, match="sample_rate"):
        parse_config('{"column_location": {"x": 0}}')


def test_lines_split_by_commas_tabs_or_spaces() -> None:
    assert parse_line("1, -2.5,3\r") == [1, -2.5, 3]
    assert parse_line("1\t2\t3") == [1, 2, 3]
    assert parse_line("  0.125  7e-3 -4 ") == [0.125, 0.007, -4]
    assert parse_line("booting...") is None
    assert parse_line("1,nan,2") is None
    decoder = LineDecoder(columns=3)
    assert decoder.feed(b"1,2,3\n4,5") == [[1, 2, 3]]
    assert decoder.feed(b",6\nready\n7,8\n9,10,11\n") == [[4, 5, 6], [9, 10, 11]]
    assert decoder.stats.bad_lines == 2


def test_shape_detection_counts_lines_and_refuses_slow_devices() -> None:
    arrivals = [(index / 100, [1.0, 2.0, 3.0]) for index in range(101)]
    assert detect_shape(arrivals, 1.0) == (3, 100.0)
    slow = [(index / 2, [1.0]) for index in range(3)]
    with pytest.raises(DetectionError, match="give the rate with --rate"):
        detect_shape(slow, 1.0)
    with pytest.raises(DetectionError, match="no line of numbers"):
        detect_shape([], 1.0)
