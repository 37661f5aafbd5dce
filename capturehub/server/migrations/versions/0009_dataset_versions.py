"""Dataset versions: named snapshots of a project's captures, metadata and segments

Revision ID: 0009
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("where", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("capture_count", sa.Integer(), nullable=False),
        sa.Column("sample_count", sa.BigInteger(), nullable=False),
        sa.Column("segment_count", sa.Integer(), nullable=False),
        sa.Column("label_counts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_dataset_version_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_version")),
        sa.UniqueConstraint("project_id", "name", name="uq_dataset_version_project_name"),
        sa.UniqueConstraint("uuid", name=op.f("uq_dataset_version_uuid")),
    )
    op.create_table(
        "version_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("label_value_id", sa.Integer(), nullable=False),
        sa.Column("is_metadata", sa.Boolean(), nullable=False),
        sa.Column("label", sa.String(length=1000), nullable=False),
        sa.Column("label_type", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_version_value_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_value")),
    )
    op.create_index(
        "ix_version_value_source", "version_value", ["project_id", "label_value_id"], unique=False
    )
    op.create_table(
        "version_capture",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_key", sa.String(length=255), nullable=False),
        sa.Column("columnar_key", sa.String(length=255), nullable=True),
        sa.Column("number_samples", sa.BigInteger(), nullable=True),
        sa.Column("set_sample_rate", sa.Float(), nullable=True),
        sa.Column("calculated_sample_rate", sa.Float(), nullable=True),
        sa.Column("task_state", sa.String(length=16), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_capture")),
    )
    op.create_index(
        "ix_version_capture_version", "version_capture", ["version_id", "capture_id"], unique=False
    )
    op.create_index("ix_version_capture_blob", "version_capture", ["blob_key"], unique=False)
    op.create_table(
        "version_metadata",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_capture_id", sa.Integer(), nullable=False),
        sa.Column("value_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_metadata")),
    )
    op.create_index(
        "ix_version_metadata_capture", "version_metadata", ["version_capture_id"], unique=False
    )
    op.create_table(
        "version_segment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_capture_id", sa.Integer(), nullable=False),
        sa.Column("value_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("end", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_segment")),
    )
    op.create_index(
        "ix_version_segment_capture", "version_segment", ["version_capture_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_version_segment_capture", table_name="version_segment")
    op.drop_table("version_segment")
    op.drop_index("ix_version_metadata_capture", table_name="version_metadata")
    op.drop_table("version_metadata")
    op.drop_index("ix_version_capture_blob", table_name="version_capture")
    op.drop_index("ix_version_capture_version", table_name="version_capture")
    op.drop_table("version_capture")
    op.drop_index("ix_version_value_source", table_name="version_value")
    op.drop_table("version_value")
    op.drop_table("dataset_version")
