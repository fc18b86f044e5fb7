"""The port through which code outside the records service takes part in every save.

`RecordsService.interceptors` answers, per write command and entity, the callback the
scoped repository runs on each record just before writing it (`access.scoped_repository.
BeforeSave`): it sees the stored record (None on create) and the values about to be
written, and returns values to add — written with engine rights — or raises to refuse.
It runs inside the command's transaction, BEFORE the commit. The extension host
(`metacrm.extension_host`) implements it for packs' interceptors; without packs it is
`NO_INTERCEPTORS`, which costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import sqlalchemy as sa

from metacrm.access.scoped_repository import BeforeSave
from metacrm.access.subject import AccessSubject


class SaveInterceptors(Protocol):
    """Hands out the before-save callback of one write command."""

    def hook(self, conn: sa.Connection, subject: AccessSubject, entity: str
             ) -> BeforeSave | None:
        """The callback for saves of `entity` records made by `subject` on `conn`, or None
        when nothing intercepts them."""
        ...


class NoInterceptors:
    """Nothing intercepts any save."""

    def hook(self, conn: sa.Connection, subject: AccessSubject, entity: str
             ) -> BeforeSave | None:
        return None


NO_INTERCEPTORS = NoInterceptors()


def chained(first: BeforeSave | None, second: BeforeSave | None) -> BeforeSave | None:
    """`first`, then `second` on the values with what `first` added; both additions."""
    if first is None or second is None:
        return first or second
    earlier, later = first, second

    def both(current: Any, values: Mapping[str, Any]) -> Mapping[str, Any]:
        added = dict(earlier(current, values))
        more = later(current, {**values, **added} if added else values)
        return {**added, **more} if more else added

    return both
