"""Permission matrix of marketing's read paths through the API: a segment's count, the
preview of unsaved criteria, freezing and a campaign's results — one row per path and
user. Each count is exactly the records the user may read; a user without the entity gets
403, a stranger 401, and a hidden field is refused in criteria like an unknown one."""

from __future__ import annotations

import re
from typing import Any

import pytest
from web_world import MarketingWeb

from metacrm.access.subject import AccessSubject
from web_harness import PASSWORD

TAG = "matrix-tag"


@pytest.fixture(scope="module")
def world(mweb: MarketingWeb) -> dict[str, str]:
    rep = mweb.ids["rep"]
    for n in range(3):
        mweb.create("person", last_name=f"Boss {n}", job_title=TAG,
                    email=f"boss{n}@matrix.example")
    for n in range(2):
        mweb.create("person", last_name=f"Rep {n}", job_title=TAG, owner=rep,
                    email=f"rep{n}@matrix.example")
    campaign = mweb.create("campaign", name="Matrix campaign",
                           actual_cost={"amount": "600", "currency": "USD"})
    for n in range(2):
        mweb.create("lead", last_name=f"Boss lead {n}", campaign=campaign)
    mweb.create("lead", last_name="Rep lead", campaign=campaign, owner=rep)
    segment = mweb.create("segment", name="Matrix", entity="person",
                          criteria={"field": "job_title", "op": "eq", "value": TAG})
    return {"segment": segment, "campaign": campaign}


@pytest.mark.parametrize(("user", "expected"), [
    ("boss", 5), ("mm", 5), ("marketer", 5), ("rep", 2), ("outsider", 403),
    ("anonymous", 401),
])
def test_segment_count(mweb: MarketingWeb, world: dict[str, str], user: str,
                       expected: int) -> None:
    response = mweb.web.client.get(f"/api/v1/records/segment/{world['segment']}/count",
                                   headers=mweb.headers[user])
    if expected in (401, 403):
        assert response.status_code == expected
    else:
        assert response.get_json() == {"count": expected}


@pytest.mark.parametrize(("user", "criteria", "expected"), [
    ("boss", {"field": "job_title", "op": "eq", "value": TAG}, 5),
    ("rep", {"field": "job_title", "op": "eq", "value": TAG}, 2),
    ("boss", {"field": "email", "op": "contains", "value": "@matrix.example"}, 5),
    ("rep", {"field": "email", "op": "contains", "value": "@matrix.example"}, 422),
    ("outsider", None, 403),
    ("anonymous", None, 401),
])
def test_segment_preview(mweb: MarketingWeb, world: dict[str, str], user: str,
                         criteria: Any, expected: int) -> None:
    response = mweb.web.client.post("/api/v1/marketing/segment-preview",
                                    headers=mweb.headers[user],
                                    json={"entity": "person", "criteria": criteria})
    if expected in (401, 403, 422):
        assert response.status_code == expected, response.get_json()
        if expected == 422:
            assert response.get_json()["errors"][0]["pointer"].startswith("/criteria")
    else:
        assert response.get_json() == {"count": expected}


@pytest.mark.parametrize(("user", "leads", "cost_per_lead"), [
    ("boss", 3, "200.00"), ("mm", 3, "200.00"), ("marketer", 3, "200.00"),
    ("rep", 1, "600.00"), ("outsider", 403, None), ("anonymous", 401, None),
])
def test_campaign_results(mweb: MarketingWeb, world: dict[str, str], user: str,
                          leads: int, cost_per_lead: str | None) -> None:
    response = mweb.web.client.get(f"/api/v1/records/campaign/{world['campaign']}/results",
                                   headers=mweb.headers[user])
    if leads in (401, 403):
        assert response.status_code == leads
        return
    body = response.get_json()
    assert (body["leads"], body["cost_per_lead"]) == (leads, cost_per_lead)


def test_bad_preview_bodies_are_422_not_500(mweb: MarketingWeb, world: dict[str, str]) -> None:
    boss = mweb.headers["boss"]
    for body, pointer in (([], ""), ({"entity": "deal"}, "/entity"),
                          ({"entity": "person", "extra": 1}, "/extra"),
                          ({"entity": "person", "criteria": "x"}, "/criteria")):
        response = mweb.web.client.post("/api/v1/marketing/segment-preview", headers=boss,
                                        json=body)
        assert response.status_code == 422, body
        assert response.get_json()["errors"][0]["pointer"] == pointer


def test_freezing_is_for_those_who_may_update_segments(mweb: MarketingWeb) -> None:
    segment = mweb.create("segment", name="To freeze", entity="person",
                          criteria={"field": "job_title", "op": "eq", "value": TAG})
    refused = mweb.web.client.post(f"/api/v1/records/segment/{segment}/freeze",
                                   headers=mweb.headers["rep"])
    assert refused.status_code == 403
    frozen = mweb.web.client.post(f"/api/v1/records/segment/{segment}/freeze",
                                  headers=mweb.headers["mm"])
    assert frozen.status_code == 200, frozen.get_json()
    assert frozen.get_json()["data"]["member_count"] == 5
    again = mweb.web.client.post(f"/api/v1/records/segment/{segment}/freeze",
                                 headers=mweb.headers["mm"])
    assert again.status_code == 409


_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.mark.parametrize(("user", "expected"), [
    ("boss", "5 now"), ("marketer", "5 now"), ("rep", "2 now"),
])
def test_the_segment_page_shows_the_count_the_viewer_may_see(
        mweb: MarketingWeb, world: dict[str, str], user: str, expected: str) -> None:
    client = mweb.web.app.test_client()
    token = _CSRF.search(client.get("/app/login").get_data(as_text=True))
    assert token
    client.post("/app/login", data={"csrf_token": token.group(1), "username": user,
                                    "password": PASSWORD})

    page = client.get(f"/app/r/segment/{world['segment']}", headers={
        "Accept-Language": "en"})

    assert page.status_code == 200
    assert expected in page.get_data(as_text=True)


def _signed_in(mweb: MarketingWeb, user: str) -> Any:
    client = mweb.web.app.test_client()
    token = _CSRF.search(client.get("/app/login").get_data(as_text=True))
    assert token
    client.post("/app/login", data={"csrf_token": token.group(1), "username": user,
                                    "password": PASSWORD})
    return client


def test_a_list_filter_is_saved_as_a_segment(mweb: MarketingWeb, world: dict[str, str]
                                             ) -> None:
    client = _signed_in(mweb, "marketer")
    state = f"ff=job_title&fo=eq&fv={TAG}"
    page = client.get(f"/app/r/person?{state}").get_data(as_text=True)
    assert "Save as segment" in page
    csrf = _CSRF.search(page)
    assert csrf

    saved = client.post("/app/r/person/segments", data={
        "csrf_token": csrf.group(1), "state": state, "name": "From the list"})

    assert saved.status_code == 302
    segment_id = saved.headers["Location"].rsplit("/", 1)[1]
    boss = AccessSubject(user_id="1", username="boss", roles=("boss",), is_admin=True)
    segment = mweb.services.records.get(boss, "segment", segment_id)
    assert (segment["name"], segment["entity"], segment["segment_type"]) == (
        "From the list", "person", "dynamic")
    assert segment["criteria"] == {"field": "job_title", "op": "eq", "value": TAG}
    assert "5 now" in client.get(saved.headers["Location"]).get_data(as_text=True)
    rep_page = _signed_in(mweb, "rep").get("/app/r/person").get_data(as_text=True)
    assert "Save as segment" not in rep_page  # the rep may not create segments
