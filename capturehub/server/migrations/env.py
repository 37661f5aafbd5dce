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
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
