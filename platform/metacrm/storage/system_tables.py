"""Tables the engine itself keeps (prefix `metacrm_`), as opposed to record tables.

* `metacrm_metadata_versions` — every applied metadata version: its documents, author, time,
  comment and the plan that was applied. The highest `number` is the live version; processes
  compare it with the version they compiled to notice changes cheaply.
* `metacrm_metadata_baselines` — the packs' documents each version was built on, so admins'
  customisations are the difference between a version and its baseline
  (see `metacrm.metadata.layers`).
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
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.schema import CreateIndex

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

metadata_baselines = sa.Table(
    "metacrm_metadata_baselines",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version", sa.Integer, nullable=False, index=True),
    sa.Column("documents", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
"""The packs' documents (the baseline) a metadata version was built on; the baseline of
version N is the newest row with `version <= N`. A row is written only when the baseline
changes (`metacrm init`, pack install/upgrade/uninstall), not for an admin's edit."""

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

restorable_fields = sa.Table(
    "metacrm_restorable_fields",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("field", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("columns", sa.JSON, nullable=False),
    sa.Column("origin", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
"""Archived columns that come back when their field does: the fields a pack uninstall
archived (`columns`: original column -> archived name; `signature`: the field's type and
options, which must match for the data to be put back)."""

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
    # "as of" runs read an entity's rows after an instant; funnels read a period
    sa.Index("ix_metacrm_audit_entity_at", "entity", "at"),
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
    """Create the system tables that do not exist yet, and add the columns and indexes a
    newer release gave an existing one (idempotent; see `add_missing_columns` and
    `add_missing_indexes`)."""
    system_metadata.create_all(connection, checkfirst=True)
    add_missing_columns(connection)
    add_missing_indexes(connection)


def add_missing_indexes(connection: sa.Connection) -> None:
    """Create on existing system tables the indexes this release declares and they lack.

    `create_all` makes a table's indexes only with the table, so an index added to an
    existing table's `sa.Table` (e.g. `ix_metacrm_audit_entity_at`) reaches databases made
    before it here, on `metacrm init` and every process start; a database already up to
    date costs one catalogue query. `IF NOT EXISTS` lets processes starting together after
    an upgrade skip an index another one made. On a large table the first start after the
    upgrade spends the index build's time (a plain `CREATE INDEX`, which holds writes to
    the table back on PostgreSQL while it runs).
    """
    names = [table.name for table in system_metadata.sorted_tables]
    present = {table: {index["name"] for index in indexes} for (_, table), indexes
               in sa.inspect(connection).get_multi_indexes(filter_names=names).items()}
    for table in system_metadata.sorted_tables:
        if table.name not in present:
            continue
        for index in sorted(table.indexes, key=lambda index: str(index.name)):
            if index.name not in present[table.name]:
                connection.execute(CreateIndex(index, if_not_exists=True))


def add_missing_columns(connection: sa.Connection) -> None:
    """Add to existing system tables the columns this release declares and they lack.

    How a system table evolves: a new column is appended to its `sa.Table` either nullable
    or with a `server_default`, which is also the value every existing row takes (the data
    migration) — e.g. `metacrm_webhooks.payload_version` defaults to 1, the format existing
    subscriptions were made with. Runs on `metacrm init` and on every process start (through
    `create_system_tables`); a database already up to date costs one catalogue query.
    """
    names = [table.name for table in system_metadata.sorted_tables]
    present = {table: {column["name"] for column in columns} for (_, table), columns
               in sa.inspect(connection).get_multi_columns(filter_names=names).items()}
    operations: Operations | None = None
    for table in system_metadata.sorted_tables:
        missing = [column for column in table.columns
                   if table.name in present and column.name not in present[table.name]]
        for column in missing:
            default = column.server_default
            if not column.nullable and default is None:
                raise RuntimeError(f"{table.name}.{column.name} cannot be added to existing "
                                   "rows: give it a server_default or make it nullable")
            if operations is None:
                operations = Operations(MigrationContext.configure(connection))
            default_value = None if default is None else default.arg  # type: ignore[attr-defined]
            # PostgreSQL: processes starting together after an upgrade race to add the
            # column; IF NOT EXISTS lets the later ones wait for the lock and skip it
            # (SQLite's writes are serialised anyway, and it has no such clause)
            operations.add_column(
                table.name,
                sa.Column(column.name, column.type, nullable=column.nullable,
                          server_default=default_value),
                if_not_exists=True if connection.dialect.name == "postgresql" else None)


# --- job queue (metacrm.storage.work_item_store) -------------------------------------------------

WORK_TARGET_LENGTH = 200

work_items = sa.Table(
    "metacrm_work_items",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("consumer", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("target", sa.String(WORK_TARGET_LENGTH), nullable=False),
    sa.Column("event_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("record_id", sa.String(USER_ID_LENGTH), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("event_created_at", UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending / running / done / failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_attempt_at", UTCDateTime(), nullable=True),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("queued_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("done_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("consumer", "target", "event_id", name="uq_metacrm_work_items_key"),
    sa.Index("ix_metacrm_work_items_due", "status", "next_attempt_at"),
)
"""`metacrm_work_items` — the dispatch table: one row per (consumer, target, event), the
record of asynchronous work still to do and done (see `metacrm.storage.work_item_store`)."""


# --- webhooks (metacrm.webhooks) ------------------------------------------------------------

URL_LENGTH = 2048
SECRET_LENGTH = 200

webhooks = sa.Table(
    "metacrm_webhooks",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("owner", sa.String(USER_ID_LENGTH), nullable=False, index=True),
    sa.Column("url", sa.String(URL_LENGTH), nullable=False),
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=True),
    sa.Column("filter", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("secret", sa.String(SECRET_LENGTH), nullable=False),
    sa.Column("previous_secret", sa.String(SECRET_LENGTH), nullable=True),
    sa.Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.Text, nullable=True),
    sa.Column("failing_since", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # added with payload format 2: rows made before it keep the format they were made with
    sa.Column("payload_version", sa.Integer, nullable=False, server_default=sa.text("1")),
)
"""`metacrm_webhooks` — webhook subscriptions: who (owner) hears which record events at which
URL, in which payload format version, with the signing secret (and the previous one during a
rotation; see `metacrm.webhooks.subscriptions`)."""

webhook_attempts = sa.Table(
    "metacrm_webhook_attempts",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("webhook_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("work_item_id", sa.String(ID_LENGTH), nullable=True),
    sa.Column("event_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("response_excerpt", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_metacrm_webhook_attempts_log", "webhook_id", "at", "id"),
    sa.Index("ix_metacrm_webhook_attempts_at", "at"),
)
"""`metacrm_webhook_attempts` — the delivery log: one row per HTTP attempt (status, latency,
the start of the answer), kept at least 30 days (see `metacrm.webhooks.attempts`)."""


# --- automation (metacrm.automation, metacrm.storage.automation_runs) ----------------------

RUN_KEY_LENGTH = 120

automation_runs = sa.Table(
    "metacrm_automation_runs",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("trigger", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("record_id", sa.String(USER_ID_LENGTH), nullable=True),
    sa.Column("event_id", sa.String(ID_LENGTH), nullable=True),
    sa.Column("mode", sa.String(8), nullable=False),  # sync / async
    sa.Column("status", sa.String(16), nullable=False),  # ok / failed / skipped
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=True),
    sa.Column("chain_id", sa.String(ID_LENGTH), nullable=True),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("run_key", sa.String(RUN_KEY_LENGTH), nullable=True, unique=True),
    sa.Index("ix_metacrm_automation_runs_trigger", "trigger", "id"),
    sa.Index("ix_metacrm_automation_runs_record", "record_id", "id"),
)
"""`metacrm_automation_runs` — the runs log: one row per trigger run (ok, failed, skipped),
newest first by id. `run_key` (`<trigger>:<event id>`, async runs) makes a second delivery of
the same work item do nothing."""

automation_claims = sa.Table(
    "metacrm_automation_claims",
    system_metadata,
    sa.Column("trigger", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("subject", sa.String(USER_ID_LENGTH), primary_key=True),
    sa.Column("moment", sa.String(40), primary_key=True),
    sa.Column("claimed_at", UTCDateTime(), nullable=False, index=True),
)
"""`metacrm_automation_claims` — what time and cron triggers fired: (trigger, record id,
due moment) and (trigger, `*`, cron slot); the primary key makes two schedulers fire each
once."""


# --- pack periodic jobs (metacrm.storage.periodic_slots) ----------------------------------

periodic_slots = sa.Table(
    "metacrm_periodic_slots",
    system_metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("last_run", UTCDateTime(), nullable=False),
)
"""`metacrm_periodic_slots` — when each throttled periodic job (a pack's `ctx.periodic`) last
started in any scheduler process, so several schedulers run it once per period."""


# --- round-robin assignment (metacrm.automation.builtin_actions.assign_owner) -------------

round_robin_positions = sa.Table(
    "metacrm_round_robin",
    system_metadata,
    sa.Column("team", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("entity", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)
"""`metacrm_round_robin` — where the round-robin assignment of an entity's records to a
team's members stands: the number of the last assignment, advanced atomically."""


# --- notifications (metacrm.notifications) --------------------------------------------------

notifications = sa.Table(
    "metacrm_notifications",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("user_id", sa.String(USER_ID_LENGTH), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=True),
    sa.Column("record_id", sa.String(ID_LENGTH), nullable=True),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("actor", sa.String(USER_ID_LENGTH), nullable=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("read_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("user_id", "source", name="uq_metacrm_notifications_source"),
    sa.Index("ix_metacrm_notifications_user_created", "user_id", "created_at"),
)
"""`metacrm_notifications` — what a user is told about: a record assigned to them, an
automation's message, a due-date reminder (`kind` assigned / automation / reminder), about
`entity`/`record_id`. `source` makes creation idempotent (the event and target that caused
it, or the reminder's record, field and moment: a retried work item or a second scheduler
adds nothing); `read_at` is set when the user marks it read."""


# --- screens (metacrm.web) ----------------------------------------------------------------

user_preferences = sa.Table(
    "metacrm_user_preferences",
    system_metadata,
    sa.Column("user_id", sa.String(USER_ID_LENGTH), primary_key=True),
    sa.Column("language", sa.String(8), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=True),
    sa.Column("date_format", sa.String(16), nullable=True),
    sa.Column("number_format", sa.String(16), nullable=True),
    sa.Column("reminder_minutes", sa.Integer, nullable=True),
    sa.Column("notification_digest", sa.String(16), nullable=True),
    sa.Column("digest_sent_at", UTCDateTime(), nullable=True),
    sa.Column("reminder_email", sa.Boolean, nullable=True),
    sa.Column("phone", sa.String(32), nullable=True),
)
"""`metacrm_user_preferences` — what each user picked: for the screens their language, time
zone (an IANA name; date-times are stored in UTC and shown in it), date and number formats
(empty means the default: the request's language, UTC, the language's formats); for
notifications how many minutes before a due moment to be reminded (NULL: the default), the
email digest (`daily`; NULL: off), when the last digest went out, and whether reminders are
also mailed (`reminder_email`; NULL: no); for telephony the user's own phone (E.164), where
calls about their records are forwarded (NULL: none)."""

calendar_feed_tokens = sa.Table(
    "metacrm_calendar_feed_tokens",
    system_metadata,
    sa.Column("user_id", sa.String(USER_ID_LENGTH), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
"""`metacrm_calendar_feed_tokens` — each user's iCal feed token, as its SHA-256 (the token
itself is shown once, on the profile page); no row: no feed (`services.calendar.feed`)."""

saved_views = sa.Table(
    "metacrm_saved_views",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("owner", sa.String(USER_ID_LENGTH), nullable=False),
    sa.Column("shared", sa.Boolean, nullable=False, default=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_metacrm_saved_views_entity", "entity", "owner"),
)
"""`metacrm_saved_views` — list views users saved: columns, criteria, sort and quick search
(`definition`); private to `owner` unless `shared`. Rows are still read through the caller's
access scope, so a shared view never widens what anyone sees."""


recent_records = sa.Table(
    "metacrm_recent_records",
    system_metadata,
    sa.Column("user_id", sa.String(USER_ID_LENGTH), primary_key=True),
    sa.Column("entity", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("record_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Index("ix_metacrm_recent_records_user_opened", "user_id", "opened_at"),
)
"""`metacrm_recent_records` — the records each user opened last (their page), pruned to the
newest few per user (`services.users.bookmarks`)."""

favourite_records = sa.Table(
    "metacrm_favourite_records",
    system_metadata,
    sa.Column("user_id", sa.String(USER_ID_LENGTH), primary_key=True),
    sa.Column("entity", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("record_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
"""`metacrm_favourite_records` — the records each user starred on their page. Both tables
are only pointers: what they show is read through the user's access scope every time."""


# --- packs (metacrm.packs) -----------------------------------------------------------------

PACK_NAME_LENGTH = 31

packs = sa.Table(
    "metacrm_packs",
    system_metadata,
    sa.Column("name", sa.String(PACK_NAME_LENGTH), primary_key=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("manifest", sa.JSON, nullable=False),
    sa.Column("documents", sa.JSON, nullable=False),
    sa.Column("installed_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
"""`metacrm_packs` — the installed packs: version, where they came from, the manifest and
the documents they shipped (so the baseline can be rebuilt when the pack's folder is gone)."""

pack_settings = sa.Table(
    "metacrm_pack_settings",
    system_metadata,
    sa.Column("pack", sa.String(PACK_NAME_LENGTH),
              sa.ForeignKey("metacrm_packs.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("value", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("secret", sa.Text, nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
"""`metacrm_pack_settings` — each installed pack's settings, one row per key: `value` for
plain settings, `secret` (a Fernet token) for `writeOnly` ones (see `metacrm.packs.store`)."""

pack_state = sa.Table(
    "metacrm_pack_state",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
)
"""`metacrm_pack_state` — one row: a number bumped by every pack install, upgrade,
uninstall and settings change, so processes notice with one cheap read."""


# --- imports (issue 14; see `metacrm.imports`) ------------------------------------------

imports = sa.Table(
    "metacrm_imports",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("user_id", sa.String(USER_ID_LENGTH), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    # queued / running / completed / failed / reverted
    sa.Column("options", sa.JSON, nullable=False),  # mode, key, mapping, silent, dry_run
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("file_hash", sa.String(64), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),  # file + options: idempotency
    sa.Column("content", sa.LargeBinary, nullable=True),  # the uploaded file (None: dropped)
    sa.Column("total_rows", sa.Integer, nullable=True),
    sa.Column("processed_rows", sa.Integer, nullable=False, server_default="0"),
    sa.Column("counts", sa.JSON, nullable=False),  # created / updated / unchanged / failed
    sa.Column("summary", sa.JSON, nullable=True),  # per column, first errors
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("reverted_at", UTCDateTime(), nullable=True),
    sa.Column("heartbeat_at", UTCDateTime(), nullable=True),  # a runner is alive
    sa.Index("ix_metacrm_imports_request", "user_id", "request_hash"),
)

import_rows = sa.Table(
    "metacrm_import_rows",
    system_metadata,
    sa.Column("import_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("row_number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # created/updated/unchanged/failed
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("record_id", sa.String(ID_LENGTH), nullable=True),
    sa.Column("previous", sa.JSON, nullable=True),  # updated: the values it replaced
    sa.Column("source", sa.JSON, nullable=True),  # failed: the row as read (error file)
    sa.Column("reason", sa.Text, nullable=True),
)

import_mappings = sa.Table(
    "metacrm_import_mappings",
    system_metadata,
    sa.Column("entity", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("mapping", sa.JSON, nullable=False),
    sa.Column("updated_by", sa.String(USER_ID_LENGTH), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)


# --- files (metacrm.files) --------------------------------------------------------------------

FILE_NAME_LENGTH = 255
CONTENT_TYPE_LENGTH = 127

attachments = sa.Table(
    "metacrm_attachments",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("record_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("field", sa.String(NAME_LENGTH), nullable=True),
    sa.Column("name", sa.String(FILE_NAME_LENGTH), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("content_type", sa.String(CONTENT_TYPE_LENGTH), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("template", sa.String(NAME_LENGTH), nullable=True),
    sa.Column("uploaded_by", sa.String(USER_ID_LENGTH), nullable=True),
    sa.Column("uploaded_at", UTCDateTime(), nullable=False),
    sa.Column("orphaned_at", UTCDateTime(), nullable=True),
    sa.Index("ix_metacrm_attachments_record", "entity", "record_id"),
)
"""`metacrm_attachments` — files attached to records (`field` null) or held by a record's
`file` field, and generated documents (`template` set: immutable). The bytes are the blob
`sha256` of the file store (`metacrm.kernel.files`); rows of one content share it.
`orphaned_at`: when the purge first found the record gone (files are kept a while after)."""
record_merges = sa.Table(
    "metacrm_record_merges",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("survivor", sa.String(ID_LENGTH), nullable=False),
    sa.Column("merged", sa.JSON, nullable=False),
    sa.Column("ledger", sa.JSON, nullable=False),
    sa.Column("actor", sa.String(USER_ID_LENGTH), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("undone_at", UTCDateTime(), nullable=True),
    sa.Column("undone_by", sa.String(USER_ID_LENGTH), nullable=True),
    sa.Index("ix_metacrm_record_merges_survivor", "entity", "survivor"),
)
"""`metacrm_record_merges` — one row per merge of records (`services.records.merge`): the
ids merged into the survivor and the ledger that undoes it (the merged rows as stored,
the references re-pointed, the survivor's values before)."""

duplicate_scans = sa.Table(
    "metacrm_duplicate_scans",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("requested_by", sa.String(USER_ID_LENGTH), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # queued / done / failed
    sa.Column("groups", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Index("ix_metacrm_duplicate_scans_user", "requested_by", "entity", "created_at"),
)
"""`metacrm_duplicate_scans` — duplicate scans run as jobs (`jobs.duplicate_scans`): who
asked, for which entity, and the groups found as that user may see them."""

email_mailboxes = sa.Table(
    "metacrm_email_mailboxes",
    system_metadata,
    sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("address", sa.String(320), nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("secrets", sa.Text, nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
"""`metacrm_email_mailboxes` — the CRM's mailboxes (`metacrm.email.mailboxes`): the address,
the SMTP and IMAP servers (URLs without passwords), whether unknown senders become leads,
and the passwords and inbound secret sealed with the instance key (never read back)."""

email_mailbox_sync = sa.Table(
    "metacrm_email_mailbox_sync",
    system_metadata,
    sa.Column("mailbox", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("folder", sa.String(255), primary_key=True),
    sa.Column("uidvalidity", sa.BigInteger, nullable=False),
    sa.Column("last_uid", sa.BigInteger, nullable=False),
    sa.Column("polled_at", UTCDateTime(), nullable=False),
)
"""`metacrm_email_mailbox_sync` — how far each mailbox folder was read over IMAP: the
folder's UIDVALIDITY and the highest UID taken (`metacrm.email.imap_poll`)."""
print_jobs = sa.Table(
    "metacrm_print_jobs",
    system_metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("requested_by", sa.String(USER_ID_LENGTH), nullable=False, index=True),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("template", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("record_ids", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("name", sa.String(FILE_NAME_LENGTH), nullable=True),
    sa.Column("size", sa.BigInteger, nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("printed", sa.Integer, nullable=False, default=0),
    sa.Column("failures", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
)
"""`metacrm_print_jobs` — mass prints: one template's PDFs of chosen records in one ZIP
(`metacrm.documents.mass_print`). Only `requested_by` may read a job and download its ZIP
(the blob `sha256` of the file store); `failures` lists `{"id", "reason"}` per record that
could not be printed (out of the requester's sight, a template error)."""

# --- report snapshots (metacrm.reports.snapshots) -------------------------------------------

report_snapshots = sa.Table(
    "metacrm_report_snapshots",
    system_metadata,
    sa.Column("report", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("taken_at", UTCDateTime(), primary_key=True),
    sa.Column("rows", sa.JSON, nullable=False),
)
"""`metacrm_report_snapshots` — a report's whole result (`{"columns", "rows", "totals"}`,
taken with full rights) at each slot of its `snapshot.schedule`; the primary key is the
claim: one scheduler process takes a slot, the others' inserts lose."""

private_reports = sa.Table(
    "metacrm_private_reports",
    system_metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), nullable=False, index=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
"""`metacrm_private_reports` — reports a user built on the report builder screen, visible to
that user only (`metacrm.reports.private_reports`); `body` is a report document checked by
the report schema and the live model when saved and again on every run."""

report_deliveries = sa.Table(
    "metacrm_report_deliveries",
    system_metadata,
    sa.Column("report", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("subscription", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("slot", UTCDateTime(), primary_key=True),
    sa.Column("user_id", sa.String(36), primary_key=True),
    sa.Column("sent_at", UTCDateTime(), nullable=False),
)
"""`metacrm_report_deliveries` — one row per scheduled report mail (report, subscription,
cron slot, recipient); the primary key is the claim: one scheduler process mails a
recipient their slot, the others' inserts lose (`metacrm.reports.subscriptions`)."""
