"""Campaigns: leads, contacts and deals name the campaign that brought them; its cost per
lead and ROI, in the campaign's results and in the campaign reports."""

from __future__ import annotations

import uuid
from decimal import Decimal

from mkt_harness import Marketing


def _won(mkt: Marketing, deal_id: str) -> None:
    """Move a deal to `won` as the engine (the pipeline's own guards are sales' tests)."""
    with mkt.services.engine.begin() as conn:
        mkt.services.records.runtime().system.update(conn, "deal", deal_id,
                                                     {"stage": "won"}, trusted=True)


def _deal(mkt: Marketing, title: str, campaign: str, amount: str) -> str:
    company = mkt.create("company", name=f"Buyer of {title}")["id"]
    return mkt.create("deal", title=title, company=company, campaign=campaign,
                      amount={"amount": amount, "currency": "USD"})["id"]


def _campaign(mkt: Marketing, cost: str) -> str:
    return mkt.create("campaign", name=f"Spring {uuid.uuid4().hex[:6]}",
                      campaign_type="advertising", status="active",
                      budget={"amount": "1200", "currency": "USD"},
                      actual_cost={"amount": cost, "currency": "USD"},
                      expected_revenue={"amount": "5000", "currency": "USD"})["id"]


def test_cost_per_lead_and_roi_of_a_campaign(mkt: Marketing) -> None:
    campaign = _campaign(mkt, "1000")
    for n in range(3):
        mkt.create("lead", last_name=f"Lead {n}", campaign=campaign)
    mkt.create("lead", last_name="Rep's lead", campaign=campaign, owner="4")
    mkt.create("lead", last_name="Elsewhere")
    mkt.create("person", last_name="Contact", campaign=campaign)
    won = [_deal(mkt, f"Won {n}", campaign, amount)
           for n, amount in enumerate(("1500", "1000"))]
    _deal(mkt, "Open", campaign, "9999")
    for deal in won:
        _won(mkt, deal)

    results = mkt.services.marketing.campaigns.results(campaign, actor=mkt.admin)

    assert (results.leads, results.persons, results.deals, results.won_deals) == (4, 1, 3, 2)
    assert results.won_revenue == Decimal("2500")
    assert results.cost_per_lead == Decimal("250.00")
    assert results.roi == Decimal("1.5000")
    assert results.as_json()["roi"] == "1.5000"
    own = mkt.services.marketing.campaigns.results(campaign, actor=mkt.own_reader)
    assert (own.leads, own.deals, own.cost_per_lead) == (1, None, Decimal("1000.00"))


def test_the_campaign_reports_give_cost_per_lead_and_return_on_cost(mkt: Marketing) -> None:
    campaign = _campaign(mkt, "300")
    for n in range(2):
        mkt.create("lead", last_name=f"Lead {n}", campaign=campaign)
    deal = _deal(mkt, "Won", campaign, "900")
    _won(mkt, deal)
    reports = mkt.services.reports

    per_lead = reports.run(mkt.admin, reports.definition(mkt.admin, "campaign_cost_per_lead"))
    returns = reports.run(mkt.admin, reports.definition(mkt.admin, "campaign_roi"))

    row = next(r for r in per_lead.rows if r["campaign"] == campaign)
    assert row["leads"] == 2
    assert Decimal(str(row["cost_per_lead"])) == Decimal(150)
    row = next(r for r in returns.rows if r["campaign"] == campaign)
    assert Decimal(str(row["return_on_cost"])) == Decimal(3)
