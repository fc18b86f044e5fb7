"""Tables the engine itself keeps (prefix `metacrm_`), as opposed to record tables.

* `metacrm_metadata_versions` — every applied metadata version: its documents, author, time,
  comment and the plan that was applied. The highest `number` is the live version; processes
  compare it with the version they compiled to notice changes cheaply.
* `metacrm_sequences` — counters behind auto-number fields, one row per entity field.
* `metacrm_archive` — where destructive changes put data: archived columns and tables.
"""

from __future__ import annotations

import sqlalchemy as sa

system_metadata = sa.MetaData()

metadata_versions = sa.Table(
    "metacrm_metadata_versions",
    system_metadata,
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("documents", sa.JSON, nullable=False),
    sa.Column("author", sa.String(64), nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("plan", sa.JSON, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

sequences = sa.Table(
    "metacrm_sequences",
    system_metadata,
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("field", sa.String(64), primary_key=True),
    sa.Column("next_value", sa.BigInteger, nullable=False),
)

archive = sa.Table(
    "metacrm_archive",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # "column" or "table"
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("field", sa.String(64), nullable=True),
    sa.Column("table_name", sa.String(128), nullable=False),
    sa.Column("archived_as", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def create_system_tables(connection: sa.Connection) -> None:
    """Create the system tables that do not exist yet (idempotent)."""
    system_metadata.create_all(connection, checkfirst=True)
