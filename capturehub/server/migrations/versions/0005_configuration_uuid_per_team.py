"""Capture configuration uuids are unique per team, not across every team

A client may choose a configuration's uuid. Unique across all teams, another team's uuid was a
409: it told a team that the uuid existed elsewhere and let a team take a uuid before another.
Each configuration now carries its project's team (``team_id``), and (team_id, uuid) is unique.

On SQLite the table is rebuilt (batch mode) with foreign keys off (see env.py), so the
captures that use a configuration keep it.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("capture_configuration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE capture_configuration SET team_id = (SELECT project.team_id FROM project "
        "WHERE project.id = capture_configuration.project_id)"
    )
    with op.batch_alter_table("capture_configuration", schema=None) as batch_op:
        batch_op.alter_column("team_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            "fk_capture_configuration_team_id_team",
            "team",
            ["team_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_constraint("uq_capture_configuration_uuid", type_="unique")
        batch_op.create_unique_constraint(
            "uq_capture_configuration_team_uuid", ["team_id", "uuid"]
        )


def downgrade() -> None:
    # Fails (unique violation) when two teams have chosen the same uuid meanwhile.
    with op.batch_alter_table("capture_configuration", schema=None) as batch_op:
        batch_op.drop_constraint("uq_capture_configuration_team_uuid", type_="unique")
        batch_op.create_unique_constraint("uq_capture_configuration_uuid", ["uuid"])
        batch_op.drop_constraint("fk_capture_configuration_team_id_team", type_="foreignkey")
        batch_op.drop_column("team_id")
