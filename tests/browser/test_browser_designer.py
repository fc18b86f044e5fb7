"""The admin designer in a real browser, and issue 5's "done when" walk.

An admin creates an entity with fields and a pipeline without code; the new entity is at
once in the navigation, has a form, a list and a board whose guard explains itself. The walk:
log in, see the entities, create, find, edit and move records, and add a field that the form
shows at once — no restart of `metacrm serve`.

The server of this module is its own (its metadata changes as the tests run).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from browser_harness import (
    Browser,
    Locator,
    Page,
    Server,
    expect,
    shipped_server,
    sign_in,
)

# Fields and entities added on a running server: schema changes its open connections see.
pytestmark = pytest.mark.postgres_too


@pytest.fixture(scope="module")
def server(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with shipped_server(tmp_path_factory) as server:
        yield server


def record_id(page: Page, entity: str) -> str:
    page.wait_for_url(re.compile(rf"/app/r/{entity}/[0-9a-f-]{{36}}$"))
    return page.url.rsplit("/", 1)[1]


def apply_previewed_change(page: Page) -> None:
    """On the preview page: the plan is shown and has no errors; apply it."""
    expect(page.locator("[data-change-plan]")).to_be_visible()
    expect(page.locator("[data-change-errors]")).to_have_count(0)
    page.locator("[data-action=apply-change]").click()
    expect(page.locator("[data-action=apply-change]")).to_have_count(0)


def row(page: Page, kind: str, index: int) -> Locator:
    """The `index`-th row of the pipeline editor's states or transitions."""
    return page.locator(f"[data-arrange={kind}] > [data-arrange-item]").nth(index)


def add_field(page: Page, entity: str, name: str, type_: str, english: str, russian: str,
              *, choices: str = "") -> None:
    """The designer's "Add field" form, previewed and applied."""
    page.goto(f"/app/admin/entities/{entity}")
    page.locator("[data-action=add-field]").click()
    page.locator("#field-name").fill(name)
    page.locator("#field-type").select_option(type_)
    page.locator("#field-label-en").fill(english)
    page.locator("#field-label-ru").fill(russian)
    if choices:
        page.locator("#field-choices").fill(choices)
    page.locator("[data-action=preview]").click()
    expect(page.locator("[data-change-plan]")).to_contain_text(name)
    apply_previewed_change(page)


def test_an_admin_designs_an_entity_with_fields_and_a_pipeline_that_works_at_once(
    page: Page,
) -> None:
    sign_in(page)
    page.goto("/app/admin/")
    page.locator("[data-designer-tool=entities] a").click()
    page.locator("[data-action=new-entity]").click()

    # the entity, with its first field
    page.locator("#entity-name").fill("project")
    page.locator("#entity-label-en").fill("Project")
    page.locator("#entity-label-ru").fill("Проект")
    page.locator("#entity-plural-en").fill("Projects")
    page.locator("#entity-plural-ru").fill("Проекты")
    page.locator("[data-action=preview]").click()
    expect(page.locator("[data-change-plan]")).to_contain_text("project")
    apply_previewed_change(page)
    expect(page.locator("[data-nav-entity=project]")).to_have_text("Projects")

    # more fields: money and a picklist
    add_field(page, "project", "budget", "money", "Budget", "Бюджет")
    add_field(page, "project", "priority", "picklist", "Priority", "Приоритет",
              choices="low|Low|Низкий\nhigh|High|Высокий")
    page.goto("/app/admin/entities/project")
    for field in ("title", "budget", "priority"):
        expect(page.locator(f"[data-designer-field={field}]")).to_be_visible()

    # the pipeline: planned → active (needs a budget) → done
    page.goto("/app/admin/pipelines")
    page.locator("#new-pipeline-entity").select_option("project")
    page.locator("[data-action=new-pipeline]").click()
    for index, (name, english) in enumerate(
            [("planned", "Planned"), ("active", "Active"), ("done", "Done")]):
        if index:
            page.locator("[data-action=add-state]").click()
        state = row(page, "state", index)
        state.locator("input[name$='-name']").fill(name)
        state.locator("input[name$='-label_en']").fill(english)
    row(page, "state", 2).locator("select[name$='-category']").select_option("won")
    page.get_by_role("button", name="Update the form").last.click()  # states into the lists
    start = row(page, "transition", 0)
    start.locator("input[name$='-name']").fill("start")
    start.locator("input[name$='-label_en']").fill("Start")
    start.locator("select[name$='-from']").select_option(["planned"])
    start.locator("select[name$='-to']").select_option("active")
    start.locator("select[name$='-required_fields']").select_option(["budget"])
    page.locator("[data-action=add-transition]").click()
    finish = row(page, "transition", 1)
    finish.locator("input[name$='-name']").fill("finish")
    finish.locator("input[name$='-label_en']").fill("Finish")
    finish.locator("select[name$='-from']").select_option(["active"])
    finish.locator("select[name$='-to']").select_option("done")
    page.locator("[data-action=preview]").click()
    apply_previewed_change(page)

    # the entity works: form, record page, board with its guard, timeline
    page.locator("[data-nav-entity=project]").click()
    page.locator("[data-action=new]").click()
    expect(page.locator("[data-form-field=budget]")).to_be_visible()
    page.get_by_label("Title").fill("Website relaunch")
    page.locator("#f-priority").select_option("high")
    page.locator("[data-action=save]").click()
    project = record_id(page, "project")
    expect(page.locator("[data-field=priority]")).to_have_text("High")

    page.goto("/app/r/project/board")
    card = page.locator(f"[data-card-id='{project}']")
    expect(page.locator(f"[data-board-column=planned] [data-card-id='{project}']")
           ).to_be_visible()
    card.drag_to(page.locator("[data-board-column=active] [data-column-cards]"))
    expect(page.locator("[data-board-message]")).to_contain_text("Budget")
    expect(page.locator(f"[data-board-column=planned] [data-card-id='{project}']")
           ).to_be_visible()

    page.goto(f"/app/r/project/{project}/edit")
    page.locator("#f-budget").fill("12000")
    page.locator("#f-budget-currency").select_option("EUR")
    page.locator("[data-action=save]").click()
    page.goto("/app/r/project/board")
    card.drag_to(page.locator("[data-board-column=active] [data-column-cards]"))
    expect(page.locator("[data-board-message]")).to_have_text("Moved to Active.")
    expect(page.locator("[data-board-column=active] [data-column-sum]")).to_contain_text(
        "12,000")

    page.goto(f"/app/r/project/{project}")
    expect(page.locator("[data-timeline-kind=transitioned]")).to_contain_text("Active")


