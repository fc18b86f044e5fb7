"""The Russian interface is complete: every interface string has a translation, and the
standard packs' labels carry Russian too."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*sorted((ROOT / "ui" / "templates").rglob("*.html")),
           *sorted(path for path in (ROOT / "platform" / "metacrm" / "web").rglob("*.py")
                   if path.name != "i18n.py")]  # i18n.py only shows how to call t()
# t("…") / t('…'), also split over adjacent literals as Python writes long strings
CALL = re.compile(r"""\bt\(\s*((?:(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*)+)""")
LITERAL = re.compile(r""""((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'""")
PLURAL = re.compile(r"""\btn\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*"((?:[^"\\]|\\.)*)\"""")


def interface_strings() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for match in CALL.finditer(text):
            message = "".join(a or b for a, b in LITERAL.findall(match.group(1)))
            found.setdefault(message.replace('\\"', '"').replace("\\'", "'"),
                             str(path.relative_to(ROOT)))
        for match in PLURAL.finditer(text):
            found.setdefault(match.group(1), str(path.relative_to(ROOT)))
    return found


def russian() -> dict[str, str]:
    with (ROOT / "ui" / "i18n" / "ru.po").open("rb") as source:
        catalog = read_po(source, locale="ru")
    result: dict[str, str] = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        value = message.string if isinstance(message.string, str) else message.string[0]
        result[key] = value
    return result


def test_every_interface_string_has_a_russian_translation() -> None:
    strings = interface_strings()
    assert len(strings) > 20  # the scan finds the screens' strings
    catalog = russian()
    missing = {text: where for text, where in strings.items() if not catalog.get(text)}
    assert not missing, f"add these to ui/i18n/ru.po: {missing}"


def test_every_message_is_translated_once() -> None:
    """ru.po merges by union across branches; a message added twice would let one of its
    translations silently win."""
    text = (ROOT / "ui" / "i18n" / "ru.po").read_text(encoding="utf-8")
    ids = re.findall(r'^msgid "(.+)"$', text, re.MULTILINE)
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def test_placeholders_survive_translation() -> None:
    placeholder = re.compile(r"%\((\w+)\)s")
    for source, translated in russian().items():
        assert set(placeholder.findall(source)) == set(placeholder.findall(translated)), source


def test_standard_pack_labels_have_russian() -> None:
    missing: list[str] = []

    def walk(node: object, pointer: str) -> None:
        if isinstance(node, dict):
            if "en" in node and isinstance(node.get("en"), str) and not node.get("ru"):
                missing.append(pointer)
            for key, value in node.items():
                walk(value, f"{pointer}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{pointer}/{index}")

    for path in sorted((ROOT / "metadata").rglob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")), str(path.relative_to(ROOT)))
    assert not missing, missing


def _russian_designer(isolated_database_url: str, tmp_path: Path) -> Iterator[Any]:
    """The app with a small pipeline and trigger, an admin signed in, in Russian."""
    from screen_harness import entity, field, labels, open_screens

    import metacrm.web.designer.pipelines
    import metacrm.web.designer.triggers
    import metacrm.web.record_list  # noqa: F401

    deal = entity("deal", field("title", required=True), field("closed_on", "date"),
                  field("stage", "state", pipeline="deal_flow"), title_field="title")
    flow = {"kind": "pipeline", "name": "deal_flow", "version": 1,
            "label": labels("Deals", "Сделки"), "entity": "deal",
            "states": [{"name": "open", "label": labels("Open", "Открыта")},
                       {"name": "won", "label": labels("Won", "Выиграна"), "category": "won"},
                       {"name": "lost", "label": labels("Lost", "Проиграна"),
                        "category": "lost"}],
            "transitions": [{"name": "win", "label": labels("Win", "Выиграть"),
                             "from": ["open"], "to": "won"}]}
    follow = {"kind": "trigger", "name": "follow_up", "version": 1,
              "label": labels("Follow up", "Связаться"), "entity": "deal",
              "event": "transitioned", "mode": "async",
              "actions": [{"type": "set_fields", "params": {"values": {"title": "x"}}}]}
    with open_screens(isolated_database_url, tmp_path, deal, flow, follow) as screens:
        admin = screens.user("root", "boss")
        assert admin.post("/app/language", {"language": "ru", "next": "/app/"}
                          ).status_code == 302
        yield admin


def _option_texts(page: str) -> set[str]:
    return {re.sub(r"\s+", " ", text).strip()
            for text in re.findall(r"<option[^>]*>([^<]*)</option>", page)}


def test_designer_pages_speak_russian(isolated_database_url: str, tmp_path: Path) -> None:
    for admin in _russian_designer(isolated_database_url, tmp_path):
        trigger = admin.text("/app/admin/triggers/follow_up")
        options = _option_texts(trigger)
        # states, time units, action types and system columns by their Russian names
        assert {"Открыта", "Выиграна", "Выиграть", "дни", "месяцы", "Заполнить поля",
                "Создан"} <= options
        assert not {"open", "won", "win", "days", "months", "set_fields", "created_at",
                    "Created at"} & options
        pipeline = _option_texts(admin.text("/app/admin/pipelines/deal_flow"))
        assert "Создан (created_at)" in pipeline  # the condition builder's fields
        assert "Created at (created_at)" not in pipeline
        page = admin.text("/app/r/deal?custom=1&ff=stage&fo=in&fv=won,lost")
        shown = re.search(r"data-filter-value-text>([^<]*)<", page)
        assert shown and shown.group(1) == "Выиграна, Проиграна"  # not "won,lost"


ADMIN_PAGE_SOURCES = ("ui/templates/metacrm/users.html", "ui/templates/metacrm/user_form.html",
                      "ui/templates/metacrm/roles.html", "ui/templates/metacrm/base.html")


def strings_of(paths: tuple[str, ...]) -> set[str]:
    """The interface strings `t("…")` of these files (paths from the repository root)."""
    found: set[str] = set()
    for path in paths:
        for match in CALL.finditer((ROOT / path).read_text(encoding="utf-8")):
            message = "".join(a or b for a, b in LITERAL.findall(match.group(1)))
            found.add(message.replace('\\"', '"').replace("\\'", "'"))
    return found


def _visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_user_and_role_admin_pages_speak_russian(isolated_database_url: str,
                                                 tmp_path: Path) -> None:
    """No interface string of the user and role pages shows in English to a Russian
    admin (FAB's stock pages, which mixed English in, now lead to these)."""
    from screen_harness import open_screens

    from web_harness import role

    catalog = russian()
    english = {message for message in strings_of(ADMIN_PAGE_SOURCES)
               if catalog.get(message) != message and "%(" not in message}
    assert {"Users", "Roles", "Last sign-in", "Create role"} <= english
    rep = role("rep", label={"en": "Sales rep", "ru": "Продавец"})
    with open_screens(isolated_database_url, tmp_path, rep) as screens:
        admin = screens.user("root", "boss")
        screens.user("ann", "rep")
        assert admin.post("/app/language", {"language": "ru", "next": "/app/"}
                          ).status_code == 302
        for path in ("/users/list/", "/roles/list/"):
            assert admin.get(path).status_code == 302  # FAB's pages lead to these
        for path in ("/app/admin/users", "/app/admin/users/new", "/app/admin/users/1",
                     "/app/admin/roles"):
            text = _visible_text(admin.text(path))
            shown = {message for message in english
                     if re.search(rf"(?<!\w){re.escape(message)}(?!\w)", text)}
            assert not shown, (path, shown)
            assert "Продавец" in text or path.endswith("/1"), path
            assert "Sales rep" not in text and "[admin]" not in text, path
