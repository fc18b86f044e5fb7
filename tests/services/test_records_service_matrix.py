"""The permission matrix: subjects × paths × records, at the records service.

Every path a user reaches records by — list, get, query with a filter, text search, include,
history, available transitions, create, update, delete, global search, and the screens'
reads (kanban column totals, CSV export, a record page's related lists, notifications and
their email digest), and reports — answers exactly the records each subject's roles allow,
for scopes own / team (with a sub-team) / all with a rule, a union of roles, an admin role,
a role listing nothing; hidden fields and their values never appear in any output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from records_world import ROLES_OF, World

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import Forbidden, MetacrmError, NotFound, ValidationFailed
from metacrm.kernel.jobs import MailMessage
from metacrm.notifications import preferences as notification_preferences
from metacrm.notifications import store as notification_store
from metacrm.notifications.digest import DailyDigest
from metacrm.notifications.preferences import NotificationPreferences
from metacrm.notifications.service import NotificationService
from metacrm.reports.service import ReportService
from metacrm.services.conversion.matching import find_match
from metacrm.services.export.records import export_records
from metacrm.services.records.global_search import GlobalSearch
from metacrm.services.records.related import related_lists
from metacrm.services.records.titles import PlainTitles
from metacrm.services.transitions.board_totals import money_sums
from metacrm.services.transitions.service import TransitionService
from metacrm.services.users.bookmarks import RecordBookmarks
from metacrm.storage.engine import create_database_engine
from metacrm.storage.system_tables import favourite_records

DEALS = {  # title: (owner, region, amount, company)
    "D1": ("rep1", "eu", "100", "C_eu"),
    "D1b": ("rep1", "us", "200", "C_us"),
    "D2": ("rep2", "eu", "300", "C_eu"),
    "D3": ("rep3", "us", "400", "C_us"),
    "D3b": ("rep3", "eu", "500", "C_eu"),
    "DL": ("lead", "eu", "600", "C_us"),
}
ALL = frozenset(DEALS)
SECRETS = ("TOPSECRET", "XCODE-", "77.77")
"""Values of hidden fields: `secret_note`, `internal_code`, `margin`."""


@dataclass(frozen=True)
class Expect:
    user: str
    roles: tuple[str, ...] | None
    read: frozenset[str] | None
    """Deals the subject reads; None: reading deals is forbidden."""
    update: frozenset[str]
    """Deals the subject may update (the rest: `readable -> 403`, else 404)."""
    delete: frozenset[str] | None
    """Deals the subject may delete; None: no delete grant at all (403 everywhere)."""
    create: bool
    companies: frozenset[str]
    """Companies the subject may read (what `include=company` can show)."""
    hidden: bool
    """Deal `margin`/`internal_code` and company `secret_note` are hidden."""


EXPECTATIONS = [
    Expect("rep1", None, frozenset({"D1", "D1b"}), frozenset({"D1", "D1b"}),
           frozenset({"D1", "D1b"}), True, frozenset({"C_eu"}), True),
    Expect("rep2", None, frozenset({"D2"}), frozenset({"D2"}), frozenset({"D2"}), True,
           frozenset({"C_eu"}), True),
    Expect("lead", None, frozenset({"D1", "D1b", "D2", "DL"}),
           frozenset({"D1", "D1b", "D2", "DL"}), None, True, frozenset({"C_eu", "C_us"}),
           False),
    # a lead of the sub-team sees the sub-team only, not the parent team
    Expect("rep2", ("lead",), frozenset({"D2"}), frozenset({"D2"}), None, True,
           frozenset({"C_eu", "C_us"}), False),
    Expect("auditor", None, frozenset({"D1", "D2", "D3b", "DL"}), frozenset(), None, False,
           frozenset(), False),
    Expect("admin", None, ALL, ALL, ALL, True, frozenset({"C_eu", "C_us"}), False),
    Expect("rep1", ("rep", "auditor"), frozenset({"D1", "D1b", "D2", "D3b", "DL"}),
           frozenset({"D1", "D1b"}), frozenset({"D1", "D1b"}), True, frozenset({"C_eu"}),
           False),
    Expect("nobody", None, None, frozenset(), None, False, frozenset(), False),
]
IDS = [f"{e.user}:{'+'.join(e.roles or ('default',))}" for e in EXPECTATIONS]


class Seeded:
    def __init__(self, world: World) -> None:
        self.world = world
        self.records = world.records
        admin = world.admin
        self.company = {
            name: self.records.create(admin, "company", {
                "name": name, "region": name[2:], "secret_note": "TOPSECRET"})["id"]
            for name in ("C_eu", "C_us")
        }
        self.deal: dict[str, str] = {}
        for index, (title, (owner, region, amount, company)) in enumerate(DEALS.items()):
            created = self.records.create(admin, "deal", {
                "title": title, "region": region, "amount": amount, "owner": owner,
                "company": self.company[company], "margin": "77.77",
                "internal_code": f"XCODE-{index}",
                "value": {"amount": amount, "currency": "EUR"}})
            self.deal[title] = created["id"]
        self.title = {record_id: title for title, record_id in self.deal.items()}
        self.company_name = {record_id: name for name, record_id in self.company.items()}

    def subject(self, expect: Expect) -> AccessSubject:
        return self.world.subject(expect.user, expect.roles)


@pytest.fixture(scope="module")
def seeded(module_database_url: str) -> Iterator[Seeded]:
    """One seeded database for the tests that only read (and write nothing — no record,
    notification, bookmark — that another test could see): the model's tables and the
    records cost more than a test's reads, most of all on PostgreSQL."""
    engine = create_database_engine(module_database_url)
    try:
        yield Seeded(World(engine))
    finally:
        engine.dispose()


