"""End users on the generated screens, in a real browser against `metacrm serve` with the
shipped packs: create through the form, move on the kanban board and see it on the timeline;
a guard's refusal explained; a field hidden from a role never shown; the Russian interface.

One server for the module: every test works on records of its own (unique names), so the
tests do not depend on each other's data.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_harness import (
    PASSWORD,
    SHIPPED_PACKS,
    Browser,
    Page,
    Server,
    expect,
    shipped_server,
    sign_in,
)

REP = "rita"
INTERN = "ian"
"""A sales intern: reads and creates deals, but the deal's amount is hidden from them."""
SALES_INTERN = {
    "kind": "role", "name": "sales_intern", "version": 1,
    "label": {"en": "Sales intern", "ru": "Стажёр"},
    "entities": {
        "company": {"read": "all", "create": "none", "update": "none", "delete": "none",
                    "export": "none"},
        "deal": {"read": "all", "create": "all", "update": "own", "delete": "none",
                 "export": "all", "fields": {"amount": "hidden"}},
    },
    "transitions": {"deal_pipeline": ["analyse", "propose"]},
}


@pytest.fixture(scope="module")
def server(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shipped packs plus a pack with one restricted role."""
    extra = tmp_path_factory.mktemp("packs")
    (extra / "training").mkdir()
    (extra / "training" / "sales_intern.json").write_text(json.dumps(SALES_INTERN))
    with shipped_server(tmp_path_factory,
                        metadata_paths=(SHIPPED_PACKS, extra)) as server:
        server.create_user(REP, "sales_rep")
        yield server


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


def record_id(page: Page, entity: str) -> str:
    """The id of the record page the browser is on."""
    page.wait_for_url(re.compile(rf"/app/r/{entity}/[0-9a-f-]{{36}}$"))
    return page.url.rsplit("/", 1)[1]


def pick_reference(page: Page, field: str, title: str) -> None:
    """Type into a reference lookup, wait for the suggestion, and leave the box (Tab)."""
    search = page.locator(f"#f-{field}")
    search.fill(title)
    expect(page.locator(f"#f-{field}-options option[value='{title}']")).to_be_attached()
    search.press("Tab")
    expect(page.locator(f"#f-{field}-id")).not_to_have_value("")


def test_a_rep_creates_a_lead_moves_it_on_the_board_and_sees_the_move_on_the_timeline(
    page: Page,
) -> None:
    last_name = unique("Lee")
    sign_in(page, REP, PASSWORD)
    page.locator("[data-nav-entity=lead]").click()
    page.locator("[data-action=new]").click()

    expect(page.locator("label[for=f-last_name] .required-marker")).to_be_visible()
    page.get_by_label("First name").fill("Ann")
    page.get_by_label("Last name").fill(last_name)
    page.get_by_label("Company").fill("Acme")
    page.locator("[data-action=save]").click()

    lead = record_id(page, "lead")
    expect(page.locator("h1")).to_have_text(f"Ann {last_name}")  # the lead's title template
    expect(page.locator("[data-record-state=status]")).to_have_text("New")

    page.goto("/app/r/lead/board")
    card = page.locator(f"[data-card-id='{lead}']")
    contacted = page.locator("[data-board-column=contacted]")
    expect(page.locator(f"[data-board-column=new] [data-card-id='{lead}']")).to_be_visible()
    card.drag_to(contacted.locator("[data-column-cards]"))

    expect(page.locator("[data-board-message]")).to_have_text("Moved to Contacted.")
    expect(contacted.locator(f"[data-card-id='{lead}']")).to_be_visible()
    page.reload()  # stored, not just moved on screen
    expect(contacted.locator(f"[data-card-id='{lead}']")).to_be_visible()

    page.locator(f"[data-card-id='{lead}'] a.board-card-title").click()
    expect(page.locator("[data-record-state=status]")).to_have_text("Contacted")
    moved = page.locator("[data-timeline-kind=transitioned]")
    expect(moved).to_have_count(1)
    expect(moved).to_contain_text("Contacted")
    expect(moved).to_contain_text(REP)
    expect(page.locator("[data-timeline-kind=created]")).to_have_count(1)


def test_a_refused_move_says_what_is_missing_and_the_record_page_asks_for_it(
    page: Page, server: Server
) -> None:
    company = unique("Globex")
    title = unique("Globex renewal")
    sign_in(page, REP, PASSWORD)
    page.goto("/app/r/company/new")
    page.get_by_label("Name").first.fill(company)
    page.locator("[data-action=save]").click()
    record_id(page, "company")

    page.goto("/app/r/deal/new")
    page.get_by_label("Title").fill(title)
    pick_reference(page, "company", company)
    page.locator("[data-action=save]").click()
    deal = record_id(page, "deal")
    expect(page.locator("[data-record-state=stage]")).to_have_text("Qualification")

    # on the board: "Send proposal" needs an amount and a close date; the card stays
    page.goto("/app/r/deal/board")
    card = page.locator(f"[data-card-id='{deal}']")
    card.drag_to(page.locator("[data-board-column=proposal] [data-column-cards]"))
    message = page.locator("[data-board-message]")
    expect(message).to_contain_text("Needs:")
    expect(message).to_contain_text("Amount")
    expect(message).to_contain_text("Expected close date")
    expect(page.locator(f"[data-board-column=qualification] [data-card-id='{deal}']")
           ).to_be_visible()

    # on the record page the step asks for those fields; sent empty, it is explained
    page.goto(f"/app/r/deal/{deal}")
    propose = page.locator("button[data-transition=propose]")
    fields = page.locator("[data-transition-fields=propose]")
    expect(fields).to_be_hidden()
    propose.click()
    expect(fields).to_be_visible()
    expect(fields.locator("[data-form-field=amount]")).to_be_visible()
    expect(fields.locator("[data-form-field=close_date]")).to_be_visible()
    # the browser's own required check is bypassed, as a script-less or forced post would
    page.locator("[data-transition-form=propose]").evaluate("form => form.noValidate = true")
    propose.click()
    refusal = page.locator("[data-transition-error=propose]")
    expect(refusal).to_contain_text("Amount")
    expect(refusal).to_contain_text("Expected close date")
    expect(page.locator("[data-record-state=stage]")).to_have_text("Qualification")

    # given the values, the step goes through
    fields = page.locator("[data-transition-fields=propose]")
    fields.locator("[data-form-field=amount] input[type=number], "
                   "[data-form-field=amount] input[inputmode]").first.fill("4800")
    fields.locator("[data-form-field=close_date] input").fill("2030-06-30")
    page.locator("button[data-transition=propose]").click()
    expect(page.locator("[data-record-state=stage]")).to_have_text("Proposal")
    expect(page.locator("[data-field=amount]")).to_contain_text("4,800")


def test_a_role_with_the_amount_hidden_never_sees_it(page: Page, server: Server) -> None:
    server.create_user(INTERN, "sales_intern")
    company = server.create_record("admin", "company", {"name": unique("Initech")})
    title = unique("Initech expansion")
    deal = server.create_record("admin", "deal", {
        "title": title, "company": company["id"],
        "amount": {"amount": "98765", "currency": "USD"}, "close_date": "2030-01-31"})
    secret = "98,765"

    sign_in(page, INTERN, PASSWORD)
    screens = {  # the list sorted by a field the intern sees (the default view sorts by amount)
        "list": "/app/r/deal",
        "search": f"/app/r/deal?q={title.split()[-1]}",
        "record": f"/app/r/deal/{deal['id']}",
        "new form": "/app/r/deal/new",
        "board": "/app/r/deal/board",
    }
    problems: list[tuple[object, ...]] = []
    for name, path in screens.items():
        response = page.goto(path)
        assert response is not None
        if response.status != 200:
            problems.append((name, response.status, page.locator("main").inner_text()[-300:]))
        html = page.content()
        shown = page.locator("[data-field=amount], [data-form-field=amount], "
                             "[data-column=amount], option[value=amount]").count()
        if secret in html or "98765" in html or shown or (
                "Amount" in page.locator("main").inner_text()):
            problems.append((name, "shows the amount"))
    assert not problems, "\n".join(map(str, problems))
    page.goto(screens["record"])
    expect(page.locator("h1")).to_have_text(title)  # the record itself is readable
    expect(page.locator("[data-timeline-field=amount]")).to_have_count(0)
    page.goto(screens["search"])
    expect(page.locator("tr[data-record-id]")).to_have_count(1)
    expect(page.locator(f"[data-record-id='{deal['id']}']")).to_be_visible()

    # the CSV export leaves the column out too
    with page.expect_download() as download:
        page.locator("[data-export]").first.click()
    exported = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert title in exported
    assert "98765" not in exported and "Amount" not in exported

    # forced: a create form posted by hand with the hidden field is refused, nothing stored
    forced_title = unique("Forced")
    page.goto("/app/r/deal/new")
    status = page.evaluate("""async ([title, company]) => {
        const token = document.querySelector('meta[name=csrf-token]').content;
        const body = new URLSearchParams({csrf_token: token, title, company,
            'amount.amount': '5', 'amount.currency': 'USD'});
        const response = await fetch('/app/r/deal/new', {method: 'POST', body,
                                                          redirect: 'manual'});
        return response.status;
    }""", [forced_title, company["id"]])
    assert status in (403, 422), status
    found = page.goto(f"/app/r/deal?q={forced_title.split()[-1]}")
    assert found is not None and found.status == 200
    expect(page.locator("tr[data-record-id]")).to_have_count(0)


def test_the_russian_interface_renders_lists_forms_and_boards(
    page: Page, server: Server
) -> None:
    server.create_user("olga", "sales_rep")
    lead = server.create_record("olga", "lead", {"first_name": "Ольга", "last_name": "Иванова",
                                                 "company_name": "Ромашка"})
    sign_in(page, "olga", PASSWORD)
    page.select_option("#language-select", "ru")
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()

    page.locator("[data-nav-entity=lead]").click()
    expect(page.locator("h1")).to_contain_text("Лиды")
    expect(page.locator("th[data-column=last_name]")).to_contain_text("Фамилия")
    expect(page.locator("[data-action=new]")).to_have_text("Создать")
    expect(page.locator(f"[data-record-id='{lead['id']}']")).to_contain_text("Иванова")

    page.goto(f"/app/r/lead/{lead['id']}")
    expect(page.locator("[data-record-state=status]")).to_have_text("Новый")
    expect(page.locator("[data-field=company_name]")).to_have_text("Ромашка")
    expect(page.get_by_role("heading", name="Хронология")).to_be_visible()

    page.goto("/app/r/lead/new")
    expect(page.locator("label[for=f-last_name]")).to_contain_text("Фамилия")
    expect(page.locator("[data-action=save]")).to_have_text("Сохранить")

    page.goto("/app/r/deal/board")
    expect(page.locator("[data-board-column=qualification] h2")).to_have_text("Квалификация")
    assert "Qualification" not in page.locator("main").inner_text()
