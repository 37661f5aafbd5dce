"""Which database errors are the server's passing conditions (503: retry; 507: full disk) and
which are bugs (a 500): real errors from real databases, classified by
capturehub.server.errors.database_condition."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from capturehub.server.errors import database_condition
from tests.conftest import require_backend
from tests.servers import POSTGRES_ADMIN_URL


def _raised(action: Callable[[], Any]) -> OperationalError:
    with pytest.raises(OperationalError) as caught:
        action()
    return caught.value


def test_sqlite_lock_held_is_503_and_a_bad_statement_is_not(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/db"
    holder = create_engine(url).connect()
    impatient: Engine = create_engine(url, connect_args={"timeout": 0})
    try:
        holder.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        holder.commit()
        holder.exec_driver_sql("INSERT INTO t VALUES (1)")  # holds the write lock
        with impatient.connect() as connection:
            locked = _raised(lambda: connection.exec_driver_sql("INSERT INTO t VALUES (2)"))
            assert database_condition(locked) == 503
            wrong = _raised(lambda: connection.execute(text("SELECT nothing FROM t")))
            assert database_condition(wrong) is None
    finally:
        holder.close()
        impatient.dispose()


def test_postgresql_unreachable_is_503_and_too_many_parameters_is_not() -> None:
    require_backend("postgresql")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    missing = create_engine(f"{base}/capturehub_no_such_database")
    try:
        refused = _raised(lambda: missing.connect())
        assert database_condition(refused) == 503
    finally:
        missing.dispose()
    engine = create_engine(f"{base}/{POSTGRES_ADMIN_URL.rsplit('/', 1)[1]}")
    try:
        with engine.connect() as connection:
            names = [f"p{i}" for i in range(70_000)]
            statement = text(f"SELECT 1 WHERE 1 IN ({', '.join(':' + n for n in names)})")
            bug = _raised(lambda: connection.execute(statement, dict.fromkeys(names, 1)))
            assert database_condition(bug) is None
    finally:
        engine.dispose()
