"""A marketer sends a mass mailing from the screens (issue 17), in English and in Russian,
against `metacrm serve` with the shipped packs, a local SMTP server and a real browser: the
persons list's filter is saved as a segment (its page counts the members), a mailing to it
is created from the segment's page, a test goes to the marketer's address, then the
mailing is sent — only persons with marketing consent receive it — and the mailing's
progress panel shows the counts. Jobs run inline in the server (no Redis); the test's own
services run the sweeper should a batch wait for it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from browser_harness import (
    ADMIN,
    PASSWORD,
    Browser,
    Page,
    Server,
    expect,
    new_context,
    shipped_server,
    sign_in,
)

from metacrm.composition import Services, build_services
from metacrm.settings import Settings
from smtp_harness import Inbox, smtp_server

MARKETER = "mara"
SENDER = "news@ourco.example"
TEST_ADDRESS = "mara@ourco.example"
TEXT = {
    "en": {"save_segment": "Save as segment", "members": "3 now", "sign_out": "Sign out",
           "test_sent": f"A test was sent to {TEST_ADDRESS}.", "progress": "Sending progress",
           "sending": "The mailing is being sent."},
    "ru": {"save_segment": "Сохранить как сегмент", "members": "3 сейчас",
           "sign_out": "Выйти", "test_sent": f"Тестовое письмо отправлено на {TEST_ADDRESS}.",
           "progress": "Ход отправки", "sending": "Рассылка отправляется."},
}


class Desk:
    def __init__(self, server: Server, smtp: Inbox, services: Services) -> None:
        self.server = server
        self.smtp = smtp
        self.services = services

    def audience(self, tag: str) -> list[str]:
        """Three persons with job title `tag`; the first two gave marketing consent (as
        `ConsentLedger.opt_in` records it). Their addresses."""
        people = [self.server.create_record(ADMIN, "person", {
            "first_name": f"P{i}", "last_name": "Audience", "job_title": tag,
            "email": f"{tag}.{i}@example.org"}) for i in range(3)]
        now = self.services.clock().isoformat()
        system = self.services.records.runtime().system
        with self.services.records.transaction() as conn:
            system.insert_many(conn, "consent", [{
                "email": p["email"], "purpose": "marketing", "status": "granted",
                "source": "manual", "granted_at": now, "requested_at": now,
                "person": p["id"]} for p in people[:2]], trusted=True)
        return [str(p["email"]) for p in people]


@pytest.fixture(scope="module")
def desk(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with smtp_server() as smtp, shipped_server(tmp_path_factory, extra_env={
            "METACRM_PUBLIC_URL": "https://crm.ourco.example"}) as server:
        server.create_user(MARKETER, "marketer")
        answer = httpx.put(f"{server.url}/api/v1/mailboxes/news", timeout=30, headers={
            "Authorization": f"Bearer {server.api_token(ADMIN)}"}, json={
            "address": SENDER, "smtp_url": f"smtp://127.0.0.1:{smtp.port}"})
        assert answer.status_code == 200, answer.text
        services = build_services(Settings.from_env(server.env))
        try:
            yield Desk(server, smtp, services)
        finally:
            services.close()


def record_id(page: Page, entity: str) -> str:
    page.wait_for_url(re.compile(rf"/app/r/{entity}/[0-9a-f-]{{36}}$"))
    return page.url.rsplit("/", 1)[1]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_marketer_sends_a_mailing_to_a_segment_from_the_screens(
        chromium: Browser, desk: Desk, language: str) -> None:
    text = TEXT[language]
    tag = f"buyer{uuid.uuid4().hex[:6]}"
    addresses = desk.audience(tag)
    context = new_context(chromium, desk.server,
                          locale="ru-RU" if language == "ru" else "en-US")
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # "Send … now?"
        sign_in(page, MARKETER, PASSWORD)
        page.select_option("#language-select", language)
        expect(page.get_by_role("button", name=text["sign_out"])).to_be_visible()

        page.goto(f"/app/r/person?ff=job_title&fo=eq&fv={tag}")
        expect(page.locator("table tbody tr")).to_have_count(3)
        page.get_by_text(text["save_segment"]).click()
        page.locator("#segment-name").fill(f"Buyers {tag}")
        page.locator("[data-action=save-segment]").click()
        record_id(page, "segment")
        expect(page.locator("section.pack-panel[data-pack=marketing]")).to_contain_text(
            text["members"])

        page.locator("[data-related-new='mailing.segment']").click()
        page.locator("#f-name").fill(f"Sale {tag}")
        page.locator("#f-mailbox").fill("news")
        page.locator("#f-subject").fill("December sale")
        page.locator("#f-body").fill("Dear {{ name }},\n\nOur sale starts today.\n")
        page.locator("[data-action=save]").click()
        mailing = record_id(page, "mailing")

        actions = page.locator("[data-mailing-actions]")
        actions.locator("input[name=address]").fill(TEST_ADDRESS)
        before = len(desk.smtp.messages)
        actions.locator("[data-mailing-action=test]").click()
        expect(page.locator(".flash-success")).to_have_text(text["test_sent"])
        test_mail = desk.smtp.messages[before:]
        assert [(m.recipients, m.message["Subject"]) for m in test_mail] == [
            ([TEST_ADDRESS], "[Test] December sale")]

        before = len(desk.smtp.messages)
        page.locator("[data-mailing-actions] [data-mailing-action=send]").click()
        expect(page.locator(".flash-success")).to_have_text(text["sending"])
        progress = page.locator("section.pack-panel", has_text=text["progress"])
        for _ in range(20):  # the inline queue sends at once; the sweeper would resume it
            if progress.locator("dd").nth(1).inner_text() == "2":
                break
            desk.services.dispatcher.sweep_once()
            page.reload()
        expect(progress.locator("dd").nth(0)).to_contain_text("3")  # 3 of 3 (100%)
        expect(progress.locator("dd").nth(1)).to_have_text("2")     # sent
        expect(progress.locator("dd").nth(2)).to_have_text("1")     # skipped: no consent
        assert sorted(r for m in desk.smtp.messages[before:] for r in m.recipients) == \
            addresses[:2]
        expect(page.locator("[data-mailing-actions]")).to_have_count(0)
        assert mailing in page.url
    finally:
        context.close()
