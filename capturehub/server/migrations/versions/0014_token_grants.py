"""Access and refresh tokens know the login (grant) they come from, so that revoking a refresh
token also ends the access tokens issued with it

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("access_token", "refresh_token")


def upgrade() -> None:
    # Tokens issued before have none (NULL): they end on their own, as they did.
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("grant_id", sa.String(length=32), nullable=True))
            batch.create_index(f"ix_{table}_grant_id", ["grant_id"])


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_grant_id")
            batch.drop_column("grant_id")
