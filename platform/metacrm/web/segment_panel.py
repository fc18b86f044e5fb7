"""The "Members" panel of a segment's record page: how many records the segment resolves
to now for the viewer (their scope and field security, `marketing.segments`), and a link
to those records' list when the segment is dynamic. Criteria naming a field the viewer may
not see, or no right to read the records, show as a sentence instead of a count."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metacrm.kernel.errors import Forbidden, NotFound, ValidationFailed
from metacrm.marketing.segments import SEGMENT, STATIC
from metacrm.web.context import services, web_subject
from metacrm.web.i18n import format_number, t
from metacrm.web.pack_panels import PanelView


def segment_panels(entity: str, record: Mapping[str, Any]) -> list[PanelView]:
    """The panel of a segment's page (none for other records)."""
    if entity != SEGMENT or not record.get("id"):
        return []
    segments = services().services.marketing.segments
    try:
        count = t("%(count)s now", count=format_number(
            segments.count(str(record["id"]), actor=web_subject())))
    except (ValidationFailed, Forbidden, NotFound):
        count = t("cannot be counted with your access rights")
    kind = (t("Static list frozen at the moment shown") if record.get("segment_type") == STATIC
            else t("Dynamic: the criteria are applied whenever the segment is used"))
    return [PanelView(pack="marketing", title=t("Members"),
                      rows=((t("Members"), count), (t("Type"), kind)), links=())]
