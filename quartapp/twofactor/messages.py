"""Security messages by e-mail: the owner hears of every change to how the account is
signed in to, and whoever did not make it knows to act."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.models import User
from quartapp.services import services


async def _notice(session: AsyncSession, user: User, subject: str, what: str) -> None:
    mailer = services().mailer
    await mailer.queue(
        session,
        to=user.email,
        subject=subject,
        template="twofactor/mail/notice",
        user=user,
        what=what,
        headline=subject,
        settings_link=mailer.link("twofactor.settings"),
        forgot_link=mailer.link("recovery.forgot"),
    )


async def app_turned_on(session: AsyncSession, user: User) -> None:
    await _notice(
        session,
        user,
        "Two-factor sign-in was turned on",
        "Two-factor sign-in was turned on for your account: signing in now asks for a "
        "code from an authenticator app after the password.",
    )


async def app_turned_off(session: AsyncSession, user: User) -> None:
    await _notice(
        session,
        user,
        "Two-factor sign-in was turned off",
        "Two-factor sign-in was turned off for your account: the password alone signs in now.",
    )


async def recovery_codes_renewed(session: AsyncSession, user: User) -> None:
    await _notice(
        session,
        user,
        "New recovery codes were made",
        "New recovery codes were made for your account; the old ones no longer work.",
    )


async def passkey_added(session: AsyncSession, user: User, name: str) -> None:
    await _notice(
        session,
        user,
        "A passkey was added to your account",
        f"A passkey named \u201c{name}\u201d was added to your account: it can sign in "
        "without the password.",
    )


async def passkey_removed(session: AsyncSession, user: User, name: str) -> None:
    await _notice(
        session,
        user,
        "A passkey was removed from your account",
        f"The passkey named \u201c{name}\u201d was removed from your account.",
    )
