"""The account's messages by e-mail, each queued in the transaction of its change."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.accounts import tokens
from quartapp.models import User, utcnow
from quartapp.services import services


async def _link(
    session: AsyncSession,
    user: User,
    purpose: str,
    *,
    to: str,
    subject: str,
    endpoint: str,
    base_url: str | None = None,
    new_email: str | None = None,
) -> bool:
    """A message to ``to`` with a new link of ``purpose`` (to ``endpoint``, its template
    named after ``purpose``); False when the account has had enough of them for now
    (``tokens.MOST_AT_ONCE``)."""
    token = await tokens.issue(session, user.id, purpose, utcnow(), new_email=new_email)
    if token is None:
        return False
    mailer = services().mailer
    lifetime = tokens.LIFETIMES[purpose]
    await mailer.queue(
        session,
        to=to,
        subject=subject,
        template=f"accounts/mail/{TEMPLATES[purpose]}",
        base_url=base_url,
        user=user,
        link=mailer.link(endpoint, base_url, token=token),
        hours=int(lifetime.total_seconds() // 3600),
        minutes=int(lifetime.total_seconds() // 60),
    )
    return True


TEMPLATES = {tokens.CONFIRM: "confirm", tokens.RESET: "reset", tokens.NEW_EMAIL: "new_address"}


async def confirmation(session: AsyncSession, user: User, base_url: str | None = None) -> bool:
    """A new link confirming ``user``'s address."""
    return await _link(
        session,
        user,
        tokens.CONFIRM,
        to=user.email,
        subject="Confirm your e-mail address",
        endpoint="recovery.confirm",
        base_url=base_url,
    )


async def reset_link(session: AsyncSession, user: User, base_url: str | None = None) -> bool:
    """A link to choose a new password."""
    return await _link(
        session,
        user,
        tokens.RESET,
        to=user.email,
        subject="Choose a new password",
        endpoint="recovery.reset",
        base_url=base_url,
    )


async def address_taken(session: AsyncSession, owner: User) -> None:
    """Someone tried to register with ``owner``'s address: tell them, not the stranger."""
    mailer = services().mailer
    await mailer.queue(
        session,
        to=owner.email,
        subject="Someone tried to register with your address",
        template="accounts/mail/address_taken",
        user=owner,
        login_link=mailer.link("accounts.login"),
        forgot_link=mailer.link("recovery.forgot"),
    )


async def password_changed(session: AsyncSession, user: User) -> None:
    mailer = services().mailer
    await mailer.queue(
        session,
        to=user.email,
        subject="Your password was changed",
        template="accounts/mail/password_changed",
        user=user,
        forgot_link=mailer.link("recovery.forgot"),
    )


async def new_address_link(session: AsyncSession, user: User, new_email: str) -> bool:
    """A link, sent to the new address, that makes it the account's."""
    return await _link(
        session,
        user,
        tokens.NEW_EMAIL,
        to=new_email,
        subject="Confirm your new e-mail address",
        endpoint="recovery.confirm_new_email",
        new_email=new_email,
    )


async def address_changed(session: AsyncSession, user: User, old_email: str) -> None:
    """Tell the old address that the account moved (someone with the password did it)."""
    mailer = services().mailer
    await mailer.queue(
        session,
        to=old_email,
        subject="Your e-mail address was changed",
        template="accounts/mail/address_changed",
        user=user,
        new_domain=user.email.rpartition("@")[2],
        forgot_link=mailer.link("recovery.forgot"),
    )
