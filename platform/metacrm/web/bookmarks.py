"""Recent records and favourites in the navigation, and the star toggle of a record page
(`POST /app/r/<entity>/<id>/star`). What is remembered and which records are still
readable is `services.users.bookmarks`; this module only titles and links them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask import redirect, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.subject import AccessSubject
from metacrm.services.users.bookmarks import Bookmark, RecordBookmarks
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_actor, web_subject
from metacrm.web.i18n import label
from metacrm.web.values import ValueDisplay, record_reader

web_bookmarks = screen_blueprint("web_bookmarks", __name__, url_prefix="/app/r")


def bookmarks() -> RecordBookmarks:
    return RecordBookmarks(services().records)


@dataclass(frozen=True)
class NavLink:
    href: str
    title: str
    entity_label: str


@dataclass(frozen=True)
class NavBookmarks:
    recent: tuple[NavLink, ...]
    favourites: tuple[NavLink, ...]


def nav_bookmarks() -> NavBookmarks:
    """The signed-in user's favourites and recent records, by title (nothing signed out)."""
    if web_actor() is None:
        return NavBookmarks((), ())
    subject = web_subject()
    store = bookmarks()
    return NavBookmarks(_links(subject, store.recent(subject)),
                        _links(subject, store.favourites(subject)))


def _links(subject: AccessSubject, found: Sequence[Bookmark]) -> tuple[NavLink, ...]:
    records = services().records
    display = ValueDisplay(records.runtime().model, fetch=record_reader(subject))
    visible = {entity: records.visible_entity(subject, entity)
               for entity in dict.fromkeys(b.entity for b in found)}
    for entity, definition in visible.items():
        display.prefetch(definition, [b.record for b in found if b.entity == entity])
    return tuple(NavLink(f"/app/r/{b.entity}/{b.record_id}",
                         display.title(visible[b.entity], b.record),
                         label(visible[b.entity].label, b.entity)) for b in found)


@web_bookmarks.post("/<entity>/<record_id>/star")
@login_required
def star(entity: str, record_id: str) -> BaseResponse:
    """Star (`starred=1`) or unstar the record; back to its page."""
    bookmarks().star(web_subject(), entity, record_id,
                     starred=request.form.get("starred") == "1")
    return redirect(f"/app/r/{entity}/{record_id}")
