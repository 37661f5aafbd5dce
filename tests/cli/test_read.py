"""``capturehub projects``, ``ls``, ``download`` and ``stats`` on the uploaded watch project."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from capturehub import Client
from tests.cli.conftest import Run, WatchProject, one_line_error


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_projects_create_ls_rm(run: Run, sdk: Client, project_name: str) -> None:
    created = run("projects", "create", project_name, "--description", "a test")
    assert created.exit_code == 0, created.output
    listed = json.loads(run("projects", "ls", "--json").stdout)
    assert {"name": project_name, "description": "a test"}.items() <= next(
        p for p in listed if p["name"] == project_name
    ).items()
    assert project_name in run("projects", "ls").stdout
    again = one_line_error(run("projects", "create", project_name))
    assert f"a project named {project_name!r} exists already" in again

    refused = run("projects", "rm", project_name, input="n\n")
    assert refused.exit_code == 1 and "Delete project" in refused.stdout
    assert sdk.projects.get_project_by_name(project_name) is not None
    removed = run("projects", "rm", project_name, "--yes")
    assert removed.exit_code == 0, removed.output
    assert sdk.projects.get_project_by_name(project_name) is None


def test_ls_where_lists_exactly_the_matching_captures(
    watch_project: WatchProject, run: Run
) -> None:
    name = watch_project.name
    result = run("ls", "-p", name, "--where", "Subject=S01", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert {c["name"] for c in listed} == watch_project.names(Subject="S01")
    assert all(c["task_state"] == "SUCCESS" and c["sha256"] for c in listed)

    table = run("ls", "-p", name, "-w", "Subject=S01").stdout
    shown = {line.split()[0] for line in table.splitlines() if line.startswith("S")}
    assert shown == watch_project.names(Subject="S01")

    both = json.loads(
        run("ls", "-p", name, "-w", "Subject=S01,S02", "-w", "Side=1", "--json").stdout
    )
    expected = watch_project.names(Subject="S01", Side="1") | watch_project.names(
        Subject="S02", Side="1"
    )
    assert {c["name"] for c in both} == expected

    rows = list(
        csv.DictReader(io.StringIO(run("ls", "-p", name, "--state", "success", "--csv").stdout))
    )
    assert len(rows) == 140 and {"name", "uuid", "sha256", "number_samples"} <= rows[0].keys()
    assert json.loads(run("ls", "-p", name, "-w", "!Subject", "--json").stdout) == []
    assert len(json.loads(run("ls", "-p", name, "-w", "Subject", "--json").stdout)) == 140


def test_ls_where_errors_are_explained(watch_project: WatchProject, run: Run) -> None:
    unknown = one_line_error(run("ls", "-p", watch_project.name, "-w", "Age>=30"))
    assert "Age" in unknown and "Subject" in unknown  # the server lists the project's keys
    not_equal = run("ls", "-p", watch_project.name, "-w", "Subject!=S01")
    assert not_equal.exit_code == 2 and "no not-equal filter" in not_equal.stderr


def test_download_gives_identical_files_and_resumes(
    watch_project: WatchProject, run: Run, shared_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    args = ["download", "-p", watch_project.name, "-w", "Subject=S02", "--out", str(out)]
    result = run(*args)
    assert result.exit_code == 0, result.output
    wanted = watch_project.names(Subject="S02")
    assert f"{len(wanted)} downloaded, 0 already there" in result.stdout
    assert {path.name for path in out.iterdir()} == wanted  # nothing partial left behind
    for name in wanted:
        assert sha256(out / name) == sha256(shared_data / "watch" / "captures" / name)

    damaged = out / sorted(wanted)[0]
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    again = run(*args)
    assert again.exit_code == 0, again.output
    assert f"1 downloaded, {len(wanted) - 1} already there" in again.stdout
    assert sha256(damaged) == sha256(shared_data / "watch" / "captures" / damaged.name)


def test_stats_table_and_json(watch_project: WatchProject, run: Run) -> None:
    rows = json.loads(run("stats", "-p", watch_project.name, "--json").stdout)
    assert len(rows) == 140
    pen = {
        Path(e["file"]).name for e in watch_project.manifest if e["segments"][0]["value"] == "PEN"
    }
    assert {row["capture_name"] for row in rows if row["Exercise: PEN"] == 1} == pen
    table = run("stats", "-p", watch_project.name).stdout
    assert "Exercise: PEN" in table and "Subject" in table and "capture_uuid" not in table
