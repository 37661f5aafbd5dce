"""A per-project capture count, and the capture list's default order fully indexed

The unfiltered capture list answers its ``count`` from ``project.capture_count``, kept in the
same transaction as every capture insert and delete (``capturehub fsck`` checks and repairs
it), instead of counting the project's captures on every page. The (project, created_at)
index gains ``id``, the list's tie-breaker, so PostgreSQL pages it with an index-only scan
instead of sorting.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("capture_count", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute(
        "UPDATE project SET capture_count = "
        "(SELECT count(*) FROM capture WHERE capture.project_id = project.id)"
    )
    with op.batch_alter_table("capture", schema=None) as batch_op:
        batch_op.drop_index("ix_capture_project_created")
        batch_op.create_index(
            "ix_capture_project_created", ["project_id", "created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("capture", schema=None) as batch_op:
        batch_op.drop_index("ix_capture_project_created")
        batch_op.create_index(
            "ix_capture_project_created", ["project_id", "created_at"], unique=False
        )
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("capture_count")
