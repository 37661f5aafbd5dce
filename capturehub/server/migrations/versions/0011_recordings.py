"""Live recordings: a recording's channels, rate and counters, and its acknowledged batches

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recording",
        sa.Column("capture_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("sample_rate", sa.Float(), nullable=False),
        sa.Column("idle_timeout_seconds", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("samples", sa.BigInteger(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("bad_batches", sa.Integer(), nullable=False),
        sa.Column("gaps", sa.Integer(), nullable=False),
        sa.Column("last_problem", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_batch_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_by", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["capture_id"],
            ["capture.id"],
            name=op.f("fk_recording_capture_id_capture"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("capture_id", name=op.f("pk_recording")),
    )
    op.create_index("ix_recording_state", "recording", ["state"], unique=False)
    op.create_table(
        "recording_batch",
        sa.Column("capture_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("first_sample", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_id"],
            ["capture.id"],
            name=op.f("fk_recording_batch_capture_id_capture"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("capture_id", "seq", name=op.f("pk_recording_batch")),
    )
    op.create_index(
        "ix_recording_batch_first", "recording_batch", ["capture_id", "first_sample"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_recording_batch_first", table_name="recording_batch")
    op.drop_table("recording_batch")
    op.drop_index("ix_recording_state", table_name="recording")
    op.drop_table("recording")
