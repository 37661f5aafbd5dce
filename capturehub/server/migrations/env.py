"""Alembic environment: runs against the engine capturehub hands over (see db.alembic_config)."""

from alembic import context

from capturehub.server.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # `alembic` command line: build from the settings
    from capturehub.server.db import make_engine
    from capturehub.server.settings import get_settings

    engine = make_engine(get_settings().effective_database_url)

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite changes a table's constraints by rebuilding it (batch mode: copy, drop,
        # rename). With foreign keys on, dropping the old table would run the ON DELETE actions
        # of the rows that refer to it (captures would lose their configuration). The pragma
        # is ignored inside a transaction, so it is set on the driver's connection (which is
        # in autocommit mode, see db._sqlite_connect) before the transaction begins.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        connection.commit()
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
