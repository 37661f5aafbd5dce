"""A recording over its WebSocket, against a real server on SQLite and PostgreSQL: the samples
read back equal what was sent, value for value (JSON and binary frames); every ack means the
batch is readable; the flow-control window is kept; bad batches are counted and explained
with the connection kept; a client that reconnects resumes with no gap and no duplicate; only
the owner's team, with a token or the page's cookie and CSRF token, gets in."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import numpy as np
import pytest

from capturehub import Client
from capturehub.datamanager.recording_stream import RecordingStream
from capturehub.exceptions import NotFoundError
from capturehub.recording_frames import encode_batch
from tests.conftest import RunningServer
from tests.recording_stream.support import (
    CHANNELS,
    batches,
    raw_socket,
    receive,
    samples,
    start,
    stream,
    ws_url,
)
from tests.ui.helpers import session_cookie


def test_binary_float64_and_json_samples_equal_what_was_sent(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], project_name: str
) -> None:
    p = project["uuid"]
    sent = batches(6, 25, len(CHANNELS), seed=1)
    for name, options in (
        ("binary64.csv", {"binary": True, "value_size": 8}),
        ("json.csv", {"binary": False}),
    ):
        capture = start(api, p, name)
        connection, recording = stream(server, p, capture, **options)
        with connection, recording:
            seqs = [recording.send(rows) for rows in sent]
        assert seqs == [1, 2, 3, 4, 5, 6]
        assert recording.counters.acked == 6 and recording.counters.bad == []
        assert recording.counters.samples == 150
        stored = samples(server, project_name, capture)
        # Bit for bit: -0.0 stays negative, 5e-324 (a subnormal) and 1e300 survive.
        assert stored.tobytes() == np.vstack(sent).tobytes(), name


def test_binary_float32_frames_store_the_float32_values(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], project_name: str
) -> None:
    p = project["uuid"]
    capture = start(api, p, "binary32.csv")
    sent = batches(3, 40, len(CHANNELS), seed=2)
    with pytest.raises(ValueError, match="too large for float32"):
        encode_batch(1, sent[0], value_size=4)
    sent[0][1, 0] = 3e38  # the largest float32 is about 3.4e38
    connection, recording = stream(server, p, capture, binary=True, value_size=4)
    with connection, recording:
        for rows in sent:
            recording.send(rows)
    expected = np.vstack(sent).astype(np.float32).astype(np.float64)
    assert samples(server, project_name, capture).tobytes() == expected.tobytes()


def test_an_ack_means_the_batch_is_readable_and_hello_says_where_to_resume(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], project_name: str
) -> None:
    p = project["uuid"]
    capture = start(api, p, "acks.csv")
    sent = batches(4, 10, len(CHANNELS), seed=3)
    with raw_socket(server, p, capture) as socket:
        hello = receive(socket)
        assert hello["last_seq"] is None and hello["samples"] == 0
        assert hello["channels"] == CHANNELS and hello["window"] >= 1
        for seq, rows in enumerate(sent, start=7):
            socket.send(encode_batch(seq, rows, value_size=8))
            ack = receive(socket)
            assert ack == {"ack": seq, "samples": 10 * (seq - 6), "rows": 10, "duplicate": False}
            # Acknowledged, so stored: get_data() has it at once.
            stored = samples(server, project_name, capture)
            assert stored.tobytes() == np.vstack(sent[: seq - 6]).tobytes()
    with raw_socket(server, p, capture) as socket:
        assert receive(socket)["last_seq"] == 10


def test_the_window_is_kept_and_a_batch_beyond_it_is_refused_not_stored(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], project_name: str
) -> None:
    p = project["uuid"]
    capture = start(api, p, "window.csv")
    rows = batches(1, 5, len(CHANNELS), seed=4)[0]
    burst = 200
    with raw_socket(server, p, capture) as socket:
        window = receive(socket)["window"]
        # A burst far beyond the window, without waiting for any ack.
        for seq in range(1, burst + 1):
            socket.send(encode_batch(seq, rows, value_size=8))
        acked: list[int] = []
        refused: list[int] = []
        while len(acked) + len(refused) < burst:
            message = receive(socket)
            if "ack" in message:
                acked.append(message["ack"])
            else:
                assert message["window"] == window, message
                assert f"More than {window} batches" in message["message"]
                refused.append(message["refused"])
        # The server held at most `window` batches: the rest of the burst was refused.
        assert refused, "a burst of 200 batches must overrun a window of " + str(window)
        assert len(acked) >= window
        assert sorted(acked + refused) == list(range(1, burst + 1))
        assert acked == sorted(acked)
    stored = samples(server, project_name, capture)
    assert len(stored) == 5 * len(acked)
    status = api.get(f"project/{p}/recordings/{capture}/").json()
    assert status["samples"] == 5 * len(acked) and status["last_seq"] == max(acked)


def test_bad_batches_are_counted_and_explained_and_the_connection_stays(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], project_name: str
) -> None:
    p = project["uuid"]
    capture = start(api, p, "bad.csv")
    good = batches(2, 3, len(CHANNELS), seed=5)
    with raw_socket(server, p, capture) as socket:
        receive(socket)
        socket.send(json.dumps({"seq": 1, "values": good[0].tolist()}))
        assert receive(socket)["ack"] == 1
        bad_frames: list[str | bytes] = [
            json.dumps({"seq": 2, "values": [[1.0, 2.0]]}),  # two columns of four
            json.dumps({"seq": 3, "values": [[1.0, "x", 3.0, 4.0]]}),  # not a number
            "not json",
            b"\x01\x02",  # shorter than a binary header
            encode_batch(4, np.ones((2, 3)), value_size=8),  # three columns of four
            json.dumps({"seq": 1, "values": [[9.0, 9.0, 9.0, 9.0]]}),  # stored already
            json.dumps({"seq": 0, "values": [[9.0, 9.0, 9.0, 9.0]]}),  # going backwards
        ]
        answers = []
        for frame in bad_frames:
            socket.send(frame)
            answers.append(receive(socket))
        # The seq sent again is acknowledged again (and not stored twice); the others are bad.
        assert answers[5] == {"ack": 1, "samples": 3, "rows": 3, "duplicate": True}
        bad = [a for i, a in enumerate(answers) if i != 5]
        assert [a["bad"] for a in bad] == [2, 3, None, None, 4, 0]
        assert [a["bad_batches"] for a in bad] == [1, 2, 3, 4, 5, 6]
        assert "has 2 values; this recording has 4 channels" in bad[0]["message"]
        assert "not JSON" in bad[2]["message"]
        assert "8-byte header" in bad[3]["message"]
        assert "increase" in bad[5]["message"]
        # Still open: the next good batch is stored.
        socket.send(json.dumps({"seq": 5, "values": good[1].tolist()}))
        assert receive(socket) == {"ack": 5, "samples": 6, "rows": 3, "duplicate": False}
    assert samples(server, project_name, capture).tobytes() == np.vstack(good).tobytes()
    status = api.get(f"project/{p}/recordings/{capture}/").json()
    assert status["bad_batches"] == 6


def test_a_client_that_reconnects_resumes_with_no_gap_and_no_duplicate(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], project_name: str
) -> None:
    p = project["uuid"]
    capture = start(api, p, "resume.csv")
    sent = batches(12, 8, len(CHANNELS), seed=6)
    connection, first = stream(server, p, capture)
    with connection:
        for rows in sent[:4]:
            first.send(rows)
        first.flush()
        # Batches 5 and 6 are sent and the connection drops before their acks are read:
        # the next stream learns from the hello what was stored and sends on after it.
        first.send(sent[4])
        first.send(sent[5])
        assert first._socket is not None
        first._socket.close()
        with stream(server, p, capture)[1] as second:
            assert second.counters.last_acked_seq in (4, 5, 6)
            resumed = second.counters.last_acked_seq
            for rows in sent[resumed:]:
                second.send(rows)
            # The stream also survives its own connection breaking mid-way.
            assert second._socket is not None
            second._socket.close()
            second.send(sent[-1] + 1)
        assert second.counters.reconnects == 1
    expected = np.vstack([*sent, sent[-1] + 1])
    assert samples(server, project_name, capture).tobytes() == expected.tobytes()
    status = api.get(f"project/{p}/recordings/{capture}/").json()
    assert status["gaps"] == 0 and status["bad_batches"] == 0


def test_only_the_owner_gets_in_with_a_token_or_the_pages_cookie_and_csrf_token(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], project_name: str
) -> None:
    p = project["uuid"]
    capture = start(api, p, "auth.csv")

    with raw_socket(server, p, capture, Origin="http://elsewhere.example") as socket:
        assert receive(socket)["status"] == 401
    with (
        Client(server=server.url, api_key=server.other.api_key) as other,
        pytest.raises(NotFoundError),
    ):
        RecordingStream(other.connection, p, capture)

    cookie = session_cookie(server.url, server.main)
    page = httpx.get(server.url + "record/", cookies={"capturehub_session": cookie})
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, page.text
    csrf = match.group(1)
    origin = server.url.rstrip("/")
    jar = f"capturehub_session={cookie}"
    from websockets.sync.client import connect

    for query, sent_origin, status in (
        ("", origin, 403),  # no CSRF token
        (f"?csrf_token={csrf}", "http://elsewhere.example", 403),  # another site's page
        (f"?csrf_token={'0' * 64}", origin, 403),
    ):
        with connect(
            ws_url(server.url, p, capture) + query,
            additional_headers={"Cookie": jar, "Origin": sent_origin},
            proxy=None,
        ) as socket:
            answer = receive(socket)
            assert answer["status"] == status, (query, sent_origin)
            assert "CSRF token" in answer["error"]

    with connect(
        ws_url(server.url, p, capture) + f"?csrf_token={csrf}",
        additional_headers={"Cookie": jar, "Origin": origin},
        proxy=None,
    ) as socket:
        assert receive(socket)["hello"] == capture
        socket.send(json.dumps({"seq": 1, "values": [[1.0, 2.0, 3.0, 4.0]]}))
        assert receive(socket)["ack"] == 1

    with raw_socket(server, p, capture, Authorization="Bearer not-a-key") as socket:
        answer = receive(socket)
        assert answer["status"] == 401 and "invalid or expired" in answer["error"]


def test_a_stopped_recording_takes_no_more_batches(
    server: RunningServer, api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    capture = start(api, p, "stopped.csv")
    with raw_socket(server, p, capture) as socket:
        receive(socket)
        socket.send(json.dumps({"seq": 1, "values": [[1.0, 2.0, 3.0, 4.0]] * 2}))
        assert receive(socket)["ack"] == 1
        assert api.post(f"project/{p}/recordings/{capture}/stop/").status_code == 200
        socket.send(json.dumps({"seq": 2, "values": [[1.0, 2.0, 3.0, 4.0]]}))
        answer = receive(socket)
        assert answer["status"] == 409 and "takes no more batches" in answer["error"]


def test_the_sdks_recording_streams_over_the_websocket_after_its_appended_batches(
    server: RunningServer, project_name: str, project: dict[str, Any]
) -> None:
    sent = batches(3, 20, 3, seed=7)
    with Client(server=server.url, api_key=server.api_key) as client:
        client.project = project_name
        recording = client.project.recordings.start("sdk.csv", ["x", "y", "z"], sample_rate=50)
        recording.append(sent[0])  # seq 0 over HTTP
        with recording.stream() as stream:
            assert stream.next_seq == 1
            stream.send(sent[1])
            stream.send(sent[2])
        assert stream.counters.samples == 60
        assert recording.status()["last_seq"] == 2
        stored = recording.capture.get_data()[["x", "y", "z"]].to_numpy()
    assert stored.tobytes() == np.vstack(sent).tobytes()
