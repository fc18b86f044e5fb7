"""Public marketing pages: a web-to-lead form (`/forms/<name>`, embeddable in the form's
allowed origins) and the double opt-in confirmation (`/marketing/confirm/<token>`).

Neither needs a signed-in user. The form's POST comes from other websites, so it carries
no CSRF token: this blueprint is not a screen blueprint (whose hook demands one); the
service checks the request's origin instead (`metacrm.marketing.web_forms`). Refusals
are pages with their status: 403 (origin), 404 (no such form), 422 (the form again with
the problems), 429 (too many submissions).
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request

from metacrm.kernel.errors import MetacrmError, ValidationFailed
from metacrm.marketing.web_forms import Submission, origin_of
from metacrm.metadata.model import WebFormDef
from metacrm.web.blueprints import SCREEN_BLUEPRINTS, error_page, screen_blueprint
from metacrm.web.context import services
from metacrm.web.i18n import LANGUAGE_COOKIE, LANGUAGES, current_language, t, use_language

web_forms_public = Blueprint("web_forms_public", __name__)
web_forms_public.register_error_handler(MetacrmError, error_page)
SCREEN_BLUEPRINTS.append(web_forms_public)
web_consent = screen_blueprint("web_consent", __name__)


@web_forms_public.before_request
def _language() -> None:
    chosen = request.args.get("lang") or request.cookies.get(LANGUAGE_COOKIE) or ""
    use_language(chosen if chosen in LANGUAGES
                 else request.accept_languages.best_match(list(LANGUAGES)) or "en")


def _frame_policy(form: WebFormDef) -> str:
    """The page's Content-Security-Policy: this origin's styles, posting only here, framed
    only by the form's allowed origins (CSP's frame-ancestors overrides X-Frame-Options in
    every browser that supports it)."""
    ancestors = " ".join(["'self'", *sorted({o for o in (origin_of(x) for x in
                                                        form.allowed_origins) if o})])
    return ("default-src 'none'; style-src 'self'; img-src 'self' data:; "
            f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}")


def _page(form: WebFormDef, *, errors: dict[str, str], values: dict[str, str],
          done: bool = False, status: int = 200) -> Response:
    body = render_template("metacrm/web_form.html", form=form, errors=errors, values=values,
                           done=done, honeypot="website_url", lang=current_language())
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _frame_policy(form)
    return response


@web_forms_public.get("/forms/<name>")
def show(name: str) -> Response:
    form = services().services.marketing.web_forms.form(name)
    values = {key: value for key, value in request.args.items() if key.startswith("utm_")}
    return _page(form, errors={}, values=values)


@web_forms_public.post("/forms/<name>")
def submit(name: str) -> Response:
    forms = services().services.marketing.web_forms
    form = forms.form(name)
    sent = {key: value for key, value in request.form.items()}
    submission = Submission(values=sent, client=request.remote_addr or "unknown",
                            origin=request.headers.get("Origin"),
                            referer=request.headers.get("Referer"),
                            language=current_language())
    try:
        accepted = forms.submit(name, submission, request_origin=request.host_url)
    except ValidationFailed as error:
        problems = {e.pointer.lstrip("/"): e.message for e in error.errors}
        return _page(form, errors=problems, values=sent, status=422)
    if accepted.redirect_url:
        return redirect(accepted.redirect_url, code=303)  # type: ignore[return-value]
    return _page(form, errors={}, values={}, done=True)


@web_consent.get("/marketing/confirm/<token>")
def confirm(token: str) -> str:
    services().services.marketing.consent.confirm(token)
    return render_template("metacrm/consent_confirmed.html",
                           message=t("Thank you: your subscription is confirmed."))