def test_done_when_a_user_logs_in_creates_finds_edits_and_moves_and_an_admin_adds_a_field(
    page: Page, server: Server
) -> None:
    marker = uuid.uuid4().hex[:8]
    last_name = f"Walker{marker}"
    sign_in(page)
    for entity in ("lead", "deal", "company", "person", "task"):
        expect(page.locator(f"[data-nav-entity={entity}]")).to_be_visible()

    # create
    page.locator("[data-nav-entity=lead]").click()
    page.locator("[data-action=new]").click()
    page.get_by_label("Last name").fill(last_name)
    page.get_by_label("Company").fill("Walker & Sons")
    page.get_by_label("Email").fill(f"{marker}@walker.example")  # qualifying needs a contact
    page.locator("[data-action=save]").click()
    lead = record_id(page, "lead")

    # find: quick search on the list, among others
    server.create_record("admin", "lead", {"last_name": f"Other{marker}"})
    page.locator("[data-nav-entity=lead]").click()
    page.locator("#list-q").fill(last_name)
    page.locator("#list-q").press("Enter")
    rows = page.locator("tr[data-record-id]")
    expect(rows).to_have_count(1)
    expect(page.locator("#list-q")).to_have_value(last_name)
    expect(rows).to_have_attribute("data-record-id", lead)

    # edit
    rows.locator("[data-record-link]").first.click()
    page.locator("[data-action=edit]").click()
    page.get_by_label("Job title").fill("Buyer")
    page.locator("[data-action=save]").click()
    expect(page.locator("[data-field=job_title]")).to_have_text("Buyer")

    # move: a step on the record page, then on the board
    page.locator("button[data-transition=contact]").click()
    expect(page.locator("[data-record-state=status]")).to_have_text("Contacted")
    page.goto("/app/r/lead/board")
    page.locator(f"[data-card-id='{lead}']").drag_to(
        page.locator("[data-board-column=qualified] [data-column-cards]"))
    expect(page.locator("[data-board-message]")).to_have_text("Moved to Qualified.")

    # as admin, add a field: the form shows it at once, and it stores what is typed
    add_field(page, "lead", "linkedin", "url", "LinkedIn profile", "Профиль LinkedIn")
    page.goto(f"/app/r/lead/{lead}/edit")
    expect(page.get_by_label("LinkedIn profile")).to_be_visible()
    page.get_by_label("LinkedIn profile").fill(f"https://linkedin.example/in/{marker}")
    page.locator("[data-action=save]").click()
    expect(page.locator("[data-field=linkedin]")).to_contain_text(marker)
    page.goto("/app/r/lead/new")
    expect(page.get_by_label("LinkedIn profile")).to_be_visible()


def test_a_transition_row_added_in_the_page_offers_the_states_typed_so_far(page: Page) -> None:
    sign_in(page)
    page.goto("/app/admin/pipelines/new?entity=task")
    page.fill("#state-0-name", "todo")
    page.locator("button[data-add-row=transition]").click()

    added = page.locator("[data-arrange=transition] [data-arrange-item]").last
    for select in ("from", "to"):
        options = added.locator(f"select[name$='-{select}'] option")
        expect(options.filter(has_text="todo")).to_have_count(1)
