"""The migrations build exactly the schema the models describe, on each database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from capturehub.server.models import Base
from tests.conftest import RunningServer


def test_the_migrated_schema_matches_the_models(server: RunningServer) -> None:
    context = server.process.context()  # upgraded to head, as the server does at start
    try:
        with context.db.engine.connect() as connection:
            migration = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            differences = compare_metadata(migration, Base.metadata)
    finally:
        context.db.dispose()
    assert differences == []
