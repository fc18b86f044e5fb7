"""Packs' panels on the record page: rendered by the core template, escaped, links only to
safe addresses, and a failing panel does not break the page."""

from __future__ import annotations

from pathlib import Path

from pack_harness import open_world, sign_in, write_pack

PANEL = '''
from metacrm.extension import Panel, PanelLink, PanelRow

def install(ctx):
    def facts(request):
        if request.entity != "deal":
            return None
        return Panel(
            title="Scoring <b>",
            rows=[PanelRow("Title seen", request.record["title"]),
                  PanelRow("Viewer", request.viewer.username)],
            links=[PanelLink("Docs", "https://example.com/docs?a=1&b=2"),
                   PanelLink("Sneaky", "javascript:alert(1)")])
    ctx.panel("deal", facts)
'''

BROKEN = '''
def install(ctx):
    def fails(request):
        raise RuntimeError("boom")
    ctx.panel("deal", fails)
'''


def test_panels_render_escaped_with_safe_links(isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        world.host.sync([write_pack(tmp_path, "scoring", PANEL),
                         write_pack(tmp_path, "broken", BROKEN)])
        deal = world.create("deal", title="<i>Big</i>")
        page = sign_in(world, "ann").get(f"/app/r/deal/{deal['id']}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'data-pack="scoring"' in html
        assert "Scoring &lt;b&gt;" in html
        assert "<dt>Title seen</dt><dd>&lt;i&gt;Big&lt;/i&gt;</dd>" in html
        assert "<dt>Viewer</dt><dd>ann</dd>" in html
        assert 'href="https://example.com/docs?a=1&amp;b=2"' in html
        assert "javascript:" not in html
        assert "<li>Sneaky</li>" in html
        assert "This panel could not be shown." in html

        world.host.sync([])
        html = sign_in(world, "ann").get(f"/app/r/deal/{deal['id']}").get_data(as_text=True)
        assert "pack-panel" not in html
