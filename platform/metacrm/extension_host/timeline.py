"""The loaded packs' timeline sources as one core `TimelineSource` (named `packs`).

Each pack provider is called with a `TimelineQuery` (the viewer as a `Caller`); what it
returns is checked — an item of a kind the source did not declare, a naive `at`, an empty
key or title is dropped and logged, as is everything from a provider that raises, so a
broken pack never breaks a record page — then filtered to the position asked for, keyed
`<pack>:<key>` (unique across packs) and sorted. A link keeps its address only when it is
http(s) or site-relative.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from metacrm.extension import Caller, TimelineItem, TimelineQuery
from metacrm.extension_host.contributions import TimelineEntrySource
from metacrm.services.timeline.service import Position, TimelineEntry, TimelineRequest

_log = logging.getLogger(__name__)

Sources = Callable[[], Sequence[tuple[str, TimelineEntrySource]]]


def safe_url(url: Any) -> str:
    text = str(url or "").strip()
    if text.startswith(("https://", "http://")) or (
            text.startswith("/") and not text.startswith("//")):
        return text
    return ""


def _valid(item: Any, source: TimelineEntrySource) -> bool:
    return (isinstance(item, TimelineItem) and item.kind in source.kinds
            and isinstance(item.at, datetime) and item.at.utcoffset() is not None
            and isinstance(item.key, str) and 0 < len(item.key) <= 64
            and isinstance(item.title, str) and bool(item.title))


class PackTimelineSource:
    """Every loaded pack's timeline entries."""

    name = "packs"

    def __init__(self, sources: Sources) -> None:
        self._sources = sources

    def kinds(self, request: TimelineRequest) -> Sequence[str]:
        return tuple(kind for _, source in self._sources() for kind in source.kinds)

    def entries(self, request: TimelineRequest, kinds: frozenset[str],
                before: Position | None, limit: int) -> list[TimelineEntry]:
        subject = request.subject
        viewer = Caller(subject.user_id, subject.username, subject.roles)
        found: list[TimelineEntry] = []
        for pack, source in self._sources():
            asked = kinds & frozenset(source.kinds)
            if not asked:
                continue
            query = TimelineQuery(request.entity, request.record_id, viewer, asked,
                                  (before.at, before.key.partition(":")[2])
                                  if before is not None else None, limit)
            try:
                items = list(source.provider(query))
            except Exception:
                _log.exception("timeline source %r of pack %r failed", source.name, pack)
                continue
            for item in items:
                if not _valid(item, source) or item.kind not in asked:
                    _log.warning("timeline source %r of pack %r gave an invalid item: %r",
                                 source.name, pack, item)
                    continue
                entry = TimelineEntry(
                    kind=item.kind, at=item.at, key=f"{pack}:{item.key}",
                    actor=item.actor if isinstance(item.actor, str) else None,
                    data={"pack": pack, "title": item.title, "url": safe_url(item.url),
                          "details": dict(item.details)})
                if before is None or entry.position < before:
                    found.append(entry)
        found.sort(key=lambda e: e.position, reverse=True)
        return found[:limit]
