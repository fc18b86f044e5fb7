"""The mail of a scheduled report: the result as a table in the body (text and HTML), the
whole result attached as CSV and XLSX, in the recipient's language with times in their zone.

The body is rendered by Jinja2's sandbox (autoescaped HTML): the values are record data
and labels written by admins, which must never run as template code or markup. The body
shows the first `BODY_ROWS` rows; the attachments hold every row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2.sandbox import SandboxedEnvironment

from metacrm.kernel.jobs import MailAttachment, MailMessage
from metacrm.metadata.model import Labels, ReportDef
from metacrm.reports.export import XLSX_MIMETYPE, csv_chunks, file_columns, xlsx_chunks
from metacrm.reports.result import ReportResult

BODY_ROWS = 200
"""Rows the mail's body shows at most (the attachments hold all)."""

TEXTS: Mapping[str, Mapping[str, str]] = {
    "en": {"as_of": "As of {moment}", "total": "Total", "empty": "No rows.",
           "more": "The first {shown} of {count} rows; the attachments hold them all.",
           "why": "You receive this report because of its subscription \"{name}\"."},
    "ru": {"as_of": "По состоянию на {moment}", "total": "Итого", "empty": "Нет строк.",
           "more": "Первые {shown} из {count} строк; во вложениях — все.",
           "why": "Вы получаете этот отчёт по подписке «{name}»."},
}

_TEMPLATE = """\
<html><body>
<h2>{{ title }}</h2>
<p>{{ as_of }}</p>
{% if rows %}<table border="1" cellspacing="0" cellpadding="4">
<thead><tr>{% for h in headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
{% if totals %}<tfoot><tr>{% for cell in totals %}<th>{{ cell }}</th>{% endfor %}</tr></tfoot>
{% endif %}</table>{% else %}<p>{{ empty }}</p>{% endif %}
{% if more %}<p>{{ more }}</p>{% endif %}
<p><small>{{ why }}</small></p>
</body></html>
"""

_environment = SandboxedEnvironment(autoescape=True)
_html = _environment.from_string(_TEMPLATE)


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a scheduled report mail goes to, and how they read it."""

    user_id: str
    address: str
    language: str
    time_zone: str


def label(labels: Labels, language: str, fallback: str) -> str:
    return str(labels.get(language) or labels.get("en") or fallback)


def local_text(value: Any, zone: ZoneInfo, zone_name: str) -> str:
    """A cell as text: date-times (ISO with an offset) in the recipient's zone."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and len(text) >= 20 and text[10:11] == "T":
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
        if moment.tzinfo is not None:
            return moment.astimezone(zone).strftime(f"%Y-%m-%d %H:%M {zone_name}")
    return text


def table(result: ReportResult, language: str, zone_name: str
          ) -> tuple[list[str], list[list[str]], list[str], int]:
    """Headers, the first BODY_ROWS rows, the totals row ([] without totals) and the
    number of rows."""
    zone = ZoneInfo(zone_name)
    columns = file_columns(result)
    by_name = {c.name: c for c in result.columns}
    headers = [label(by_name[c.header].label, language, c.header) if c.header in by_name
               else c.header for c in columns]
    rows = list(result.rows)
    shown = [[local_text(c.value(row), zone, zone_name) for c in columns]
             for row in rows[:BODY_ROWS]]
    totals: list[str] = []
    if result.totals:
        totals = [local_text(c.value(result.totals), zone, zone_name) for c in columns]
        totals[0] = totals[0] or TEXTS[language]["total"]
    return headers, shown, totals, len(rows)


def _text_body(title: str, as_of: str, headers: Sequence[str], rows: Sequence[Sequence[str]],
               totals: Sequence[str], notes: Sequence[str]) -> str:
    lines = [title, as_of, ""]
    lines.append(" | ".join(headers))
    lines.extend(" | ".join(row) for row in rows)
    if totals:
        lines.append(" | ".join(totals))
    lines.append("")
    lines.extend(note for note in notes if note)
    return "\n".join(lines) + "\n"


def report_message(report: ReportDef, subscription: str, result: ReportResult,
                   recipient: Recipient, moment: datetime) -> MailMessage:
    """The mail of `result` (one recipient's run) taken at `moment`."""
    language = recipient.language if recipient.language in TEXTS else "en"
    texts = TEXTS[language]
    result.rows = list(result.rows)
    title = label(report.label, language, report.name)
    local = moment.astimezone(ZoneInfo(recipient.time_zone))
    as_of = texts["as_of"].format(
        moment=local.strftime(f"%Y-%m-%d %H:%M {recipient.time_zone}"))
    headers, rows, totals, count = table(result, language, recipient.time_zone)
    more = texts["more"].format(shown=len(rows), count=count) if count > len(rows) else ""
    why = texts["why"].format(name=subscription)
    html = _html.render(title=title, as_of=as_of, headers=headers, rows=rows, totals=totals,
                        empty=texts["empty"], more=more, why=why)
    text = _text_body(title, as_of, headers, rows, totals,
                      [texts["empty"] if not rows else "", more, why])
    stamp = local.strftime("%Y-%m-%d")
    files = (
        MailAttachment(f"{report.name}-{stamp}.csv", "text/csv",
                       "".join(csv_chunks(result)).encode()),
        MailAttachment(f"{report.name}-{stamp}.xlsx", XLSX_MIMETYPE,
                       b"".join(xlsx_chunks(result, report.name))),
    )
    return MailMessage(to=(recipient.address,), subject=f"{title} — {stamp}", text=text,
                       html=html, attachments=files)