@pytest.fixture
def fresh_seeded(engine: sa.Engine) -> Iterator[Seeded]:
    """A seeded database of the test's own, for a test that writes."""
    yield Seeded(World(engine))


def assert_nothing_hidden(output: Any, expect: Expect) -> None:
    if not expect.hidden:
        return
    text = json.dumps(output)
    for secret in SECRETS:
        assert secret not in text
    for name in ("margin", "internal_code", "secret_note"):
        assert f'"{name}"' not in text


def outcome(call: Any, *args: Any) -> str:
    try:
        call(*args)
    except Forbidden:
        return "forbidden"
    except NotFound:
        return "not_found"
    return "ok"


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_reads_return_exactly_the_records_in_scope(seeded: Seeded, expect: Expect) -> None:
    records, subject = seeded.records, seeded.subject(expect)
    if expect.read is None:
        for call in (lambda: records.list(subject, "deal"),
                     lambda: records.get(subject, "deal", seeded.deal["D1"]),
                     lambda: records.history(subject, "deal", seeded.deal["D1"])):
            with pytest.raises(Forbidden):
                call()
        return

    page = records.list(subject, "deal", sort=["amount"], include=["company"])
    assert [seeded.title[r["id"]] for r in page.records] == sorted(
        expect.read, key=lambda t: DEALS[t][2])
    assert (page.count, page.count_is_estimate) == (len(expect.read), False)
    companies_referenced = {DEALS[t][3] for t in expect.read}
    assert {seeded.company_name[i] for i in page.included["company"]} == (
        companies_referenced & expect.companies)
    assert_nothing_hidden(page.records, expect)
    assert_nothing_hidden(page.included, expect)

    filtered = records.list(subject, "deal",
                            criteria={"field": "amount", "op": "gte", "value": "300"})
    assert {seeded.title[r["id"]] for r in filtered.records} == (
        expect.read & {"D2", "D3", "D3b", "DL"})
    assert filtered.count == len(expect.read & {"D2", "D3", "D3b", "DL"})

    searched = records.list(subject, "deal", q="d3")
    assert {seeded.title[r["id"]] for r in searched.records} == expect.read & {"D3", "D3b"}
    by_hidden_code = records.list(subject, "deal", q="XCODE-0")  # D1's internal code
    assert {seeded.title[r["id"]] for r in by_hidden_code.records} == (
        set() if expect.hidden else expect.read & {"D1"})

    for title, record_id in seeded.deal.items():
        if title in expect.read:
            got = records.get(subject, "deal", record_id, include=["company"])
            assert got["title"] == title
            assert_nothing_hidden(got, expect)
            assert len(got["_included"]["company"]) == (DEALS[title][3] in expect.companies)
            history = records.history(subject, "deal", record_id)
            assert {entry["field"] for entry in history} >= {"title", "owner"}
            assert_nothing_hidden(history, expect)
        else:
            for read in (records.get, records.history):
                with pytest.raises(NotFound) as missing:
                    read(subject, "deal", record_id)
                assert missing.value.message == f"deal record {record_id} does not exist"


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_updates_reach_exactly_the_update_scope(fresh_seeded: Seeded, expect: Expect) -> None:
    records, subject = fresh_seeded.records, fresh_seeded.subject(expect)
    for title, record_id in fresh_seeded.deal.items():
        result = outcome(records.update, subject, "deal", record_id, {"amount": "1"})
        if expect.read is None or not expect.update:
            expected = "forbidden"
        elif title in expect.update:
            expected = "ok"
        else:
            expected = "forbidden" if title in expect.read else "not_found"
        assert result == expected, title
        stored = records.get(fresh_seeded.world.admin, "deal", record_id)
        assert (stored["amount"], stored["version"]) == (
            ("1.00", 2) if expected == "ok" else (f"{DEALS[title][2]}.00", 1))


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_deletes_reach_exactly_the_delete_scope(fresh_seeded: Seeded, expect: Expect) -> None:
    records, subject = fresh_seeded.records, fresh_seeded.subject(expect)
    for title, record_id in fresh_seeded.deal.items():
        result = outcome(records.delete, subject, "deal", record_id)
        if expect.delete is None:
            expected = "forbidden"
        elif title in expect.delete:
            expected = "ok"
        else:
            expected = "forbidden" if expect.read and title in expect.read else "not_found"
        assert result == expected, title
    remaining = records.list(fresh_seeded.world.admin, "deal").records
    assert {fresh_seeded.title[r["id"]] for r in remaining} == ALL - (expect.delete or set())


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_creates_follow_the_create_scope(fresh_seeded: Seeded, expect: Expect) -> None:
    records, subject = fresh_seeded.records, fresh_seeded.subject(expect)
    payload = {"title": "New", "region": "eu"}
    if not expect.create:
        with pytest.raises(Forbidden):
            records.create(subject, "deal", payload)
        return
    created = records.create(subject, "deal", payload)
    assert created["owner"] == expect.user
    assert created["stage"] == "new"
    assert_nothing_hidden(created, expect)
    someone_else = outcome(records.create, subject, "deal", {**payload, "owner": "rep3"})
    only_own = expect.roles in (None, ("rep", "auditor")) and expect.user.startswith("rep")
    assert someone_else == ("forbidden" if only_own else "ok")


