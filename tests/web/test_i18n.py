"""The Russian interface is complete: every interface string has a translation, and the
standard packs' labels carry Russian too."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
