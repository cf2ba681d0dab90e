"""handoff tickets, agents, notes, canned responses

Revision ID: 7ef989017b24
Revises: 44d0d024cdd1
Create Date: 2026-11-23 03:26:33.880560

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "7ef989017b24"
down_revision: str | Sequence[str] | None = "44d0d024cdd1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "handoff_agents",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("presence", sa.String(length=16), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("agent_id"),
    )
    op.create_table(
        "handoff_canned_responses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shortcut", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shortcut"),
    )
    op.create_table(
        "handoff_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("handoff_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handoff_notes_conversation_id"), ["conversation_id"], unique=False
        )

    op.create_table(
        "handoff_tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("packet", sa.JSON(), nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_s", sa.Integer(), nullable=True),
        sa.Column("handoffs", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id"),
    )
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handoff_tickets_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_handoff_tickets_state"), ["state"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_tickets_state"))
        batch_op.drop_index(batch_op.f("ix_handoff_tickets_agent_id"))

    op.drop_table("handoff_tickets")
    with op.batch_alter_table("handoff_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_notes_conversation_id"))

    op.drop_table("handoff_notes")
    op.drop_table("handoff_canned_responses")
    op.drop_table("handoff_agents")