def test_hidden_fields_are_unknown_to_filters_sorts_and_field_lists(seeded: Seeded) -> None:
    rep, lead = seeded.world.subject("rep1"), seeded.world.subject("lead")
    records = seeded.records
    calls = {
        "/criteria/field": lambda s: records.list(s, "deal", criteria={
            "field": "margin", "op": "gt", "value": "1"}),
        "/sort/0": lambda s: records.list(s, "deal", sort=["-margin"]),
        "/fields/1": lambda s: records.list(s, "deal", fields=["title", "margin"]),
        "/include/0": lambda s: records.list(s, "deal", include=["internal_code"]),
    }
    for pointer, call in calls.items():
        with pytest.raises(MetacrmError) as hidden:
            call(rep)
        assert hidden.value.status == 422
        assert [e.pointer for e in hidden.value.errors] == [pointer]
        if pointer != "/include/0":
            call(lead)  # the same request is fine for a role that sees the field
    with pytest.raises(MetacrmError) as unknown:
        records.list(rep, "deal", criteria={"field": "nonexistent", "op": "gt", "value": 1})
    with pytest.raises(MetacrmError) as hidden:
        records.list(rep, "deal", criteria={"field": "margin", "op": "gt", "value": 1})
    assert unknown.value.errors[0].message.replace("nonexistent", "margin") == (
        hidden.value.errors[0].message)


