"""Version metadata and segment rows without a surrogate id: one index each instead of two,
which making a version writes row by row (a million segments for 100,000 captures)

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("version_metadata") as batch:
        batch.drop_index("ix_version_metadata_capture")
        batch.drop_constraint("pk_version_metadata", type_="primary")
        batch.drop_column("id")
        batch.create_primary_key("pk_version_metadata", ["version_capture_id", "value_id"])
    with op.batch_alter_table("version_segment") as batch:
        batch.drop_constraint("pk_version_segment", type_="primary")
        batch.drop_column("id")


def downgrade() -> None:
    for table in ("version_metadata", "version_segment"):
        with op.batch_alter_table(table) as batch:
            if table == "version_metadata":
                batch.drop_constraint("pk_version_metadata", type_="primary")
            batch.add_column(sa.Column("id", sa.Integer(), nullable=True))
        # Numbered in place (SQLite: the rowid; PostgreSQL: a sequence), then the key.
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"UPDATE {table} SET id = rowid")
        else:
            op.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
            op.execute(f"UPDATE {table} SET id = nextval('{table}_id_seq')")
            op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
        with op.batch_alter_table(table) as batch:
            batch.alter_column("id", existing_type=sa.Integer(), nullable=False)
            batch.create_primary_key(f"pk_{table}", ["id"])
            if table == "version_metadata":
                batch.create_index("ix_version_metadata_capture", ["version_capture_id"])
