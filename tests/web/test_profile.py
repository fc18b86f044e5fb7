"""The profile page: the time zone, date and number formats change what the screens show
(and how a datetime typed into a form is read); bad input is explained beside the field and
changes nothing; a password change works, ends the user's other sessions and keeps this one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from screen_harness import Browser, Screens, entity, field, open_screens

import metacrm.web.profile
import metacrm.web.record_form
import metacrm.web.record_page  # noqa: F401  (make the screen blueprints)
from web_harness import PASSWORD, role

MEETING = entity("meeting", field("title"), field("starts_at", "datetime"),
                 field("seats", "decimal", precision=12, scale=2), title_field="title")
CLERK = role("clerk", entities={"meeting": {"read": "all", "create": "all", "update": "all"}})
PROFILE = "/app/account/profile"
PASSWORD_PAGE = "/app/account/password"
NEW_PASSWORD = "a-new-secret-1"


def preferences(**changes: str) -> dict[str, str]:
    return {"language": "en", "time_zone": "UTC", "date_format": "locale",
            "number_format": "locale", **changes}


def meeting(who: Browser, **values: Any) -> str:
    response = who.client.post("/api/v1/records/meeting", json={"title": "Kick-off", **values})
    assert response.status_code == 201, response.get_json()
    record_id: str = response.get_json()["data"]["id"]
    return record_id


def field_error(page: str, name: str) -> str:
    found = re.search(rf'data-field-error="{name}">([^<]*)<', page)
    assert found, f"no error beside {name}"
    return found.group(1)


def stored(screens: Screens, record_id: str) -> str:
    answer = screens.web.client.get(f"/api/v1/records/meeting/{record_id}",
                                    headers={"Authorization": "Bearer "
                                             + screens.web.login("ann")})
    value: str = answer.get_json()["data"]["starts_at"]
    return value


def test_the_time_zone_and_formats_change_what_the_record_page_shows(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, MEETING, CLERK) as screens:
        ann = screens.user("ann", "clerk")
        record_id = meeting(ann, starts_at="2024-05-31T14:30:00Z", seats="1234.5")
        page = f"/app/r/meeting/{record_id}"
        shown = ann.text(page)
        assert "May 31, 2024, 2:30:00\u202fPM" in shown  # the default: UTC, English
        assert "1,234.5" in shown
        saved = ann.post(PROFILE, preferences(time_zone="Asia/Tokyo", date_format="iso",
                                              number_format="comma"))
        assert saved.status_code == 303, saved.get_data(as_text=True)[:500]
        shown = ann.text(page)
        assert "2024-05-31 23:30:00" in shown and "14:30" not in shown  # UTC+9
        assert "1\xa0234,5" in shown
        assert "Asia/Tokyo" in ann.text(f"{page}/edit")  # the input's zone is named
        # the profile remembers the choices, and another user's screens are unchanged
        profile = ann.text(PROFILE)
        assert '<option value="Asia/Tokyo" selected>' in profile
        assert '<option value="iso" selected>' in profile
        bob = screens.user("bob", "clerk")
        assert "May 31, 2024, 2:30:00\u202fPM" in bob.text(page)
        # a new sign-in reads the saved preferences from the database
        again = screens.sign_in("ann")
        assert "2024-05-31 23:30:00" in again.text(page)
        ann.post(PROFILE, preferences(language="ru", time_zone="Europe/Moscow",
                                      date_format="dmy", number_format="plain"))
        shown = ann.text(page)
        assert "31.05.2024 17:30:00" in shown and "1234,5" not in shown
        assert "1234.5" in shown


def test_a_datetime_typed_in_a_form_is_read_in_the_users_zone(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, MEETING, CLERK) as screens:
        ann = screens.user("ann", "clerk")
        record_id = meeting(ann, starts_at="2024-05-31T14:30:00Z")
        assert ann.post(PROFILE, preferences(time_zone="Europe/Moscow")).status_code == 303
        form = ann.text(f"/app/r/meeting/{record_id}/edit")
        assert 'value="2024-05-31T17:30:00"' in form  # shown in Moscow time
        version = re.search(r'name="_version" value="(\d+)"', form)
        assert version
        edited = ann.post(f"/app/r/meeting/{record_id}/edit",
                          {"title": "Kick-off", "starts_at": "2024-06-01T09:15",
                           "_version": version.group(1)})
        assert edited.status_code in (302, 303), edited.get_data(as_text=True)[:800]
        assert stored(screens, record_id) == "2024-06-01T06:15:00Z"  # stored in UTC


def test_bad_preferences_are_explained_beside_the_field_and_change_nothing(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, MEETING, CLERK) as screens:
        ann = screens.user("ann", "clerk")
        record_id = meeting(ann, starts_at="2024-05-31T14:30:00Z")
        refused = ann.post(PROFILE, preferences(time_zone="Mars/Olympus_Mons",
                                                date_format="iso"))
        assert refused.status_code == 422
        page = refused.get_data(as_text=True)
        assert "Mars/Olympus_Mons" in field_error(page, "time_zone")
        assert 'aria-describedby="time_zone-error"' in page
        for name, value in (("date_format", "yyyy"), ("number_format", "roman"),
                            ("language", "tlh")):
            answer = ann.post(PROFILE, preferences(**{name: value}))
            assert answer.status_code == 422
            assert field_error(answer.get_data(as_text=True), name)
        # nothing was saved: not the good date format beside the bad zone either
        shown = ann.text(f"/app/r/meeting/{record_id}")
        assert "May 31, 2024, 2:30:00\u202fPM" in shown
        assert "2024-05-31 14:30" not in shown
        assert "May 31, 2024, 2:30:00\u202fPM" in screens.sign_in("ann").text(
            f"/app/r/meeting/{record_id}")


def test_a_password_change_ends_other_sessions_and_keeps_this_one(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, MEETING, CLERK) as screens:
        ann = screens.user("ann", "clerk")
        laptop = screens.sign_in("ann")
        jwt = screens.web.login("ann")
        changed = ann.post(PASSWORD_PAGE, {"current_password": PASSWORD,
                                           "new_password": NEW_PASSWORD,
                                           "new_password_again": NEW_PASSWORD})
        assert changed.status_code == 303, changed.get_data(as_text=True)[:800]
        assert "Password changed" in ann.text(PROFILE)  # this session stays
        assert laptop.get(PROFILE).status_code == 302  # the other one is signed out
        api = screens.web.app.test_client()
        headers = {"Authorization": f"Bearer {jwt}"}
        assert api.get("/api/v1/records/meeting", headers=headers).status_code == 401
        old = screens.anonymous()
        refused = old.client.post("/app/login", data={
            "csrf_token": old.csrf(), "username": "ann", "password": PASSWORD})
        assert refused.status_code == 401
        assert screens.web.login("ann", NEW_PASSWORD)


def test_bad_password_changes_are_explained_beside_the_field_and_change_nothing(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, MEETING, CLERK) as screens:
        ann = screens.user("ann", "clerk")
        laptop = screens.sign_in("ann")
        attempts = [
            ({"current_password": "wrong-password", "new_password": NEW_PASSWORD,
              "new_password_again": NEW_PASSWORD}, "current_password", "not your current"),
            ({"current_password": PASSWORD, "new_password": NEW_PASSWORD,
              "new_password_again": NEW_PASSWORD + "x"}, "new_password_again", "differs"),
            ({"current_password": PASSWORD, "new_password": "short",
              "new_password_again": "short"}, "new_password", "at least 8"),
            ({"current_password": "", "new_password": NEW_PASSWORD,
              "new_password_again": NEW_PASSWORD}, "current_password", "current password"),
            ({"current_password": PASSWORD, "new_password": PASSWORD,
              "new_password_again": PASSWORD}, "new_password", "same as the current"),
        ]
        for form, name, reason in attempts:
            answer = ann.post(PASSWORD_PAGE, form)
            assert answer.status_code == 422, (form, answer.status_code)
            assert reason in field_error(answer.get_data(as_text=True), name), form
        # the old password still works, and no session ended
        assert screens.web.login("ann", PASSWORD)
        assert laptop.get(PROFILE).status_code == 200
        assert ann.get(PROFILE).status_code == 200


def test_the_profile_is_linked_from_the_top_bar_and_links_to_the_tokens(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, MEETING, CLERK) as screens:
        ann = screens.user("ann", "clerk")
        home = ann.text("/app/")
        assert f'href="{PROFILE}" data-user="ann"' in home
        page = ann.text(PROFILE)
        assert 'href="/app/account/tokens" data-profile-tokens' in page
        labels = {m.group(1): m.group(2) for m in re.finditer(
            r'<option value="([^"]+)"[^>]*>([^<]+)</option>', page)}
        assert labels["Europe/Moscow"].startswith("Moscow — Europe/Moscow, UTC+03:00")
        assert "localtime" not in labels
        ru = ann.post(PROFILE, preferences(language="ru"))
        assert ru.status_code == 303
        assert "Часовой пояс" in ann.text(PROFILE)
        assert screens.anonymous().get(PROFILE).status_code == 302


def test_guessing_the_current_password_is_throttled_like_signing_in(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, MEETING, CLERK) as screens:
        ann = screens.user("ann", "clerk")
        guard = screens.web.identity.login_guard
        assert guard is not None
        frozen = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
        guard.clock = lambda: frozen  # no wait runs out while a slow machine posts
        guess = {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
        for attempt in range(6):  # five free failures, the sixth makes the next one wait
            answer = ann.post(PASSWORD_PAGE, {"current_password": f"guess-{attempt}", **guess})
            assert answer.status_code == 422
        throttled = ann.post(PASSWORD_PAGE, {"current_password": PASSWORD, **guess})
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) >= 1
        assert "Try again in" in field_error(throttled.get_data(as_text=True),
                                             "current_password")
        # the sign-in page counts the same failures, and the password did not change
        other = screens.anonymous()
        refused = other.client.post("/app/login", data={
            "csrf_token": other.csrf(), "username": "ann", "password": PASSWORD})
        assert refused.status_code == 429
        assert ann.get(PROFILE).status_code == 200


def test_the_phone_calls_are_forwarded_to_is_kept_in_international_format(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, MEETING, CLERK) as screens:
        ann = screens.user("ann", "clerk")
        refused = ann.post("/app/account/phone", {"phone": "call me maybe"})
        assert refused.status_code == 422
        assert "international format" in field_error(refused.get_data(as_text=True), "phone")

        saved = ann.post("/app/account/phone", {"phone": "+1 (415) 555-2671"})
        assert saved.status_code == 303
        assert 'name="phone" value="+14155552671"' in ann.text(PROFILE)

        assert ann.post("/app/account/phone", {"phone": ""}).status_code == 303
        assert 'name="phone" value=""' in ann.text(PROFILE)
