"""Record-page panels: a pack's box of facts or links beside a record.

The core renders the panel (escaped: a pack's text never becomes markup); the pack only
returns data. A panel function gets a `PanelRequest` — the record as the viewer may see it
and the viewer — and returns a `Panel` or None (no panel for this record).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metacrm.extension.records import Caller


@dataclass(frozen=True, slots=True)
class PanelRow:
    """A label and its value, as text."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class PanelLink:
    """A link; only http(s) and site-relative addresses are rendered as links."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Panel:
    """A titled box of rows and/or links."""

    title: str
    rows: Sequence[PanelRow] = field(default_factory=tuple)
    links: Sequence[PanelLink] = field(default_factory=tuple)


@dataclass(frozen=True)
class PanelRequest:
    """The record page being rendered."""

    entity: str
    record: Mapping[str, Any]
    """The record as the viewer may see it (JSON form, hidden fields left out)."""
    viewer: Caller


PanelProvider = Callable[[PanelRequest], "Panel | None"]

__all__ = ["Panel", "PanelLink", "PanelProvider", "PanelRequest", "PanelRow"]
