"""Outbound e-mail that is never lost.

A message is written to the outbox table in the same transaction as the change that
causes it (``Mailer.queue``): if the change rolls back, there is no message; if it commits,
the message exists even if the process stops the next instant. A sender in every worker
(``OutboxSender``) delivers what is due, claiming each message for a while so that two
workers never both send it, and retries with backoff what failed for a while; a message
refused for good, or failing for too long, is logged and kept with ``failed_at``. A request
never waits for SMTP.

Without ``SMTP_HOST`` the transport writes each message as an ``.eml`` file under the
instance folder, and in development logs its subject and links, so every flow can be
finished from a fresh ``make run``.
"""

from quartapp.mail.mailer import Mailer
from quartapp.mail.sender import OutboxSender

__all__ = ["Mailer", "OutboxSender"]
