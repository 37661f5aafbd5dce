"""After the housekeeping's ANALYZE, every pooled SQLite connection plans with the new
statistics, not only the one that ran it (a connection reads them with the schema, which
ANALYZE does not change)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from capturehub.server.db import Database

# Without statistics SQLite prefers the equality index; with them it knows that `x` takes two
# values and `y` is unique, and walks the range of `y` instead.
QUERY = "EXPLAIN QUERY PLAN SELECT * FROM t WHERE x = 1 AND y BETWEEN 5 AND 10"


def _plans(database: Database, connections: int) -> list[str]:
    """The plan of QUERY on ``connections`` pooled connections held at once."""
    held = [database.engine.connect() for _ in range(connections)]
    try:
        return [str(c.execute(text(QUERY)).all()[0][-1]) for c in held]
    finally:
        for connection in held:
            connection.close()


def test_every_pooled_connection_reads_refreshed_statistics(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/planner.db")
    try:
        with database.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER, y INTEGER)")
            connection.exec_driver_sql("CREATE INDEX ix_x ON t (x)")
            connection.exec_driver_sql("CREATE INDEX ix_y ON t (y)")
            connection.execute(
                text("INSERT INTO t VALUES (:x, :y)"),
                [{"x": i % 2, "y": i} for i in range(100_000)],
            )
        before = _plans(database, 3)  # three connections now sit in the pool
        assert all("ix_x" in plan for plan in before), before

        database.refresh_planner_statistics()

        after = _plans(database, 3)
        assert all("ix_y" in plan for plan in after), after
    finally:
        database.dispose()
