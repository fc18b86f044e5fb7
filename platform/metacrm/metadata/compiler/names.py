"""Which names a field may take, and which physical columns a field occupies.

Field names become column names of real tables on SQLite and PostgreSQL, so besides the
identifier rule the schemas enforce (^[a-z][a-z0-9_]*$, at most 40 characters) a field name
must not be a system column, an SQL reserved word (quoting would work, but every hand-written
query, report export and database tool would trip over it), or start with `arch_` (the prefix
of archived columns a destructive migration leaves behind).
"""

from __future__ import annotations

import re

from metacrm.metadata.model import SYSTEM_COLUMNS, FieldDef

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME_LENGTH = 40
ARCHIVE_PREFIX = "arch_"

_SQL_KEYWORD_TEXT = """
    add all alter analyse analyze and any array as asc asymmetric attach authorization
    autoincrement begin between binary both case cast check collate collation column commit
    concurrently constraint create cross current_catalog current_date current_role
    current_schema current_time current_timestamp current_user default deferrable delete desc
    detach distinct do drop else end escape except exists false fetch for foreign freeze from
    full grant group having ilike in index initially inner insert intersect into is isnull
    join lateral leading left like limit localtime localtimestamp natural not nothing notnull
    null offset on only or order outer overlaps placing pragma primary references returning
    right rollback savepoint select session_user set similar some symmetric system_user table
    tablesample then to trailing transaction trigger true union unique update user using
    vacuum values variadic verbose view when where window with
"""
SQL_KEYWORDS: frozenset[str] = frozenset(_SQL_KEYWORD_TEXT.split())
"""Words SQLite or PostgreSQL reserve (PostgreSQL's reserved and reserved-for-functions words,
SQLite's keywords that cannot be plain identifiers) and statement words such as `update`.
Non-reserved keywords that make good field names (`name`, `key`, `action`, `time`...) are
allowed."""


def field_name_problem(name: str) -> str | None:
    """Why `name` cannot be a field name, or None if it can."""
    if name in SYSTEM_COLUMNS:
        return f"'{name}' is a system column every record has; choose another name"
    if name in SQL_KEYWORDS:
        return f"'{name}' is an SQL reserved word; choose another name"
    if name.startswith(ARCHIVE_PREFIX):
        return f"names starting with '{ARCHIVE_PREFIX}' are reserved for archived columns"
    return None


def physical_columns(field: FieldDef) -> tuple[str, ...]:
    """The table columns a field occupies: its own name, plus `<name>_currency` for money.

    Kept here (not asked of the field type registry) because the compiler must stay free of
    SQLAlchemy; `metacrm.fieldtypes` must agree, and tests/metadata check that it does.
    """
    if field.type == "money":
        return (field.name, f"{field.name}_currency")
    if field.type == "regarding":
        return (field.name, f"{field.name}_entity")
    return (field.name,)
