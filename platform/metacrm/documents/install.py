"""`install(services)`: the documents feature."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metacrm.composition import Services


def install(services: Services) -> None:
    pass
