"""Click tracking: which links of a mailing are tracked, how they are rewritten, and where
a click may go.

The tracked links are the literal `http(s)` URLs of the mailing's body *template*, recorded
on the mailing when it is scheduled (`tracked_links`): a URL holding a merge field
(`{{ ... }}`) differs per recipient, so it is left as it is — recording every recipient's
variant would let the list grow with the audience, and a redirect route that accepted
them could be steered. Each occurrence of a tracked URL in a rendered message becomes
`<public>/m/c/<token>`, the token naming the recipient, the link's index and a digest of
its URL (`tokens.MailingTokens.click`).

`destination` answers the redirect: the URL at that index of the mailing's recorded links,
and only if its digest is the token's. There is no URL in the request to follow, so the
route is no open redirect; an attacker-built token fails its signature, and a token whose
link was changed since (the digest differs) is refused rather than sent somewhere new.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence

from metacrm.marketing.mailings.tokens import ClickToken, InvalidToken

URL = re.compile(r"https?://[^\s<>\"'{}]+", re.IGNORECASE)
TRAILING = ".,;:!?)]"
MERGE_FIELD = re.compile(r"\{\{|\{%")
MAX_LINKS = 200


def _clean(url: str) -> str:
    return url.rstrip(TRAILING)


def tracked_links(body_template: str) -> list[str]:
    """The distinct literal URLs of a body template, in order of first appearance (URLs
    written next to a merge field are not tracked)."""
    found: list[str] = []
    for match in URL.finditer(body_template):
        url = _clean(match.group(0))
        after = body_template[match.start() + len(url): match.start() + len(url) + 2]
        if MERGE_FIELD.match(after) or url in found:
            continue
        found.append(url)
    return found[:MAX_LINKS]


def url_digest(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def rewrite(text: str, links: Sequence[str], wrap: Callable[[int, str], str]) -> str:
    """`text` with every occurrence of a tracked URL replaced by `wrap(index, url)`; other
    URLs (and URLs that merely start with a tracked one) are kept as they are."""
    index_of = {url: index for index, url in enumerate(links)}

    def replace(match: re.Match[str]) -> str:
        raw = match.group(0)
        url = _clean(raw)
        index = index_of.get(url)
        if index is None:
            return raw
        return wrap(index, url) + raw[len(url):]

    return URL.sub(replace, text)


def destination(token: ClickToken, links: Sequence[str]) -> str:
    """The URL a click token may redirect to; InvalidToken when the mailing has no such
    link or the link was changed after the message was sent."""
    if token.link_index >= len(links):
        raise InvalidToken("the mailing has no such link")
    url = links[token.link_index]
    if not hmac.compare_digest(url_digest(url), token.url_digest):
        raise InvalidToken("the mailing's link was changed")
    return url
