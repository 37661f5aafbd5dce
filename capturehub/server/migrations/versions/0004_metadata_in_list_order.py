"""Metadata values carry their capture's created_at, indexed in the capture list's order

A metadata-filtered capture list in the default order (created_at, then id) is answered from
``capture_metadata_value`` alone: the new index (label_id, label_value_id, capture_created_at,
capture_id) gives a key's matching captures already in list order, so the query never visits
``capture``. It replaces the (label_id, label_value_id, capture_id) index, whose lookups it
serves as well. Existing rows get their capture's created_at.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("capture_metadata_value", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("capture_created_at", sa.DateTime(timezone=True), nullable=True)
        )
    # The stored value itself (not a conversion of it), so that both columns sort alike.
    op.execute(
        "UPDATE capture_metadata_value SET capture_created_at = "
        "(SELECT capture.created_at FROM capture "
        "WHERE capture.id = capture_metadata_value.capture_id)"
    )
    with op.batch_alter_table("capture_metadata_value", schema=None) as batch_op:
        batch_op.alter_column(
            "capture_created_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.drop_index("ix_capture_metadata_value_lookup")
        batch_op.create_index(
            "ix_capture_metadata_value_ordered",
            ["label_id", "label_value_id", "capture_created_at", "capture_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("capture_metadata_value", schema=None) as batch_op:
        batch_op.drop_index("ix_capture_metadata_value_ordered")
        batch_op.create_index(
            "ix_capture_metadata_value_lookup",
            ["label_id", "label_value_id", "capture_id"],
            unique=False,
        )
        batch_op.drop_column("capture_created_at")