def test_hidden_and_read_only_fields_cannot_be_written(fresh_seeded: Seeded) -> None:
    rep, records = fresh_seeded.world.subject("rep1"), fresh_seeded.records
    deal = fresh_seeded.deal["D1"]
    for changes, pointer in (({"margin": "1"}, "/margin"), ({"margin": "77.77"}, "/margin"),
                             ({"discount": "5"}, "/discount")):
        with pytest.raises(Forbidden) as refused:
            records.update(rep, "deal", deal, changes)
        assert [e.pointer for e in refused.value.errors] == [pointer]
    with pytest.raises(Forbidden) as refused:
        records.create(rep, "deal", {"title": "X", "internal_code": "Y"})
    assert [e.pointer for e in refused.value.errors] == ["/internal_code"]
    # sending a read-only field's stored value back is not a change
    unchanged = records.update(rep, "deal", deal, {"discount": None, "title": "D1"})
    assert unchanged["version"] == 1
    admin_view = records.get(fresh_seeded.world.admin, "deal", deal)
    assert admin_view["margin"] == "77.77"


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_available_transitions_answer_like_get(seeded: Seeded, expect: Expect) -> None:
    """GET .../transitions is a read path: the records in the read scope answer (only an
    admin's roles grant the `win` transition here), the others are not found."""
    transitions = TransitionService(seeded.records)
    subject = seeded.subject(expect)
    for title, record_id in seeded.deal.items():
        result = outcome(transitions.available, subject, "deal", record_id)
        if expect.read is None:
            assert result == "forbidden", title
        elif title in expect.read:
            listed = transitions.available(subject, "deal", record_id)
            assert [t["name"] for t in listed] == (["win"] if expect.user == "admin" else [])
        else:
            assert result == "not_found", title


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_board_totals_sum_exactly_the_readable_records(seeded: Seeded,
                                                       expect: Expect) -> None:
    """Kanban column totals: one grouped SUM under the same read condition as the list."""
    subject = seeded.subject(expect)
    if expect.read is None:
        with pytest.raises(Forbidden):
            money_sums(seeded.records, subject, "deal", group_by="stage", money_field="value")
        return
    sums = money_sums(seeded.records, subject, "deal", group_by="stage", money_field="value")
    expected = sum(int(DEALS[title][2]) for title in expect.read)
    assert {stage: [(s.currency, int(s.amount)) for s in found]
            for stage, found in sums.items()} == {"new": [("EUR", expected)]}


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_exports_are_the_read_and_export_scopes_together(seeded: Seeded,
                                                         expect: Expect) -> None:
    """A CSV export: records in the read scope AND the export scope, hidden fields out."""
    subject = seeded.subject(expect)
    roles = expect.roles or ROLES_OF[expect.user]
    allowed: frozenset[str] | None = None
    if "admin" in roles:
        allowed = ALL
    elif "lead" in roles:  # the lead role exports its holder's own deals only
        allowed = frozenset(t for t in expect.read or () if DEALS[t][0] == expect.user)
    if allowed is None:
        with pytest.raises(Forbidden):
            export_records(seeded.records, subject, "deal")
        return
    rows = export_records(seeded.records, subject, "deal", sort=["amount"])
    assert [seeded.title[r["id"]] for r in rows.records] == sorted(
        allowed, key=lambda t: DEALS[t][2])
    assert not rows.truncated
    assert_nothing_hidden(rows.records, expect)
    assert ("margin" in rows.fields) == (not expect.hidden)


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_related_lists_show_only_readable_referencing_records(seeded: Seeded,
                                                              expect: Expect) -> None:
    """A company's page lists the deals referencing it that the subject may read."""
    subject = seeded.subject(expect)
    related = related_lists(seeded.records, subject, "company", seeded.company["C_eu"])
    deals = [item for item in related if item.entity.name == "deal"]
    if expect.read is None:
        assert deals == []
        return
    (deal_list,) = deals
    assert {seeded.title[r["id"]] for r in deal_list.page.records} == {
        title for title in expect.read if DEALS[title][3] == "C_eu"}
    assert_nothing_hidden(deal_list.page.records, expect)


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_notifications_show_only_readable_records(fresh_seeded: Seeded, expect: Expect) -> None:
    """Told about every deal, a subject sees (and counts) exactly the deals it may read."""
    subject = fresh_seeded.subject(expect)
    assert subject.user_id is not None
    now = datetime.now(UTC)
    with fresh_seeded.records.engine.begin() as conn:
        for record_id in fresh_seeded.deal.values():
            notification_store.add(conn, user_id=subject.user_id, kind="automation",
                                   source=f"test:{record_id}", at=now, entity="deal",
                                   record_id=record_id, message="about a deal")
    service = NotificationService(fresh_seeded.records.engine, fresh_seeded.records, lambda: now)
    page = service.list(subject, limit=50)
    readable = expect.read or frozenset()
    assert {fresh_seeded.title[item.stored.record_id or ""] for item in page.items} == readable
    assert page.unread == service.unread_count(subject) == len(readable)
    assert_nothing_hidden([item.to_json() for item in page.items], expect)


