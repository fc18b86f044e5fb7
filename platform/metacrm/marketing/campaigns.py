"""Campaigns' results: what a campaign brought (leads, contacts, deals, won revenue) against
what it cost — cost per lead and return on investment — as one user may know them.

Leads, persons and deals name their campaign in a `campaign` reference (the pack's entity
extensions `*_campaign_links`). Every figure is counted under the caller's read scope and
field security (`ScopedRepository.exact_count`, `grouped_sums`): a rep who sees only their
own leads gets their own leads' cost share, not the company's totals. The same figures per
campaign are in the reports `campaign_cost_per_lead` and `campaign_roi` (the report kind),
whose `ratio` metric divides but cannot subtract: they give revenue ÷ cost, and ROI is that
minus one — computed here exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import Forbidden, ValidationFailed
from metacrm.services.records.service import RecordsService

CAMPAIGN = "campaign"
LINKED = ("lead", "person", "deal")
WON = "won"
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class CampaignResults:
    """One campaign's results as the caller may see them (amounts in the campaign's cost
    currency; None where a figure cannot be known: no cost, no leads, another currency)."""

    campaign_id: str
    leads: int | None
    persons: int | None
    deals: int | None
    won_deals: int | None
    currency: str | None
    actual_cost: Decimal | None
    won_revenue: Decimal | None
    cost_per_lead: Decimal | None
    roi: Decimal | None
    """(won revenue − actual cost) ÷ actual cost, e.g. 1.5 for +150 %."""

    def as_json(self) -> dict[str, Any]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "campaign": self.campaign_id, "leads": self.leads, "persons": self.persons,
            "deals": self.deals, "won_deals": self.won_deals, "currency": self.currency,
            "actual_cost": text(self.actual_cost), "won_revenue": text(self.won_revenue),
            "cost_per_lead": text(self.cost_per_lead), "roi": text(self.roi),
        }


def _amount(value: Any) -> tuple[Decimal, str] | None:
    if isinstance(value, dict) and value.get("amount") is not None:
        return Decimal(str(value["amount"])), str(value.get("currency") or "")
    return None


class Campaigns:
    """Campaign results (`services.marketing.campaigns`)."""

    def __init__(self, records: RecordsService) -> None:
        self._records = records

    def results(self, campaign_id: str, *, actor: AccessSubject) -> CampaignResults:
        """The campaign's results as `actor` may see them (404 when they may not read the
        campaign; a linked entity they may not read counts as unknown, None)."""
        campaign = self._records.get(actor, CAMPAIGN, campaign_id)
        runtime = self._records.runtime()
        scoped = runtime.scoped(actor)
        linked = {"field": CAMPAIGN, "op": "eq", "value": str(campaign["id"])}
        counts: dict[str, int | None] = {}
        with self._records.engine.connect() as conn:
            for entity in LINKED:
                try:
                    counts[entity] = scoped.exact_count(conn, entity, criteria=linked)
                except Forbidden:
                    counts[entity] = None
            won = {"and": [linked, {"field": "stage", "op": "eq", "value": WON}]}
            try:
                counts["won"] = scoped.exact_count(conn, "deal", criteria=won)
                sums = scoped.grouped_sums(conn, "deal", group_by=CAMPAIGN,
                                           money_field="amount", criteria=won)
            except (Forbidden, ValidationFailed):  # no deals, or their amount hidden
                counts["won"], sums = None, []
        cost = _amount(campaign.get("actual_cost"))
        currency = cost[1] if cost else None
        revenue: Decimal | None = None
        if counts["won"] is not None and currency is not None:
            revenue = sum((s.total for s in sums if s.currency == currency), Decimal(0))
            if any(s.currency != currency for s in sums):
                revenue = None  # won in another currency: no sum would be honest
        per_lead = roi = None
        if cost is not None and counts["lead"]:
            per_lead = (cost[0] / counts["lead"]).quantize(CENTS, ROUND_HALF_UP)
        if cost is not None and cost[0] > 0 and revenue is not None:
            roi = ((revenue - cost[0]) / cost[0]).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        return CampaignResults(
            campaign_id=str(campaign["id"]), leads=counts["lead"], persons=counts["person"],
            deals=counts["deal"], won_deals=counts["won"], currency=currency,
            actual_cost=cost[0] if cost else None, won_revenue=revenue,
            cost_per_lead=per_lead, roi=roi)
