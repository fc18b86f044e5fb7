"""The profile page, `/app/account/profile`: the user's language, time zone, date and number
formats, their own phone (where inbound calls about their records are forwarded), their
password, and the way to their API tokens.

Preferences are saved in `metacrm_user_preferences` (services.preferences) and take effect
on the next page of this session (`web.blueprints.session_preferences`). Every input is
checked before anything is saved: one bad value leaves all of them as they were, and the
page comes back (422) with the reason beside the field.

The password is changed by `identity.password_change`: the current one is checked behind
the login guard, the new one hashed by Flask-AppBuilder; the user's other sessions end and
this one stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import flash, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from metacrm.identity.bridge import identity_state
from metacrm.identity.login_guard import LoginThrottled
from metacrm.identity.password_change import (
    MIN_PASSWORD_LENGTH,
    change_password,
    current_password_matches,
)
from metacrm.services.calendar import feed as calendar_feed
from metacrm.services.users.preferences import (
    UserPreferences,
    save_phone,
    save_preferences,
    saved_phone,
)
from metacrm.telephony.phones import e164
from metacrm.web.auth import ONE_YEAR
from metacrm.web.blueprints import remember_preferences, screen_blueprint, session_preferences
from metacrm.web.context import login_required, services, web_actor
from metacrm.web.i18n import (
    DATE_FORMATS,
    DEFAULT_TIME_ZONE,
    LANGUAGE_COOKIE,
    LANGUAGES,
    NUMBER_FORMATS,
    current_language,
    t,
    time_zone_names,
    use_formats,
    use_language,
)
from metacrm.web.security_headers import served_over_https

web_profile = screen_blueprint("web_profile", __name__, url_prefix="/app/account")

TEMPLATE = "metacrm/profile.html"
PASSWORD_FIELDS = ("current_password", "new_password", "new_password_again")


@dataclass(frozen=True)
class ZoneChoice:
    name: str
    label: str


def _actor_id() -> str:
    actor = web_actor()
    assert actor is not None  # login_required ran first
    return actor.user_id


def zone_choices(now: datetime | None = None) -> list[ZoneChoice]:
    """Every zone, labelled city first with its current offset ("Moscow — Europe/Moscow,
    UTC+03:00"), so typing a city's first letters in the select finds it; sorted by label."""
    moment = now or datetime.now(UTC)
    choices = []
    for name in time_zone_names():
        offset = moment.astimezone(ZoneInfo(name)).strftime("%z")
        utc = f"UTC{offset[:3]}:{offset[3:]}"
        city = name.rsplit("/", 1)[-1].replace("_", " ")
        label = f"{city} — {name}, {utc}" if "/" in name else f"{name} — {utc}"
        choices.append(ZoneChoice(name, label))
    return sorted(choices, key=lambda choice: (choice.label.casefold(), choice.name))


def date_format_labels() -> dict[str, str]:
    labels = {
        "locale": t("As the language writes them"),
        "iso": t("ISO 8601: 2024-05-31 14:30:00"),
        "dmy": t("Day.month.year: 31.05.2024 14:30:00"),
        "mdy": t("Month/day/year: 05/31/2024 2:30:00 PM"),
    }
    assert labels.keys() == DATE_FORMATS.keys()
    return labels


def number_format_labels() -> dict[str, str]:
    labels = {
        "locale": t("As the language writes them"),
        "point": "1,234.56",
        "comma": "1 234,56",
        "plain": "1234.56",
    }
    assert labels.keys() == NUMBER_FORMATS.keys()
    return labels


def _page(*, chosen: UserPreferences, errors: dict[str, str] | None = None,
          status: int = 200, phone: str | None = None) -> tuple[str, int]:
    if phone is None:
        phone = saved_phone(services().engine, _actor_id()) or ""
    return render_template(
        TEMPLATE, chosen=chosen, errors=errors or {}, zones=zone_choices(),
        date_formats=date_format_labels(), number_formats=number_format_labels(),
        min_password=MIN_PASSWORD_LENGTH, default_zone=DEFAULT_TIME_ZONE, phone=phone,
        current_language=current_language(),
        feed_since=calendar_feed.token_created_at(services().engine, _actor_id())), status


@web_profile.get("/profile")
@login_required
def profile() -> tuple[str, int]:
    return _page(chosen=session_preferences(_actor_id()))


@web_profile.post("/profile")
@login_required
def save() -> BaseResponse | tuple[str, int]:
    """Save the preferences: all of them, or (any value bad) none."""
    form = request.form
    chosen = UserPreferences(
        language=form.get("language", "").strip(),
        time_zone=form.get("time_zone", "").strip() or DEFAULT_TIME_ZONE,
        date_format=form.get("date_format", "").strip() or "locale",
        number_format=form.get("number_format", "").strip() or "locale")
    errors = _preference_errors(chosen)
    if errors:
        return _page(chosen=chosen, errors=errors, status=422)
    user_id = _actor_id()
    save_preferences(services().engine, user_id, chosen)
    remember_preferences(user_id, chosen)
    assert chosen.language is not None
    use_language(chosen.language)  # the confirmation below is in the new language
    use_formats(chosen.time_zone, chosen.date_format, chosen.number_format)
    flash(t("Preferences saved."), "success")
    response = make_response(redirect(url_for("web_profile.profile"), code=303))
    response.set_cookie(LANGUAGE_COOKIE, chosen.language, max_age=ONE_YEAR, samesite="Lax",
                        httponly=True, secure=served_over_https())
    return response


def _preference_errors(chosen: UserPreferences) -> dict[str, str]:
    errors = {}
    if chosen.language not in LANGUAGES:
        errors["language"] = t("Pick one of the languages in the list.")
    if chosen.time_zone not in time_zone_names():
        errors["time_zone"] = t("“%(zone)s” is not a time zone this server knows: pick one "
                                "from the list, such as Europe/Moscow.",
                                zone=str(chosen.time_zone)[:64])
    if chosen.date_format not in DATE_FORMATS:
        errors["date_format"] = t("Pick one of the date formats in the list.")
    if chosen.number_format not in NUMBER_FORMATS:
        errors["number_format"] = t("Pick one of the number formats in the list.")
    return errors


@web_profile.post("/phone")
@login_required
def phone() -> BaseResponse | tuple[str, int]:
    """Keep the user's own phone (international format; empty: none)."""
    given = (request.form.get("phone") or "").strip()
    number = e164(given) if given else None
    if given and number is None:
        return _page(chosen=session_preferences(_actor_id()), status=422, phone=given[:64],
                     errors={"phone": t("Enter the number in international format, with "
                                        "the country code, such as +14155552671.")})
    save_phone(services().engine, _actor_id(), number)
    flash(t("Phone saved."), "success")
    return redirect(url_for("web_profile.profile"), code=303)


@web_profile.post("/password")
@login_required
def password() -> BaseResponse | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """Change the password: current one right, new one long enough and typed twice alike."""
    current, new, again = (request.form.get(name) or "" for name in PASSWORD_FIELDS)
    errors: dict[str, str] = {}
    if not current:
        errors["current_password"] = t("Enter your current password.")
    if len(new) < MIN_PASSWORD_LENGTH:
        errors["new_password"] = t("The new password needs at least %(count)s characters.",
                                   count=MIN_PASSWORD_LENGTH)
    elif new != again:
        errors["new_password_again"] = t("This differs from the new password above: type "
                                         "the same password twice.")
    chosen = session_preferences(_actor_id())
    if errors:
        return _page(chosen=chosen, errors=errors, status=422)
    state = identity_state()
    user_id = int(_actor_id())
    try:
        matches = current_password_matches(state.appbuilder.sm, user_id, current)
    except LoginThrottled as throttled:
        state.end_session_transaction()
        errors["current_password"] = t("Too many wrong passwords. Try again in %(seconds)s "
                                       "seconds.", seconds=throttled.retry_after)
        page, status = _page(chosen=chosen, errors=errors, status=429)
        return page, status, {"Retry-After": str(throttled.retry_after)}
    if not matches:
        state.end_session_transaction()
        errors["current_password"] = t("This is not your current password.")
        return _page(chosen=chosen, errors=errors, status=422)
    if new == current:
        state.end_session_transaction()
        errors["new_password"] = t("The new password is the same as the current one.")
        return _page(chosen=chosen, errors=errors, status=422)
    change_password(state.appbuilder.sm, user_id, new)
    state.end_session_transaction()
    flash(t("Password changed. Your other sessions and API logins (JWT) have ended; this "
            "one stays signed in."), "success")
    return redirect(url_for("web_profile.profile"), code=303)
