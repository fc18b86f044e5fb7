"""The public knowledge base portal's reads and votes (no login): published articles only.

Every read goes through `for_portal`, which refuses a draft as if it did not exist, so a
draft's id, title or text is never shown; the list and the search keep only published
articles of the asked language. Reads run as the portal subject (an admin subject that is
only ever used for these published-article reads). A vote adds one to `helpful_count` or
`not_helpful_count` in one transaction with the article's row locked, so concurrent votes
are never lost; `VoteLimiter` bounds the votes per client address.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail, NotFound
from metacrm.knowledge.suggestions import ARTICLE, PUBLISHED
from metacrm.services.records.service import RecordsService

ACTOR = "kb:portal"
LANGUAGES = ("en", "ru")
PAGE = 50
FIELDS = ("title", "body", "category", "language", "status", "translation_of",
          "helpful_count", "not_helpful_count")


class KnowledgePortal:
    """Published articles for anyone (see the module docstring)."""

    def __init__(self, records: RecordsService) -> None:
        self.records = records

    def available(self) -> bool:
        return self.records.runtime().model.entity(ARTICLE) is not None

    def _subject(self) -> AccessSubject:
        model = self.records.runtime().model
        roles = tuple(sorted(name for name, role in model.roles.items() if role.admin))
        return AccessSubject(user_id=ACTOR, username=ACTOR, roles=roles, is_admin=True)

    def articles(self, language: str, text: str = "") -> list[dict[str, Any]]:
        """The published articles in `language`: all by title, or those matching `text`
        (full-text, stemmed) best first."""
        if not self.available():
            return []
        subject = self._subject()
        if len(text.strip()) >= 2:
            found = self.records.search(subject, ARTICLE, text.strip()[:200], limit=PAGE,
                                        fields=list(FIELDS)).records
        else:
            found = self.records.list(subject, ARTICLE, sort=["title"], limit=PAGE,
                                      fields=list(FIELDS), criteria={"and": [
                                          {"field": "status", "op": "eq", "value": PUBLISHED},
                                          {"field": "language", "op": "eq",
                                           "value": language}]}).records
        return [article for article in found
                if article.get("status") == PUBLISHED and article.get("language") == language]

    def article(self, article_id: str) -> dict[str, Any]:
        """A published article; NotFound for a draft or an unknown id alike."""
        if not self.available():
            raise _not_found(article_id)
        try:
            record = self.records.get(self._subject(), ARTICLE, article_id)
        except NotFound:
            raise _not_found(article_id) from None
        if record.get("status") != PUBLISHED:
            raise _not_found(article_id)
        return record

    def translation(self, article: dict[str, Any]) -> dict[str, Any] | None:
        """The published version of `article` in the other language, if any."""
        other = article.get("translation_of")
        if other:
            try:
                return self.article(str(other))
            except NotFound:
                return None
        found = self.records.list(self._subject(), ARTICLE, limit=1, fields=list(FIELDS),
                                  criteria={"and": [
                                      {"field": "translation_of", "op": "eq",
                                       "value": str(article["id"])},
                                      {"field": "status", "op": "eq",
                                       "value": PUBLISHED}]}).records
        return found[0] if found else None

    def vote(self, article_id: str, helpful: bool) -> None:
        """One "was this helpful" answer on a published article."""
        self.article(article_id)
        counter = "helpful_count" if helpful else "not_helpful_count"
        system = self.records.runtime().system
        with self.records.engine.begin() as conn:
            row = system.get(conn, ARTICLE, article_id, for_update=True)
            if row is None or row.get("status") != PUBLISHED:
                raise _not_found(article_id)
            system.update(conn, ARTICLE, article_id, {counter: int(row.get(counter) or 0) + 1},
                          actor=ACTOR, trusted=True)


def _not_found(article_id: str) -> NotFound:
    return NotFound(f"there is no published article {article_id!r}",
                    [ErrorDetail("no such article", "/id")])


class VoteLimiter:
    """At most `limit` votes per client address in `window` seconds, in this process (a
    vote is a counter, not a secret: the bound keeps one client from skewing it)."""

    def __init__(self, limit: int = 20, window: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = self.clock()
        with self._lock:
            times = self._seen.setdefault(address, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            if len(self._seen) > 10_000:  # forget idle addresses
                for key in [k for k, v in self._seen.items() if not v]:
                    del self._seen[key]
            return True
