"""Foreign keys and column types that plain ALTER TABLE cannot change on SQLite.

PostgreSQL drops a constraint or retypes a column in place. SQLite can do neither: the
table is rebuilt through Alembic's batch mode (create a copy with the new definition, copy
the rows, drop the old table, rename the copy). Two details make that safe here:

* the copy is built from the live table (`PRAGMA table_info`/`foreign_key_list` and the
  inspector), not from the compiled model, so archived columns and their data survive;
  SQLAlchemy's reflection misses `ON DELETE` of columns added with `ADD COLUMN ...
  REFERENCES`, so foreign keys are read with the pragma;
* dropping the old table with foreign keys enforced would run its implicit `DELETE` and fire
  `ON DELETE CASCADE`/`SET NULL` in referencing tables. A rebuild therefore requires
  enforcement to be off for the migration's connection (`begin_migration` does that and
  runs `PRAGMA foreign_key_check` before committing).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations
from sqlalchemy.schema import SchemaItem
from sqlalchemy.types import TypeEngine


@dataclass(frozen=True)
class ForeignKeyInfo:
    """One single-column foreign key of a live table."""

    name: str | None
    column: str
    target_table: str
    target_column: str
    on_delete: str | None


def foreign_keys(connection: sa.Connection, table: str) -> list[ForeignKeyInfo]:
    """The foreign keys of `table` as the database has them now."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"PRAGMA foreign_key_list({_quote(connection, table)})")
        return [
            ForeignKeyInfo(
                name=None,
                column=row[3],
                target_table=row[2],
                target_column=row[4] or "id",
                on_delete=None if row[6] in (None, "NO ACTION") else row[6],
            )
            for row in rows
        ]
    return [
        ForeignKeyInfo(
            name=key["name"],
            column=key["constrained_columns"][0],
            target_table=key["referred_table"],
            target_column=key["referred_columns"][0],
            on_delete=key.get("options", {}).get("ondelete"),
        )
        for key in sa.inspect(connection).get_foreign_keys(table)
        if len(key["constrained_columns"]) == 1
    ]


def drop_foreign_keys(
    operations: Operations, table: str, columns: Collection[str] | None = None
) -> None:
    """Drop the foreign keys on `columns` of `table` (all of them when None)."""
    connection = operations.get_bind()
    keys = [
        key for key in foreign_keys(connection, table) if columns is None or key.column in columns
    ]
    if not keys:
        return
    if connection.dialect.name == "sqlite":
        rebuild_sqlite_table(operations, table, drop_foreign_keys={key.column for key in keys})
        return
    for key in keys:
        assert key.name is not None  # PostgreSQL names every constraint
        operations.drop_constraint(key.name, table, type_="foreignkey")


def sqlite_foreign_keys_enforced(connection: sa.Connection) -> bool:
    return bool(connection.exec_driver_sql("PRAGMA foreign_keys").scalar())


def rebuild_sqlite_table(
    operations: Operations,
    table: str,
    *,
    drop_foreign_keys: Collection[str] = (),
    retype: Mapping[str, TypeEngine[Any]] | None = None,
) -> None:
    """Rebuild SQLite `table` without the foreign keys on `drop_foreign_keys` and with the
    column types of `retype`; every column, row and index is kept."""
    connection = operations.get_bind()
    if sqlite_foreign_keys_enforced(connection):
        raise RuntimeError(
            f"rebuilding table {table!r} on SQLite needs foreign key enforcement off for the "
            "migration's connection (use metacrm.storage.migration.begin_migration)"
        )
    live = _live_sqlite_table(connection, table)
    with operations.batch_alter_table(table, recreate="always", copy_from=live) as batch:
        for column in drop_foreign_keys:
            batch.drop_constraint(_fk_name(table, column), type_="foreignkey")
        for column, new_type in (retype or {}).items():
            batch.alter_column(column, type_=new_type, existing_type=live.c[column].type)


def _fk_name(table: str, column: str) -> str:
    return f"fk_{table}_{column}"


def _quote(connection: sa.Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)


def _live_sqlite_table(connection: sa.Connection, table: str) -> sa.Table:
    """The table as SQLite has it, foreign keys named so batch operations can refer to them."""
    inspector = sa.inspect(connection)
    primary_key = set(inspector.get_pk_constraint(table)["constrained_columns"])
    items: list[SchemaItem] = [
        sa.Column(
            column["name"],
            column["type"],
            primary_key=column["name"] in primary_key,
            nullable=column["nullable"] and column["name"] not in primary_key,
        )
        for column in inspector.get_columns(table)
    ]
    items.extend(
        sa.ForeignKeyConstraint(
            [key.column],
            [f"{key.target_table}.{key.target_column}"],
            name=_fk_name(table, key.column),
            ondelete=key.on_delete,
        )
        for key in foreign_keys(connection, table)
    )
    items.extend(
        sa.Index(
            index["name"],
            *(name for name in index["column_names"] if name is not None),
            unique=bool(index["unique"]),
        )
        for index in inspector.get_indexes(table)
        if index["name"] is not None
    )
    return sa.Table(table, sa.MetaData(), *items)
