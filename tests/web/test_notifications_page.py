"""The bell and the notifications page: a rep sees the count, opens the page, follows the
link to the record and marks notices read; reloading after marking posts nothing again."""

from __future__ import annotations

import re
from pathlib import Path

from screen_harness import entity, field, open_screens

from web_harness import bearer, role

DEAL = entity("deal", field("title"), title_field="title")
REP = role("rep", entities={"deal": {"read": "own", "create": "all", "update": "own",
                                     "delete": "none", "export": "none"}})


def bell_count(page: str) -> str | None:
    found = re.search(r'data-bell-count>([^<]+)<', page)
    return found.group(1) if found else None


def test_the_bell_counts_and_the_page_lists_and_marks_read(isolated_database_url: str,
                                                           tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, DEAL, REP) as screens:
        boss = screens.user("root", "boss")
        ann = screens.user("ann", "rep")
        with screens.web.app.app_context():
            ann_id = str(screens.web.identity.appbuilder.sm.find_user(username="ann").id)
        api = screens.web.app.test_client()
        token = bearer(screens.web.login("root"))
        for title in ("Acme renewal", "Globex pilot"):
            created = api.post("/api/v1/records/deal", json={"title": title, "owner": ann_id},
                               headers=token)
            assert created.status_code == 201, created.get_json()
        home = ann.text("/app/")
        assert bell_count(home) == "2"
        page = ann.text("/app/notifications")
        assert page.count("Assigned to you") == 2
        assert "Deal: Acme renewal" in page and "Deal: Globex pilot" in page
        deal_link = re.search(r'href="(/app/r/deal/[0-9a-f-]+)">Deal: Acme renewal', page)
        assert deal_link and ann.get(deal_link.group(1)).status_code == 200
        ids = re.findall(r'data-notification="([^"]+)"', page)
        marked = ann.post("/app/notifications/read", {"id": ids[0]})
        assert marked.status_code == 302
        assert bell_count(ann.text("/app/")) == "1"
        ann.post("/app/notifications/read", {"all": "1"})
        assert bell_count(ann.text("/app/")) is None
        assert bell_count(boss.text("/app/")) is None   # boss made the changes himself


def test_the_page_speaks_russian(isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, DEAL, REP) as screens:
        ann = screens.user("ann", "rep")
        page = ann.client.get("/app/notifications", headers={"Accept-Language": "ru"})
        text = page.get_data(as_text=True)
        assert "Уведомления" in text and "Пока ничего нет" in text
        assert "Присылать напоминания и по почте" in text


def test_the_page_keeps_the_reminder_lead_and_the_digest_choice(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, DEAL, REP) as screens:
        ann = screens.user("ann", "rep")
        page = ann.text("/app/notifications")
        assert 'name="reminder_minutes" min="0"' in page and 'value="60"' in page
        assert '<option value="off" selected>Never</option>' in page

        saved = ann.post("/app/notifications/settings",
                         {"reminder_minutes": "15", "notification_digest": "daily"})
        assert saved.status_code == 302
        page = ann.text(saved.headers["Location"])
        assert "Settings saved." in page and 'value="15"' in page
        assert '<option value="daily" selected>Once a day</option>' in page

        refused = ann.post("/app/notifications/settings",
                           {"reminder_minutes": "soon", "notification_digest": "hourly"})
        text = refused.get_data(as_text=True)
        assert refused.status_code == 422
        assert ('data-field-error="reminder_minutes">Enter a whole number of minutes from 0 '
                'to 10080.<') in text
        assert 'data-field-error="notification_digest">Choose whether to get the daily ' \
               'email.<' in text
        kept = ann.text("/app/notifications")
        assert 'value="15"' in kept and '<option value="daily" selected>' in kept
        assert 'name="reminder_email" value="on">' in kept  # not ticked

        ann.post("/app/notifications/settings", {"reminder_minutes": "15",
                                                 "notification_digest": "off",
                                                 "reminder_email": "on"})
        assert 'name="reminder_email" value="on" checked>' in ann.text("/app/notifications")
