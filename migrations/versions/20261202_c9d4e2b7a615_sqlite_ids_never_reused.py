"""SQLite never gives a deleted row's id to a new row of the tables whose rows are deleted (a
discarded draft, a removed link, document, lead file or stored file): audit events and links that
name an id keep naming what they named. PostgreSQL sequences never reuse an id; nothing to do there.

Revision ID: c9d4e2b7a615
Revises: b5c1e8f3a270
Create Date: 2026-12-02 16:10:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "c9d4e2b7a615"
down_revision = "b5c1e8f3a270"
branch_labels = None
depends_on = None

# Written out, not read from the models: a later model change must not change what this does.
TABLES = ("invoices", "invoice_lines", "client_links", "documents", "lead_attachments", "stored_files")


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TABLES:
        # SQLite cannot add AUTOINCREMENT to a table: the batch copies it into a new one (rows,
        # constraints and indexes kept; the ids copied set the table's counter).
        with op.batch_alter_table(
            name, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade():
    _recreate(True)


def downgrade():
    _recreate(False)
