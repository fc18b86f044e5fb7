"""An agent works a ticket from an inbound email to a satisfaction score, in English and in
Russian, against `metacrm serve` with the shipped packs, a private dovecot (the support
mailbox), a local SMTP server and a real browser: the customer's mail arrives (the test
runs the IMAP poll), the agent opens the ticket, replies from the ticket page (the first
response), resolves it; the customer answers the survey link mailed to them, and the score
shows on the ticket."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx
import pytest
from browser_harness import (
    ADMIN,
    PASSWORD,
    Browser,
    Server,
    expect,
    new_context,
    shipped_server,
    sign_in,
)

from imap_harness import PASSWORD as IMAP_PASSWORD
from imap_harness import ImapServer, imap_server
from metacrm.composition import Services, build_services
from metacrm.settings import Settings
from smtp_harness import Inbox, smtp_server

AGENT = "sasha"
SUPPORT = "support@ourco.example"
PUBLIC_URL = "https://crm.example.com"
LINK = re.compile(re.escape(PUBLIC_URL) + r"(/survey/\S+)")
CREATED = re.compile(r"\(id ([^)]+)\)")
TEXT = {
    "en": {"subject": "Printer on fire", "body": "It smokes since this morning.",
           "reply": "Please switch it off; a technician is on the way.",
           "thanks": "Thank you for your answer."},
    "ru": {"subject": "Принтер дымит", "body": "Дымит с самого утра.",
           "reply": "Выключите его, пожалуйста; мастер уже едет.",
           "thanks": "Спасибо за ответ."},
}


class Desk:
    def __init__(self, server: Server, imap: ImapServer, smtp: Inbox, services: Services
                 ) -> None:
        self.server = server
        self.imap = imap
        self.smtp = smtp
        self.services = services

    def mail_arrives(self, sender: str, subject: str, text: str) -> str:
        """The customer's message in the support mailbox, polled: the ticket it opened."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, SUPPORT, subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain="customer.example")
        message.set_content(text)
        self.imap.append("support", message.as_bytes())
        received = self.services.email.poller.poll(
            self.services.email.mailboxes.get("support"))
        assert [r.ticket_id is not None for r in received] == [True]
        return str(received[0].ticket_id)


@pytest.fixture(scope="module")
def desk(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("ticket_mail")
    with smtp_server() as smtp, imap_server(root / "dovecot", ["support"]) as imap, \
            shipped_server(tmp_path_factory, extra_env={
                "METACRM_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
                "METACRM_PUBLIC_URL": PUBLIC_URL}) as server:
        created = server.run("user", "create", AGENT, "--role", "service_mail_agent",
                             "--password-stdin", stdin=PASSWORD + "\n")
        server.users[AGENT] = "service_mail_agent"
        found = CREATED.search(created)
        assert found, created
        answer = httpx.put(f"{server.url}/api/v1/mailboxes/support", timeout=30, headers={
            "Authorization": f"Bearer {server.api_token(ADMIN)}"}, json={
            "address": SUPPORT, "smtp_url": f"smtp://127.0.0.1:{smtp.port}",
            "imap_url": imap.url("support"), "imap_password": IMAP_PASSWORD,
            "create_tickets": True, "ticket_queue": "support", "owner": found.group(1)})
        assert answer.status_code == 200, answer.text
        services = build_services(Settings.from_env(server.env))
        try:
            yield Desk(server, imap, smtp, services)
        finally:
            services.close()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_an_agent_works_a_ticket_from_an_email_to_a_satisfaction_score(
        chromium: Browser, desk: Desk, language: str) -> None:
    text = TEXT[language]
    customer = f"kim-{uuid.uuid4().hex[:6]}@customer.example"
    ticket = desk.mail_arrives(f"Kim Park <{customer}>", text["subject"], text["body"])

    locale = "ru-RU" if language == "ru" else "en-US"
    context = new_context(chromium, desk.server, locale=locale)
    try:
        page = context.new_page()
        sign_in(page, AGENT, PASSWORD)
        page.select_option("#language-select", language)
        expect(page.get_by_role("button", name="Выйти" if language == "ru" else "Sign out")
               ).to_be_visible()
        page.goto(f"/app/r/ticket/{ticket}")
        expect(page.locator("h1")).to_contain_text(text["subject"])
        expect(page.locator("main")).to_contain_text(text["body"])  # the mail, on the timeline
        expect(page.locator("dd[data-field=channel]")).to_have_text(
            "Эл. почта" if language == "ru" else "Email")

        compose = page.locator("[data-email-compose]")
        expect(compose.locator("input[name=to]")).to_have_value(customer)
        compose.locator("input[name=subject]").fill("Re: " + text["subject"])
        compose.locator("textarea[name=body]").fill(text["reply"])
        compose.locator("[data-action=send-email]").click()
        page.wait_for_url(f"**/app/r/ticket/{ticket}**")
        delivered = desk.smtp.messages[-1]
        assert delivered.recipients == [customer]
        assert text["reply"] in delivered.part("text/plain")
        expect(page.locator("dd[data-field=first_response_at] .empty")).to_have_count(0)
        expect(page.locator("dd[data-field=sla_response_result]")).to_have_text(
            "Выполнен" if language == "ru" else "Met")

        page.locator("button[data-transition=resolve]").click()
        expect(page.locator("dd[data-field=status]")).to_have_text(
            "Решено" if language == "ru" else "Resolved")
        survey = desk.smtp.messages[-1]
        assert survey.recipients == [customer]
        link = LINK.search(survey.part("text/plain"))
        assert link, survey.part("text/plain")

        customer_page = new_context(chromium, desk.server, locale=locale).new_page()
        customer_page.goto(link.group(1))  # no sign-in: the link is the credential
        customer_page.locator("input[name=score][value='4']").check()
        customer_page.locator("textarea[name=comment]").fill(text["reply"][:10])
        customer_page.locator("form button[type=submit]").click()
        expect(customer_page.locator("[role=status]")).to_have_text(text["thanks"])
        customer_page.context.close()

        page.reload()
        expect(page.locator("dd[data-field=csat_score]")).to_have_text("4")
    finally:
        context.close()
