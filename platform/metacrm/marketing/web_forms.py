"""Web-to-lead forms: a public submission becomes a lead, its UTM source and its consent.

A `web_form` document (docs/marketing.md) lists the lead fields a visitor fills in. A
submission (`WebForms.submit`) is checked in this order, each refusal a clear 4xx:

1. the form exists (404);
2. the request comes from an allowed origin — the `Origin` header (else the `Referer`'s
   origin) is the instance's own or one of the form's `allowed_origins` (403). The POST
   carries no CSRF token (it is posted from other websites); the origin check is what
   keeps other sites' scripts from posting in a visitor's name, and it creates only a
   lead, never acting as a signed-in user;
3. the client address has not sent `submissions_per_hour` submissions of this form in the
   last hour (429) — counted per process (`SubmissionLimiter`): with N web processes an
   address gets at most N times the limit;
4. the honeypot field (`HONEYPOT`, hidden from people) is empty; a filled one is answered
   like a success and nothing is written (a bot learns nothing);
5. only the form's fields, the consent box and `utm_*` parameters are sent (422 names an
   unknown one), required ones are filled (422), and the values are valid lead values
   (422 from the lead's own field validation).

The lead is created as the subject `web_form:<name>` with the instance's admin roles, from
exactly the form's fields plus `source` (the form's), `utm` (the `utm_*` parameters) and
`campaign` (the campaign whose `utm_campaign` equals the parameter) — nothing else a
visitor sends can reach a record. A ticked consent box records a consent of the lead's
email for the form's purpose in the same transaction (pending with a double opt-in; the
confirmation link is mailed after the commit).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import (
    ErrorDetail,
    Forbidden,
    MetacrmError,
    NotFound,
    ValidationFailed,
)
from metacrm.marketing.consent import ConsentLedger
from metacrm.metadata.model import WebFormDef
from metacrm.services.records.service import RecordsService

HONEYPOT = "website_url"
"""The hidden field people leave empty and form-filling bots fill in."""
CONSENT_FIELD = "consent"
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
TICKED = frozenset({"on", "true", "1", "yes"})
MAX_VALUE = 10_000
WINDOW_SECONDS = 3600


class TooManySubmissions(MetacrmError):
    """An address sent more submissions of a form than it allows per hour (429)."""

    status = 429
    title = "Too many submissions"


@dataclass(frozen=True)
class Submission:
    """What a visitor's browser sent."""

    values: Mapping[str, str]
    client: str
    origin: str | None
    referer: str | None = None
    language: str = "en"


@dataclass(frozen=True)
class Accepted:
    """A submission's outcome: the lead (None for a honeypot catch) and where to go."""

    lead_id: str | None
    redirect_url: str | None
    consent_status: str | None = None


def origin_of(url: str | None) -> str | None:
    """`scheme://host[:port]` of a URL, lower case; None when it has none."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class SubmissionLimiter:
    """Submissions per (form, client address) in a sliding hour, in this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, form: str, client: str, per_hour: int) -> bool:
        now = self._clock()
        with self._lock:
            times = self._seen.setdefault((form, client), deque())
            while times and times[0] <= now - WINDOW_SECONDS:
                times.popleft()
            if len(times) >= per_hour:
                return False
            times.append(now)
            if len(self._seen) > 100_000:  # forget idle addresses rather than grow
                self._seen = {key: seen for key, seen in self._seen.items() if seen}
            return True


