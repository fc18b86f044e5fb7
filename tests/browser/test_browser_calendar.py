"""A sales rep working in Russian schedules a meeting from a person's record page ("Назначить
встречу"), saves it, and finds it on their calendar's week view and on the person's
timeline; logs a call from the same page and is reminded of the meeting by the bell —
against `metacrm serve` with the shipped packs, in a real browser."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from browser_harness import PASSWORD, Browser, Page, Server, expect, shipped_server, sign_in

REP = "vera"


@pytest.fixture(scope="module")
def server(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with shipped_server(tmp_path_factory) as server:
        server.create_user(REP, "sales_rep")
        yield server


def test_a_meeting_scheduled_from_a_record_page_is_on_the_calendar_in_russian(
        page: Page, server: Server) -> None:
    person = server.create_record(REP, "person", {"first_name": "Иван", "last_name": "Петров"})
    sign_in(page, REP, PASSWORD)
    page.select_option("#language-select", "ru")
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    page.goto(f"/app/r/person/{person['id']}")
    page.locator("[data-quick-action=meeting]").click()
    page.wait_for_url("**/app/r/meeting/new**")
    page.fill("#f-subject", "Обсуждение договора")
    page.fill("#f-starts_at", "2030-04-17T10:30")
    page.locator("[data-action=save]").click()
    expect(page.locator("h1")).to_contain_text("Обсуждение договора")

    page.locator("[data-nav-calendar]").click()
    expect(page.locator("h1")).to_have_text("Календарь")
    page.goto("/app/calendar?view=week&date=2030-04-17")
    day = page.locator("[data-cal-drop][data-day='2030-04-17']")
    expect(day).to_contain_text("10:30")
    expect(day).to_contain_text("Обсуждение договора")
    expect(page.locator("[data-cal-view=week]")).to_have_text("Неделя")

    page.goto(f"/app/r/person/{person['id']}")
    expect(page.locator("main")).to_contain_text("Обсуждение договора")


def test_a_logged_call_and_a_meeting_are_on_the_timeline_and_the_meeting_is_reminded_of(
        page: Page, server: Server) -> None:
    """The rep's zone is UTC; the meeting starts within their reminder time (60 minutes by
    default), so the next tick of the server's scheduler (embedded: a thread of `serve`)
    puts a reminder on the bell."""
    person = server.create_record(REP, "person", {"first_name": "Анна", "last_name": "Смирнова"})
    starts = (datetime.now(UTC) + timedelta(minutes=30)).replace(second=0, microsecond=0)
    sign_in(page, REP, PASSWORD)
    page.select_option("#language-select", "ru")
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()

    page.goto(f"/app/r/person/{person['id']}")
    page.locator("[data-quick-action=call]").click()
    page.wait_for_url("**/app/r/call/new**")
    page.fill("#f-subject", "Звонок по счёту")
    page.locator("[data-action=save]").click()
    expect(page.locator("h1")).to_contain_text("Звонок по счёту")

    page.goto(f"/app/r/person/{person['id']}")
    page.locator("[data-quick-action=meeting]").click()
    page.wait_for_url("**/app/r/meeting/new**")
    page.fill("#f-subject", "Встреча о продлении")
    page.fill("#f-starts_at", starts.strftime("%Y-%m-%dT%H:%M"))
    page.locator("[data-action=save]").click()
    expect(page.locator("h1")).to_contain_text("Встреча о продлении")

    page.goto(f"/app/r/person/{person['id']}")
    main = page.locator("main")
    expect(main).to_contain_text("Звонок по счёту")
    expect(main).to_contain_text("Встреча о продлении")

    for _ in range(30):
        if page.locator("[data-bell-count]").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(page.locator("[data-bell-count]")).to_have_text("1")
    page.locator("[data-bell]").click()
    reminder = page.locator("main li", has_text="Встреча о продлении")
    expect(reminder).to_contain_text(starts.strftime("%H:%M"))


def test_dragging_tasks_moves_the_due_time_of_a_timed_one_and_the_date_of_an_all_day_one(
        page: Page, server: Server) -> None:
    """The page script PATCHes the field the item sits on (the rep's zone is UTC)."""
    server.create_record(REP, "task", {"subject": "Call the bank", "due_date": "2030-05-08",
                                       "due_at": "2030-05-08T11:00:00Z"})
    server.create_record(REP, "task", {"subject": "Tidy the pipeline",
                                       "due_date": "2030-05-08"})
    sign_in(page, REP, PASSWORD)

    page.goto("/app/calendar?view=day&date=2030-05-08")
    timed = page.locator("[data-cal-item]", has_text="Call the bank")
    expect(timed).to_have_attribute("data-start-field", "due_at")
    timed.drag_to(page.locator("[data-cal-drop][data-hour='15']"))
    expect(page.locator("[data-cal-drop][data-hour='15']")).to_contain_text("Call the bank")
    expect(page.locator(".cal-all-day-row")).to_contain_text("Tidy the pipeline")

    page.goto("/app/calendar?view=week&date=2030-05-08")
    all_day = page.locator("[data-cal-item]", has_text="Tidy the pipeline")
    expect(all_day).to_have_attribute("data-start-field", "due_date")
    all_day.drag_to(page.locator("[data-cal-drop][data-day='2030-05-10']"))
    expect(page.locator("[data-cal-drop][data-day='2030-05-10']")).to_contain_text(
        "Tidy the pipeline")
    expect(page.locator("[data-cal-drop][data-day='2030-05-08']")).to_contain_text(
        "15:00")
