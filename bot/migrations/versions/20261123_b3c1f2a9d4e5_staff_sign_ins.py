"""staff sign-ins (server-side, so signing out revokes a session) and failed sign-ins

Revision ID: b3c1f2a9d4e5
Revises: 89098ded77d8
Create Date: 2026-11-23 07:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "b3c1f2a9d4e5"
down_revision: str | Sequence[str] | None = "89098ded77d8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "staff_sign_ins",
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sid"),
    )
    with op.batch_alter_table("staff_sign_ins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_sign_ins_user_id"), ["user_id"], unique=False)
    op.create_table(
        "staff_failed_sign_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staff_failed_sign_ins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_failed_sign_ins_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_failed_sign_ins_at"), ["at"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("staff_failed_sign_ins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_failed_sign_ins_at"))
        batch_op.drop_index(batch_op.f("ix_staff_failed_sign_ins_key"))
    op.drop_table("staff_failed_sign_ins")
    with op.batch_alter_table("staff_sign_ins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sign_ins_user_id"))
    op.drop_table("staff_sign_ins")
