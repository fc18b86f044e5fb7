"""Mass mailings (issue 17, docs/marketing.md "Mass mailings"): a mailing sends one message,
rendered per recipient, to a segment's members who may be emailed at send time, through
the job queue in rate-limited batches; every message carries RFC 8058 one-click
unsubscribe headers, optional open and click tracking, and bounces and complaints read
from the bounce mailbox suppress the address.

Pure modules (no database): `tokens` (signed links), `links` (click tracking rewrite),
`compose` (the MIME message and its headers), `dsn` (bounce and complaint reports),
`ab_split` (A/B sample and winner), `rate_limit` (per-mailbox send allowance).
"""
