"""Recording devices: MQTT device keys, and which capture each device recording became

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recording_device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_recording_device_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_recording_device_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_device")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_recording_device_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_recording_device_name")),
    )
    op.create_index(
        op.f("ix_recording_device_project_id"), "recording_device", ["project_id"], unique=False
    )
    op.create_table(
        "recording_device_capture",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=64), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["recording_device.id"],
            name=op.f("fk_recording_device_capture_device_id_recording_device"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["capture_id"],
            ["capture.id"],
            name=op.f("fk_recording_device_capture_capture_id_capture"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "device_id", "recording_id", name=op.f("pk_recording_device_capture")
        ),
    )
    op.create_index(
        op.f("ix_recording_device_capture_capture_id"),
        "recording_device_capture",
        ["capture_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_recording_device_capture_capture_id"), table_name="recording_device_capture"
    )
    op.drop_table("recording_device_capture")
    op.drop_index(op.f("ix_recording_device_project_id"), table_name="recording_device")
    op.drop_table("recording_device")
