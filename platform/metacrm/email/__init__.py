"""Email in and out on records (the `email` pack's engine; docs/communications.md).

One job per module: `record_token` (the signed record token in Message-IDs), `mime`
(reading a raw message), `mailboxes` (the mailbox store, secrets sealed), `templates`
(sandboxed email templates), `outbound` (compose, queue) and `smtp_send` (the send job),
`intake` (store one inbound message: dedupe, thread, link, lead, attachments),
`imap_poll` (UID-based IMAP polling), `provider` (the `email` channel provider) and
`install` (wiring into a process).
"""
