"""Saved list views: a user's named columns, filter, sort and quick search of one entity.

A view is private to its owner unless shared; a shared view is offered to every user who
may read the entity. A view only stores *how* to look at a list — the rows are always read
through the viewer's own scope and field security when the view is opened, so sharing a
view never widens what anyone sees. Only the owner may change or delete a view.

Rows live in `metacrm_saved_views` (storage/system_tables.py); `definition` is the JSON
`{"columns": [...], "filter": <criteria tree or null>, "sort": [...], "q": <text or null>}`.
Saving under a name the owner already used for the entity replaces that view.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail, Forbidden, NotFound, ValidationFailed
from metacrm.kernel.ids import new_id
from metacrm.services.records.service import RecordsService
from metacrm.storage.system_tables import saved_views

MAX_NAME_LENGTH = 200
MAX_COLUMNS = 50
MAX_SORT_KEYS = 8
MAX_Q_LENGTH = 200
MAX_FILTER_JSON_LENGTH = 20_000
MAX_VIEWS_LISTED = 200


@dataclass(frozen=True)
class ViewDefinition:
    """What a saved view remembers of a list."""

    columns: tuple[str, ...] = ()
    filter: Any = None
    sort: tuple[str, ...] = ()
    q: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "filter": self.filter, "sort": list(self.sort),
                "q": self.q}

    @classmethod
    def from_json(cls, value: Any) -> ViewDefinition:
        """Lenient reading of a stored definition (a malformed part reads as absent)."""
        data = value if isinstance(value, Mapping) else {}
        columns = data.get("columns")
        sort = data.get("sort")
        q = data.get("q")
        return cls(
            columns=tuple(c for c in columns if isinstance(c, str))
            if isinstance(columns, list) else (),
            filter=data.get("filter"),
            sort=tuple(s for s in sort if isinstance(s, str)) if isinstance(sort, list) else (),
            q=q if isinstance(q, str) and q else None,
        )


@dataclass(frozen=True)
class SavedView:
    id: str
    entity: str
    name: str
    owner: str
    shared: bool
    definition: ViewDefinition = field(default_factory=ViewDefinition)
    created_at: datetime | None = None

    def owned_by(self, subject: AccessSubject) -> bool:
        return subject.user_id is not None and self.owner == subject.user_id


class SavedViewsService:
    """Lists, saves and deletes saved views as a subject (who must be able to read the
    entity: the views of an entity one cannot read are nobody's business)."""

    def __init__(self, records: RecordsService) -> None:
        self.records = records

    def _require_read(self, subject: AccessSubject, entity: str) -> None:
        policy = self.records.runtime().policy
        if not policy.scope(subject, entity, "read").allowed:  # NotFound for unknown entity
            raise Forbidden(f"your roles do not allow read on {entity!r} records",
                            [ErrorDetail(f"no role grants read on {entity!r}", "")])

    def visible(self, subject: AccessSubject, entity: str) -> list[SavedView]:
        """The subject's own views of `entity` and the ones others shared, by name."""
        self._require_read(subject, entity)
        table = saved_views
        mine = (table.c.owner == subject.user_id if subject.user_id is not None
                else sa.false())
        query = (sa.select(table).where(table.c.entity == entity)
                 .where(sa.or_(mine, table.c.shared.is_(True)))
                 .order_by(table.c.name, table.c.id).limit(MAX_VIEWS_LISTED))
        with self.records.engine.connect() as conn:
            return [_view(row) for row in conn.execute(query).mappings()]

    def get(self, subject: AccessSubject, entity: str, view_id: str) -> SavedView:
        """One view the subject may use (own or shared); NotFound otherwise."""
        self._require_read(subject, entity)
        with self.records.engine.connect() as conn:
            row = conn.execute(sa.select(saved_views).where(
                saved_views.c.id == str(view_id)[:64],
                saved_views.c.entity == entity)).mappings().first()
        view = _view(row) if row is not None else None
        if view is None or not (view.shared or view.owned_by(subject)):
            raise NotFound(f"saved view {view_id} does not exist",
                           [ErrorDetail("no such view", "/view")])
        return view

    def save(
        self, subject: AccessSubject, entity: str, name: str, definition: ViewDefinition,
        *, shared: bool = False,
    ) -> SavedView:
        """Save (or replace the subject's view of the same name) and return it."""
        self._require_read(subject, entity)
        if subject.user_id is None:
            raise Forbidden("only a signed-in user may save views")
        name = (name or "").strip()
        _check(name, definition)
        now = self.records.now()
        values = {"shared": bool(shared), "definition": definition.to_json()}
        with self.records.engine.begin() as conn:
            existing = conn.execute(sa.select(saved_views.c.id).where(
                saved_views.c.entity == entity, saved_views.c.owner == subject.user_id,
                saved_views.c.name == name)).scalar_one_or_none()
            if existing is not None:
                conn.execute(saved_views.update().where(saved_views.c.id == existing)
                             .values(**values))
                view_id = str(existing)
            else:
                view_id = new_id()
                conn.execute(saved_views.insert().values(
                    id=view_id, entity=entity, name=name, owner=subject.user_id,
                    created_at=now, **values))
        return SavedView(view_id, entity, name, subject.user_id, bool(shared), definition, now)

    def delete(self, subject: AccessSubject, entity: str, view_id: str) -> None:
        """Delete one of the subject's own views (Forbidden for a view shared by another)."""
        view = self.get(subject, entity, view_id)
        if not view.owned_by(subject):
            raise Forbidden("only the owner of a view may delete it",
                            [ErrorDetail("the view belongs to another user", "/view")])
        with self.records.engine.begin() as conn:
            conn.execute(saved_views.delete().where(saved_views.c.id == view.id))


def _view(row: sa.RowMapping) -> SavedView:
    return SavedView(
        id=str(row["id"]), entity=str(row["entity"]), name=str(row["name"]),
        owner=str(row["owner"]), shared=bool(row["shared"]),
        definition=ViewDefinition.from_json(row["definition"]),
        created_at=row["created_at"],
    )


def _check(name: str, definition: ViewDefinition) -> None:
    """The shape of what is saved; whether its fields exist is checked when it is used,
    against what the viewer may see (metadata may change in between anyway)."""
    errors: list[ErrorDetail] = []
    if not name or len(name) > MAX_NAME_LENGTH:
        errors.append(ErrorDetail(f"must be 1 to {MAX_NAME_LENGTH} characters", "/name"))
    if len(definition.columns) > MAX_COLUMNS:
        errors.append(ErrorDetail(f"at most {MAX_COLUMNS} columns", "/columns"))
    if len(definition.sort) > MAX_SORT_KEYS:
        errors.append(ErrorDetail(f"at most {MAX_SORT_KEYS} sort keys", "/sort"))
    if definition.q is not None and len(definition.q) > MAX_Q_LENGTH:
        errors.append(ErrorDetail(f"at most {MAX_Q_LENGTH} characters", "/q"))
    if _too_long(definition.filter):
        errors.append(ErrorDetail(f"is longer than {MAX_FILTER_JSON_LENGTH} characters",
                                  "/filter"))
    if any("\x00" in text for text in _texts(definition)):
        errors.append(ErrorDetail("must not contain NUL characters", ""))
    if errors:
        raise ValidationFailed("invalid saved view", errors)


def _too_long(tree: Any) -> bool:
    try:
        return len(json.dumps(tree)) > MAX_FILTER_JSON_LENGTH
    except (TypeError, ValueError):
        return True


def _texts(definition: ViewDefinition) -> Sequence[str]:
    return [*definition.columns, *definition.sort, definition.q or "",
            json.dumps(definition.filter)]
