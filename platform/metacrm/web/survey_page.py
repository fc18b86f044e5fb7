"""The satisfaction survey page: `/survey/<token>`, public (the signed link is the
credential). Shows the 1–5 choice and a comment box; the answer is recorded once
(`service_desk.surveys`). A forged, expired or used link is a 404 page; a bad answer shows
the form again with the problem."""

from __future__ import annotations

from flask import render_template, request

from metacrm.kernel.errors import ValidationFailed
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import services
from metacrm.web.i18n import t

web_survey = screen_blueprint("web_survey", __name__)
SCORES = (1, 2, 3, 4, 5)


@web_survey.route("/survey/<token>", methods=["GET", "POST"])
def survey(token: str) -> tuple[str, int] | str:
    surveys = services().services.surveys
    surveys.ticket_of(token)  # a bad link is a 404 page before anything is shown
    if request.method == "GET":
        return render_template("metacrm/survey.html", scores=SCORES, error=None, done=False,
                               comment="")
    raw = request.form.get("score", "")
    comment = request.form.get("comment", "")
    try:
        surveys.answer(token, int(raw) if raw.isdigit() else None, comment)
    except ValidationFailed as error:
        messages = {"/score": t("Choose a score from 1 to 5."),
                    "/comment": t("The comment is too long.")}
        text = " ".join(messages.get(e.pointer, e.message) for e in error.errors)
        return render_template("metacrm/survey.html", scores=SCORES, error=text, done=False,
                               comment=comment), 422
    return render_template("metacrm/survey.html", scores=SCORES, error=None, done=True,
                           comment="")
