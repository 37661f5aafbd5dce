"""``capturehub demo``: a server with a labelled dataset, its Python lines work, Ctrl-C stops it.

It runs its own SQLite server, so it is not run once per database.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from capturehub import Client
from capturehub.cli.demo_data import CHANNELS, find_watch_dataset, generate_dataset
from tests.servers import free_port


def test_generated_dataset_looks_like_the_watch_one(tmp_path: Path) -> None:
    manifest = generate_dataset(tmp_path, subjects=2, repetitions=1)
    entries = json.loads(manifest.read_text())
    assert len(entries) == 2 * 4
    assert {e["metadata"]["Subject"] for e in entries} == {"S01", "S02"}
    for entry in entries:
        rows = list(csv.reader((tmp_path / entry["file"]).open()))
        assert rows[0] == CHANNELS and len(rows[1]) == 6
        (segment,) = entry["segments"]
        assert entry["sample_rate_hz"] == 50
        assert (segment["label"], segment["start"], segment["end"]) == (
            "Exercise",
            0,
            len(rows) - 2,
        )
    again = generate_dataset(tmp_path / "again", subjects=2, repetitions=1)
    assert (again.parent / entries[0]["file"]).read_bytes() == (
        tmp_path / entries[0]["file"]
    ).read_bytes()  # seeded: a second demo run finds the same files already uploaded


def test_the_watch_dataset_is_found_beside_the_checkout(shared_data: Path, tmp_path: Path) -> None:
    assert find_watch_dataset(tmp_path) == (shared_data / "watch" / "manifest.json").resolve()


def test_demo_serves_the_dataset_until_interrupted(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    generate_dataset(dataset, subjects=2, repetitions=1, seconds=4)
    data_dir = tmp_path / "demo-data"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    process = start_demo(tmp_path, port, dataset, data_dir)
    try:
        output = read_until(process, "Press Ctrl-C to stop.", timeout=120)
        assert f"capturehub demo is running at {url}" in output
        assert "8 uploaded, 0 skipped, 0 failed" in output
        saved = json.loads((data_dir / "demo-credentials.json").read_text())
        assert f"password: {saved['password']}" in output
        assert oct((data_dir / "demo-credentials.json").stat().st_mode)[-3:] == "600"

        code = output.split("List the captures from Python:")[1].split("Or from the shell")[0]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(code.replace("\n    ", "\n").strip(), {})  # the three lines, as printed
        assert "S01_" in printed.getvalue() and "SUCCESS" in printed.getvalue()
        assert_dataset_served(url, saved)
    finally:
        stderr = interrupt(process)
    assert process.returncode == 0, stderr
    assert stderr.strip().splitlines()[-1].startswith("Stopped.")

    # A second start on the same folder finds the dataset whole: nothing to upload again.
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    process = start_demo(tmp_path, port, dataset, data_dir)
    try:
        output = read_until(process, "Press Ctrl-C to stop.", timeout=120)
        assert "0 uploaded, 8 skipped, 0 failed" in output
        assert_dataset_served(url, saved)
    finally:
        stderr = interrupt(process)
    assert process.returncode == 0, stderr


def start_demo(tmp_path: Path, port: int, dataset: Path, data_dir: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "capturehub.cli.main", "demo", "--port", str(port)]
    command += ["--data", str(dataset), "--data-dir", str(data_dir)]
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell without job control starts background commands with SIGINT ignored, and
        # children inherit it: the demo must get the Ctrl-C this test sends.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def assert_dataset_served(url: str, saved: dict[str, str]) -> None:
    client = Client(server=url, username=saved["username"], password=saved["password"])
    with client:
        client.project = "demo"
        frame, complete = client.project.captures.get_statistics()
    assert complete and len(frame) == 8 and frame["total_event_count"].sum() == 8


def interrupt(process: subprocess.Popen[str]) -> str:
    """Ctrl-C, then the demo's stderr once it has exited (killed if it has not in 60 s)."""
    process.send_signal(signal.SIGINT)
    try:
        # The demo does not wait for running jobs (it hands their captures back), so this is
        # the server's own shutdown: about a second, far less than this on a loaded machine.
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    return stderr


def read_until(process: subprocess.Popen[str], marker: str, *, timeout: float) -> str:
    """The process's stdout up to the line holding ``marker``."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            stderr = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"demo exited early:\n{''.join(lines)}\n{stderr}")
        lines.append(line)
        if marker in line:
            return "".join(lines)
    raise AssertionError(f"no {marker!r} within {timeout} s:\n{''.join(lines)}")
