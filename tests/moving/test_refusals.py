"""What ``capturehub migrate`` refuses, and says why: a new database that is not empty or not
reachable, a move of another lab, an old lab written to between an interruption and its
continuation, a new storage that already holds files. And a table that only a migration
knows (a feature's own) is moved too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from capturehub.server.auth import service
from capturehub.server.db import make_engine, upgrade
from capturehub.server.moving import MoveError, move_lab
from capturehub.server.runtime import build_context
from capturehub.server.settings import Settings
from tests.conftest import require_backend
from tests.servers import create_postgres_database, drop_postgres_database, free_port


@pytest.fixture
def new_database() -> Iterator[str]:
    require_backend("postgresql")
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def add_user(settings: Settings, name: str) -> None:
    context = build_context(settings)
    try:
        upgrade(context.db.engine)
        with context.db.session() as session:
            service.create_user(session, name, f"pw-{uuid.uuid4().hex}", "lab")
    finally:
        context.db.dispose()


@pytest.fixture
def lab(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "old")
    add_user(settings, "alice")
    return settings


def storage(tmp_path: Path) -> str:
    return f"file://{tmp_path / 'new-blobs'}"


def quiet(_line: str) -> None:
    pass


def run_sql(url: str, *statements: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            results = [connection.execute(text(sql)) for sql in statements]
            return [result.fetchall() for result in results if result.returns_rows]
    finally:
        engine.dispose()


def test_a_database_that_is_not_empty_is_refused(
    lab: Settings, new_database: str, tmp_path: Path
) -> None:
    other = Settings(data_dir=tmp_path / "other", database_url=new_database)
    add_user(other, "someone")  # as if a server had been started on it
    with pytest.raises(MoveError, match=r"is not empty .*user_account \(1 rows\)"):
        move_lab(lab, new_database, storage(tmp_path), say=quiet)


def test_an_unreachable_database_is_named(lab: Settings, tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(MoveError, match=r"Cannot reach the new database .*127\.0\.0\.1"):
        move_lab(lab, url, storage(tmp_path), say=quiet)


def test_a_missing_old_lab_is_named(new_database: str, tmp_path: Path) -> None:
    with pytest.raises(MoveError, match="There is no database at"):
        move_lab(Settings(data_dir=tmp_path / "none"), new_database, storage(tmp_path), say=quiet)


def test_an_unknown_storage_url_is_refused(
    lab: Settings, new_database: str, tmp_path: Path
) -> None:
    with pytest.raises(MoveError, match="not a storage URL"):
        move_lab(lab, new_database, "ftp://example.org/x", say=quiet)


def test_a_storage_that_holds_files_is_refused(
    lab: Settings, new_database: str, tmp_path: Path
) -> None:
    (tmp_path / "new-blobs" / "captures").mkdir(parents=True)
    (tmp_path / "new-blobs" / "captures" / "someone-else").write_bytes(b"x")
    with pytest.raises(MoveError, match="already holds files that are not this lab's"):
        move_lab(lab, new_database, storage(tmp_path), say=quiet)


def test_a_move_of_another_lab_is_refused(lab: Settings, new_database: str, tmp_path: Path) -> None:
    move_lab(lab, new_database, storage(tmp_path), say=quiet)
    other = Settings(data_dir=tmp_path / "other")
    add_user(other, "bob")
    with pytest.raises(MoveError, match="holds a move of another lab"):
        move_lab(other, new_database, f"file://{tmp_path / 'other-blobs'}", say=quiet)


class Interrupted(Exception):
    pass


def interrupt_at_rows(line: str) -> None:
    if "rows" in line:
        raise Interrupted(line)


def test_an_old_lab_written_to_after_an_interruption_is_refused(
    lab: Settings, new_database: str, tmp_path: Path
) -> None:
    with pytest.raises(Interrupted):
        move_lab(lab, new_database, storage(tmp_path), say=interrupt_at_rows)
    add_user(lab, "carol")
    changed = r"changed since this move began: user_account \(1 rows then, 2 now"
    with pytest.raises(MoveError, match=changed):
        move_lab(lab, new_database, storage(tmp_path), say=quiet)


def test_a_table_only_a_migration_knows_is_moved_too(
    lab: Settings, new_database: str, tmp_path: Path
) -> None:
    """A feature that adds a table by a migration, without the copy knowing of it."""
    create = (
        "CREATE TABLE field_note (id INTEGER PRIMARY KEY, team_id INTEGER REFERENCES team(id), "
        "note TEXT, written_at TIMESTAMP WITH TIME ZONE)"
    )
    engine = make_engine(new_database)
    upgrade(engine)  # the schema, then what the feature's migration would have added
    engine.dispose()
    run_sql(new_database, create)
    run_sql(
        lab.effective_database_url,
        create.replace("TIMESTAMP WITH TIME ZONE", "DATETIME"),
        "INSERT INTO field_note VALUES (7, 1, 'calibrated', '2026-01-02 03:04:05.000000')",
        "INSERT INTO field_note VALUES (9, 1, 'moved', NULL)",
    )
    report = move_lab(lab, new_database, storage(tmp_path), say=quiet)
    assert report.counts["field_note"] == (2, 2)
    (rows,) = run_sql(
        new_database,
        "SELECT id, note, written_at AT TIME ZONE 'UTC' FROM field_note ORDER BY id",
    )
    assert [tuple(row) for row in rows] == [  # type: ignore[attr-defined]
        (7, "calibrated", datetime(2026, 1, 2, 3, 4, 5)),
        (9, "moved", None),
    ]


def test_an_unreachable_storage_is_named(
    lab: Settings, new_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "some")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "thing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    endpoint = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MoveError, match=r"Cannot reach the new storage s3://lab/captures"):
        move_lab(lab, new_database, "s3://lab/captures", s3_endpoint_url=endpoint, say=quiet)


def test_a_move_started_over_may_reuse_the_storage_of_the_first(
    lab: Settings, new_database: str, tmp_path: Path
) -> None:
    """After the old lab changed under an interrupted move, the move starts over into a new
    database; the files it had copied (this lab's own) may stay in the storage."""
    blobs = Path(lab.data_dir) / "blobs" / "captures" / "p" / "c"
    blobs.mkdir(parents=True)
    (blobs / "original-1").write_bytes(b"recorded samples")
    move_lab(lab, new_database, storage(tmp_path), say=quiet)
    again = create_postgres_database()
    try:
        report = move_lab(lab, again, storage(tmp_path), say=quiet)
    finally:
        drop_postgres_database(again)
    assert report.files.copied == 1
    assert (tmp_path / "new-blobs" / "captures/p/c/original-1").read_bytes() == b"recorded samples"


def test_a_move_run_again_after_the_new_lab_was_used_says_so(
    lab: Settings, new_database: str, tmp_path: Path
) -> None:
    move_lab(lab, new_database, storage(tmp_path), say=quiet)
    used = Settings(data_dir=tmp_path / "new", database_url=new_database)
    add_user(used, "dave")  # the new lab at work
    with pytest.raises(MoveError, match=r"finished earlier.*user_account.*nothing more"):
        move_lab(lab, new_database, storage(tmp_path), say=quiet)
