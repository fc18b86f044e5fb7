"""The personal API tokens page: create shows the secret once, the token works on the API,
revoking stops it; other users' tokens cannot be revoked; bad input is explained."""

from __future__ import annotations

import re
from pathlib import Path

from screen_harness import entity, field, open_screens

import metacrm.web.account  # noqa: F401  (makes the account blueprint)
from web_harness import bearer, role

GADGET = entity("gadget", field("title"))
CLERK = role("clerk", entities={"gadget": {"read": "all", "create": "all"}})
PAGE = "/app/account/tokens"


def secret_of(page: str) -> str:
    found = re.search(r'value="(mcrm_[0-9a-f]{12}_[^"]+)"[^>]*data-token-secret', page)
    assert found, "no secret on the page"
    return found.group(1)


def test_a_token_is_shown_once_works_and_stops_when_revoked(isolated_database_url: str,
                                                           tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        ann = screens.user("ann", "clerk")
        assert "You have no tokens." in ann.text(PAGE)
        created = ann.post(PAGE, {"name": "backup script", "expires": "2099-12-31"})
        assert created.status_code == 303  # POST -> redirect -> GET: a reload creates nothing
        assert created.headers["Location"].endswith(PAGE)
        shown = ann.get(PAGE)
        assert shown.headers["Cache-Control"] == "no-store"
        page = shown.get_data(as_text=True)
        secret = secret_of(page)
        listing = ann.text(PAGE)
        assert "backup script" in listing and secret not in listing  # once only
        assert listing.count("data-token-row=") == 1
        assert secret[:17] in listing  # mcrm_<prefix> identifies it
        api = screens.web.app.test_client()
        answer = api.get("/api/v1/records/gadget", headers=bearer(secret))
        assert answer.status_code == 200, answer.get_json()
        token_id = re.search(r'data-token-row="([^"]+)"', listing)
        assert token_id
        revoked = ann.post(f"{PAGE}/{token_id.group(1)}/revoke")
        assert revoked.status_code == 302
        after = ann.text(PAGE)
        assert "backup script</td>" not in after and "revoked" in after
        assert api.get("/api/v1/records/gadget", headers=bearer(secret)).status_code == 401


def test_tokens_are_private_and_bad_input_is_explained(isolated_database_url: str,
                                                       tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        ann = screens.user("ann", "clerk")
        bob = screens.user("bob", "clerk")
        assert ann.post(PAGE, {"name": "ann's"}).status_code == 303
        page = ann.text(PAGE)
        secret = secret_of(page)
        token_id = re.search(r'data-token-row="([^"]+)"', page)
        assert token_id
        assert "ann&#39;s" not in bob.text(PAGE)
        refused = bob.post(f"{PAGE}/{token_id.group(1)}/revoke")
        assert refused.status_code == 404
        assert bob.post(f"{PAGE}/not-a-token/revoke").status_code == 404
        api = screens.web.app.test_client()
        assert api.get("/api/v1/records/gadget", headers=bearer(secret)).status_code == 200
        blank = ann.post(PAGE, {"name": "  "})
        assert blank.status_code == 422
        assert 'data-field-error="name"' in blank.get_data(as_text=True)
        past = ann.post(PAGE, {"name": "old", "expires": "2001-01-01"})
        assert past.status_code == 422
        assert "in the future" in past.get_data(as_text=True)
        assert "data-token-secret" not in past.get_data(as_text=True)
        # the page needs a password session: a token on the screens is no login at all
        anonymous = screens.anonymous().client.get(PAGE, headers=bearer(secret))
        assert anonymous.status_code == 302
        forged = api.post(PAGE, data={"name": "minted"}, headers=bearer(secret))
        assert forged.status_code in (302, 400)
        assert "minted" not in ann.text(PAGE)