class _Mailbox:
    """Each address is the user's id at example.com; sent mail is kept."""

    def __init__(self) -> None:
        self.sent: list[MailMessage] = []

    def send(self, message: MailMessage) -> None:
        self.sent.append(message)

    def email_of(self, conn: sa.Connection, user_id: str) -> str | None:
        return f"{user_id}@example.com"


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_the_email_digest_lists_only_readable_records(fresh_seeded: Seeded, expect: Expect) -> None:
    """Told about every deal and opted in to the digest, a subject is mailed about exactly
    the deals it may read, with no hidden value."""
    subject = fresh_seeded.subject(expect)
    assert subject.user_id is not None
    now = datetime.now(UTC)
    engine = fresh_seeded.records.engine
    with engine.begin() as conn:
        for record_id in fresh_seeded.deal.values():
            notification_store.add(conn, user_id=subject.user_id, kind="automation",
                                   source=f"test:{record_id}", at=now, entity="deal",
                                   record_id=record_id, message="about a deal")
    notification_preferences.save(engine, subject.user_id,
                                  NotificationPreferences(60, "daily"), now)
    mailbox = _Mailbox()
    digest = DailyDigest(engine, NotificationService(engine, fresh_seeded.records, lambda: now),
                         lambda user_id: subject, mailbox, lambda: mailbox,  # type: ignore[arg-type]
                         lambda: fresh_seeded.records.runtime().model)
    digest(now + timedelta(minutes=1))
    readable = expect.read or frozenset()
    text = "".join(message.text for message in mailbox.sent)
    assert {title for title, record_id in fresh_seeded.deal.items()
            if record_id in text} == readable
    assert len(mailbox.sent) == (1 if readable else 0)
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_conversion_matching_finds_only_readable_records(seeded: Seeded,
                                                         expect: Expect) -> None:
    """The duplicate check of a conversion: a record matches only when the subject may read
    it, and a match list naming a field hidden from the subject is never used."""
    runtime = seeded.records.runtime()
    scoped = runtime.scoped(seeded.subject(expect))
    deal = runtime.policy.entity("deal")
    found: dict[str, str | None] = {}
    with seeded.records.engine.connect() as conn:
        for index, title in enumerate(DEALS):
            by_title = find_match(conn, scoped, deal, [["title"]], {"title": title.lower()})
            by_code = find_match(conn, scoped, deal, [["internal_code"]],
                                 {"internal_code": f"XCODE-{index}"})
            assert (by_code is not None) == (
                expect.read is not None and title in expect.read and not expect.hidden)
            found[title] = None if by_title is None else seeded.title[by_title["id"]]
            if by_title is not None:
                assert_nothing_hidden(runtime.json.record("deal", by_title), expect)
        oldest_eu = find_match(conn, scoped, deal, [["region"]], {"region": "eu"})
    assert {title for title, match in found.items() if match == title} == (
        expect.read or frozenset())
    assert all(match in (None, title) for title, match in found.items())
    readable_eu = [t for t in DEALS if DEALS[t][1] == "eu" and t in (expect.read or ())]
    assert (None if oldest_eu is None else seeded.title[oldest_eu["id"]]) == (
        readable_eu[0] if readable_eu else None)


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_global_search_finds_exactly_the_readable_records(seeded: Seeded,
                                                          expect: Expect) -> None:
    """Global search: each entity's full-text search within the read scope (in its SQL),
    never matching on a hidden field — by prefix or by typo; entities the subject may not
    read are skipped silently."""
    subject = seeded.subject(expect)
    search = GlobalSearch(seeded.records)
    titles = PlainTitles(seeded.records, subject)

    def found(q: str) -> dict[str, set[str]]:
        names = {**seeded.title, **seeded.company_name}
        return {group.entity.name: {names[hit.id] for hit in group.hits}
                for group in search.search(subject, q, titles, limit=50)}

    readable = expect.read or frozenset()
    expected = {"deal": readable & {"D3", "D3b"}} if readable & {"D3", "D3b"} else {}
    assert found("d3") == expected
    by_hidden_code = found("XCODE-0")  # D1's internal code
    assert by_hidden_code == ({} if expect.hidden or "D1" not in readable
                              else {"deal": {"D1"}})
    # nor through the typo pass (a misspelt hidden value) or a prefix of it
    assert found("XCODR-0") == by_hidden_code
    assert found("XCOD 0") == by_hidden_code
    companies = found("C_")
    assert companies == ({"company": set(expect.companies)} if expect.companies else {})
    if expect.read is None:
        with pytest.raises(NotFound):
            search.search(subject, "d3", titles, entity="deal")


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_recent_records_and_favourites_show_only_readable_records(fresh_seeded: Seeded,
                                                                  expect: Expect) -> None:
    """Pointers to every deal (opened and starred once, e.g. before a reassignment): the
    navigation lists exactly the deals the subject may read; starring one it may not read
    is refused like reading it."""
    subject = fresh_seeded.subject(expect)
    assert subject.user_id is not None
    bookmarks = RecordBookmarks(fresh_seeded.records)
    now = datetime.now(UTC)
    with fresh_seeded.records.engine.begin() as conn:
        for record_id in fresh_seeded.deal.values():
            conn.execute(favourite_records.insert().values(
                user_id=subject.user_id, entity="deal", record_id=record_id, created_at=now))
    for record_id in fresh_seeded.deal.values():
        bookmarks.opened(subject, "deal", record_id)
    readable = expect.read or frozenset()
    recent = bookmarks.recent(subject)
    favourites = bookmarks.favourites(subject)
    assert {fresh_seeded.title[b.record_id] for b in recent} == readable
    assert {fresh_seeded.title[b.record_id] for b in favourites} == readable
    assert_nothing_hidden([dict(b.record) for b in [*recent, *favourites]], expect)
    with fresh_seeded.records.engine.begin() as conn:
        conn.execute(favourite_records.delete())
    for title, record_id in fresh_seeded.deal.items():
        refused = outcome(bookmarks.star, subject, "deal", record_id, True)
        assert refused == ("ok" if title in readable else
                           "forbidden" if expect.read is None else "not_found")
    assert {fresh_seeded.title[b.record_id] for b in bookmarks.favourites(subject)} == readable


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_reports_count_and_sum_exactly_the_readable_records(seeded: Seeded,
                                                            expect: Expect) -> None:
    """Reports (`metacrm.reports`): a summary grouped through a reference, a funnel from the
    audit trail count exactly the readable deals; a referenced company the subject may not
    read groups as empty (and without any company grant, its fields are unknown); a hidden
    field can be neither grouped nor summed (422 naming it)."""
    subject = seeded.subject(expect)
    reports = ReportService(seeded.records)
    summary = reports.compile({
        "entity": "deal", "group_by": ["region"],
        "metrics": [{"op": "count"}, {"op": "sum", "field": "amount"}]})
    by_company = reports.compile({"entity": "deal", "group_by": ["company.region"],
                                  "metrics": [{"op": "count"}]})
    funnel = reports.compile({"entity": "deal", "type": "funnel"})
    if expect.read is None:
        for report in (summary, funnel):
            with pytest.raises(Forbidden):
                reports.run(subject, report)
        return
    result = reports.run(subject, summary).to_json()
    assert result["totals"]["count"] == len(expect.read)
    assert Decimal(result["totals"]["sum_amount"]) == sum(
        Decimal(DEALS[title][2]) for title in expect.read)
    assert {row["region"]: row["count"] for row in result["rows"]} == {
        region: sum(1 for t in expect.read if DEALS[t][1] == region)
        for region in {DEALS[t][1] for t in expect.read}}
    if not expect.companies:
        with pytest.raises(ValidationFailed) as unknown:
            reports.run(subject, by_company)
        assert [e.pointer for e in unknown.value.errors] == ["/group_by/0"]
    else:
        expected: dict[str | None, int] = {}
        for title in expect.read:
            company = DEALS[title][3]
            region = company[2:] if company in expect.companies else None
            expected[region] = expected.get(region, 0) + 1
        assert {row["company_region"]: row["count"]
                for row in reports.run(subject, by_company).rows} == expected
    entered = reports.run(subject, funnel).to_json()["rows"][0]
    assert (entered["state"], entered["entered"]) == ("new", len(expect.read))
    hidden = reports.compile({"entity": "deal", "group_by": ["internal_code"],
                              "metrics": [{"op": "sum", "field": "margin"}]})
    if expect.hidden:
        with pytest.raises(ValidationFailed) as refused:
            reports.run(subject, hidden)
        assert {e.pointer for e in refused.value.errors} == {"/group_by/0",
                                                              "/metrics/0/field"}
    else:
        assert reports.run(subject, hidden).totals["sum_margin"] is not None
