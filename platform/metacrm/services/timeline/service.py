"""The timeline of a record: its activity feed, newest first, from several sources.

Each `TimelineSource` gives the entries it knows about one record — the audit trail's
changes and transitions, the calls, meetings, notes and tasks regarding it; later email
messages, attachments, documents — and the service merges them into pages. Sources are
registered in `TimelineSources` (core ones by `install`, packs' through their context), so
a new kind of item plugs in without touching this module or the screens.

Order and paging: every entry has a position `(at, key)` — when, and a key unique within
the record's timeline (an event or record id) breaking ties — and the timeline is ordered
by position, descending. A page asks every source for `limit + 1` entries strictly before
the cursor's position, merges them and keeps `limit`; the cursor is the last entry's
position. Entries inserted meanwhile neither shift nor repeat the pages.

Access: the subject must be able to read the record (else NotFound, as for the record
itself); each source reads through the subject's scoped repository, so an activity the
subject may not read is simply not on their timeline, and hidden fields stay hidden.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from metacrm.access.scoped_repository import ScopedRepository
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.services.records.runtime import RecordsRuntime
from metacrm.services.records.service import RecordsService

if TYPE_CHECKING:
    import sqlalchemy as sa

    from metacrm.composition import Services

FEATURE = "timeline"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_KINDS = 20
MAX_CURSOR_LENGTH = 512


@dataclass(frozen=True, order=True, slots=True)
class Position:
    """Where an entry sits on the timeline: `at`, then `key` to break ties."""

    at: datetime
    key: str


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One item of a timeline. `kind` is what the filter selects (`change`, `transition`,
    `call`, `meeting`...); `data` its JSON details (the audit changes, the record)."""

    kind: str
    at: datetime
    key: str
    actor: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def position(self) -> Position:
        return Position(self.at, self.key)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": datetime_to_json(self.at), "id": self.key,
                "actor": self.actor, **self.data}


@dataclass(frozen=True)
class TimelineRequest:
    """What a source needs to answer: the record, the subject's scoped reads, a connection."""

    subject: AccessSubject
    entity: str
    record_id: str
    conn: sa.Connection
    scoped: ScopedRepository
    runtime: RecordsRuntime


@runtime_checkable
class TimelineSource(Protocol):
    """Gives the timeline entries of one kind of thing (audit changes, activities...)."""

    name: str

    def kinds(self, request: TimelineRequest) -> Sequence[str]:
        """The kinds of entries this source may give for the record (for the filter)."""
        ...

    def entries(self, request: TimelineRequest, kinds: frozenset[str],
                before: Position | None, limit: int) -> list[TimelineEntry]:
        """Up to `limit` entries of `kinds` strictly before `before` (None: the newest),
        newest first, each one the subject may see."""
        ...


class TimelineSources:
    """The registry of timeline sources, by name."""

    def __init__(self) -> None:
        self._sources: dict[str, TimelineSource] = {}

    def register(self, source: TimelineSource) -> None:
        if not isinstance(source, TimelineSource):
            raise TypeError("a timeline source needs a name, kinds() and entries()")
        if source.name in self._sources:
            raise ValueError(f"a timeline source {source.name!r} is already registered")
        self._sources[source.name] = source

    def unregister(self, name: str) -> None:
        self._sources.pop(name, None)

    def __iter__(self) -> Iterator[TimelineSource]:
        return iter(list(self._sources.values()))

    def names(self) -> list[str]:
        return sorted(self._sources)


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: str | None
    kinds: tuple[str, ...]
    """Every kind the record's timeline may show (what a filter may ask for)."""


def encode_position(position: Position) -> str:
    raw = json.dumps({"at": position.at.isoformat(), "k": position.key},
                     separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_position(cursor: Any) -> Position:
    """The position a timeline cursor names; ValidationFailed (`/cursor`) otherwise."""
    problem = ValidationFailed("invalid cursor", [ErrorDetail(
        "is not a cursor of this timeline (pass next_cursor as given)", "/cursor")])
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise problem
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at = datetime.fromisoformat(payload["at"])
        key = payload["k"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise problem from exc
    if at.tzinfo is None or not isinstance(key, str) or not key or len(key) > 64:
        raise problem
    return Position(at, key)


def _limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed("invalid limit", [ErrorDetail(
            f"must be a whole number from 1 to {MAX_LIMIT}", "/limit")])
    return limit


class TimelineService:
    """Pages of a record's timeline, as a subject sees it."""

    def __init__(self, records: RecordsService, sources: TimelineSources | None = None) -> None:
        self.records = records
        self.sources = sources or TimelineSources()

    def page(self, subject: AccessSubject, entity: str, record_id: str, *,
             kinds: Sequence[str] | None = None, cursor: str | None = None,
             limit: int = DEFAULT_LIMIT) -> TimelinePage:
        """One page, newest first; `kinds` filters (None or empty: every kind)."""
        limit = _limit(limit)
        before = decode_position(cursor) if cursor is not None else None
        runtime = self.records.runtime()
        scoped = runtime.scoped(subject)
        with self.records.engine.connect() as conn:
            scoped.require_trail(conn, entity, record_id)
            request = TimelineRequest(subject, entity, record_id, conn, scoped, runtime)
            offered = {source.name: tuple(source.kinds(request)) for source in self.sources}
            known = tuple(dict.fromkeys(k for found in offered.values() for k in found))
            wanted = self._wanted(kinds, known)
            found: list[list[TimelineEntry]] = []
            for source in self.sources:
                asked = wanted & frozenset(offered[source.name])
                if asked:
                    found.append(source.entries(request, asked, before, limit + 1))
        merged = list(heapq.merge(*found, key=lambda e: e.position, reverse=True))
        page = merged[:limit]
        next_cursor = encode_position(page[-1].position) if len(merged) > limit else None
        return TimelinePage(page, next_cursor, known)

    @staticmethod
    def _wanted(kinds: Sequence[str] | None, known: tuple[str, ...]) -> frozenset[str]:
        if not kinds:
            return frozenset(known)
        if isinstance(kinds, str) or len(kinds) > MAX_KINDS:
            raise ValidationFailed("invalid kind", [ErrorDetail(
                f"must be a list of at most {MAX_KINDS} kinds", "/kind")])
        # A kind this record's timeline does not have selects nothing, like a filter value
        # no record has: which kinds exist depends on the installed packs and on what may
        # regard the entity, so the OpenAPI document cannot promise a fixed list; the
        # answer's `kinds` says what there is.
        return frozenset(kinds) & frozenset(known)


def install(services: Services) -> None:
    """The timeline as `services.timeline.service`, with the core sources: the audit trail and the
    records regarding the record (activities, tasks)."""
    from metacrm.services.timeline.sources import AuditSource, RegardingSource

    sources = TimelineSources()
    sources.register(AuditSource())
    sources.register(RegardingSource())
    services.timeline = TimelineService(services.records, sources)