class WebForms:
    """Serve and accept the web forms of the live metadata (`services.marketing.web_forms`)."""

    def __init__(self, records: RecordsService, consent: ConsentLedger, public_url: str,
                 limiter: SubmissionLimiter | None = None) -> None:
        self._records = records
        self._consent = consent
        self._own_origin = origin_of(public_url)
        self.limiter = limiter or SubmissionLimiter()

    def form(self, name: str) -> WebFormDef:
        found = self._records.runtime().model.web_forms.get(name)
        if found is None:
            raise NotFound("no such form", [ErrorDetail(f"there is no form {name!r}", "")])
        return found

    def origin_allowed(self, form: WebFormDef, origin: str | None,
                       referer: str | None) -> bool:
        sent = origin_of(origin) if origin and origin != "null" else origin_of(referer)
        allowed = {origin_of(o) for o in form.allowed_origins} | {self._own_origin}
        return sent is not None and sent in allowed

    def submit(self, name: str, submission: Submission, *,
               request_origin: str | None = None) -> Accepted:
        """Accept one submission (see the module docstring for the checks, in order);
        `request_origin` is the origin the request was addressed to (this instance as
        the visitor's browser saw it)."""
        form = self.form(name)
        allowed_here = (request_origin is not None
                        and origin_of(submission.origin or submission.referer)
                        == origin_of(request_origin))
        if not allowed_here and not self.origin_allowed(form, submission.origin,
                                                        submission.referer):
            raise Forbidden("this form may not be posted from there", [ErrorDetail(
                "the page posting the form is not one of the form's allowed origins",
                "/origin")])
        if not self.limiter.allow(form.name, submission.client, form.submissions_per_hour):
            raise TooManySubmissions("too many submissions; try again later", [ErrorDetail(
                f"at most {form.submissions_per_hour} submissions per hour", "")])
        if submission.values.get(HONEYPOT, "").strip():
            return Accepted(None, form.redirect_url)
        lead_values, consent_ticked = self._lead_values(form, submission.values)
        return self._create(form, submission, lead_values, consent_ticked)

    def _lead_values(self, form: WebFormDef, sent: Mapping[str, str]
                     ) -> tuple[dict[str, Any], bool]:
        fields = {item.field: item for item in form.fields}
        known = {*fields, HONEYPOT, CONSENT_FIELD, *UTM}
        errors = [ErrorDetail("this form has no such field", f"/{key}")
                  for key in sent if key not in known]
        errors += [ErrorDetail(f"at most {MAX_VALUE} characters", f"/{key}")
                   for key, value in sent.items() if len(value) > MAX_VALUE]
        values: dict[str, Any] = {}
        for name, item in fields.items():
            raw = (sent.get(name) or "").strip()
            if not raw:
                if item.required:
                    errors.append(ErrorDetail("is required", f"/{name}"))
                continue
            values[name] = raw
        ticked = (sent.get(CONSENT_FIELD) or "").strip().lower() in TICKED
        if form.consent is not None and form.consent.required and not ticked:
            errors.append(ErrorDetail("please tick the consent box", f"/{CONSENT_FIELD}"))
        if errors:
            raise ValidationFailed("invalid form submission", errors)
        utm = {key.removeprefix("utm_"): sent[key].strip()[:200]
               for key in UTM if (sent.get(key) or "").strip()}
        if utm:
            values["utm"] = utm
        return values, ticked

    def _subject(self, form: WebFormDef) -> AccessSubject:
        model = self._records.runtime().model
        roles = tuple(sorted(name for name, role in model.roles.items() if role.admin))
        actor = f"web_form:{form.name}"
        return AccessSubject(user_id=actor, username=actor, roles=roles, is_admin=True)

    def _create(self, form: WebFormDef, submission: Submission, values: dict[str, Any],
                consent_ticked: bool) -> Accepted:
        runtime = self._records.runtime()
        entity = runtime.model.entity(form.entity)
        subject = self._subject(form)
        consent: dict[str, Any] | None = None
        with self._records.transaction() as conn:
            if entity is not None and entity.field("source") is not None:
                values["source"] = form.source
            utm_campaign = (values.get("utm") or {}).get("campaign")
            if utm_campaign and entity is not None and entity.field("campaign") is not None:
                found = runtime.system.query(conn, "campaign", limit=1, criteria={
                    "field": "utm_campaign", "op": "eq", "value": utm_campaign})
                if found.records:
                    values["campaign"] = str(found.records[0]["id"])
            lead = self._records.create_in(conn, subject, form.entity, values)
            if form.consent is not None and consent_ticked and lead.get("email"):
                text = form.consent.text
                consent = self._consent.opt_in_in(
                    conn, str(lead["email"]), purpose=form.consent.purpose,
                    source="web_form", source_detail=f"{form.name} from {submission.client}",
                    consent_text=text.get(submission.language) or text.get("en"),
                    double_opt_in=form.consent.double_opt_in, lead=str(lead["id"]))
        if consent is not None and consent.get("status") == "pending":
            # without a mail channel the consent stays pending (docs/marketing.md)
            with contextlib.suppress(RuntimeError):
                self._consent.send_confirmation(consent, language=submission.language)
        return Accepted(str(lead["id"]), form.redirect_url,
                        consent.get("status") if consent is not None else None)
