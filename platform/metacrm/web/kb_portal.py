"""The public knowledge base: `/portal/kb` (published articles of a language, searchable)
and `/portal/kb/<id>` (one published article with "was this helpful" yes/no). No login;
drafts are never shown (`knowledge.portal`). A vote is a CSRF-checked POST, counted once per
article per browser session and bounded per client address (429 past the bound)."""

from __future__ import annotations

from flask import redirect, render_template, request, session
from werkzeug.wrappers import Response

from metacrm.knowledge.portal import LANGUAGES, KnowledgePortal, VoteLimiter
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import services
from metacrm.web.i18n import current_language

web_kb_portal = screen_blueprint("web_kb_portal", __name__)
VOTES = VoteLimiter()
SESSION_VOTES = "metacrm_kb_votes"


def _portal() -> KnowledgePortal:
    return KnowledgePortal(services().services.records)


def _language() -> str:
    asked = request.args.get("lang", "")
    return asked if asked in LANGUAGES else (
        current_language() if current_language() in LANGUAGES else "en")


@web_kb_portal.get("/portal/kb")
def kb_index() -> str:
    language = _language()
    q = request.args.get("q", "")[:200]
    return render_template("metacrm/kb_portal.html", articles=_portal().articles(language, q),
                           language=language, kb_languages=LANGUAGES, q=q)


@web_kb_portal.route("/portal/kb/<article_id>", methods=["GET", "POST"])
def kb_article(article_id: str) -> str | Response | tuple[str, int]:
    portal = _portal()
    article = portal.article(article_id)  # a draft or unknown id is a 404 page
    voted = list(session.get(SESSION_VOTES, []))
    status = 200
    if request.method == "POST":
        answer = request.form.get("helpful")
        if answer not in ("yes", "no"):
            status = 422
        elif article_id in voted:
            return redirect(f"/portal/kb/{article_id}")
        elif not VOTES.allow(request.remote_addr or ""):
            status = 429
        else:
            portal.vote(article_id, answer == "yes")
            session[SESSION_VOTES] = [*voted, article_id][-200:]
            return redirect(f"/portal/kb/{article_id}")
    paragraphs = [p.strip() for p in str(article.get("body") or "").split("\n\n") if p.strip()]
    return render_template("metacrm/kb_article.html", article=article, paragraphs=paragraphs,
                           translation=portal.translation(article),
                           voted=article_id in voted, status=status), status
