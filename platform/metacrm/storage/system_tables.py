"""Tables the engine itself keeps (prefix `metacrm_`), as opposed to record tables.

* `metacrm_metadata_versions` — every applied metadata version: its documents, author, time,
  comment and the plan that was applied. The highest `number` is the live version; processes
  compare it with the version they compiled to notice changes cheaply.
* `metacrm_sequences` — counters behind auto-number fields, one row per entity field.
* `metacrm_archive` — where destructive changes put data: archived columns and tables.
* `metacrm_teams`, `metacrm_team_members` — the team hierarchy and who belongs to which team
  (the `team` access scope; see `metacrm.access.teams`).
* `metacrm_audit` — the audit trail: one row per changed field of every record change, written
  in the change's transaction (see `metacrm.storage.audit`).
* `metacrm_outbox` — domain events written in the change's transaction, published after
  commit by a relay (see `metacrm.storage.outbox`).
"""

from __future__ import annotations

import sqlalchemy as sa

from metacrm.fieldtypes.sqltypes import UTCDateTime

ID_LENGTH = 36
USER_ID_LENGTH = 64
NAME_LENGTH = 64

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

teams = sa.Table(
    "metacrm_teams",
    system_metadata,
    sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("parent", sa.String(NAME_LENGTH),
              sa.ForeignKey("metacrm_teams.name", ondelete="RESTRICT"), nullable=True,
              index=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

team_members = sa.Table(
    "metacrm_team_members",
    system_metadata,
    sa.Column("team", sa.String(NAME_LENGTH),
              sa.ForeignKey("metacrm_teams.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.String(USER_ID_LENGTH), primary_key=True, index=True),
)

audit = sa.Table(
    "metacrm_audit",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("record_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # created / updated / deleted
    sa.Column("field", sa.String(NAME_LENGTH), nullable=True),
    sa.Column("old", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("new", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("actor", sa.String(USER_ID_LENGTH), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("event_id", sa.String(ID_LENGTH), nullable=True),
    sa.Index("ix_metacrm_audit_record", "entity", "record_id"),
)

outbox = sa.Table(
    "metacrm_outbox",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("record_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("published_at", UTCDateTime(), nullable=True),
    sa.Index("ix_metacrm_outbox_pending", "published_at", "id"),
)


IDEMPOTENCY_KEY_LENGTH = 255

idempotency_keys = sa.Table(
    "metacrm_idempotency_keys",
    system_metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(IDEMPOTENCY_KEY_LENGTH), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("headers", sa.Text, nullable=True),
    sa.Column("body", sa.Text, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)
"""First answers to POSTs that carried an `Idempotency-Key` (per user and key), kept 24 h."""


def create_system_tables(connection: sa.Connection) -> None:
    """Create the system tables that do not exist yet (idempotent)."""
    system_metadata.create_all(connection, checkfirst=True)
