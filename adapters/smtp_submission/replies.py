"""SES's SMTP replies (reference 1.6), word for word, with where each one comes from.

Refusals of the message itself (identities, quotas, content) come from
``SesError.smtp_reply``; these are the session-level replies around them.
"""

from __future__ import annotations

from typing import Final

# The banner: "220 email-smtp.amazonaws.com ESMTP SimpleEmailService-..." (observed).
BANNER_IDENT: Final = "ESMTP SimpleEmailService-sendtrail"
# SES's EHLO list ends with "250 Ok" and names PLAIN before LOGIN (observed transcript).
EHLO_LAST: Final = "250 Ok"
EHLO_AUTH: Final = "250-AUTH PLAIN LOGIN"

OK: Final = "250 Ok"
BYE: Final = "221 Bye"
START_DATA: Final = "354 End data with <CR><LF>.<CR><LF>"
READY_FOR_TLS: Final = "220 Ready to start TLS"

AUTH_SUCCESSFUL: Final = "235 Authentication successful."
AUTH_INVALID: Final = "535 Authentication Credentials Invalid"
AUTH_REQUIRED: Final = "530 Authentication required"
# AUTH before TLS. UNCONFIRMED for SES, which never offers AUTH in clear text; this is the
# wording of the common MTAs (and of aiosmtpd's require_starttls) for the same refusal.
STARTTLS_FIRST: Final = "530 Must issue a STARTTLS command first"
ALREADY_AUTHENTICATED: Final = "503 Already authenticated"

TOO_MANY_CONNECTIONS: Final = "421 Too many concurrent SMTP connections"
TEMPORARY_FAILURE: Final = "451 Temporary service failure"
IDLE_TIMEOUT: Final = "451 4.4.2 Timeout waiting for data from client."
MESSAGE_TOO_LONG: Final = "552 Message is too long."

# Not in SES's table: RFC 5321's replies for conditions SES documents no text for.
NESTED_MAIL: Final = "503 Error: nested MAIL command"
NEED_MAIL: Final = "503 Error: need MAIL command"
NEED_RCPT: Final = "503 Error: need RCPT command"
TOO_MANY_RECIPIENTS: Final = "452 4.5.3 Too many recipients"
PARAMETERS_NOT_RECOGNISED: Final = "555 5.5.4 MAIL FROM/RCPT TO parameters not recognized"


def invalid_sender(address: str) -> str:
    return f"553 <{address}> Invalid email address"


def unknown_recipient(address: str) -> str:
    return f"553 <{address}> address unknown"


def accepted(message_id: str) -> str:
    return f"250 Ok {message_id}"


def syntax(command: str) -> str:
    return f"501 Syntax: {command}"
