"""security: keyed audit chain (seq, key id, head row), escalating lockouts

Revision ID: 0003
Revises: 0001

* audit_log.seq — a gap-free sequence (a deleted row leaves a gap `verify` names);
  audit_log.key_id — the id of the key whose HMAC is in `hash`. Rows written before this revision
  (plain SHA-256, no seq) are reported as unsigned by `canceldesk audit verify`: an unkeyed row is
  what an attacker would forge, so it is never trusted. A fresh install has none.
* audit_head — one row: the last seq and hash, MAC'd (rows cut off the end show).
* login_locks.lockouts — lockouts in a row; each doubles the next lock, up to a day.
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_audit_log_seq"), ["seq"])

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )

    with op.batch_alter_table("login_locks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lockouts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("login_locks", schema=None) as batch_op:
        batch_op.drop_column("lockouts")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_log_seq"), type_="unique")
        batch_op.drop_column("key_id")
        batch_op.drop_column("seq")
