"""SMTP submission: SES's SMTP interface (STARTTLS/implicit TLS, AUTH, SES's replies).

The service runtime needs only ``SmtpSubmission``::

    smtp = SmtpSubmission(app)          # [smtp] settings from app.settings
    await smtp.start()                  # smtp.port, smtp.tls_port: the bound ports
    await smtp.stop()                   # closes sessions, waits for sends under way
"""

from .component import SmtpSubmission
from .credentials import smtp_password

__all__ = ["SmtpSubmission", "smtp_password"]
