"""Bounce and complaint messages as mail servers write them (RFC 3464 DSN, RFC 5965 ARF),
for the mailing tests."""

from __future__ import annotations


def dsn(recipient: str, original_message_id: str, *, action: str = "failed",
        status: str = "5.1.1") -> bytes:
    return f"""From: MAILER-DAEMON@mx.example.org
To: bounces@shop.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-{recipient}@mx.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
 boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.org. I'm sorry to have to inform you
that your message could not be delivered to one or more recipients.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
Arrival-Date: Mon,  7 Dec 2026 17:00:00 +0000 (UTC)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected:
 User unknown in virtual mailbox table

--BOUNDARY
Content-Type: text/rfc822-headers

From: Shop <news@shop.example>
To: {recipient}
Subject: Sale
Message-ID: {original_message_id}

--BOUNDARY--
""".replace("\n", "\r\n").encode()


def arf(recipient: str, original_message_id: str) -> bytes:
    return f"""From: feedback@isp.example
To: bounces@shop.example
Subject: Complaint about message
Message-ID: <arf-{recipient}@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
 boundary="PART"

--PART
Content-Type: text/plain; charset="US-ASCII"

This is an email abuse report for an email message received from IP 192.0.2.1.

--PART
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Rcpt-To: <{recipient}>

--PART
Content-Type: message/rfc822
Content-Disposition: inline

From: Shop <news@shop.example>
To: {recipient}
Subject: Sale
Message-ID: {original_message_id}

Hello.
--PART--
""".replace("\n", "\r\n").encode()
