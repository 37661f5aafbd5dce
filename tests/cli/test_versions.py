"""``capturehub version``: make, list, show, compare, export and delete dataset versions of
the watch project, checked against the SDK."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd

from capturehub import Client
from capturehub.datamanager.content_hash import hash_of_listing
from tests.cli.conftest import Run, WatchProject, one_line_error


def test_version_commands_round_trip(
    run: Run, watch_project: WatchProject, sdk: Client, tmp_path: Path
) -> None:
    project = watch_project.name
    first, second = f"all-{uuid.uuid4().hex[:6]}", f"s01-{uuid.uuid4().hex[:6]}"
    made = run("version", "create", first, "-p", project, "-d", "every recording")
    assert made.exit_code == 0, made.output
    sdk.project = project
    pinned = sdk.project.versions.get(first)
    assert pinned.capture_count == len(watch_project.manifest)
    assert pinned.content_hash in made.output
    chosen = run("version", "create", second, "-p", project, "-w", "Subject=S01")
    assert chosen.exit_code == 0, chosen.output

    listed = run("version", "ls", "-p", project, "--json")
    assert listed.exit_code == 0, listed.output
    names = [item["name"] for item in json.loads(listed.output)]
    assert names.index(first) < names.index(second)

    shown = run("version", "show", second, "-p", project)
    assert shown.exit_code == 0, shown.output
    assert f"captures      {len(watch_project.names(Subject='S01'))}" in shown.output
    assert pinned.content_hash not in shown.output
    assert sdk.project.versions.get(second).content_hash in shown.output

    compared = run("version", "diff", first, second, "-p", project, "--json")
    assert compared.exit_code == 0, compared.output
    removed = {item["name"] for item in json.loads(compared.output)["removed"]}
    all_names = {Path(e["file"]).name for e in watch_project.manifest}
    assert removed == all_names - watch_project.names(Subject="S01")

    out = tmp_path / "export"
    exported = run("version", "export", second, "-p", project, "-o", str(out), "-q")
    assert exported.exit_code == 0, exported.output
    listing = json.loads((out / "version.json").read_text())
    assert hash_of_listing(listing["captures"]) == listing["content_hash"]
    samples = pd.read_parquet(out / "samples.parquet")
    assert set(samples["capture"]) == watch_project.names(Subject="S01")

    assert run("version", "delete", second, "-p", project, "--yes").exit_code == 0
    assert second not in [v.name for v in sdk.project.versions.list()]


def test_version_command_errors(run: Run, watch_project: WatchProject) -> None:
    project = watch_project.name
    name = f"dup-{uuid.uuid4().hex[:6]}"
    assert run("version", "create", name, "-p", project).exit_code == 0
    assert name in one_line_error(run("version", "create", name, "-p", project))
    assert "Colour" in one_line_error(
        run("version", "create", "x" + name, "-p", project, "-w", "Colour=red")
    )
    assert "not found" in one_line_error(run("version", "show", "nope", "-p", project)).lower()
