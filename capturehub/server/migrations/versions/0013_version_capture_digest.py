"""A digest of each version capture's metadata and segments, so that a diff compares one
column per capture instead of every metadata and segment row

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Versions made before have none (NULL): a diff then compares their rows in full.
    with op.batch_alter_table("version_capture") as batch:
        batch.add_column(sa.Column("digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("version_capture") as batch:
        batch.drop_column("digest")
