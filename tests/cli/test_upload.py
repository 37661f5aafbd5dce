"""``capturehub upload``: the watch dataset with its manifest, resuming, conflicts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from capturehub import Captures, Client
from tests.cli.conftest import Run, WatchProject
from tests.conftest import RunningServer


def test_upload_with_manifest_sets_metadata_and_segments(
    watch_project: WatchProject, sdk: Client
) -> None:
    result = watch_project.result
    assert result.exit_code == 0, result.output
    assert "140 uploaded, 0 already there." in result.stdout
    assert "280 metadata values set, 140 segments added" in result.stdout
    sdk.project = watch_project.name
    frame, complete = sdk.project.captures.get_statistics()
    assert complete and len(frame) == 140
    assert set(frame["task_state"]) == {"SUCCESS"}
    by_name = frame.set_index("capture_name")
    for entry in watch_project.manifest:
        row = by_name.loc[Path(entry["file"]).name]
        assert row["Subject"] == entry["metadata"]["Subject"]
        assert row[f"Exercise: {entry['segments'][0]['value']}"] == 1
        assert row["set_sample_rate"] == 50


def test_running_the_upload_again_uploads_nothing(
    watch_project: WatchProject, run: Run, sdk: Client, shared_data: Path
) -> None:
    sdk.project = watch_project.name
    before = {c.name: (c.uuid, c.version) for c in sdk.project.captures.get_captures()}
    watch = shared_data / "watch"
    result = run(
        "upload", str(watch), "-p", watch_project.name, "--manifest", str(watch / "manifest.json")
    )
    assert result.exit_code == 0, result.output
    assert "0 uploaded, 140 already there." in result.stdout
    assert "0 metadata values set, 0 segments added" in result.stdout
    after = {c.name: (c.uuid, c.version) for c in sdk.project.captures.get_captures()}
    assert after == before


def test_killed_upload_resumes_without_uploading_twice(
    server: RunningServer,
    run: Run,
    sdk: Client,
    project_name: str,
    shared_data: Path,
    tmp_path: Path,
    config_home: Path,
) -> None:
    folder = tmp_path / "recordings"
    (folder / "nested").mkdir(parents=True)
    sources = sorted((shared_data / "watch" / "captures").glob("*.csv"))[:40]
    for index, source in enumerate(sources):  # a nested folder is searched too
        shutil.copy(source, folder / ("nested" if index % 2 else "") / source.name)
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(config_home),
        "CAPTUREHUB_SERVER": server.url,
        "CAPTUREHUB_API_KEY": server.api_key,
    }
    command = [sys.executable, "-m", "capturehub.cli.main", "upload", str(folder)]
    command += ["-p", project_name, "--workers", "1", "--no-wait", "--quiet"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill it once a few files are on the server
            project = sdk.projects.get_project_by_name(project_name)
            if project is not None and len(project.captures.get_captures()) >= 3:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
    project = sdk.projects.get_project_by_name(project_name)
    assert project is not None
    first = settled_captures(project.captures)
    assert 3 <= len(first) < 40, "the upload was not interrupted partway"

    result = run("upload", str(folder), "-p", project_name, "--workers", "4")
    assert result.exit_code == 0, result.output
    assert f"{40 - len(first)} uploaded, {len(first)} already there." in result.stdout
    final = {c.name: c for c in project.captures.get_captures()}
    assert sorted(final) == sorted(source.name for source in sources)
    assert {name: (c.uuid, c.version) for name, c in final.items() if name in first} == first
    assert {c.version for c in final.values()} == {1}
    assert {c.task_state for c in final.values()} == {"SUCCESS"}


def settled_captures(captures: Captures) -> dict[str, tuple[str, int | None]]:
    """Name → (uuid, version) once no upload is landing any more (the server finishes a
    request whose body had arrived when its client was killed)."""
    seen = None
    while True:
        now = {c.name: (c.uuid, c.version) for c in captures.get_captures()}
        if now == seen:
            return now
        seen = now
        time.sleep(1.0)


def test_same_name_with_other_content_is_a_conflict(
    run: Run, sdk: Client, project_name: str, shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "watch" / "captures" / "S07_1_PEN_000.csv"
    first = tmp_path / "first" / source.name
    first.parent.mkdir()
    shutil.copy(source, first)
    assert run("upload", str(first), "-p", project_name).exit_code == 0
    changed = tmp_path / "second" / source.name
    changed.parent.mkdir()
    changed.write_bytes(source.read_bytes() + b"0.1,0.2,0.3,0.4,0.5,0.6\n")
    other = tmp_path / "second" / "S10_1_FEL_001.csv"
    shutil.copy(shared_data / "watch" / "captures" / other.name, other)

    result = run("upload", str(tmp_path / "second"), "-p", project_name)
    assert result.exit_code == 1, result.output
    assert "1 uploaded, 0 already there, 1 failed." in result.stdout
    assert f"failed {source.name}: a different file has this name" in result.stdout
    sdk.project = project_name
    kept = sdk.project.captures.get_capture_by_filename(source.name)
    assert kept is not None and kept.version == 1 and kept.file_size == source.stat().st_size


def test_processing_failures_are_reported_with_the_server_message(
    run: Run, project_name: str, shared_data: Path
) -> None:
    preamble = shared_data / "geneactiv" / "demo_data.csv"  # a vendor preamble, no header
    result = run("upload", str(preamble), str(shared_data / "daphnet"), "-p", project_name)
    assert result.exit_code == 1, result.output
    assert "1 uploaded, 0 already there, 1 failed." in result.stdout
    assert "failed demo_data.csv: line 2" in result.stdout


def test_two_files_of_one_name_are_refused_before_uploading(
    run: Run, sdk: Client, project_name: str, shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "watch" / "captures" / "S07_1_PEN_000.csv"
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(source, tmp_path / folder / source.name)
    result = run("upload", str(tmp_path), "-p", project_name)
    assert "two files would both be named 'S07_1_PEN_000.csv'" in result.stderr
    assert result.exit_code == 1
    assert sdk.projects.get_project_by_name(project_name) is None
