"""Names in a file resolved to ids, a batch at a time: referenced records, users, keys.

A reference cell names a record of the referenced entity by one of its fields (the
mapping's `references.<field>.by`, default the entity's title field): `company` ← "Acme
Corp". All distinct names of a batch are looked up in one query per reference field,
through the importer's scoped repository, so a record they may not read is "not found" as
in the API. A name matching no record is an error — or, with `create_missing`, a new
record holding that name (created in the same transaction, recorded in the ledger, and
reverted with the import). A name matching several records is an error (ambiguous).

Users (user fields and the owner) are named by login, email or display name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_repository import ScopedRepository
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.imports.conversion import ConvertedRow
from metacrm.imports.mapping import OWNER, ImportMapping
from metacrm.kernel.errors import MetacrmError
from metacrm.kernel.users import UserDirectory
from metacrm.metadata.model import CompiledModel, EntityDef, FieldDef

USER_LIMIT = 100_000
MULTI_COLUMN_TYPES = frozenset({"money", "regarding"})


@dataclass
class CreatedReference:
    """A referenced record an import created because the file named a missing one."""

    entity: str
    record: dict[str, Any]


@dataclass
class _UserIndex:
    by_username: dict[str, str] = field(default_factory=dict)
    by_name: dict[str, list[str]] = field(default_factory=dict)
    by_email: dict[str, str] | None = None


def storage_value(registry: FieldTypeRegistry, fdef: FieldDef | None, value: Any) -> Any:
    """A value as the database compares it (the field type's normal form)."""
    if fdef is None or value is None:
        return value
    return registry.get(fdef.type).normalize(fdef, value)


class UserResolver:
    """Users by login, email or display name (loaded once per import)."""

    def __init__(self, users: UserDirectory, by: str | None) -> None:
        self.users = users
        self.by = by
        self._index: _UserIndex | None = None

    def _load(self, conn: sa.Connection) -> _UserIndex:
        if self._index is None:
            index = _UserIndex()
            for user in self.users.listings(conn, active_only=True, limit=USER_LIMIT):
                index.by_username[user.username.casefold()] = user.id
                index.by_name.setdefault(user.name.strip().casefold(), []).append(user.id)
            self._index = index
        return self._index

    def resolve(self, conn: sa.Connection, text: str) -> str:
        """The user id a cell names; MetacrmError-free ValueError with the reason."""
        index = self._load(conn)
        key = text.strip().casefold()
        if self.by in (None, "username") and key in index.by_username:
            return index.by_username[key]
        if self.by in (None, "email") and "@" in key:
            if index.by_email is None:
                index.by_email = {}
                for user_id in index.by_username.values():
                    email = self.users.email_of(conn, user_id)
                    if email:
                        index.by_email[email.casefold()] = user_id
            if key in index.by_email:
                return index.by_email[key]
        if self.by in (None, "name"):
            found = index.by_name.get(key, [])
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise ValueError(f"{len(found)} users are named {text!r}; use their login")
        raise ValueError(f"no active user {text!r}")


class Lookups:
    """Resolves the `lookups` of converted rows into values (ids) for one import."""

    def __init__(self, model: CompiledModel, entity: EntityDef, mapping: ImportMapping,
                 registry: FieldTypeRegistry, users: UserResolver) -> None:
        self.model = model
        self.entity = entity
        self.mapping = mapping
        self.registry = registry
        self.users = users

    def target(self, name: str) -> tuple[EntityDef, str]:
        """The entity a reference field points at and the field its cells name."""
        fdef = self.entity.field(name)
        target = self.model.entities[str(fdef.target_entity if fdef else "")]
        rule = self.mapping.references.get(name)
        by = rule.by if rule and rule.by else (target.title_field or "id")
        return target, by

    def resolve(
        self, conn: sa.Connection, scoped: ScopedRepository, rows: Sequence[ConvertedRow],
        create: Callable[[str, list[dict[str, Any]]], list[dict[str, Any]]] | None,
    ) -> list[CreatedReference]:
        """Fill each row's reference, user and owner values (errors go to the row);
        `create(entity, values)` makes missing referenced records when the mapping says so
        (None: a dry run's caller passes its own, or nothing is created)."""
        created: list[CreatedReference] = []
        for name in sorted({key for row in rows for key in row.lookups}):
            fdef = self.entity.field(name)
            if name == OWNER or (fdef is not None and fdef.type == "user"):
                self._users(conn, rows, name)
            else:
                created.extend(self._references(conn, scoped, rows, name, create))
        return created

    def _users(self, conn: sa.Connection, rows: Sequence[ConvertedRow], name: str) -> None:
        for row in rows:
            text = row.lookups.get(name)
            if text is None:
                continue
            try:
                row.values[name] = self.users.resolve(conn, text)
            except ValueError as exc:
                row.errors.append((self._column(name), str(exc)))

    def _column(self, name: str) -> str:
        return next((c for c, f in self.mapping.columns.items() if f == name), name)

    def _references(
        self, conn: sa.Connection, scoped: ScopedRepository, rows: Sequence[ConvertedRow],
        name: str, create: Callable[[str, list[dict[str, Any]]], list[dict[str, Any]]] | None,
    ) -> list[CreatedReference]:
        target, by = self.target(name)
        by_def = target.field(by)
        column = self._column(name)
        wanted: dict[Any, list[ConvertedRow]] = {}
        for row in rows:
            text = row.lookups.get(name)
            if text is None or row.failed:
                continue
            try:
                key = storage_value(self.registry, by_def, text)
            except (ValueError, TypeError, MetacrmError) as exc:
                row.errors.append((column, f"{text!r} cannot name a {target.name}: {exc}"))
                continue
            wanted.setdefault(key, []).append(row)
        found: dict[Any, list[str]] = {}
        for record in scoped.matching(conn, target.name, [by], {(key,) for key in wanted}):
            found.setdefault(record[by], []).append(str(record["id"]))
        rule = self.mapping.references.get(name)
        missing = [key for key in wanted if key not in found]
        created: list[CreatedReference] = []
        if missing and rule is not None and rule.create_missing and create is not None:
            try:
                made = create(target.name, [{by: key} for key in missing])
            except MetacrmError as exc:  # e.g. no create right on the referenced entity
                for key in missing:
                    for row in wanted[key]:
                        row.errors.append((column, f"cannot create {target.name} {key!r}: "
                                                   f"{exc}"))
                made = []
                missing = []
            for key, record in zip(missing, made, strict=True):
                found[key] = [str(record["id"])]
                created.append(CreatedReference(target.name, record))
        for key, waiting in wanted.items():
            ids = found.get(key, [])
            for row in waiting:
                if len(ids) == 1:
                    row.values[name] = ids[0]
                elif not ids:
                    row.errors.append((column, f"no {target.name} with {by} {key!r}"))
                else:
                    row.errors.append((column, f"{len(ids)} {target.name} records have "
                                               f"{by} {key!r}; name it by a unique field"))
        return created


def key_of(registry: FieldTypeRegistry, entity: EntityDef, key: Sequence[str],
           values: dict[str, Any]) -> tuple[Any, ...] | str:
    """A row's key (storage values of the key fields) or the reason it has none."""
    parts = []
    for name in key:
        value = values.get(name)
        if value is None:
            return f"the key field {name!r} is empty"
        try:
            parts.append(storage_value(registry, entity.field(name), value))
        except (ValueError, TypeError, MetacrmError) as exc:
            return f"the key field {name!r}: {exc}"
    return tuple(parts)
