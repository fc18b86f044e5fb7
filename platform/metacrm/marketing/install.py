"""`install(services)`: marketing in a process — `services.marketing` with the segments
and the consent ledger (`Marketing`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from metacrm.marketing.consent import ConsentLedger
from metacrm.marketing.segments import Segments

if TYPE_CHECKING:
    from metacrm.composition import Services


@dataclass(frozen=True)
class Marketing:
    """What marketing offers the rest of a process (`services.marketing`)."""

    segments: Segments
    consent: ConsentLedger


def install(services: Services) -> None:
    clock = lambda: services.clock()  # noqa: E731 — the clock a test sets later
    services.marketing = Marketing(
        segments=Segments(services.records, clock),
        consent=ConsentLedger(services.records, services.settings.effective_secret_key(),
                              services.settings.public_url, lambda: services.mail, clock))
