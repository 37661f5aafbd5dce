"""The housekeeping runs in one process of a cluster at a time: the holder of a lease in the
database, taken over by another process when the holder stops or dies."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from capturehub.server.context import AppContext
from capturehub.server.db import upgrade
from capturehub.server.housekeeping import LEASE, Housekeeping
from capturehub.server.models import HousekeepingLease
from capturehub.server.runtime import build_context
from capturehub.server.settings import Settings
from tests.cluster.support import wait_for
from tests.conftest import BACKENDS, require_backend
from tests.servers import ServerProcess, create_postgres_database, drop_postgres_database


@pytest.fixture(params=BACKENDS)
def two_processes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[AppContext, AppContext]]:
    """Two processes' worth of context (database pools, job queues) on one database."""
    backend: str = request.param
    require_backend(backend)
    url = (
        create_postgres_database()
        if backend == "postgresql"
        else f"sqlite:///{(tmp_path / 'capturehub.db').resolve()}"
    )
    contexts = [
        build_context(Settings(data_dir=tmp_path / name, database_url=url, workers=0))
        for name in ("one", "two")
    ]
    upgrade(contexts[0].db.engine)
    try:
        yield contexts[0], contexts[1]
    finally:
        for context in contexts:
            context.db.dispose()
        if backend == "postgresql":
            drop_postgres_database(url)


def _lease(context: AppContext) -> HousekeepingLease:
    with context.db.read() as session:
        lease = session.scalar(select(HousekeepingLease).where(HousekeepingLease.name == LEASE))
    assert lease is not None
    return lease


def test_one_process_at_a_time_runs_the_passes(
    two_processes: tuple[AppContext, AppContext],
) -> None:
    first, second = (Housekeeping(context) for context in two_processes)
    assert first.run_once()
    assert not second.run_once()  # held by the first
    assert first.run_once()  # renewed
    assert not second.run_once()
    assert _lease(two_processes[0]).passes == 2

    first.stop()  # released: the next pass anywhere takes it
    assert second.run_once()
    assert not first.run_once()
    assert _lease(two_processes[0]).holder == second.holder

    # The holder dies without releasing: once its lease has run out, another takes over.
    with two_processes[0].db.session() as session:
        session.execute(
            update(HousekeepingLease).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert first.run_once()
    assert not second.run_once()
    assert _lease(two_processes[1]).holder == first.holder


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_servers_on_one_database_run_one_housekeeping(backend: str, tmp_path: Path) -> None:
    require_backend(backend)
    url = (
        create_postgres_database()
        if backend == "postgresql"
        else f"sqlite:///{(tmp_path / 'capturehub.db').resolve()}"
    )
    servers = [
        ServerProcess(backend=backend, data_dir=tmp_path / name, database_url=url)
        for name in ("one", "two")
    ]
    try:
        for server in servers:
            server.start(CAPTUREHUB_REQUEUE_INTERVAL_SECONDS="0.3")
        context = servers[0].context()
        try:

            def holder_pid() -> int:
                return int(_lease(context).holder.split(":")[1])

            pids = {server.process.pid: server for server in servers if server.process}
            # Many passes, every one by the same server (the other sees the lease held).
            start = _lease(context).passes
            holders: set[int] = set()

            def ten_passes() -> bool:
                holders.add(holder_pid())
                return _lease(context).passes >= start + 10

            wait_for(ten_passes, "ten passes", 60)
            assert len(holders) == 1
            (holder,) = holders
            assert holder in pids

            # Its server stops: the other one carries on, alone.
            pids[holder].stop(signal.SIGTERM)
            (other,) = set(pids) - {holder}
            wait_for(lambda: holder_pid() == other, "the other server took over", 60)
            passes = _lease(context).passes
            wait_for(lambda: _lease(context).passes >= passes + 3, "passes go on", 60)
            assert holder_pid() == other
        finally:
            context.db.dispose()
    finally:
        for server in servers:
            server.stop()
        if backend == "postgresql":
            drop_postgres_database(url)
