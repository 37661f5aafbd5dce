"""Who may decide that a blob is no longer needed, one at a time per project.

A file is freed by whoever last stops referring to it: a capture being deleted or given a new
file, or the last version pinning it being deleted. Making a version reads which files the
captures use. These must not interleave: a capture deleted while a version is being made
could otherwise see no version pinning its file (the version is not committed yet) and delete
the file that the version then refers to.

On SQLite every writing transaction holds the database's write lock (BEGIN IMMEDIATE), so
they never interleave. On PostgreSQL a project-wide advisory lock orders them: making or
deleting a version takes it exclusively, deleting a capture or replacing its file takes it
shared (they do not wait for each other) in the transaction that decides about its file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

from capturehub.server.db import Database

# The first key of the two-integer advisory lock: "vers", so that other uses of advisory
# locks with the project id as second key do not collide with this one.
LOCK_SPACE = 0x76657273


def share_files_lock(session: Session, project_id: int) -> None:
    """In a writing transaction about to decide whether a capture's file is still needed: wait
    for a version being made or deleted in the project (PostgreSQL; SQLite needs nothing)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock_shared(:space, :project)"),
            {"space": LOCK_SPACE, "project": project_id},
        )


def exclusive_files_lock(session: Session, project_id: int) -> None:
    """The same lock, exclusively, for the rest of this transaction (deleting a version)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :project)"),
            {"space": LOCK_SPACE, "project": project_id},
        )


@contextmanager
def snapshot_session(db: Database, project_id: int) -> Iterator[Session]:
    """A writing transaction whose reads all see one moment, with the project's files lock.

    PostgreSQL: the lock is taken first, on the connection (not in the transaction), and only
    then a REPEATABLE READ transaction starts, so its snapshot is taken after every capture
    delete that got in before; the lock is released after the commit. SQLite: a writing
    transaction is a snapshot holding the write lock.
    """
    if db.is_sqlite:
        with db.session() as session:
            yield session
        return
    with db.engine.connect() as connection:
        parameters = {"space": LOCK_SPACE, "project": project_id}
        connection.execute(text("SELECT pg_advisory_lock(:space, :project)"), parameters)
        connection.commit()
        try:
            connection.execution_options(isolation_level="REPEATABLE READ")
            with Session(bind=connection, expire_on_commit=False) as session, session.begin():
                yield session
        finally:
            connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:space, :project)"), parameters)
            connection.commit()
