"""The errors a pack meets or raises through the extension API.

`NotFound`, `Forbidden`, `ValidationFailed` and `Conflict` are the core's own errors
(`metacrm.kernel.errors`), re-exported so a pack can catch what `ctx.records` raises and
raise them from a route handler (each becomes its RFC 9457 problem document).
"""

from __future__ import annotations

from metacrm.kernel.errors import Conflict, ErrorDetail, Forbidden, NotFound, ValidationFailed


class ExtensionError(Exception):
    """A pack used the extension API wrongly (the message says how); install fails."""


class SettingNotDeclared(ExtensionError, KeyError):
    """The pack asked for a setting its `pack.json` does not declare."""

    def __init__(self, pack: str, key: str) -> None:
        super().__init__(f"pack {pack!r} does not declare a setting {key!r} in its pack.json")
        self.pack = pack
        self.key = key

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class RegistrationClosed(ExtensionError):
    """Registration is only open while the pack's `install(ctx)` runs."""


class Refused(ValidationFailed):
    """An interceptor refuses a save: answered 422 with `pointer` at the offending field
    (e.g. `/quantity`), so the screen shows `message` beside that field."""

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(message, [ErrorDetail(message, pointer)])


class HttpError(Exception):
    """Raised by a route handler to answer with a problem document of `status`."""

    def __init__(self, status: int, detail: str, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.pointer = pointer


__all__ = [
    "Conflict",
    "ExtensionError",
    "Forbidden",
    "HttpError",
    "NotFound",
    "Refused",
    "RegistrationClosed",
    "SettingNotDeclared",
    "ValidationFailed",
]
