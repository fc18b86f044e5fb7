"""One recipient's subject and text: the mailing's (or its email template's) text rendered
in the automation sandbox with the recipient's record as `record`, plus `name`, `email`
and `now` — the same sandbox, limits and error reports as the email pack's templates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from metacrm.automation.sandbox import FieldValues
from metacrm.automation.templates import Templates


class MailingRenderer:
    def __init__(self) -> None:
        self.templates = Templates()

    def render(self, subject: str, body: str, record: Mapping[str, Any], *, name: str,
               email: str, now: datetime) -> tuple[str, str]:
        """(subject line, text); ValidationFailed (pointing at /subject or /body) when a
        template fails for this recipient."""
        variables = {"record": FieldValues(dict(record)), "name": name, "email": email,
                     "now": now, "today": now.date()}
        title = self.templates.render(subject, variables, pointer="/subject")
        text = self.templates.render(body, variables, pointer="/body")
        return " ".join(title.split()), text
