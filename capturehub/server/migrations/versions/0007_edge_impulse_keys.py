"""Project API keys (Edge Impulse's ``ei_`` keys), project HMAC keys, captures by content hash

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_key_project_id"), ["project_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_api_key_project_id_project"),
            "project",
            ["project_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.create_table(
        "project_signing_key",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("hmac_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_project_signing_key_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_signing_key")),
    )
    with op.batch_alter_table("capture", schema=None) as batch_op:
        batch_op.create_index("ix_capture_project_sha256", ["project_id", "sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("capture", schema=None) as batch_op:
        batch_op.drop_index("ix_capture_project_sha256")
    op.drop_table("project_signing_key")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_key_project_id_project"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_api_key_project_id"))
        batch_op.drop_column("project_id")
