"""Errors that are answers.

Every error a user can cause carries a list of `ErrorDetail`s, each pointing (JSON Pointer) at
what is wrong, so that the CLI prints `file pointer: reason` lines and the API turns the same
object into an RFC 9457 problem document without translating it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One thing that is wrong: where (`source` file or object, JSON `pointer`) and why."""

    message: str
    pointer: str = ""
    source: str = ""

    def __str__(self) -> str:
        where = " ".join(part for part in (self.source, self.pointer or "") if part)
        return f"{where}: {self.message}" if where else self.message


class MetacrmError(Exception):
    """Base of every error metacrm raises on purpose; `status` is its HTTP meaning."""

    status: int = 400
    title: str = "Bad request"

    def __init__(self, message: str, errors: Iterable[ErrorDetail] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.errors: tuple[ErrorDetail, ...] = tuple(errors)

    def __str__(self) -> str:
        if not self.errors:
            return self.message
        lines = "\n".join(f"  {detail}" for detail in self.errors)
        return f"{self.message}\n{lines}"

    def to_problem(self) -> dict[str, object]:
        """Render as an RFC 9457 problem details document."""
        return {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.message,
            "errors": [_problem_entry(e) for e in self.errors],
        }


def _problem_entry(detail: ErrorDetail) -> dict[str, str]:
    entry = {"pointer": detail.pointer, "message": detail.message}
    if detail.source:
        entry["source"] = detail.source
    return entry


class MetadataInvalid(MetacrmError):
    """Metadata documents that do not validate or do not fit together."""

    status = 422
    title = "Invalid metadata"


class ValidationFailed(MetacrmError):
    """A record payload or a criteria tree that breaks the compiled model's rules."""

    status = 422
    title = "Validation failed"


class Unauthenticated(MetacrmError):
    """No valid credentials came with a request that needs them."""

    status = 401
    title = "Unauthorized"


class Forbidden(MetacrmError):
    """The caller is known but their roles do not allow this operation or field."""

    status = 403
    title = "Forbidden"


class NotFound(MetacrmError):
    status = 404
    title = "Not found"


class Conflict(MetacrmError):
    """The change collides with existing data (a unique value, a restricting reference)."""

    status = 409
    title = "Conflict"


class DuplicateFound(Conflict):
    """A duplicate rule blocks the save: `duplicates` are the matching records the caller
    may read (`{"rule", "id", "title"}` each); `hidden` counts the matches they may not —
    reported without ids or titles, so nothing outside their scope leaks."""

    title = "Duplicate record"

    def __init__(self, message: str, errors: Iterable[ErrorDetail] = (), *,
                 duplicates: Iterable[dict[str, str]] = (), hidden: int = 0) -> None:
        super().__init__(message, errors)
        self.duplicates = tuple(duplicates)
        self.hidden = hidden

    def to_problem(self) -> dict[str, object]:
        problem = super().to_problem()
        problem["duplicates"] = [dict(match) for match in self.duplicates]
        problem["hidden_duplicates"] = self.hidden
        return problem


class StaleRecord(MetacrmError):
    """Optimistic locking: the record changed since the caller read it."""

    status = 412
    title = "Precondition failed"


class DestructiveChangeRefused(MetacrmError):
    """A migration plan holds destructive operations and was not confirmed."""

    status = 409
    title = "Destructive change needs confirmation"


class MigrationFailed(MetacrmError):
    """Applying a migration plan failed; nothing of it was applied."""

    status = 409
    title = "Migration failed"


class MetadataConflict(MetacrmError):
    """An admin and a pack changed the same metadata differently; someone must choose."""

    status = 409
    title = "Metadata conflict"
