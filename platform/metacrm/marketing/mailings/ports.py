"""What mailings need from the rest of marketing (`metacrm.marketing.segments` and
`metacrm.marketing.consent`, docs/marketing.md): the audience of a segment and the
consent ledger, as small Protocols so the sender depends on the contract, not on how the
segments and the ledger are built."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol


class Member(Protocol):
    """One member of a segment's audience (`segments.AudienceMember`)."""

    @property
    def entity(self) -> str: ...
    @property
    def record_id(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def language(self) -> str | None: ...
    @property
    def values(self) -> Mapping[str, Any]: ...


class Audience(Protocol):
    def resolve(self, segment_id: str, *, actor: Any) -> Iterator[Member]:
        """The segment's members now, as `actor` may read them."""
        ...


class Consent(Protocol):
    def may_email(self, email: str, *, list_id: str | None,
                  purpose: str = "marketing") -> bool:
        """False when suppressed, globally unsubscribed, unsubscribed from `list_id`, or
        without opt-in for `purpose`."""
        ...

    def refusal(self, email: str, *, list_id: str | None, purpose: str = "marketing"
                ) -> str | None:
        """Why `may_email` says no (a `mailing_recipient.skip_reason` value), or None."""
        ...

    def unsubscribe(self, email: str, *, list_id: str | None, source: str) -> None:
        """Unsubscribe from `list_id` (None: every marketing mail)."""
        ...

    def suppress(self, email: str, *, reason: str) -> None:
        """Never mail this address again (`bounce`, `complaint`)."""
        ...
