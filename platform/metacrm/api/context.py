"""What a records or metadata handler needs of the app: its services, the caller, the entity."""

from __future__ import annotations

from metacrm.access.subject import AccessSubject
from metacrm.api import WebRuntime, web_runtime
from metacrm.identity.actor import Actor
from metacrm.identity.current import require_actor
from metacrm.kernel.errors import NotFound
from metacrm.metadata.model import EntityDef


def api_services() -> WebRuntime:
    """The services the app factory built (engine, registry, metadata, records, teams)."""
    return web_runtime()


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
    return api_services().records.visible_entity(subject, name)


def subject_of(actor: Actor) -> AccessSubject:
    """The access subject of an actor: their roles, teams and team members (the teams part
    reused for a few seconds per process: `TeamDirectory.subject`)."""
    return api_services().teams.subject(actor)


def request_subject() -> tuple[Actor, AccessSubject]:
    """The authenticated caller (401 otherwise) and their access subject."""
    actor = require_actor()
    return actor, subject_of(actor)
