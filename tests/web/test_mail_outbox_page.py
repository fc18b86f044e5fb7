"""The outbox page (`/app/admin/outbox`): admins read the mail the demo kept instead of
sending, in their language; other users may not."""

from __future__ import annotations

from pathlib import Path

from screen_harness import entity, field, open_screens

import metacrm.web.mail_outbox_page  # noqa: F401  (makes the page's blueprint)
from metacrm.kernel.jobs import MailMessage
from metacrm.mail.outbox import OutboxMailChannel
from web_harness import role


def test_admins_read_the_outbox_others_may_not(isolated_database_url: str,
                                               tmp_path: Path) -> None:
    documents = (entity("memo", field("text")), role("clerk", entities={"memo": {"read": "all"}}))
    with open_screens(isolated_database_url, tmp_path, *documents) as screens:
        services = screens.web.app.extensions["metacrm"].services
        boss = screens.user("boss_user", "boss")
        assert "data-outbox-off" in boss.text("/app/admin/outbox")  # nothing is kept here
        services.mail = OutboxMailChannel(f"sqlite:///{tmp_path / 'outbox.db'}")
        services.mail.send(MailMessage(to=("ann@example.com",), subject="Hot lead: Bob",
                                       text="Call Bob today."))

        page = boss.text("/app/admin/outbox")
        clerk = screens.user("carl", "clerk")
        refused = clerk.get("/app/admin/outbox")
        assert boss.post("/app/language", {"language": "ru", "next": "/app/"}
                         ).status_code == 302
        russian = boss.text("/app/admin/outbox")

        assert "Hot lead: Bob" in page and "ann@example.com" in page
        assert "Call Bob today." in page
        assert refused.status_code == 403 and "Hot lead" not in refused.get_data(as_text=True)
        assert "<h1>Исходящие письма</h1>" in russian
