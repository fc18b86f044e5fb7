"""The timeline of a record page: its activity feed told as sentences, newest first.

`TimelineService` gives the page's entries (the same service as the API's timeline): audit
changes — one per change, its fields' old and new values, hidden fields already left out —
and the records about this one (calls, meetings, notes, tasks). A change becomes an item
saying who did what (created, updated, transitioned, deleted) with the fields' values as
the record page shows them; a transition reads "moved from <state> to <state>" with the
pipeline's state labels; a record about this one reads "<Call>: <its title>", linked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from metacrm.metadata.model import EntityDef
from metacrm.web.i18n import format_datetime, label, t
from metacrm.web.values import USER_FIELDS, ValueDisplay

OWNER = "owner"
TITLE_LENGTH = 80


@dataclass(frozen=True)
class Change:
    """One field of a timeline item."""

    field: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class TimelineItem:
    kind: str
    """created, updated, transitioned or deleted (the audit action)."""
    at: str
    """When, as the user's language writes it (UTC)."""
    at_iso: str
    actor: str
    """Who, by name ("" when the system did it)."""
    summary: str
    changes: tuple[Change, ...]
    url: str = ""
    """For a record about this one: its page."""
    title: str = ""
    """For a record about this one: its title."""


def audit_rows(entries: Iterable[Any]) -> list[dict[str, Any]]:
    """The audit rows of the timeline's change and transition entries (`TimelineEntry`),
    in the form `build_timeline` and the reference prefetch read."""
    rows: list[dict[str, Any]] = []
    for entry in entries:
        if "changes" not in entry.data:
            continue
        at = entry.to_json()["at"]
        changes = entry.data["changes"] or [{"field": None, "old": None, "new": None}]
        rows.extend({"at": at, "actor": entry.actor, "action": entry.data["action"],
                     "event_id": entry.key, **change} for change in changes)
    return rows


def build_feed(entries: Iterable[Any], entity: EntityDef, model: Any,
               display: ValueDisplay) -> list[TimelineItem]:
    """The items of a page of timeline entries, in their order."""
    items = []
    for entry in entries:
        if "changes" in entry.data:
            items.extend(build_timeline(audit_rows([entry]), entity, display))
            continue
        if "pack" in entry.data:  # a pack's entry: its title and link, as given (escaped)
            actor = str(entry.actor or "")
            items.append(TimelineItem(
                kind=entry.kind, at=format_datetime(entry.at), at_iso=entry.to_json()["at"],
                actor=display.users.get(actor, actor), summary=entry.kind, changes=(),
                url=str(entry.data.get("url") or ""), title=str(entry.data["title"])))
            continue
        other = model.entity(entry.data.get("entity", ""))
        record = entry.data.get("record") or {}
        actor = str(entry.actor or "")
        title = display.title(other, record) if other is not None else entry.key
        if title == entry.key and other is not None:  # no title: the first text it has
            title = next((str(record[f.name])[:TITLE_LENGTH] for f in other.fields
                          if f.type in ("text", "textarea") and record.get(f.name)), title)
        items.append(TimelineItem(
            kind=entry.kind, at=format_datetime(entry.at),
            at_iso=entry.to_json()["at"], actor=display.users.get(actor, actor),
            summary=(label(other.label, entry.kind) if other is not None else entry.kind),
            changes=(), url=f"/app/r/{entry.kind}/{entry.key}", title=title))
    return items


FILE_KINDS = ("attached", "detached")
"""Audit actions of files: the summary names the file; there are no field changes."""


def group_entries(entries: Iterable[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Audit rows of one change together, in the order given (newest first)."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for entry in entries:
        key = (entry.get("event_id") or entry.get("id"), entry.get("action"))
        groups.setdefault(key, []).append(entry)
    return list(groups.values())


def actor_ids(entries: Iterable[Mapping[str, Any]], entity: EntityDef) -> set[str]:
    """Users the timeline names: actors and values of user fields and the owner."""
    user_fields = {*USER_FIELDS, *(f.name for f in entity.fields if f.type == "user")}
    ids = set()
    for entry in entries:
        if entry.get("actor"):
            ids.add(str(entry["actor"]))
        if entry.get("field") in user_fields:
            ids.update(str(v) for v in (entry.get("old"), entry.get("new")) if v is not None)
    return ids


def build_timeline(entries: Iterable[Mapping[str, Any]], entity: EntityDef,
                   display: ValueDisplay) -> list[TimelineItem]:
    """The timeline items of a record's history (`entity` as the subject sees it)."""
    items = []
    for group in group_entries(entries):
        first = group[0]
        kind = str(first.get("action"))
        changes = () if kind in FILE_KINDS else tuple(
            change for change in (_change(entry, entity, display) for entry in group)
            if change is not None)
        actor = str(first.get("actor") or "")
        items.append(TimelineItem(
            kind=kind,
            at=format_datetime(_when(first.get("at"))),
            at_iso=str(first.get("at") or ""),
            actor=display.users.get(actor, actor),
            summary=_summary(kind, group, entity, display),
            changes=tuple(c for c in changes
                          if not (kind == "transitioned" and _is_state(entity, c.field))),
        ))
    return items


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _is_state(entity: EntityDef, name: str) -> bool:
    fdef = entity.field(name)
    return fdef is not None and fdef.type == "state"


def _change(entry: Mapping[str, Any], entity: EntityDef, display: ValueDisplay
            ) -> Change | None:
    name = entry.get("field")
    if not name:
        return None
    name = str(name)
    if name == OWNER:
        return Change(name, t("Owner"), _user(display, entry.get("old")),
                      _user(display, entry.get("new")))
    fdef = entity.field(name)
    if fdef is None:  # no longer in the metadata (or not visible): nothing to show
        return None
    return Change(name, label(fdef.label, name), _text(display, fdef, entry.get("old")),
                  _text(display, fdef, entry.get("new")))


def _text(display: ValueDisplay, fdef: Any, value: Any) -> str:
    return "" if value is None else display.field_text(fdef, value)


def _user(display: ValueDisplay, value: Any) -> str:
    return "" if value is None else display.users.get(str(value), str(value))


def _summary(kind: str, group: list[Mapping[str, Any]], entity: EntityDef,
             display: ValueDisplay) -> str:
    if kind == "created":
        return t("created the record")
    if kind == "deleted":
        return t("deleted the record")
    if kind == "transitioned":
        for entry in group:
            fdef = entity.field(str(entry.get("field") or ""))
            if fdef is not None and fdef.type == "state":
                return t("moved from %(old)s to %(new)s",
                         old=_text(display, fdef, entry.get("old")) or t("no state"),
                         new=_text(display, fdef, entry.get("new")))
        return t("moved the record on")
    if kind in FILE_KINDS:
        summary = group[0].get("new" if kind == "attached" else "old")
        name = str(summary.get("name", "")) if isinstance(summary, Mapping) else ""
        return (t("attached %(name)s", name=name) if kind == "attached"
                else t("removed the attachment %(name)s", name=name))
    return t("changed the record")
