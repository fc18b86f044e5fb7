"""`install(services)`: marketing in a process — `services.marketing` with the segments,
the consent ledger, campaign results and web-to-lead forms (`Marketing`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from metacrm.marketing.campaigns import Campaigns
from metacrm.marketing.consent import ConsentLedger
from metacrm.marketing.segments import Segments
from metacrm.marketing.web_forms import WebForms

if TYPE_CHECKING:
    from metacrm.composition import Services


@dataclass(frozen=True)
class Marketing:
    """What marketing offers the rest of a process (`services.marketing`)."""

    segments: Segments
    consent: ConsentLedger
    campaigns: Campaigns
    web_forms: WebForms


def install(services: Services) -> None:
    clock = lambda: services.clock()  # noqa: E731 — the clock a test sets later
    consent = ConsentLedger(services.records, services.settings.effective_secret_key(),
                            services.settings.public_url, lambda: services.mail, clock)
    services.marketing = Marketing(
        segments=Segments(services.records, clock), consent=consent,
        campaigns=Campaigns(services.records),
        web_forms=WebForms(services.records, consent, services.settings.public_url))
