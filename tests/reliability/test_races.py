"""Races: concurrent clients never get a 5xx and never leave the database and blobs apart.

* 50 clients upload a capture of the same name at the same moment: exactly one 201, the others
  409, one capture listed and no file of the losers left in the blob store.
* 20 clients upload, list, read, download, rename, replace, delete, label (segments) and set
  metadata on a shared pool of captures for 15 s (60 s in the full form): no 5xx, every list is
  valid JSON, and afterwards every listed capture downloads with its sha256 and the offline
  ``capturehub fsck --min-age 0`` is clean.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, RunningServer, require_backend
from tests.reliability.support import (
    FULL,
    blob_files,
    client,
    run_fsck,
    temp_files,
)
from tests.servers import new_server

SAME_NAME_CLIENTS = 50
MIXED_CLIENTS = 20
MIXED_SECONDS = 60.0 if FULL else 15.0
NAME_POOL = 12  # few names, so renames and uploads collide on purpose
VALUE_POOL = 6  # few metadata values, so clients create the same new value at once


def _csv(rows: int, seed: float) -> bytes:
    rng = random.Random(seed)
    lines = ["AccelX,AccelY,AccelZ"]
    lines += [f"{rng.random():.5f},{rng.random():.5f},{rng.random():.5f}" for _ in range(rows)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("asynchronous", [True, False])
def test_same_name_uploaded_by_50_clients_at_once(
    server: RunningServer, project: dict[str, Any], asynchronous: bool
) -> None:
    token = server.token()
    barrier = threading.Barrier(SAME_NAME_CLIENTS)
    body = _csv(200, seed=1)

    def one(index: int) -> httpx.Response:
        with client(server.url, token) as api:
            barrier.wait(timeout=60)
            return api.post(
                f"project/{project['uuid']}/capture/",
                data={"name": "contested.csv", "asynchronous": str(asynchronous)},
                files={"file": (f"contested-{index}.csv", body)},
            )

    with ThreadPoolExecutor(SAME_NAME_CLIENTS) as pool:
        responses = list(pool.map(one, range(SAME_NAME_CLIENTS)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: SAME_NAME_CLIENTS - 1}, {
        s: [r.text[:200] for r in responses if r.status_code == s][:2] for s in statuses
    }
    for response in responses:
        if response.status_code == 409:
            assert "contested.csv" in response.json()["detail"]
    with client(server.url, token) as api:
        listed = api.get(f"project/{project['uuid']}/capture/").json()
    assert [c["name"] for c in listed] == ["contested.csv"]
    winner = listed[0]["uuid"]
    # The losers' files are gone: only the winner's original (with its columnar copy and plot
    # pyramid) remain.
    mine = [
        p for p in blob_files(server.data_dir) if f"captures/{project['uuid']}/" in p.as_posix()
    ]
    assert mine and all(f"/{winner}/" in p.as_posix() for p in mine), mine
    assert len(mine) <= 3


@dataclass
class Tally:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, operation: str, response: httpx.Response, allowed: set[int]) -> None:
        with self.lock:
            self.statuses[(operation, response.status_code)] += 1
            if response.status_code not in allowed and len(self.problems) < 50:
                self.problems.append(
                    f"{operation}: {response.request.method} {response.request.url.path} -> "
                    f"{response.status_code} {response.text[:200]}"
                )


@dataclass
class Shared:
    project: str
    label: str
    label_value: str
    captures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def some_capture(self, rng: random.Random) -> str:
        with self.lock:
            return rng.choice(self.captures) if self.captures else str(uuid.uuid4())


def _operations(
    api: httpx.Client, shared: Shared, tally: Tally, rng: random.Random
) -> dict[str, tuple[int, Callable[[], None]]]:
    base = f"project/{shared.project}/"

    def upload() -> None:
        name = f"capture-{rng.randrange(NAME_POOL)}.csv"
        response = api.post(
            base + "capture/",
            data={"name": name, "asynchronous": rng.choice(["True", "False"])},
            files={"file": (name, _csv(rng.randrange(2, 400), rng.random()))},
        )
        tally.record("upload", response, {201, 409})
        if response.status_code == 201:
            with shared.lock:
                shared.captures.append(response.json()["uuid"])

    def list_captures() -> None:
        params = rng.choice([{}, {"limit": "5", "offset": "2"}, {"task_state": "SUCCESS"}])
        response = api.get(base + "capture/", params=params)
        tally.record("list", response, {200})
        if response.status_code == 200:
            json.loads(response.content)  # a list cut short by an error is not valid JSON

    def read() -> None:
        capture = shared.some_capture(rng)
        response = api.get(base + f"capture/{capture}/")
        tally.record("read", response, {200, 404})

    def download() -> None:
        capture = shared.some_capture(rng)
        response = api.get(base + f"capture/{capture}/file/")
        tally.record("download", response, {200, 404})

    def rename() -> None:
        capture = shared.some_capture(rng)
        response = api.patch(
            base + f"capture/{capture}/", json={"name": f"capture-{rng.randrange(NAME_POOL)}.csv"}
        )
        tally.record("rename", response, {200, 404, 409})

    def replace() -> None:
        capture = shared.some_capture(rng)
        response = api.patch(
            base + f"capture/{capture}/", files={"file": ("new.csv", _csv(50, rng.random()))}
        )
        tally.record("replace", response, {200, 404})

    def delete() -> None:
        capture = shared.some_capture(rng)
        response = api.delete(base + f"capture/{capture}/")
        tally.record("delete", response, {204, 404})
        if response.status_code == 204:
            with shared.lock:
                if capture in shared.captures:
                    shared.captures.remove(capture)

    def segment() -> None:
        capture = shared.some_capture(rng)
        response = api.post(
            base + f"capture/{capture}/label-relationship/",
            json={
                "label": shared.label,
                "label_value": shared.label_value,
                "capture_sample_sequence_start": 0,
                "capture_sample_sequence_end": 1,
            },
        )
        # 409 while the capture is processed; 400 on a FAILURE; 404 once deleted.
        tally.record("segment", response, {201, 400, 404, 409})

    def metadata() -> None:
        capture = shared.some_capture(rng)
        response = api.post(
            f"v2/{base}capture/{capture}/metadata-relationship/",
            json={"label": "Subject", "label_value": f"S{rng.randrange(VALUE_POOL)}-{capture[:4]}"},
        )
        tally.record("metadata", response, {201, 404, 409})

    def statistics() -> None:
        response = api.get(base + "statistics/")
        tally.record("statistics", response, {200})
        if response.status_code == 200:
            json.loads(response.content)

    return {
        "upload": (30, upload),
        "list": (10, list_captures),
        "read": (10, read),
        "download": (8, download),
        "rename": (10, rename),
        "replace": (4, replace),
        "delete": (8, delete),
        "segment": (8, segment),
        "metadata": (8, metadata),
        "statistics": (4, statistics),
    }


def _worker(
    index: int, url: str, token: str, shared: Shared, tally: Tally, deadline: float
) -> None:
    rng = random.Random(index)
    with client(url, token, timeout=60) as api:
        operations = _operations(api, shared, tally, rng)
        names = list(operations)
        weights = [operations[name][0] for name in names]
        while time.monotonic() < deadline:
            name = rng.choices(names, weights)[0]
            try:
                operations[name][1]()
            except (httpx.TransportError, ValueError) as exc:  # cut connection, broken JSON
                with tally.lock:
                    tally.problems.append(f"{name}: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_20_clients_mixing_every_operation(backend: str, tmp_path: Path) -> None:
    require_backend(backend)
    process = new_server(backend, tmp_path / "server")
    try:
        account = process.create_account("racer", "lab")
        process.start()
        token = process.token(account)
        with client(process.url, token) as api:
            project = api.post("project/", json={"name": "races"}).json()["uuid"]
            label = api.post(
                f"project/{project}/label/", json={"name": "Activity", "values": ["walk"]}
            ).json()
            meta = api.post(
                f"project/{project}/metadata/", json={"name": "Subject", "is_dropdown": False}
            )
            assert meta.status_code == 201, meta.text
        shared = Shared(project, label["uuid"], label["label_values"][0]["uuid"])
        tally = Tally()
        deadline = time.monotonic() + MIXED_SECONDS
        with ThreadPoolExecutor(MIXED_CLIENTS) as pool:
            for future in [
                pool.submit(_worker, i, process.url, token, shared, tally, deadline)
                for i in range(MIXED_CLIENTS)
            ]:
                future.result()
        summary = ", ".join(f"{op} {code}: {n}" for (op, code), n in sorted(tally.statuses.items()))
        server_errors = sum(n for (_, code), n in tally.statuses.items() if code >= 500)
        problems = ([f"{server_errors} answers were 5xx"] if server_errors else []) + tally.problems
        assert tally.statuses[("upload", 201)] > 0, summary

        # Consistency: every listed capture is whole; offline fsck finds nothing amiss.
        with client(process.url, token) as api:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                captures = api.get(f"project/{project}/capture/").json()
                if all(c["task_state"] in ("SUCCESS", "FAILURE") for c in captures):
                    break
                time.sleep(0.3)
            for capture in captures:
                if capture["task_state"] != "SUCCESS":
                    problems.append(
                        f"{capture['name']} ended {capture['task_state']}: {capture['task_result']}"
                    )
                body = api.get(f"project/{project}/capture/{capture['uuid']}/file/")
                digest = hashlib.sha256(body.content).hexdigest()
                if body.status_code != 200 or digest != capture["sha256"]:
                    problems.append(f"{capture['name']}: download {body.status_code} {digest}")
                elif len(body.content) != capture["file_size"]:
                    problems.append(f"{capture['name']}: {len(body.content)} bytes downloaded")
        process.stop()
        check = run_fsck(process, "--min-age", "0")
        if check.returncode != 0 or "clean" not in check.stdout:
            problems.append(f"fsck after the race is not clean:\n{check.stdout}{check.stderr}")
        if temp_files(process.data_dir):
            problems.append(f"temporary files left: {temp_files(process.data_dir)}")
        assert not problems, "\n".join(problems[:25]) + f"\n\nall answers: {summary}"
    finally:
        process.close()


@pytest.mark.parametrize("change", ["delete", "replace"])
def test_downloads_racing_a_delete_or_replace(
    server: RunningServer, project: dict[str, Any], change: str
) -> None:
    """Readers of a capture's file while it is deleted or replaced get the file, or a 404:
    never a 5xx, never a cut-off body."""
    token = server.token()
    base = f"project/{project['uuid']}/capture/"
    body = _csv(20_000, seed=2)
    answers: Counter[int] = Counter()
    problems: list[str] = []
    lock = threading.Lock()
    for attempt in range(5):
        with client(server.url, token) as api:
            created = api.post(
                base,
                data={"name": f"{change}-{attempt}.csv", "asynchronous": "False"},
                files={"file": ("r.csv", body)},
            )
            assert created.status_code == 201, created.text
        url = f"{base}{created.json()['uuid']}/file/"
        done = threading.Event()

        def reader(url: str, done: threading.Event) -> None:
            with client(server.url, token) as api:
                while not done.is_set():
                    try:
                        response = api.get(url)
                    except httpx.TransportError as exc:
                        with lock:
                            problems.append(f"download cut off: {exc}")
                        continue
                    with lock:
                        answers[response.status_code] += 1
                        if response.status_code >= 500:
                            problems.append(f"{response.status_code} {response.text[:200]}")
                    if response.status_code == 404:
                        return

        readers = [threading.Thread(target=reader, args=(url, done)) for _ in range(8)]
        for thread in readers:
            thread.start()
        time.sleep(0.2)
        with client(server.url, token) as api:
            if change == "delete":
                assert api.delete(url.removesuffix("file/")).status_code == 204
            else:
                replaced = api.patch(
                    url.removesuffix("file/"), files={"file": ("new.csv", _csv(10, seed=3))}
                )
                assert replaced.status_code == 200, replaced.text
        time.sleep(0.1)
        done.set()
        for thread in readers:
            thread.join(timeout=60)
    assert not problems, f"{len(problems)} bad answers, e.g. {problems[:3]}; all: {answers}"
