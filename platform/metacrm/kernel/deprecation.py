"""A deprecated contract (an API operation, a response shape, a webhook payload version).

The same three HTTP headers announce it wherever it is served, so a client or receiver can
notice it mechanically: `Deprecation` (RFC 9745, a structured-field date `@<unix seconds>`:
since when), `Sunset` (RFC 8594, an HTTP-date: after when it may stop being served) and
`Link: <docs>; rel="deprecation"` (where the migration is described). Framework free: the
API sets the headers on responses (`metacrm.api.deprecation`), webhook deliveries on their
POSTs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Deprecation:
    """Deprecated since `since`, served until `sunset`; `link` documents what replaces it."""

    since: datetime
    sunset: datetime
    link: str

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.sunset.tzinfo is None:
            raise ValueError("deprecation dates must be timezone-aware")
        if self.sunset < self.since:
            raise ValueError("a sunset cannot come before the deprecation")

    def headers(self) -> dict[str, str]:
        """The `Deprecation`, `Sunset` and `Link` headers announcing it."""
        return {
            "Deprecation": f"@{int(self.since.timestamp())}",
            "Sunset": format_datetime(self.sunset.astimezone(UTC), usegmt=True),
            "Link": f'<{self.link}>; rel="deprecation"; type="text/html"',
        }

    def is_past_sunset(self, now: datetime) -> bool:
        return now >= self.sunset

    def to_json(self) -> dict[str, Any]:
        """The deprecation as a JSON member of a representation (RFC 3339 UTC times)."""
        return {"deprecated_since": _rfc3339(self.since), "sunset": _rfc3339(self.sunset),
                "link": self.link}


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
