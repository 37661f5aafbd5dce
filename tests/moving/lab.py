"""A small lab on the embedded default (SQLite and files in its data directory), built through
a real server and the SDK from the shared recordings, and what its users see of it."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from capturehub import Client
from tests.servers import Account, ServerProcess

WATCH_FILES = 12  # of the 140: enough for metadata, segments and several batches
# The batches of the recording in progress at the move.
RECORDED = [[[1.5, -2.0], [3.25, 4.0]], [[5.0, 6.125]]]


@dataclass
class OldLab:
    process: ServerProcess
    main: Account
    other: Account
    # Projects of each account, by username.
    projects: dict[str, list[str]] = field(default_factory=dict)
    # A capture uploaded while processing was off: copied unprocessed (SENT).
    pending: str = ""
    # A live recording with batches stored, not stopped: it goes on in the new lab.
    recording: str = ""

    @property
    def data_dir(self) -> Path:
        return self.process.data_dir


def build(process: ServerProcess, shared_data: Path, workdir: Path) -> OldLab:
    """Three projects of two teams: watch recordings with metadata and segments, audio and a
    gait recording, a vendor export; then one capture left unprocessed."""
    main = process.create_account(f"alice-{uuid.uuid4().hex[:6]}", "lab")
    other = process.create_account(f"bob-{uuid.uuid4().hex[:6]}", "rivals")
    lab = OldLab(process, main, other)
    process.start()
    manifest = json.loads((shared_data / "watch" / "manifest.json").read_text())
    subset = sorted(manifest, key=lambda entry: entry["file"])[:WATCH_FILES]
    for entry in subset:
        entry["file"] = str(shared_data / "watch" / entry["file"])
    subset_path = workdir / "watch-subset.json"
    subset_path.write_text(json.dumps(subset))
    with Client(server=process.url, username=main.username, password=main.password) as client:
        client.project = "watch"
        report = client.project.captures.import_dataset(subset_path)
        assert report.ok, report
        client.project = "sounds and gait"
        client.project.captures.upload_many(
            [
                shared_data / "audio" / "deermouse-go.wav",
                shared_data / "audio" / "BM003.wav",
                shared_data / "daphnet" / "S06R02E0.csv",
            ],
            asynchronous=False,
        )
    with Client(server=process.url, api_key=other.api_key) as client:
        client.project = "vendor export"
        client.project.captures.upload_many(
            [shared_data / "watch" / subset[-1]["file"]], asynchronous=False
        )
        # A vendor export with its preamble: its processing fails, with a message.
        client.project.captures.upload_many([shared_data / "geneactiv" / "demo_data.csv"])
    lab.projects = {main.username: ["watch", "sounds and gait"], other.username: ["vendor export"]}
    wait_processed(process, main, ["watch"])
    wait_processed(process, other, ["vendor export"])
    # Processing off: the next upload stays SENT, as a capture in flight would at the move.
    process.stop()
    process.start(CAPTUREHUB_WORKERS="0")
    with Client(server=process.url, api_key=main.api_key) as client:
        client.project = "sounds and gait"
        copy = workdir / "pending.csv"
        shutil.copyfile(shared_data / "daphnet" / "S06R02E0.csv", copy)
        (pending,) = client.project.captures.upload_many([copy])
        lab.pending = pending.uuid
        # A day's idle timeout: the old lab's housekeeping must not stop it between the
        # test's starts of the old server.
        recording = client.project.recordings.start(
            "live.csv", ["x", "y"], sample_rate=10, idle_timeout_seconds=86400
        )
        for batch in RECORDED:
            recording.append(batch)
        lab.recording = recording.uuid
    return lab


def wait_processed(process: ServerProcess, account: Account, projects: list[str]) -> None:
    import time

    with Client(server=process.url, api_key=account.api_key) as client:
        for name in projects:
            client.project = name
            deadline = time.monotonic() + 120
            while True:
                states = set(client.list_captures()["task_state"])
                if states <= {"SUCCESS", "FAILURE"}:
                    break
                assert time.monotonic() < deadline, states
                time.sleep(0.2)


def answers(url: str, lab: OldLab, downloads: Path) -> dict[str, Any]:
    """What each account's SDK answers: every project's list_captures, and each capture's
    get_data() and download() (as a sha256 of the bytes), by capture uuid."""
    seen: dict[str, Any] = {}
    for account in (lab.main, lab.other):
        with Client(server=url, api_key=account.api_key) as client:
            for name in lab.projects[account.username]:
                client.project = name
                listed = client.list_captures()
                # The captures in flight are compared by themselves: the new lab processes
                # the one, and the other goes on recording there.
                listed = listed[~listed["uuid"].isin([lab.pending, lab.recording])]
                listed = listed.sort_values("uuid").reset_index(drop=True)
                seen[f"{account.username}/{name}/list"] = listed
                for capture in client.project.captures.get_captures():
                    if capture.uuid in (lab.pending, lab.recording):
                        continue
                    seen[f"{capture.uuid}/state"] = (capture.task_state, capture.task_result)
                    if capture.task_state == "SUCCESS":
                        seen[f"{capture.uuid}/data"] = capture.get_data()
                    folder = downloads / capture.uuid
                    folder.mkdir(parents=True, exist_ok=True)
                    path = capture.download(folder)
                    seen[f"{capture.uuid}/file"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def assert_same_answers(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert sorted(before) == sorted(after)
    for key, value in before.items():
        if isinstance(value, pd.DataFrame):
            # A list's number columns are floats where the capture in flight (left out) had
            # no value yet; the values themselves must be equal.
            listing = key.endswith("/list")
            pd.testing.assert_frame_equal(
                value, after[key], check_exact=True, check_dtype=not listing
            )
        else:
            assert value == after[key], key


def file_hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256 (the old lab, to prove it untouched)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
