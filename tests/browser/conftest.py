"""Fixtures every browser test module shares: one Chromium per module and a fresh page per
test. Each module defines its own `server` fixture (shipped packs, the demo, or packs of
its own), which `page` opens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_harness import Browser, Page, Server, launch_chromium, open_page


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def page(chromium: Browser, server: Server, request: pytest.FixtureRequest,
         tmp_path: Path) -> Iterator[Page]:
    with open_page(chromium, server, request, tmp_path) as page:
        yield page
