"""The "Sending progress" panel of a mailing's record page: how far the mailing got and
what its recipients did, counted now (`MailingService.progress`, which reads the mailing
as the viewer may), with the skipped recipients counted per reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.marketing.mailings.ledger import MAILING, RECIPIENT
from metacrm.web.context import services
from metacrm.web.i18n import label, t
from metacrm.web.pack_panels import PanelView


def mailing_panels(subject: AccessSubject, entity: str, record: Mapping[str, Any]
                   ) -> list[PanelView]:
    if entity != MAILING:
        return []
    progress = services().services.mailings.progress(subject, str(record["id"]))
    rows = [
        (t("Progress"), t("%(done)s of %(total)s (%(percent)s%%)",
                          done=progress["done_count"], total=progress["recipients_count"],
                          percent=progress["percent"])),
        (t("Sent"), str(progress["sent_count"])),
        (t("Skipped"), str(progress["skipped_count"])),
        *((t("Skipped: %(reason)s", reason=reason), str(count))
          for reason, count in _reasons(progress["skipped_by_reason"])),
        (t("Failed"), str(progress["failed_count"])),
        (t("Bounced"), str(progress["bounced_count"])),
        (t("Complaints"), str(progress["complained_count"])),
        (t("Opened"), str(progress["opened_count"])),
        (t("Clicked"), str(progress["clicked_count"])),
    ]
    if progress.get("ab_winner"):
        rows.append((t("A/B winner"), t("Subject %(variant)s",
                                        variant=str(progress["ab_winner"]).upper())))
    return [PanelView(pack="marketing", title=t("Sending progress"), rows=tuple(rows),
                      links=())]


def _reasons(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """(label, count) of each skip reason, labelled as the recipient's `skip_reason`
    picklist says in the viewer's language (the reason itself when it has no label)."""
    definition = services().records.runtime().model.entity(RECIPIENT)
    field = definition.field("skip_reason") if definition is not None else None
    labels = {choice.value: choice.label for choice in (field.choices if field else ())}
    return [(label(labels.get(reason), reason), count) for reason, count in counts.items()]
