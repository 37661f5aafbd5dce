"""The recording writer's group commit (server/recording/writer.py), in process: the batches
of several recordings in one transaction, each answered as if it had been alone (stored,
acknowledged again, refused and counted), and a batch whose waiter gave up is not stored."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event

from capturehub.server.auth.service import Caller, create_user
from capturehub.server.context import AppContext
from capturehub.server.db import upgrade
from capturehub.server.errors import Conflict
from capturehub.server.projects.schemas import ProjectCreate
from capturehub.server.projects.service import create_project
from capturehub.server.recording import service, writer
from capturehub.server.recording.schemas import BatchAck, ChannelSpec, RecordingSpec
from capturehub.server.runtime import build_context
from capturehub.server.settings import Settings
from tests.conftest import BACKENDS, require_backend
from tests.servers import create_postgres_database, drop_postgres_database


@pytest.fixture(params=BACKENDS)
def context(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppContext]:
    backend: str = request.param
    require_backend(backend)
    url = (
        create_postgres_database()
        if backend == "postgresql"
        else f"sqlite:///{(tmp_path / 'capturehub.db').resolve()}"
    )
    built = build_context(Settings(data_dir=tmp_path / "data", database_url=url, workers=0))
    upgrade(built.db.engine)
    try:
        yield built
    finally:
        built.db.dispose()
        if backend == "postgresql":
            drop_postgres_database(url)


def _project(context: AppContext) -> tuple[Caller, str]:
    with context.db.session() as session:
        user = create_user(session, "grouper", "password-1", "grouping")
        caller = Caller(user_id=user.id, team_id=user.team_id, username=user.username)
        project = create_project(session, caller, ProjectCreate(name="group"))
        return caller, project.uuid


def _start(context: AppContext, caller: Caller, project: str, name: str) -> writer.Target:
    spec = RecordingSpec(
        name=name, channels=[ChannelSpec(name="x"), ChannelSpec(name="y")], sample_rate=10
    )
    status = service.start_recording(context, caller, project, spec)
    return service.target_of(context, caller, project, status.uuid)


def _rows(first: int, count: int) -> list[list[float]]:
    return [[float(i), -float(i) / 4] for i in range(first, first + count)]


def test_one_transaction_answers_each_batch_as_if_alone(context: AppContext) -> None:
    caller, project = _project(context)
    a, b, c = (_start(context, caller, project, f"{n}.csv") for n in "abc")
    service.append_batch(context, caller, project, b.capture_uuid, 1, _rows(0, 3))
    service.stop_recording(context, caller, project, c.capture_uuid)
    group = [
        writer.Submission(a, [(1, _rows(0, 2)), (2, _rows(2, 3))]),
        writer.Submission(b, [(1, _rows(0, 3))]),  # stored before: acknowledged again
        writer.Submission(b, [(4, _rows(3, 1)), (4, _rows(99, 1))]),  # a gap; the same seq
        writer.Submission(c, [(1, _rows(0, 1))]),  # stopped
        writer.Submission(a, [(3, [["no", 1.0]]), (2, _rows(50, 1)), (1.5, _rows(0, 1))]),
    ]
    commits: list[Any] = []

    def committed(connection: Any) -> None:
        commits.append(connection)

    event.listen(context.db.engine, "commit", committed)
    try:
        outcomes = writer.store_group(context, group)
    finally:
        event.remove(context.db.engine, "commit", committed)
    assert len(commits) == 1

    (a1, a2), (b1,), (b4, b4_again), (c1,), (bad, a2_again, not_int) = outcomes
    assert a1 == BatchAck(seq=1, duplicate=False, samples=2, last_seq=1, first_sample=0, rows=2)
    assert a2 == BatchAck(seq=2, duplicate=False, samples=5, last_seq=2, first_sample=2, rows=3)
    assert b1 == BatchAck(seq=1, duplicate=True, samples=3, last_seq=1, first_sample=0, rows=3)
    assert b4 == BatchAck(seq=4, duplicate=False, samples=4, last_seq=4, first_sample=3, rows=1)
    # The same seq twice in one transaction: the first one stored wins.
    assert b4_again == BatchAck(
        seq=4, duplicate=True, samples=4, last_seq=4, first_sample=3, rows=1
    )
    assert isinstance(c1, Conflict) and "stopped" in c1.message
    assert isinstance(bad, writer.BadBatch) and "not a number" in bad.message
    assert a2_again == BatchAck(
        seq=2, duplicate=True, samples=5, last_seq=2, first_sample=2, rows=3
    )
    assert isinstance(not_int, writer.BadBatch) and "seq must be an integer" in not_int.message

    status_a = service.recording_status(context, caller, project, a.capture_uuid)
    assert (status_a.samples, status_a.batches, status_a.last_seq) == (5, 2, 2)
    assert (status_a.bad_batches, status_a.gaps) == (2, 0)
    assert "seq must be an integer" in (status_a.last_problem or "")
    status_b = service.recording_status(context, caller, project, b.capture_uuid)
    assert (status_b.samples, status_b.batches, status_b.gaps, status_b.bad_batches) == (4, 2, 1, 0)

    with context.db.read() as session:
        from capturehub.server.models import Capture

        capture_a = session.get(Capture, a.capture_id)
        capture_b = session.get(Capture, b.capture_id)
    assert capture_a is not None and capture_b is not None
    stored_a = service.stored_samples(context, capture_a).table
    assert np.array_equal(stored_a.column("x").to_numpy(), np.arange(5, dtype=float))
    stored_b = service.stored_samples(context, capture_b).table
    assert stored_b.column("x").to_pylist() == [0.0, 1.0, 2.0, 3.0]


def test_a_batch_whose_waiter_gave_up_is_not_stored(context: AppContext) -> None:
    caller, project = _project(context)
    target = _start(context, caller, project, "gave-up.csv")
    given_up = writer.Submission(target, [(1, _rows(0, 2))])
    assert given_up.future.cancel()
    kept: Future[list[writer.Outcome]] = service.submit_batches(context, target, [(2, _rows(0, 1))])
    writer.submit(context, given_up)
    later = service.submit_batches(context, target, [(3, _rows(1, 1))])
    assert [answer.seq for answer in kept.result(timeout=60) if isinstance(answer, BatchAck)] == [2]
    assert [answer.seq for answer in later.result(timeout=60) if isinstance(answer, BatchAck)] == [
        3
    ]
    status = service.recording_status(context, caller, project, target.capture_uuid)
    assert (status.samples, status.last_seq, status.batches) == (2, 3, 2)
    assert service.pending_batches(context) == 0
