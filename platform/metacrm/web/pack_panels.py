"""Extension packs' panels on the record page, as the template shows them.

The pack host asks each pack's panel function (with the record as the viewer may see it);
here the answers become plain view data: text is escaped by the template like everything
else, and a link keeps its address only when it is http(s) or site-relative — a pack
cannot put a `javascript:` link on the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.extension import Caller
from metacrm.web.context import services


@dataclass(frozen=True)
class PanelView:
    pack: str
    title: str
    rows: tuple[tuple[str, str], ...]
    links: tuple[tuple[str, str | None], ...]
    """(label, address); address None: shown as text, not a link."""
    failed: bool = False


def safe_address(url: str) -> str | None:
    text = url.strip()
    if text.startswith(("https://", "http://")) or (
            text.startswith("/") and not text.startswith("//")):
        return text
    return None


def pack_panels(subject: AccessSubject, entity: str, record: Mapping[str, Any]
                ) -> list[PanelView]:
    """The panels the loaded packs show on this record's page."""
    viewer = Caller(subject.user_id, subject.username, subject.roles)
    views = []
    for pack, panel in services().services.packs.panels(entity, dict(record), viewer):
        if panel is None:
            views.append(PanelView(pack, pack, (), (), failed=True))
            continue
        views.append(PanelView(
            pack=pack, title=str(panel.title),
            rows=tuple((str(row.label), str(row.value)) for row in panel.rows),
            links=tuple((str(link.label), safe_address(str(link.url)))
                        for link in panel.links)))
    return views
