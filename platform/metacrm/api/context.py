"""What a records or metadata handler needs of the app: its services, the caller, the entity.

The app factory keeps its services container in `app.extensions["metacrm"]`; the handlers
here see it through `ApiServices`, a protocol of just the members they use, so the API
depends on the agreed service interfaces rather than on how the factory assembles them.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, Protocol, cast

import sqlalchemy as sa
from flask import current_app

from metacrm.access.subject import AccessSubject
from metacrm.api import RUNTIME_KEY
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.identity.actor import Actor
from metacrm.identity.current import require_actor
from metacrm.kernel.errors import NotFound
from metacrm.metadata.model import EntityDef
from metacrm.services.metadata_service import MetadataService


class RecordPageLike(Protocol):
    @property
    def records(self) -> list[dict[str, Any]]: ...
    @property
    def next_cursor(self) -> str | None: ...
    @property
    def count(self) -> int: ...
    @property
    def count_is_estimate(self) -> bool: ...
    @property
    def included(self) -> dict[str, dict[str, dict[str, Any]]]: ...


class PolicyLike(Protocol):
    def visible_entity(self, subject: AccessSubject, entity: str) -> EntityDef: ...


class RuntimeLike(Protocol):
    @property
    def policy(self) -> PolicyLike: ...


class RecordsPort(Protocol):
    """The RecordsService methods the records API calls (services/records.py)."""

    def runtime(self) -> RuntimeLike: ...

    def list(
        self, subject: AccessSubject, entity: str, *, criteria: Any = None,
        sort: Sequence[str] = (), limit: int = 50, cursor: str | None = None,
        fields: Sequence[str] | None = None, q: str | None = None,
        include: Sequence[str] = (),
    ) -> RecordPageLike: ...

    def get(self, subject: AccessSubject, entity: str, record_id: str, *,
            include: Sequence[str] = ()) -> dict[str, Any]: ...

    def create(self, subject: AccessSubject, entity: str, payload: Any) -> dict[str, Any]: ...

    def update(self, subject: AccessSubject, entity: str, record_id: str, changes: Any, *,
               expected_version: int | None) -> dict[str, Any]: ...

    def delete(self, subject: AccessSubject, entity: str, record_id: str, *,
               expected_version: int | None = None) -> None: ...

    def bulk_create(self, subject: AccessSubject, entity: str,
                    payloads: builtins.list[Any]) -> builtins.list[dict[str, Any]]: ...

    def bulk_update(self, subject: AccessSubject, entity: str,
                    items: builtins.list[Any]) -> builtins.list[dict[str, Any]]: ...

    def history(self, subject: AccessSubject, entity: str,
                record_id: str) -> builtins.list[dict[str, Any]]: ...

    def explain(self, subject: AccessSubject, entity: str, record_id: str | None = None, *,
                caller: AccessSubject | None = None) -> dict[str, Any]: ...


class TeamsPort(Protocol):
    def subject_for(self, conn: sa.Connection, actor: Any) -> AccessSubject: ...


class ApiServices(Protocol):
    """The members of the app's services container the API uses."""

    @property
    def engine(self) -> sa.Engine: ...
    @property
    def registry(self) -> FieldTypeRegistry: ...
    @property
    def metadata(self) -> MetadataService: ...
    @property
    def records(self) -> RecordsPort: ...
    @property
    def teams(self) -> TeamsPort: ...


def api_services() -> ApiServices:
    return cast(ApiServices, current_app.extensions[RUNTIME_KEY])


def live_entity(name: str) -> EntityDef:
    """The entity of the live metadata (404 when there is none of that name)."""
    entity = api_services().metadata.live().model.entity(name)
    if entity is None:
        raise NotFound(f"there is no entity {name!r}")
    return entity


def visible_entity(subject: AccessSubject, name: str) -> EntityDef:
    """The entity as `subject` may know it (fields hidden from them left out, by the access
    policy), so that a request naming a hidden field is answered exactly as one naming an
    unknown field; 404 when there is no such entity."""
    live_entity(name)
    return api_services().records.runtime().policy.visible_entity(subject, name)


def subject_of(actor: Actor) -> AccessSubject:
    """The access subject of an actor: their roles, teams and team members."""
    services = api_services()
    with services.engine.connect() as connection:
        return services.teams.subject_for(connection, actor)


def request_subject() -> tuple[Actor, AccessSubject]:
    """The authenticated caller (401 otherwise) and their access subject."""
    actor = require_actor()
    return actor, subject_of(actor)
