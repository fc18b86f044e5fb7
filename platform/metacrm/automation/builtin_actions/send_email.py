"""`send_email`: mail about the record, through the process's mail channel (SMTP).

```
{"to": "owner" | "<email field>" | ["owner", "email", "sales@example.com", ...],
 "subject": "<template>", "body": "<template>", "html": "<template>" (optional)}
```

`owner` is the record owner's address from the user directory; an email field's value is
used as it is; an address is itself. Recipients without an address (an empty field, an
owner without email, or with the placeholder `@….invalid` address users get without one)
are left out, and the action fails only when nobody is left. The subject is one line (line
breaks become spaces); the HTML part escapes every value. A dry run renders everything and
resolves the recipients but sends nothing. Without `METACRM_SMTP_URL` sending fails with an
error saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from metacrm.automation.actions import ActionContext
from metacrm.automation.builtin_actions.support import ActionSupport, is_name, param_errors
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.kernel.jobs import MailMessage
from metacrm.mail import require_mail
from metacrm.metadata.model import CompiledModel, EntityDef

OWNER = "owner"
MAX_RECIPIENTS = 50
UNDELIVERABLE_SUFFIX = ".invalid"


def _address_error(address: str) -> str | None:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"{address!r} is not an email address: {exc}"
    return None


def _recipient_errors(item: Any, entity: EntityDef, pointer: str) -> list[ErrorDetail]:
    if item == OWNER:
        return []
    if isinstance(item, str) and "@" in item:
        reason = _address_error(item)
        return [] if reason is None else [ErrorDetail(reason, pointer)]
    field = entity.field(item) if is_name(item) else None
    if field is None or field.type != "email":
        return [ErrorDetail(f"must be 'owner', an email field of {entity.name} or an email "
                            "address", pointer)]
    return []


def recipients(item: Any) -> list[Any]:
    return list(item) if isinstance(item, list) else [item]


class SendEmail:
    """The `send_email` action."""

    name = "send_email"

    def __init__(self, support: ActionSupport) -> None:
        self.support = support

    def check(
        self, params: Mapping[str, Any], entity: EntityDef, model: CompiledModel
    ) -> list[ErrorDetail]:
        errors = param_errors(params, required=("to", "subject", "body"), optional=("html",))
        if not isinstance(params, Mapping):
            return errors
        if "to" in params:
            to = params["to"]
            if isinstance(to, list) and not 0 < len(to) <= MAX_RECIPIENTS:
                errors.append(ErrorDetail(f"lists 1 to {MAX_RECIPIENTS} recipients", "/to"))
            elif isinstance(to, list):
                for index, item in enumerate(to):
                    errors += _recipient_errors(item, entity, f"/to/{index}")
            else:
                errors += _recipient_errors(to, entity, "/to")
        templates = self.support.templates
        for key in ("subject", "body", "html"):
            if key in params:
                errors += templates.check(params[key], f"/{key}", entity, html=key == "html")
        return errors

    def run(self, context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
        to, skipped = self._recipients(context.conn, context.record, params["to"])
        if not to:
            raise ValidationFailed("the email has no recipient with an address",
                                   [ErrorDetail(reason, "/to") for reason in skipped])
        variables = self.support.variables(context)
        subject = " ".join(self.support.render(context, params["subject"], "/subject",
                                               variables=variables).split())
        body = self.support.render(context, params["body"], "/body", variables=variables)
        html = (self.support.render(context, params["html"], "/html", html=True,
                                    variables=variables) if "html" in params else None)
        message = MailMessage(to=tuple(to), subject=subject, text=body, html=html)
        described: dict[str, Any] = {"to": to, "subject": subject, "body": body}
        if html is not None:
            described["html"] = html
        if skipped:
            described["skipped"] = skipped
        if context.dry_run:
            return {"would_send": described}
        require_mail(self.support.services.mail).send(message)
        return {"sent": {"to": to, "subject": subject, **(
            {"skipped": skipped} if skipped else {})}}

    def _recipients(
        self, conn: sa.Connection, record: Mapping[str, Any], to: Any
    ) -> tuple[list[str], list[str]]:
        found: list[str] = []
        skipped: list[str] = []
        for item in recipients(to):
            if item == OWNER:
                owner = record.get(OWNER)
                address = (self.support.services.subjects.users.email_of(conn, owner)
                           if isinstance(owner, str) else None)
                if address is None or address.lower().endswith(UNDELIVERABLE_SUFFIX):
                    skipped.append(f"the owner ({owner or 'none'}) has no email address")
                    continue
            elif "@" in item:
                address = item
            else:
                address = record.get(item)
                if not isinstance(address, str) or not address:
                    skipped.append(f"field {item!r} is empty")
                    continue
            if address not in found:
                found.append(address)
        return found, skipped
