"""one open supervisor alert, held by a unique open slot

Revision ID: 8c4e1f0a7d21
Revises: 5a1d7c2e9b40
Create Date: 2026-12-03 16:15:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c4e1f0a7d21"
down_revision: str | Sequence[str] | None = "5a1d7c2e9b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("handoff_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("open_slot", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_handoff_alerts_open_slot"), ["open_slot"])
    # Keep the newest open alert open; close any duplicate a race left behind.
    op.execute(
        "UPDATE handoff_alerts SET ended_at = started_at WHERE ended_at IS NULL AND id < "
        "(SELECT MAX(id) FROM handoff_alerts WHERE ended_at IS NULL)"
    )
    op.execute("UPDATE handoff_alerts SET open_slot = 1 WHERE ended_at IS NULL")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("handoff_alerts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_handoff_alerts_open_slot"), type_="unique")
        batch_op.drop_column("open_slot")
