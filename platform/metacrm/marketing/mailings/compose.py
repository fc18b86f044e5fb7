"""The MIME message of one mailing recipient: a text part and an HTML alternative, the
RFC 8058 one-click unsubscribe headers, a visible unsubscribe link in both parts, and the
open pixel when the mailing tracks opens.

The HTML part is made from the rendered text (escaped, URLs as links, blank lines as
paragraphs): the body is written once, as text through the sandboxed template, so there
is no admin-written HTML to sanitise. `List-Unsubscribe` names the signed HTTPS route
first and a `mailto:` to the bounce mailbox second (RFC 2369 order of preference);
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` tells the receiving provider it may
POST to the HTTPS URL without showing a page (RFC 8058 §3.1).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from urllib.parse import quote

from metacrm.marketing.mailings.links import URL

FOOTER = {
    "en": "You receive this because you subscribed to our mailings. Unsubscribe:",
    "ru": "Вы получили это письмо, потому что подписаны на нашу рассылку. Отписаться:",
}


@dataclass(frozen=True)
class OutgoingMail:
    """Everything one message needs, already rendered and with tracked links rewritten."""

    from_address: str
    from_name: str
    to: str
    subject: str
    text: str
    message_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str | None = None
    unsubscribe_token: str = ""
    open_pixel_url: str | None = None
    language: str = "en"


def list_unsubscribe_headers(url: str, mailto: str | None, token: str) -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers: the HTTPS link (one-click) and, when a bounce
    mailbox receives mail, a `mailto:` whose subject carries the token."""
    targets = [f"<{url}>"]
    if mailto:
        targets.append(f"<mailto:{mailto}?subject={quote('unsubscribe ' + token)}>")
    return {"List-Unsubscribe": ", ".join(targets),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _footer(mail: OutgoingMail) -> str:
    return FOOTER.get(mail.language, FOOTER["en"])


def text_part(mail: OutgoingMail) -> str:
    return f"{mail.text.rstrip()}\n\n-- \n{_footer(mail)}\n{mail.unsubscribe_url}\n"


def _linked(paragraph: str) -> str:
    out: list[str] = []
    last = 0
    for match in URL.finditer(paragraph):
        url = match.group(0).rstrip(".,;:!?)]")
        out.append(html.escape(paragraph[last:match.start()]))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        last = match.start() + len(url)
    out.append(html.escape(paragraph[last:]))
    return "".join(out).replace("\n", "<br>\n")


def html_part(mail: OutgoingMail) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", mail.text.strip()) if p.strip()]
    body = "\n".join(f"<p>{_linked(p)}</p>" for p in paragraphs)
    link = html.escape(mail.unsubscribe_url)
    footer = (f'<p style="font-size:small;color:#666">{html.escape(_footer(mail))} '
              f'<a href="{link}">{link}</a></p>')
    pixel = (f'<img src="{html.escape(mail.open_pixel_url)}" width="1" height="1" alt="">'
             if mail.open_pixel_url else "")
    return (f'<!doctype html><html lang="{html.escape(mail.language)}"><body>\n{body}\n'
            f"{footer}\n{pixel}</body></html>\n")


def compose(mail: OutgoingMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((mail.from_name, mail.from_address))
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = mail.message_id
    for name, value in list_unsubscribe_headers(mail.unsubscribe_url, mail.unsubscribe_mailto,
                                                mail.unsubscribe_token).items():
        message[name] = value
    message.set_content(text_part(mail))
    message.add_alternative(html_part(mail), subtype="html")
    return message
